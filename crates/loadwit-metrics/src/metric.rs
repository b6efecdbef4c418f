//! Metric kinds, value units and the built-in metrics, named as in k6.

use std::fmt;
use std::sync::Arc;

/// How a metric aggregates its samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// A running sum, such as `http_reqs`.
    Counter,
    /// The latest reading with its minimum and maximum, such as `vus`.
    Gauge,
    /// The share of non-zero samples, such as `checks`.
    Rate,
    /// A distribution summarised by average, median and percentiles, such
    /// as `http_req_duration`.
    Trend,
}

impl MetricKind {
    /// The lowercase name k6 uses: `counter`, `gauge`, `rate`, `trend`.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Rate => "rate",
            MetricKind::Trend => "trend",
        }
    }
}

impl MetricKind {
    /// The kind called `name` (`counter`, `gauge`, `rate`, `trend`).
    pub fn from_name(name: &str) -> Option<MetricKind> {
        [
            MetricKind::Counter,
            MetricKind::Gauge,
            MetricKind::Rate,
            MetricKind::Trend,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a metric's values measure, which decides how they are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueUnit {
    /// Durations: recorded in microseconds, shown as `µs`/`ms`/`s`, and
    /// compared in milliseconds by thresholds (as in k6).
    Time,
    /// Byte counts, shown in decimal `kB`/`MB`.
    Data,
    /// Plain numbers.
    Plain,
}

/// The metrics the host records by itself.
///
/// Names, kinds and units follow k6 exactly, so thresholds and dashboards
/// written for k6 carry over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    /// `http_reqs`: requests made, failed ones included.
    HttpReqs,
    /// `http_req_duration`: sending + waiting + receiving.
    HttpReqDuration,
    /// `http_req_blocked`: time waiting for a free connection slot.
    HttpReqBlocked,
    /// `http_req_connecting`: TCP connection setup.
    HttpReqConnecting,
    /// `http_req_tls_handshaking`: TLS handshake; 0 for plain HTTP and
    /// reused connections.
    HttpReqTlsHandshaking,
    /// `http_req_sending`: writing the request.
    HttpReqSending,
    /// `http_req_waiting`: time to first byte.
    HttpReqWaiting,
    /// `http_req_receiving`: reading the response body.
    HttpReqReceiving,
    /// `http_req_failed`: rate of failed requests; a "pass" is a failure.
    HttpReqFailed,
    /// `iterations`: iterations that ended, completed or failed.
    Iterations,
    /// `iteration_duration`: duration of the iterations that ended.
    IterationDuration,
    /// `dropped_iterations`: iterations an arrival-rate executor could not
    /// start for lack of a free VU.
    DroppedIterations,
    /// `checks`: rate of passed checks.
    Checks,
    /// `vus`: active virtual users.
    Vus,
    /// `vus_max`: allocated virtual users.
    VusMax,
    /// `data_sent`: bytes written.
    DataSent,
    /// `data_received`: bytes read.
    DataReceived,
    /// `iteration_lateness`: how late an arrival-rate iteration started
    /// against its schedule. loadwit's own; k6 has no such metric.
    IterationLateness,
    /// `http_req_duration_corrected`: an arrival-rate request's duration
    /// plus its iteration's lateness, i.e. measured from when it should
    /// have been sent (coordinated-omission correction). loadwit's own.
    HttpReqDurationCorrected,
}

impl Builtin {
    /// Every built-in metric, in declaration order.
    pub const ALL: [Builtin; 19] = [
        Builtin::HttpReqs,
        Builtin::HttpReqDuration,
        Builtin::HttpReqBlocked,
        Builtin::HttpReqConnecting,
        Builtin::HttpReqTlsHandshaking,
        Builtin::HttpReqSending,
        Builtin::HttpReqWaiting,
        Builtin::HttpReqReceiving,
        Builtin::HttpReqFailed,
        Builtin::Iterations,
        Builtin::IterationDuration,
        Builtin::DroppedIterations,
        Builtin::Checks,
        Builtin::Vus,
        Builtin::VusMax,
        Builtin::DataSent,
        Builtin::DataReceived,
        Builtin::IterationLateness,
        Builtin::HttpReqDurationCorrected,
    ];

