//! Configuration: the standard `OTEL_*` variables, then explicit overrides.

use std::time::Duration;

use percent_encoding::percent_decode_str;

/// Where and how loadwit exports, read once before a run.
///
/// Build it with [`OtelConfig::from_env`] (the standard OpenTelemetry
/// variables) and apply the CLI's `--otlp-*` flags with the `with_*`
/// setters, which win over the environment. Nothing is exported unless an
/// endpoint is set: [`OtelConfig::default`] exports nothing and propagates
/// no trace context.
#[derive(Clone, Debug, PartialEq)]
pub struct OtelConfig {
    endpoint: Option<String>,
    /// The variable or flag that set `endpoint`, for error messages.
    endpoint_source: &'static str,
    traces_endpoint: Option<String>,
    metrics_endpoint: Option<String>,
    protocol: Protocol,
    headers: Vec<(String, String)>,
    timeout: Duration,
    service_name: Option<String>,
    resource: Vec<(String, String)>,
    ratio: f64,
    propagators: Propagators,
    trace_context: Option<bool>,
    export_traces: bool,
    export_metrics: bool,
    metric_interval: Duration,
    temporality: Temporality,
    metric_prefix: String,
    queue_capacity: usize,
    batch_size: usize,
    flush_interval: Duration,
}

/// The OTLP transport, as `OTEL_EXPORTER_OTLP_PROTOCOL` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `grpc`: OTLP over gRPC, port 4317 by convention.
    Grpc,
    /// `http/protobuf`: protobuf bodies POSTed to `/v1/traces` and
    /// `/v1/metrics`, port 4318 by convention. The specification's default.
    HttpProtobuf,
}

/// How metric points relate to each other over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporality {
    /// Each point covers the interval since the previous export: what the
    /// Datadog Agent expects, and the default.
    Delta,
    /// Each point covers the run from its start: what Prometheus-style
    /// backends expect.
    Cumulative,
}

/// Which trace-context headers go into every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Propagators {
    /// W3C `traceparent`.
    pub w3c: bool,
    /// Datadog's `x-datadog-trace-id`, `x-datadog-parent-id`,
    /// `x-datadog-sampling-priority` and `x-datadog-tags`.
    pub datadog: bool,
}

/// A configuration value that does not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid `{name}` value `{value}`; {hint}")]
pub struct ConfigError {
    /// The variable or flag, such as `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub name: String,
    /// The value as given.
    pub value: String,
    /// What would have been accepted.
    pub hint: String,
}

impl Default for OtelConfig {
    fn default() -> Self {
        OtelConfig {
            endpoint: None,
            endpoint_source: "--otlp-endpoint",
            traces_endpoint: None,
            metrics_endpoint: None,
            protocol: Protocol::HttpProtobuf,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            service_name: None,
            resource: Vec::new(),
            ratio: 1.0,
            propagators: Propagators {
                w3c: true,
                datadog: false,
            },
            trace_context: None,
            export_traces: true,
            export_metrics: true,
            metric_interval: Duration::from_secs(10),
            temporality: Temporality::Delta,
            metric_prefix: "k6_".into(),
            queue_capacity: 2048,
            batch_size: 512,
            flush_interval: Duration::from_secs(1),
        }
    }
}

