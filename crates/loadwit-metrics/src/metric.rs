//! Metric kinds, value units and the built-in metrics, named as in k6.

use std::fmt;

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
}

impl Builtin {
    /// Every built-in metric, in declaration order.
    pub const ALL: [Builtin; 17] = [
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
            | Builtin::IterationDuration => MetricKind::Trend,
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
}