    /// The k6 name, such as `http_req_duration`.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::HttpReqs => "http_reqs",
            Builtin::HttpReqDuration => "http_req_duration",
            Builtin::HttpReqBlocked => "http_req_blocked",
            Builtin::HttpReqConnecting => "http_req_connecting",
            Builtin::HttpReqTlsHandshaking => "http_req_tls_handshaking",
            Builtin::HttpReqSending => "http_req_sending",
            Builtin::HttpReqWaiting => "http_req_waiting",
            Builtin::HttpReqReceiving => "http_req_receiving",
            Builtin::HttpReqFailed => "http_req_failed",
            Builtin::Iterations => "iterations",
            Builtin::IterationDuration => "iteration_duration",
            Builtin::DroppedIterations => "dropped_iterations",
            Builtin::Checks => "checks",
            Builtin::Vus => "vus",
            Builtin::VusMax => "vus_max",
            Builtin::DataSent => "data_sent",
            Builtin::DataReceived => "data_received",
            Builtin::IterationLateness => "iteration_lateness",
            Builtin::HttpReqDurationCorrected => "http_req_duration_corrected",
        }
    }

    /// How the metric aggregates.
    pub fn kind(self) -> MetricKind {
        match self {
            Builtin::HttpReqs
            | Builtin::Iterations
            | Builtin::DroppedIterations
            | Builtin::DataSent
            | Builtin::DataReceived => MetricKind::Counter,
            Builtin::HttpReqFailed | Builtin::Checks => MetricKind::Rate,
            Builtin::Vus | Builtin::VusMax => MetricKind::Gauge,
            Builtin::HttpReqDuration
            | Builtin::HttpReqBlocked
            | Builtin::HttpReqConnecting
            | Builtin::HttpReqTlsHandshaking
            | Builtin::HttpReqSending
            | Builtin::HttpReqWaiting
            | Builtin::HttpReqReceiving
            | Builtin::IterationDuration
            | Builtin::IterationLateness
            | Builtin::HttpReqDurationCorrected => MetricKind::Trend,
        }
    }

    /// What the values measure.
    pub fn unit(self) -> ValueUnit {
        match self {
            Builtin::DataSent | Builtin::DataReceived => ValueUnit::Data,
            _ if self.kind() == MetricKind::Trend => ValueUnit::Time,
            _ => ValueUnit::Plain,
        }
    }

    /// The built-in metric called `name`, if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest custom metric name, as in k6.
const MAX_NAME_LEN: usize = 128;

/// A metric a scenario declares for itself, such as an `orders_placed`
/// counter or a `cart_latency` trend.
///
/// Invariants, when built by [`CustomMetric::new`]: the name matches k6's
/// `[a-zA-Z_][a-zA-Z0-9_]{0,127}` and is not a built-in name; only trends
/// may measure time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomMetric {
    name: Arc<str>,
    kind: MetricKind,
    unit: ValueUnit,
}

/// Why a custom metric declaration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// The name breaks k6's naming rule.
    #[error(
        "metric name `{0}` is invalid; use up to 128 letters, digits and \
         underscores, not starting with a digit"
    )]
    Name(String),
    /// The name is taken by a built-in metric.
    #[error("metric name `{0}` is built in; pick another name")]
    Builtin(String),
    /// `time` was asked for a metric that is not a trend.
    #[error("metric `{0}` cannot measure time; only trends can")]
    TimeOnNonTrend(String),
}

impl CustomMetric {
    /// Declares a metric of `kind`; `is_time` makes a trend's values
    /// durations in milliseconds, shown as durations.
    ///
    /// # Errors
    ///
    /// When the name is invalid or built in, or `is_time` is set on a
    /// metric that is not a trend.
    pub fn new(name: &str, kind: MetricKind, is_time: bool) -> Result<Self, MetricError> {
        if !valid_name(name) {
            return Err(MetricError::Name(name.to_string()));
        }
        if Builtin::from_name(name).is_some() || [GROUP_DURATION, FAILED_ITERATIONS].contains(&name)
        {
            return Err(MetricError::Builtin(name.to_string()));
        }
        if is_time && kind != MetricKind::Trend {
            return Err(MetricError::TimeOnNonTrend(name.to_string()));
        }
        let unit = if is_time {
            ValueUnit::Time
        } else {
            ValueUnit::Plain
        };
        Ok(CustomMetric {
            name: name.into(),
            kind,
            unit,
        })
    }

