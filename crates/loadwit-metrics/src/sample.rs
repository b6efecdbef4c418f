//! Samples: what the engine records, one per observation.

use std::time::Duration;

use crate::metric::Builtin;
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
}

impl Sample {
    /// The tags of the sample, whatever its variant.
    pub fn tags(&self) -> &TagSet {
        match self {
            Sample::Http { tags, .. }
            | Sample::Check { tags, .. }
            | Sample::Iteration { tags, .. }
            | Sample::Gauge { tags, .. }
            | Sample::Counter { tags, .. } => tags,
        }
    }
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
