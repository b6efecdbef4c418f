//! Samples, HDR aggregation, thresholds and summaries for loadwit.
//!
//! This crate is the metrics stage of a run: plain data and rendering, no
//! threads and no I/O beyond the [`std::io::Write`] a summary is rendered
//! into. The flow, in the order the engine drives it:
//!
//! 1. **Samples.** Every host call records [`Sample`]s into a per-VU
//!    buffer: one per HTTP request, check, iteration, gauge reading, or
//!    value of a scenario's own [`CustomMetric`]. The engine stamps each
//!    with its wall-clock time ([`Stamped`]) for the outputs that write
//!    every sample; [`Sample::for_each_point`] splits it into k6's points.
//!    [`TagSet`]s label them (`scenario`, `name`, `method`, `status`, ...)
//!    and are built once, then cloned for the price of a reference count.
//! 2. **Aggregation.** One aggregator folds batches into an [`Aggregate`]:
//!    a series per (metric, tag set), trends in HDR histograms
//!    ([`Trend`]), so memory does not grow with test length. Aggregates
//!    [merge](Aggregate::merge) exactly, which is what makes distributed
//!    runs add up.
//! 3. **Thresholds.** [`Thresholds`] are parsed once from k6's options
//!    shape or the CLI form and [evaluated](Thresholds::evaluate) against
//!    the aggregate, during the run for `abortOnFail` and at the end.
//! 4. **Time series.** A [`TimeSeries`] keeps each interval's aggregate
//!    reduced to a few numbers per series, for progress and result files.
//! 5. **Summary.** A [`Summary`] snapshots the aggregate and outcomes and
//!    renders k6's classic text layout or k6's `--summary-export` JSON.
//!
//! Built-in metric names, kinds and units follow k6 ([`Builtin`]).
//!
//! ```
//! use std::time::Duration;
//! use loadwit_metrics::{
//!     Aggregate, HttpTimings, RunInfo, Sample, Summary, TagSet, Thresholds,
//! };
//!
//! let tags = TagSet::new([("name", "/products"), ("method", "GET"), ("status", "200")]);
//! let timings = HttpTimings { duration: Duration::from_millis(12), ..HttpTimings::default() };
//! let mut aggregate = Aggregate::new();
//! aggregate.add(&Sample::Http { tags, timings, failed: false, sent: 120, received: 2_048 });
//!
//! let mut thresholds = Thresholds::new();
//! thresholds.push_cli("http_req_duration: p(95)<500")?;
//! let elapsed = Duration::from_secs(1);
//! let outcomes = thresholds.evaluate(&aggregate, elapsed);
//! assert!(outcomes[0].passed);
//!
//! let summary = Summary::new(&aggregate, &outcomes, RunInfo { elapsed, vus_max: 1 });
//! let mut text = Vec::new();
//! summary.render_text(&mut text)?;
//! assert_eq!(summary.to_json()["metrics"]["http_reqs"]["count"], 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # JSON summary
//!
//! [`Summary::to_json`] follows k6's `--summary-export` layout, so tools
//! that read k6's file read ours:
//!
//! - `metrics`: keyed by metric name, or `name{tag:value}` for
//!   sub-metrics. Counters have `count` and `rate` (per second), gauges
//!   `value`, `min`, `max`, rates `passes`, `fails` and `value` (the
//!   rate), trends one key per trend statistic (`avg`, `p(95)`, ...) in
//!   milliseconds. A metric with thresholds has `thresholds`, mapping each
//!   expression to `true` when it **failed**, as k6 writes it.
//! - `root_group`: `name`, `path`, `groups` and `checks`, keyed by check
//!   name, each with `name`, `path`, `passes`, `fails`; `groups` nests the
//!   same shape per group (`path` like `::outer::inner`). k6's `id`
//!   hashes are not written.
//!
//! loadwit's own keys are snake_case:
//!
//! - `thresholds`: a list of `{metric, expression, observed, passed,
//!   abort_on_fail}`; `observed` is `null` without samples.
//! - `requests_by_name`: a list of `{name, method, status, error_code,
//!   count, failed}`; `status` is `null` for transport errors, `error_code`
//!   `null` otherwise.
//! - `failed_iterations`: `{count, by_message: {message: count}, other}`.
//! - `state`: `{elapsed_ms, vus_max, interrupted_iterations}`.
//! - `time_series` (when the run kept one): `{interval_ms, buckets:
//!   [{time_ms, series: [{metric, tags, ...}]}]}`; counters have `count`,
//!   gauges `value`, rates `passes` and `fails`, trends `count`, `avg`,
//!   `min`, `max` and `p(95)`, all for that interval alone.

#![warn(missing_docs)]

mod aggregate;
pub mod format;
mod metric;
mod sample;
mod series;
mod summary;
mod tags;
mod threshold;
mod trend;

pub use aggregate::{
    AGGREGATE_FORMAT_VERSION, Aggregate, CheckCount, DecodeError, EXPECTED_RESPONSE, FailureLog,
    MAX_FAILURE_MESSAGE_LEN, MAX_FAILURE_MESSAGES, MetricValue, RequestCount, RequestOutcome,
};
pub use format::{format_bytes, format_duration};
pub use metric::{
    Builtin, CustomMetric, FAILED_ITERATIONS, GROUP_DURATION, Metric, MetricError, MetricKind,
    ValueUnit,
};
pub use sample::{HttpTimings, IterationOutcome, Point, Sample, Stamped};
pub use series::{Bucket, PointValue, SeriesPoint, TimeSeries};
pub use summary::{RunInfo, Summary, TimeUnit, TrendStat};
pub use tags::TagSet;
pub use threshold::{
    Aggregation, Op, Threshold, ThresholdError, ThresholdOutcome, Thresholds, metric_key,
    parse_cli_threshold,
};
pub use trend::Trend;