impl OtelConfig {
    /// Reads the standard variables through `lookup` (pass
    /// `|name| std::env::var(name).ok()` in the binary; tests pass a map).
    ///
    /// Read: `OTEL_EXPORTER_OTLP_ENDPOINT` (and its per-signal forms
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`), `OTEL_EXPORTER_OTLP_PROTOCOL`,
    /// `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT` (ms),
    /// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
    /// `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, `OTEL_PROPAGATORS`
    /// (`tracecontext`, `datadog`, `none`), `OTEL_TRACES_EXPORTER` and
    /// `OTEL_METRICS_EXPORTER` (`otlp` or `none`),
    /// `OTEL_METRIC_EXPORT_INTERVAL` (ms), `OTEL_BSP_SCHEDULE_DELAY` (ms),
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` and
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`delta`,
    /// `cumulative`). Empty values count as unset.
    ///
    /// # Errors
    ///
    /// A value that does not parse, naming the variable.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = OtelConfig::default();

        if let Some(endpoint) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            config = config.with_endpoint(endpoint);
            config.endpoint_source = "OTEL_EXPORTER_OTLP_ENDPOINT";
        }
        if let Some(endpoint) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            config = config.with_traces_endpoint(endpoint);
        }
        if let Some(endpoint) = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
            config = config.with_metrics_endpoint(endpoint);
        }
        if let Some(value) = get("OTEL_EXPORTER_OTLP_PROTOCOL") {
            config.protocol = parse_as("OTEL_EXPORTER_OTLP_PROTOCOL", &value, Protocol::parse)?;
        }
        if let Some(value) = get("OTEL_EXPORTER_OTLP_HEADERS") {
            config.headers = parse_as("OTEL_EXPORTER_OTLP_HEADERS", &value, parse_pairs)?;
        }
        if let Some(value) = get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            config.timeout = parse_as("OTEL_EXPORTER_OTLP_TIMEOUT", &value, parse_millis)?;
        }
        config.service_name = get("OTEL_SERVICE_NAME");
        if let Some(value) = get("OTEL_RESOURCE_ATTRIBUTES") {
            config.resource = parse_as("OTEL_RESOURCE_ATTRIBUTES", &value, parse_pairs)?;
        }
        config.ratio = read_sampler(&get)?;
        if let Some(value) = get("OTEL_PROPAGATORS") {
            config.propagators = parse_as("OTEL_PROPAGATORS", &value, Propagators::parse)?;
        }
        read_signals(&mut config, &get)?;
        read_batching(&mut config, &get)?;
        Ok(config)
    }

    /// Sets the collector's base URL, such as `http://localhost:4318`
    /// (`--otlp-endpoint`). Setting one turns export on.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        let endpoint: String = endpoint.into();
        self.endpoint = Some(endpoint.trim_end_matches('/').to_string());
        self.endpoint_source = "--otlp-endpoint";
        self
    }

    /// Sets the full URL traces go to, used as given (no `/v1/traces` is
    /// appended), over the base endpoint. Setting one turns trace export on.
    pub fn with_traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces_endpoint = Some(url.into());
        self
    }

    /// Sets the full URL metrics go to, used as given, over the base
    /// endpoint. Setting one turns metric export on.
    pub fn with_metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metrics_endpoint = Some(url.into());
        self
    }

    /// Sets the transport (`--otlp-protocol`).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Adds a header sent with every export, such as an API key
    /// (`--otlp-header`); a repeated name replaces the earlier value.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        upsert(&mut self.headers, name.into(), value.into());
        self
    }

    /// Sets the time one export may take before it is abandoned and its
    /// spans or points counted as dropped (`--otlp-timeout`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets `service.name` (`--otlp-service-name`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute, replacing one of the same key
    /// (`--otlp-resource-attribute`).
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        upsert(&mut self.resource, key.into(), value.into());
        self
    }

    /// Sets the head sampling ratio, `0.0..=1.0` (`--otlp-sample-ratio`).
    ///
    /// # Errors
    ///
    /// A ratio outside `0.0..=1.0` or not a number.
    pub fn with_sample_ratio(mut self, ratio: f64) -> Result<Self, ConfigError> {
        self.ratio = check_ratio("--otlp-sample-ratio", ratio)?;
        Ok(self)
    }

    /// Chooses the trace-context headers (`--otlp-propagators`).
    pub fn with_propagators(mut self, propagators: Propagators) -> Self {
        self.propagators = propagators;
        self
    }

    /// Forces trace-context headers on or off, whatever is exported
    /// (`--otlp-trace-context`). Without it they are on exactly when
    /// traces are exported.
    pub fn with_trace_context(mut self, on: bool) -> Self {
        self.trace_context = Some(on);
        self
    }

    /// Turns trace export on or off; on by default once an endpoint is set.
    pub fn with_traces(mut self, on: bool) -> Self {
        self.export_traces = on;
        self
    }

    /// Turns metric export on or off; on by default once an endpoint is set.
    pub fn with_metrics(mut self, on: bool) -> Self {
        self.export_metrics = on;
        self
    }

    /// Sets how often the engine should export metrics
    /// (`--otlp-metric-interval`); 10 s by default.
    pub fn with_metric_interval(mut self, interval: Duration) -> Self {
        self.metric_interval = interval;
        self
    }

    /// Sets delta or cumulative points (`--otlp-temporality`).
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = temporality;
        self
    }

    /// Sets the prefix of exported metric names; `k6_` by default, as in
    /// k6's OpenTelemetry output, so existing dashboards keep working.
    pub fn with_metric_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.metric_prefix = prefix.into();
        self
    }

    /// Sets how many finished iterations (traces) and metric exports may
    /// wait for the exporter before new ones are dropped; 2048 by default.
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sets the most spans sent in one export; 512 by default.
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// Sets how long spans may wait to fill a batch; 1 s by default.
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// The collector's base URL, if one is set.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The variable or flag that set the base endpoint.
    pub(crate) fn endpoint_source(&self) -> &'static str {
        self.endpoint_source
    }

    /// Where traces go, with the variable that set it: the per-signal
    /// URL as given, else the base endpoint (plus `/v1/traces` for
    /// HTTP/protobuf).
    pub fn traces_url(&self) -> Option<(&'static str, String)> {
        let per_signal = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &self.traces_endpoint);
        self.signal_url(per_signal, "/v1/traces")
    }

    /// Where metrics go, with the variable that set it, as for
    /// [`traces_url`](OtelConfig::traces_url).
    pub fn metrics_url(&self) -> Option<(&'static str, String)> {
        let per_signal = (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            &self.metrics_endpoint,
        );
        self.signal_url(per_signal, "/v1/metrics")
    }

    fn signal_url(
        &self,
        (name, per_signal): (&'static str, &Option<String>),
        path: &str,
    ) -> Option<(&'static str, String)> {
        if let Some(url) = per_signal {
            return Some((name, url.clone()));
        }
        let base = self.endpoint.as_deref()?;
        let url = match self.protocol {
            Protocol::Grpc => base.to_string(),
            Protocol::HttpProtobuf => format!("{base}{path}"),
        };
        Some((self.endpoint_source, url))
    }

    /// The transport.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Headers sent with every export.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The limit on one export.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `service.name`: the explicit one, else `OTEL_RESOURCE_ATTRIBUTES`'s,
    /// else `loadwit`.
    pub fn service_name(&self) -> &str {
        self.service_name
            .as_deref()
            .or_else(|| attribute(&self.resource, "service.name"))
            .unwrap_or("loadwit")
    }

    /// Resource attributes from `OTEL_RESOURCE_ATTRIBUTES` and setters.
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource
    }

    /// The head sampling ratio.
    pub fn sample_ratio(&self) -> f64 {
        self.ratio
    }

    /// The trace-context headers injected when trace context is on.
    pub fn propagators(&self) -> Propagators {
        self.propagators
    }

    /// Whether requests carry trace-context headers.
    pub fn trace_context(&self) -> bool {
        let on = self.trace_context.unwrap_or(self.exports_traces());
        on && (self.propagators.w3c || self.propagators.datadog)
    }

    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        self.traces_url().is_some() && self.export_traces
    }

    /// Whether metrics are exported.
    pub fn exports_metrics(&self) -> bool {
        self.metrics_url().is_some() && self.export_metrics
    }

    /// How often the engine should call
    /// [`MetricsExporter::export`](crate::MetricsExporter::export).
    pub fn metric_interval(&self) -> Duration {
        self.metric_interval
    }

    /// Delta or cumulative points.
    pub fn temporality(&self) -> Temporality {
        self.temporality
    }

    /// The prefix of exported metric names.
    pub fn metric_prefix(&self) -> &str {
        &self.metric_prefix
    }

    /// The bound of each export queue.
    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// The most spans in one export.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// How long spans may wait to fill a batch.
    pub fn flush_interval(&self) -> Duration {
        self.flush_interval
    }
}

