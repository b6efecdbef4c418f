//! OpenTelemetry for `loadwit run`: the `--otlp-*` flags over the
//! standard `OTEL_*` variables, the exporter's start, its metric exports
//! on the aggregator thread, and the line the summary gets at the end.
//!
//! Nothing is exported unless an endpoint is set (`--otlp-endpoint` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`), and a collector that is down never
//! fails or slows the run: what could not be sent is counted as dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Args;
use loadwit_metrics::Aggregate;
use loadwit_metrics::format::format_count;
use loadwit_otel::{
    ConfigError, Counts, MetricsExporter, Otel, OtelConfig, Propagators, Protocol, RunMeta,
    StartError, Temporality,
};
use serde_json::{Value, json};

/// The variable that names a run, shared by the pods of a distributed run;
/// exported as `loadwit.run.id`.
const RUN_ID_VARIABLE: &str = "LOADWIT_RUN_ID";

/// The longest the end of a run waits for telemetry still queued.
const MAX_FLUSH: Duration = Duration::from_secs(30);

/// OTLP export flags; each overrides the standard variable named in its
/// help. See docs/opentelemetry.md.
#[derive(Args, Debug, Default)]
#[command(next_help_heading = "OpenTelemetry")]
pub struct OtlpFlags {
    /// Export traces and metrics to this collector, as `http://host:port`
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`). Nothing is exported without one.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,

    /// `grpc` (port 4317 by convention) or `http/protobuf` (4318, the
    /// default) (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    #[arg(long, value_name = "PROTOCOL")]
    otlp_protocol: Option<String>,

    /// A header sent with every export, as `KEY=VALUE`, such as an API key
    /// (`OTEL_EXPORTER_OTLP_HEADERS`). May be given several times.
    #[arg(long = "otlp-header", value_name = "KEY=VALUE")]
    otlp_headers: Vec<String>,

    /// The longest one export may take, as `10s` or `500ms`; 10 s by
    /// default (`OTEL_EXPORTER_OTLP_TIMEOUT`). The end of the run waits
    /// at most this long for what is still queued.
    #[arg(long, value_name = "DURATION")]
    otlp_timeout: Option<String>,

    /// The `service.name` of the load test; `loadwit` by default
    /// (`OTEL_SERVICE_NAME`).
    #[arg(long, value_name = "NAME")]
    otlp_service_name: Option<String>,

    /// A resource attribute as `KEY=VALUE`, such as
    /// `deployment.environment=staging` (`OTEL_RESOURCE_ATTRIBUTES`). May
    /// be given several times.
    #[arg(long = "otlp-resource-attribute", value_name = "KEY=VALUE")]
    otlp_resource_attributes: Vec<String>,

    /// The share of iterations whose traces are kept, `0` to `1`; 1 by
    /// default (`OTEL_TRACES_SAMPLER_ARG`). Failed requests and failed
    /// iterations are exported whatever the ratio.
    #[arg(long, value_name = "RATIO")]
    otlp_sample_ratio: Option<String>,

    /// Trace-context headers put on every request: `tracecontext`,
    /// `datadog`, both comma-separated, or `none` (`OTEL_PROPAGATORS`).
    #[arg(long, value_name = "LIST")]
    otlp_propagators: Option<String>,

    /// `on` to put trace context on requests even without exporting, `off`
    /// to leave requests untouched while exporting; by default, on exactly
    /// when traces are exported.
    #[arg(long, value_name = "on|off")]
    otlp_trace_context: Option<String>,

    /// How often metrics are exported, as `10s` or `500ms`; 10 s by default
    /// (`OTEL_METRIC_EXPORT_INTERVAL`).
    #[arg(long, value_name = "DURATION")]
    otlp_metric_interval: Option<String>,

    /// `delta` (the default, what the Datadog Agent expects) or
    /// `cumulative` metric points
    /// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
    #[arg(long, value_name = "TEMPORALITY")]
    otlp_temporality: Option<String>,

    /// The prefix of exported metric names; `k6_` by default, so
    /// `http_reqs` goes out as `k6_http_reqs`. Pass `""` for k6's bare
    /// names.
    #[arg(long, value_name = "PREFIX")]
    otlp_metric_prefix: Option<String>,
}

impl OtlpFlags {
    /// The configuration: the `OTEL_*` variables read by `lookup`, then
    /// these flags over them.
    ///
    /// # Errors
    ///
    /// A variable or flag whose value does not parse, named in the error.
    pub fn config(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<OtelConfig, ConfigError> {
        let mut config = OtelConfig::from_env(lookup)?;
        if let Some(endpoint) = &self.otlp_endpoint {
            config = config.with_endpoint(endpoint.trim());
        }
        if let Some(value) = &self.otlp_protocol {
            config = config.with_protocol(parse("--otlp-protocol", value, Protocol::parse)?);
        }
        for header in &self.otlp_headers {
            let (name, value) = parse("--otlp-header", header, pair)?;
            config = config.with_header(name, value);
        }
        if let Some(value) = &self.otlp_timeout {
            config = config.with_timeout(parse("--otlp-timeout", value, duration)?);
        }
        if let Some(name) = &self.otlp_service_name {
            config = config.with_service_name(name);
        }
        for attribute in &self.otlp_resource_attributes {
            let (key, value) = parse("--otlp-resource-attribute", attribute, pair)?;
            config = config.with_resource_attribute(key, value);
        }
        if let Some(value) = &self.otlp_sample_ratio {
            config = config.with_sample_ratio(parse("--otlp-sample-ratio", value, ratio)?)?;
        }
        if let Some(value) = &self.otlp_propagators {
            let propagators = parse("--otlp-propagators", value, Propagators::parse)?;
            config = config.with_propagators(propagators);
        }
        if let Some(value) = &self.otlp_trace_context {
            config = config.with_trace_context(parse("--otlp-trace-context", value, on_off)?);
        }
        if let Some(value) = &self.otlp_metric_interval {
            let interval = parse("--otlp-metric-interval", value, positive_duration)?;
            config = config.with_metric_interval(interval);
        }
        if let Some(value) = &self.otlp_temporality {
            let temporality = parse("--otlp-temporality", value, Temporality::parse)?;
            config = config.with_temporality(temporality);
        }
        if let Some(prefix) = &self.otlp_metric_prefix {
            config =
                config.with_metric_prefix(parse("--otlp-metric-prefix", prefix, metric_prefix)?);
        }
        Ok(config)
    }
}

/// Starts the run's telemetry: the export thread when something is
/// exported, a tracer that only injects trace context when only that was
/// asked for, nothing otherwise.
///
/// The resource carries `loadwit.run.id` (`LOADWIT_RUN_ID`, or a random
/// id) and the run's tags.
///
/// # Errors
///
/// An endpoint that is not an `http://` URL or a header that cannot be
/// sent, named in the error.
pub fn start(
    config: &OtelConfig,
    run_id: Option<String>,
    tags: &BTreeMap<String, String>,
) -> Result<Otel, StartError> {
    let meta = RunMeta {
        run_id: run_id.filter(|id| !id.trim().is_empty()),
        environment: None,
        tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    let otel = Otel::start(config, meta)?;
    if let Some(endpoint) = config.endpoint() {
        tracing::info!(endpoint, run_id = otel.run_id(), "exporting OTLP telemetry");
    }
    Ok(otel)
}

/// The run id from the environment, if set.
pub fn run_id_from_env() -> Option<String> {
    std::env::var(RUN_ID_VARIABLE).ok()
}

/// Flushes what is still queued, waiting at most the export timeout (and
/// never more than 30 s), and returns the final counts; `None` when
/// nothing was exported.
pub fn finish(otel: &mut Otel, config: &OtelConfig) -> Option<Exported> {
    if !config.exports_traces() && !config.exports_metrics() {
        return None;
    }
    let dropped = otel.shutdown(config.timeout().min(MAX_FLUSH));
    Some(Exported {
        exported: otel.exported(),
        dropped,
        first_failure: otel.first_failure(),
    })
}

/// Metric exports on the aggregator thread, every interval and once at
/// the end; each only queues a request, never waits on the network.
pub struct MetricsExport {
    exporter: MetricsExporter,
    every: Duration,
}

impl MetricsExport {
    /// Exports every `config`'s metric interval; `None` when metrics are
    /// not exported.
    pub fn new(otel: &Otel, config: &OtelConfig) -> Option<Self> {
        let exporter = otel.metrics_exporter()?;
        Some(MetricsExport {
            exporter,
            every: config.metric_interval(),
        })
    }

    /// How often to export.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Exports the run's totals so far.
    pub fn export(&mut self, total: &Aggregate) {
        self.exporter.export(total);
    }
}

/// What the run's telemetry came to, for the summary.
#[derive(Clone, Debug)]
pub struct Exported {
    pub exported: Counts,
    pub dropped: Counts,
    /// Why spans or points were first dropped, if any were.
    pub first_failure: Option<String>,
}

impl Exported {
    /// One line for the end of the text summary.
    pub fn line(&self) -> String {
        let mut line = format!(
            "     otlp export: {} spans and {} metric points sent, {} spans and {} points dropped",
            format_count(self.exported.spans),
            format_count(self.exported.points),
            format_count(self.dropped.spans),
            format_count(self.dropped.points),
        );
        if let Some(why) = &self.first_failure {
            line.push_str(&format!(
                "\n                  first drop: {why}; is the collector at the OTLP endpoint running?"
            ));
        }
        line
    }

    /// The same counts for the JSON summary's `otlp` key.
    pub fn json(&self) -> Value {
        json!({
            "spans": { "exported": self.exported.spans, "dropped": self.dropped.spans },
            "points": { "exported": self.exported.points, "dropped": self.dropped.points },
            "first_failure": self.first_failure,
        })
    }
}

fn parse<T>(
    flag: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    parse(value).map_err(|hint| ConfigError {
        name: flag.into(),
        value: value.into(),
        hint,
    })
}

fn pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err("expected `KEY=VALUE`".into()),
    }
}

