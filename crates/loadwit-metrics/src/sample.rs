//! Samples: what the engine records, one per observation.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::metric::{Builtin, CustomMetric, MetricKind, ValueUnit};
use crate::tags::TagSet;

/// The phases of one HTTP request, as k6 splits them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpTimings {
    /// Waiting for a free connection slot (`http_req_blocked`).
    pub blocked: Duration,
    /// TCP connection setup (`http_req_connecting`).
    pub connecting: Duration,
    /// TLS handshake (`http_req_tls_handshaking`).
    pub tls_handshaking: Duration,
    /// Writing the request (`http_req_sending`).
    pub sending: Duration,
    /// Time to first byte (`http_req_waiting`).
    pub waiting: Duration,
    /// Reading the response (`http_req_receiving`).
    pub receiving: Duration,
    /// Sending + waiting + receiving (`http_req_duration`).
    pub duration: Duration,
}

/// One observation, with the tags that pick its series.
///
/// The engine owns sample buffers: each VU fills a `Vec<Sample>` and ships
/// it in batches to the single aggregator, which folds them with
/// [`Aggregate::add_all`](crate::Aggregate::add_all). A sample is plain data
/// and holds no reference into the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Sample {
    /// One HTTP request. It feeds `http_reqs` (+1), the six timing trends,
    /// `http_req_failed`, `data_sent` and `data_received`.
    ///
    /// `tags` hold the system tags `scenario`, `name`, `method`, `status`
    /// (`"0"` or absent for transport errors) and, for transport errors,
    /// `error_code` such as `connection-refused`. `failed` is decided by the
    /// engine: a status of 400 or more, a status outside the expected ones,
    /// or a transport error.
    Http {
        /// System and user tags of the request.
        tags: TagSet,
        /// Phase durations.
        timings: HttpTimings,
        /// Whether the request counts as failed for `http_req_failed`.
        failed: bool,
        /// Bytes written.
        sent: u64,
        /// Bytes read.
        received: u64,
    },
    /// One check outcome, feeding the `checks` rate. `tags` include `check`
    /// (the check name) and `scenario`.
    Check {
        /// Tags, `check` included.
        tags: TagSet,
        /// Whether the check held.
        passed: bool,
    },
    /// One finished iteration. Completed and failed iterations count in
    /// `iterations` and `iteration_duration`; failure messages are tallied;
    /// interrupted iterations are counted apart and feed neither metric.
    Iteration {
        /// Tags, `scenario` included.
        tags: TagSet,
        /// Wall time of the iteration.
        duration: Duration,
        /// How it ended.
        outcome: IterationOutcome,
    },
    /// A gauge reading such as `vus` or `vus_max`. Readings for metrics that
    /// are not gauges are ignored (and trip a debug assertion).
    Gauge {
        /// A built-in gauge.
        metric: Builtin,
        /// Tags of the reading.
        tags: TagSet,
        /// The reading.
        value: f64,
    },
    /// An increment of a counter that no other sample feeds; today that is
    /// `dropped_iterations`. Increments of other metrics are ignored (and
    /// trip a debug assertion), since `http_reqs`, `iterations` and the data
    /// counters come from [`Sample::Http`] and [`Sample::Iteration`].
    Counter {
        /// A built-in counter.
        metric: Builtin,
        /// Tags of the increment.
        tags: TagSet,
        /// The amount added.
        value: f64,
    },
    /// One value of a trend that no other sample feeds: today
    /// `iteration_lateness` and `http_req_duration_corrected`. Values for
    /// other metrics are ignored (and trip a debug assertion).
    Trend {
        /// A built-in trend.
        metric: Builtin,
        /// Tags of the value.
        tags: TagSet,
        /// The value.
        value: Duration,
    },
    /// One value of a metric the scenario declared (or `group_duration`).
    ///
    /// Counters add `value`, gauges keep it as their reading, rates count
    /// it as a pass when non-zero, trends record it; a time trend's values
    /// are milliseconds.
    Custom {
        /// The declared metric.
        metric: Arc<CustomMetric>,
        /// Tags of the value.
        tags: TagSet,
        /// The value.
        value: f64,
    },
}