impl Protocol {
    /// Parses `grpc` or `http/protobuf`.
    ///
    /// # Errors
    ///
    /// Any other value, with the accepted ones as the message.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            _ => Err("expected `grpc` or `http/protobuf`".into()),
        }
    }
}

impl Temporality {
    /// Parses `delta` or `cumulative` (any case).
    ///
    /// # Errors
    ///
    /// Any other value, with the accepted ones as the message.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "delta" => Ok(Temporality::Delta),
            "cumulative" => Ok(Temporality::Cumulative),
            _ => Err("expected `delta` or `cumulative`".into()),
        }
    }
}

impl Propagators {
    /// Parses a comma-separated list of `tracecontext`, `datadog` and
    /// `none`; `baggage` is accepted and ignored (loadwit sends none).
    ///
    /// # Errors
    ///
    /// An unknown name, with the accepted ones as the message.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut propagators = Propagators {
            w3c: false,
            datadog: false,
        };
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "tracecontext" => propagators.w3c = true,
                "datadog" => propagators.datadog = true,
                "baggage" | "none" => {}
                _ => return Err("expected `tracecontext`, `datadog` or `none`".into()),
            }
        }
        Ok(propagators)
    }
}

fn read_sampler(get: &impl Fn(&str) -> Option<String>) -> Result<f64, ConfigError> {
    let arg = match get("OTEL_TRACES_SAMPLER_ARG") {
        Some(value) => {
            let ratio = parse_as("OTEL_TRACES_SAMPLER_ARG", &value, |v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| "expected a number in 0..=1".to_string())
            })?;
            check_ratio("OTEL_TRACES_SAMPLER_ARG", ratio)?
        }
        None => 1.0,
    };
    let Some(sampler) = get("OTEL_TRACES_SAMPLER") else {
        return Ok(arg);
    };
    match sampler.trim() {
        "always_on" | "parentbased_always_on" => Ok(1.0),
        "always_off" | "parentbased_always_off" => Ok(0.0),
        "traceidratio" | "parentbased_traceidratio" => Ok(arg),
        other => Err(ConfigError {
            name: "OTEL_TRACES_SAMPLER".into(),
            value: other.into(),
            hint: "expected `always_on`, `always_off`, `traceidratio` or their \
                   `parentbased_` forms"
                .into(),
        }),
    }
}