    /// `group_duration`: the time spent in each group, recorded by the
    /// host when a group ends, as in k6.
    pub fn group_duration() -> Self {
        CustomMetric {
            name: GROUP_DURATION.into(),
            kind: MetricKind::Trend,
            unit: ValueUnit::Time,
        }
    }

    /// `failed_iterations`: iterations that returned an error or trapped,
    /// counted by the host. k6 has no such metric; loadwit offers it so a
    /// threshold can gate on scenario errors.
    pub fn failed_iterations() -> Self {
        CustomMetric {
            name: FAILED_ITERATIONS.into(),
            kind: MetricKind::Counter,
            unit: ValueUnit::Plain,
        }
    }

    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the metric aggregates.
    pub fn kind(&self) -> MetricKind {
        self.kind
    }

    /// What its values measure: time or plain numbers.
    pub fn unit(&self) -> ValueUnit {
        self.unit
    }
}

/// The name of the host-recorded group duration trend.
pub const GROUP_DURATION: &str = "group_duration";

/// The name thresholds use for the count of failed iterations, which the
/// summary reports under the same key; it takes no tag filter.
pub const FAILED_ITERATIONS: &str = "failed_iterations";

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && name.len() <= MAX_NAME_LEN && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Any metric: built in, or declared by the scenario.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// One the host records.
    Builtin(Builtin),
    /// One the scenario declared (or `group_duration`).
    Custom(Arc<CustomMetric>),
}

impl Metric {
    /// The metric's name.
    pub fn name(&self) -> &str {
        match self {
            Metric::Builtin(b) => b.name(),
            Metric::Custom(c) => c.name(),
        }
    }

    /// How it aggregates.
    pub fn kind(&self) -> MetricKind {
        match self {
            Metric::Builtin(b) => b.kind(),
            Metric::Custom(c) => c.kind(),
        }
    }

    /// What its values measure.
    pub fn unit(&self) -> ValueUnit {
        match self {
            Metric::Builtin(b) => b.unit(),
            Metric::Custom(c) => c.unit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for metric in Builtin::ALL {
            assert_eq!(Builtin::from_name(metric.name()), Some(metric));
        }
        assert_eq!(Builtin::from_name("http_req_durations"), None);
    }

    #[test]
    fn kinds_and_units_follow_k6() {
        assert_eq!(Builtin::HttpReqFailed.kind(), MetricKind::Rate);
        assert_eq!(Builtin::HttpReqDuration.unit(), ValueUnit::Time);
        assert_eq!(Builtin::DataReceived.unit(), ValueUnit::Data);
        assert_eq!(Builtin::Vus.kind(), MetricKind::Gauge);
        assert_eq!(Builtin::Iterations.unit(), ValueUnit::Plain);
    }

    #[test]
    fn custom_names_follow_k6_rules() {
        assert!(CustomMetric::new("orders_placed", MetricKind::Counter, false).is_ok());
        assert!(CustomMetric::new("_x9", MetricKind::Trend, true).is_ok());
        let bad = [("9lives", false), ("has-dash", false), ("", false)];
        for (name, time) in bad {
            let err = CustomMetric::new(name, MetricKind::Gauge, time).unwrap_err();
            assert_eq!(err, MetricError::Name(name.to_string()));
        }
        let err = CustomMetric::new("http_reqs", MetricKind::Counter, false).unwrap_err();
        assert!(err.to_string().contains("built in"), "{err}");
        let err = CustomMetric::new("n", MetricKind::Counter, true).unwrap_err();
        assert!(err.to_string().contains("only trends"), "{err}");
    }
}