/// A duration as `500ms` or `10s`, or bare milliseconds as in the
/// `OTEL_*` variables.
fn duration(text: &str) -> Result<Duration, String> {
    if let Ok(millis) = text.trim().parse::<u64>() {
        return Ok(Duration::from_millis(millis));
    }
    loadwit_engine::options::parse_duration(text)
        .map_err(|_| "expected a duration such as `10s` or `500ms`".into())
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        zero if zero.is_zero() => Err("expected a duration above zero, such as `10s`".into()),
        positive => Ok(positive),
    }
}

fn ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err("expected a number from 0 to 1".into()),
    }
}

/// A prefix that keeps metric names valid: letters, digits, `_` and `.`.
fn metric_prefix(text: &str) -> Result<String, String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    match text.chars().all(valid) {
        true => Ok(text.to_string()),
        false => Err("expected letters, digits, `_` or `.`, such as `k6_`".into()),
    }
}

fn on_off(text: &str) -> Result<bool, String> {
    match text.trim() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("expected `on` or `off`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> OtlpFlags {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            otlp: OtlpFlags,
        }
        let argv = std::iter::once("loadwit").chain(args.iter().copied());
        Cli::parse_from(argv).otlp
    }

    #[test]
    fn flags_override_the_variables() -> Result<(), ConfigError> {
        let env = |name: &str| match name {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".to_string()),
            "OTEL_SERVICE_NAME" => Some("from-env".to_string()),
            "OTEL_METRIC_EXPORT_INTERVAL" => Some("10000".to_string()),
            _ => None,
        };
        let config = flags(&[
            "--otlp-endpoint",
            "http://127.0.0.1:4317",
            "--otlp-protocol",
            "grpc",
            "--otlp-service-name",
            "checkout",
            "--otlp-metric-interval",
            "500ms",
            "--otlp-header",
            "x-team=perf",
            "--otlp-resource-attribute",
            "deployment.environment=ci",
            "--otlp-sample-ratio",
            "0.25",
            "--otlp-propagators",
            "tracecontext,datadog",
            "--otlp-temporality",
            "cumulative",
            "--otlp-timeout",
            "750",
            "--otlp-metric-prefix",
            "load.",
        ])
        .config(env)?;
        assert_eq!(config.endpoint(), Some("http://127.0.0.1:4317"));
        assert_eq!(config.protocol(), Protocol::Grpc);
        assert_eq!(config.service_name(), "checkout");
        assert_eq!(config.metric_interval(), Duration::from_millis(500));
        assert_eq!(config.headers(), [("x-team".into(), "perf".into())]);
        assert_eq!(config.sample_ratio(), 0.25);
        assert!(config.propagators().datadog);
        assert_eq!(config.temporality(), Temporality::Cumulative);
        assert_eq!(config.timeout(), Duration::from_millis(750));
        assert_eq!(config.metric_prefix(), "load.");
        Ok(())
    }

    #[test]
    fn trace_context_alone_exports_nothing() -> Result<(), ConfigError> {
        let config = flags(&["--otlp-trace-context", "on"]).config(|_| None)?;
        assert!(config.trace_context());
        assert!(!config.exports_traces() && !config.exports_metrics());
        Ok(())
    }

    #[test]
    fn bad_values_name_the_flag() {
        let cases = [
            (&["--otlp-protocol", "http/json"][..], "`--otlp-protocol`"),
            (&["--otlp-sample-ratio", "2"], "`--otlp-sample-ratio`"),
            (&["--otlp-trace-context", "yes"], "`--otlp-trace-context`"),
            (
                &["--otlp-metric-interval", "0s"],
                "`--otlp-metric-interval`",
            ),
            (&["--otlp-header", "novalue"], "`--otlp-header`"),
            (&["--otlp-temporality", "both"], "`--otlp-temporality`"),
            (&["--otlp-timeout", "soon"], "`--otlp-timeout`"),
            (&["--otlp-metric-prefix", "k6 "], "`--otlp-metric-prefix`"),
        ];
        for (args, name) in cases {
            let error = flags(args).config(|_| None).expect_err("rejected");
            assert!(error.to_string().contains(name), "{error}");
        }
        let env = |name: &str| (name == "OTEL_PROPAGATORS").then(|| "b3".to_string());
        let error = flags(&[]).config(env).expect_err("rejected");
        assert!(error.to_string().contains("`OTEL_PROPAGATORS`"), "{error}");
    }
}