fn read_signals(
    config: &mut OtelConfig,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let exporter = |name: &str, value: String| match value.trim() {
        "otlp" => Ok(true),
        "none" => Ok(false),
        _ => Err(ConfigError {
            name: name.into(),
            value,
            hint: "expected `otlp` or `none`".into(),
        }),
    };
    if let Some(value) = get("OTEL_TRACES_EXPORTER") {
        config.export_traces = exporter("OTEL_TRACES_EXPORTER", value)?;
    }
    if let Some(value) = get("OTEL_METRICS_EXPORTER") {
        config.export_metrics = exporter("OTEL_METRICS_EXPORTER", value)?;
    }
    if let Some(value) = get("OTEL_METRIC_EXPORT_INTERVAL") {
        config.metric_interval = parse_as("OTEL_METRIC_EXPORT_INTERVAL", &value, parse_millis)?;
    }
    let temporality = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
    if let Some(value) = get(temporality) {
        config.temporality = parse_as(temporality, &value, Temporality::parse)?;
    }
    Ok(())
}

fn read_batching(
    config: &mut OtelConfig,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(value) = get("OTEL_BSP_SCHEDULE_DELAY") {
        config.flush_interval = parse_as("OTEL_BSP_SCHEDULE_DELAY", &value, parse_millis)?;
    }
    if let Some(value) = get("OTEL_BSP_MAX_QUEUE_SIZE") {
        config.queue_capacity = parse_as("OTEL_BSP_MAX_QUEUE_SIZE", &value, parse_count)?;
    }
    if let Some(value) = get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
        config.batch_size = parse_as("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &value, parse_count)?;
    }
    Ok(())
}

fn parse_as<T>(
    name: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    parse(value).map_err(|hint| ConfigError {
        name: name.into(),
        value: value.into(),
        hint,
    })
}

fn check_ratio(name: &str, ratio: f64) -> Result<f64, ConfigError> {
    if (0.0..=1.0).contains(&ratio) {
        return Ok(ratio);
    }
    Err(ConfigError {
        name: name.into(),
        value: ratio.to_string(),
        hint: "expected a number in 0..=1".into(),
    })
}