impl Sample {
    /// The tags of the sample, whatever its variant.
    pub fn tags(&self) -> &TagSet {
        match self {
            Sample::Http { tags, .. }
            | Sample::Check { tags, .. }
            | Sample::Iteration { tags, .. }
            | Sample::Gauge { tags, .. }
            | Sample::Counter { tags, .. }
            | Sample::Trend { tags, .. }
            | Sample::Custom { tags, .. } => tags,
        }
    }

    /// The tags of the sample, to rewrite them (as `systemTags` does).
    pub fn tags_mut(&mut self) -> &mut TagSet {
        match self {
            Sample::Http { tags, .. }
            | Sample::Check { tags, .. }
            | Sample::Iteration { tags, .. }
            | Sample::Gauge { tags, .. }
            | Sample::Counter { tags, .. }
            | Sample::Trend { tags, .. }
            | Sample::Custom { tags, .. } => tags,
        }
    }

    /// Calls `f` once per k6 metric point this sample stands for, with the
    /// metric name, its kind and unit, and the value as k6 writes it
    /// (milliseconds for times, bytes for data, 1 or 0 for rates).
    ///
    /// An HTTP request is eleven points (`http_reqs`, the six timings,
    /// `http_req_tls_handshaking`, `http_req_failed`, `data_sent`,
    /// `data_received`); an interrupted iteration is none.
    pub fn for_each_point(&self, mut f: impl FnMut(Point<'_>)) {
        let mut builtin = |metric: Builtin, value: f64| {
            f(Point {
                metric: metric.name(),
                kind: metric.kind(),
                unit: metric.unit(),
                value,
            })
        };
        match self {
            Sample::Http {
                timings,
                failed,
                sent,
                received,
                ..
            } => {
                let ms = |d: Duration| d.as_nanos() as f64 / 1e6;
                let points = [
                    (Builtin::HttpReqs, 1.0),
                    (Builtin::HttpReqDuration, ms(timings.duration)),
                    (Builtin::HttpReqBlocked, ms(timings.blocked)),
                    (Builtin::HttpReqConnecting, ms(timings.connecting)),
                    (Builtin::HttpReqTlsHandshaking, 0.0),
                    (Builtin::HttpReqSending, ms(timings.sending)),
                    (Builtin::HttpReqWaiting, ms(timings.waiting)),
                    (Builtin::HttpReqReceiving, ms(timings.receiving)),
                    (Builtin::HttpReqFailed, f64::from(u8::from(*failed))),
                    (Builtin::DataSent, *sent as f64),
                    (Builtin::DataReceived, *received as f64),
                ];
                for (metric, value) in points {
                    builtin(metric, value);
                }
            }
            Sample::Check { passed, .. } => builtin(Builtin::Checks, f64::from(u8::from(*passed))),
            Sample::Iteration {
                duration, outcome, ..
            } => {
                if *outcome != IterationOutcome::Interrupted {
                    builtin(Builtin::Iterations, 1.0);
                    let ms = duration.as_nanos() as f64 / 1e6;
                    builtin(Builtin::IterationDuration, ms);
                }
            }
            Sample::Gauge { metric, value, .. } | Sample::Counter { metric, value, .. } => {
                builtin(*metric, *value)
            }
            Sample::Trend { metric, value, .. } => builtin(*metric, value.as_nanos() as f64 / 1e6),
            Sample::Custom { metric, value, .. } => f(Point {
                metric: metric.name(),
                kind: metric.kind(),
                unit: metric.unit(),
                value: *value,
            }),
        }
    }
}

/// One k6 metric point of a [`Sample`], as outputs write it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point<'a> {
    /// Metric name.
    pub metric: &'a str,
    /// Its kind.
    pub kind: MetricKind,
    /// Its unit.
    pub unit: ValueUnit,
    /// The value, in k6's units (milliseconds for times).
    pub value: f64,
}

/// A sample with the wall-clock time it was recorded, for outputs that
/// write every sample (`--out json`, `--out csv`).
///
/// The engine stamps samples as it buffers them: one clock read per
/// sample, and the [`Sample`] itself stays free of time.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamped {
    /// When the sample was recorded.
    pub time: SystemTime,
    /// The sample.
    pub sample: Sample,
}

/// How an iteration ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IterationOutcome {
    /// The exported function returned normally.
    Completed,
    /// The guest returned an error or trapped; the message says which.
    Failed(String),
    /// The iteration was cut short by the end of its scenario or a stop.
    Interrupted,
}