fn parse_millis(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| "expected whole milliseconds, such as `10000`".into())
}

fn parse_count(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a positive whole number".into()),
    }
}

/// Parses the `key1=value1,key2=value2` lists of `OTEL_EXPORTER_OTLP_HEADERS`
/// and `OTEL_RESOURCE_ATTRIBUTES`, whose values may be percent-encoded.
pub(crate) fn parse_pairs(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err("expected `key=value` pairs separated by commas".into());
        };
        let key = key.trim();
        if key.is_empty() {
            return Err("expected `key=value` pairs with non-empty keys".into());
        }
        let value = percent_decode_str(value.trim()).decode_utf8_lossy();
        upsert(&mut pairs, key.to_string(), value.into_owned());
    }
    Ok(pairs)
}

fn upsert(pairs: &mut Vec<(String, String)>, key: String, value: String) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

fn attribute<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() -> Result<(), ConfigError> {
        let config = OtelConfig::from_env(env(&[("OTEL_SERVICE_NAME", "shop-test")]))?;
        assert!(!config.exports_traces());
        assert!(!config.exports_metrics());
        assert!(!config.trace_context());
        assert_eq!(config.service_name(), "shop-test");
        Ok(())
    }

    #[test]
    fn standard_variables_are_read() -> Result<(), ConfigError> {
        let config = OtelConfig::from_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "dd-api-key=abc%3D,x-team = perf",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=checkout-load,deployment.environment=staging",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_PROPAGATORS", "tracecontext,datadog"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "Cumulative",
            ),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]))?;
        assert_eq!(config.endpoint(), Some("http://localhost:4317"));
        assert_eq!(config.protocol(), Protocol::Grpc);
        let headers = [
            ("dd-api-key".to_string(), "abc=".to_string()),
            ("x-team".into(), "perf".into()),
        ];
        assert_eq!(config.headers(), headers);
        assert_eq!(config.service_name(), "checkout-load");
        assert_eq!(config.sample_ratio(), 0.25);
        assert!(config.propagators().datadog);
        assert_eq!(config.temporality(), Temporality::Cumulative);
        assert!(config.exports_traces() && !config.exports_metrics());
        assert!(config.trace_context());
        Ok(())
    }

    #[test]
    fn setters_override_the_environment() -> Result<(), ConfigError> {
        let config = OtelConfig::from_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SERVICE_NAME", "from-env"),
        ]))?
        .with_endpoint("http://127.0.0.1:9999")
        .with_service_name("from-flag")
        .with_sample_ratio(0.0)?;
        assert_eq!(config.endpoint(), Some("http://127.0.0.1:9999"));
        assert_eq!(config.service_name(), "from-flag");
        assert_eq!(config.sample_ratio(), 0.0);
        Ok(())
    }

    #[test]
    fn per_signal_endpoints_are_used_as_given() -> Result<(), ConfigError> {
        let config = OtelConfig::from_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://metrics:9090/otlp",
            ),
        ]))?;
        let traces = config.traces_url().map(|(_, url)| url);
        assert_eq!(traces.as_deref(), Some("http://collector:4318/v1/traces"));
        let metrics = config.metrics_url().map(|(_, url)| url);
        assert_eq!(metrics.as_deref(), Some("http://metrics:9090/otlp"));

        let only_traces = OtelConfig::default().with_traces_endpoint("http://a:4318/v1/traces");
        assert!(only_traces.exports_traces() && !only_traces.exports_metrics());
        Ok(())
    }

    #[test]
    fn trace_context_can_be_on_without_export() {
        let config = OtelConfig::default().with_trace_context(true);
        assert!(config.trace_context());
        assert!(!config.exports_traces());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err =
            OtelConfig::from_env(env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `OTEL_EXPORTER_OTLP_PROTOCOL` value `http/json`; \
             expected `grpc` or `http/protobuf`"
        );
        let err = OtelConfig::from_env(env(&[("OTEL_TRACES_SAMPLER_ARG", "1.5")])).unwrap_err();
        assert_eq!(err.name, "OTEL_TRACES_SAMPLER_ARG");
        assert!(OtelConfig::default().with_sample_ratio(-0.1).is_err());
        assert!(parse_pairs("novalue").is_err());
    }
}
