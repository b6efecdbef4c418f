//! The end-of-test summary: one model built from the aggregate and the
//! threshold outcomes, rendered as text for people ([`Summary::render_text`])
//! or as JSON for machines ([`Summary::to_json`]). Both renderings read the
//! same model, so they always agree.

mod json;
mod text;

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use crate::aggregate::{Aggregate, CheckCount, EXPECTED_RESPONSE, MetricValue, RequestCount};
use crate::format;
use crate::metric::{Builtin, Metric, MetricKind, ValueUnit};
use crate::series::TimeSeries;
use crate::threshold::{Aggregation, ThresholdOutcome, metric_key};
use crate::trend::Trend;

/// Facts about the run that the samples do not carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// Test time, from the start of the first scenario to the end; counter
    /// rates are per second of it.
    pub elapsed: Duration,
    /// The most VUs allocated at once.
    pub vus_max: u64,
}

/// One statistic shown for trends, as k6's `summaryTrendStats` names them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrendStat {
    /// `avg`
    Avg,
    /// `min`
    Min,
    /// `med`
    Med,
    /// `max`
    Max,
    /// `p(N)`, `N` in `0..=100`
    Percentile(f64),
    /// `count`
    Count,
}

impl TrendStat {
    /// The default list: avg, min, med, max, p(90), p(95), p(99).
    pub fn defaults() -> Vec<TrendStat> {
        use TrendStat::*;
        vec![
            Avg,
            Min,
            Med,
            Max,
            Percentile(90.0),
            Percentile(95.0),
            Percentile(99.0),
        ]
    }

    /// Parses one of `avg`, `min`, `med`, `max`, `count` or `p(N)`.
    pub fn parse(text: &str) -> Option<TrendStat> {
        let stat = match text.trim() {
            "avg" => TrendStat::Avg,
            "min" => TrendStat::Min,
            "med" => TrendStat::Med,
            "max" => TrendStat::Max,
            "count" => TrendStat::Count,
            other => {
                let inner = other.strip_prefix("p(")?.strip_suffix(')')?;
                let p = inner.trim().parse::<f64>().ok()?;
                if !(0.0..=100.0).contains(&p) {
                    return None;
                }
                TrendStat::Percentile(p)
            }
        };
        Some(stat)
    }

    /// The statistic of `trend`: a duration, a plain number for trends
    /// of plain values, or a count for `count`.
    fn of(self, trend: &Trend, unit: ValueUnit) -> StatValue {
        let value = self.of_time(trend);
        match (value, unit) {
            (StatValue::Time(d), ValueUnit::Plain) => StatValue::Plain(d.as_nanos() as f64 / 1e6),
            (StatValue::Millis(ms), ValueUnit::Plain) => StatValue::Plain(ms),
            (value, _) => value,
        }
    }

    fn of_time(self, trend: &Trend) -> StatValue {
        StatValue::Time(match self {
            TrendStat::Avg => return StatValue::Millis(trend.avg_ms()),
            TrendStat::Count => return StatValue::Count(trend.count()),
            TrendStat::Min => trend.min(),
            TrendStat::Med => trend.median(),
            TrendStat::Max => trend.max(),
            TrendStat::Percentile(p) => trend.percentile(p),
        })
    }
}

/// `avg`, `p(99.9)`, ...
impl fmt::Display for TrendStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrendStat::Avg => f.write_str("avg"),
            TrendStat::Min => f.write_str("min"),
            TrendStat::Med => f.write_str("med"),
            TrendStat::Max => f.write_str("max"),
            TrendStat::Percentile(p) => write!(f, "p({p})"),
            TrendStat::Count => f.write_str("count"),
        }
    }
}

#[derive(Clone, Copy)]
enum StatValue {
    Time(Duration),
    Millis(f64),
    Count(u64),
    Plain(f64),
}

impl StatValue {
    fn text(&self, unit: Option<TimeUnit>) -> String {
        match (*self, unit) {
            (StatValue::Time(d), Some(unit)) => unit.format(d.as_nanos() as f64 / 1e6),
            (StatValue::Millis(ms), Some(unit)) => unit.format(ms),
            (StatValue::Time(d), None) => format::format_duration(d),
            (StatValue::Millis(ms), None) => format::format_millis(ms),
            (StatValue::Count(n), _) => format::format_count(n),
            (StatValue::Plain(v), _) => format::format_number(v),
        }
    }

    fn json(&self) -> serde_json::Value {
        match *self {
            StatValue::Time(d) => (d.as_nanos() as f64 / 1e6).into(),
            StatValue::Millis(ms) | StatValue::Plain(ms) => ms.into(),
            StatValue::Count(n) => n.into(),
        }
    }
}

/// A fixed unit for every duration in the text summary, as k6's
/// `summaryTimeUnit` sets it; without one, each duration picks its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// `s`
    Seconds,
    /// `ms`
    Millis,
    /// `us` (shown as `µs`)
    Micros,
}

impl TimeUnit {
    /// Parses `s`, `ms` or `us`, k6's values.
    pub fn parse(text: &str) -> Option<TimeUnit> {
        match text {
            "s" => Some(TimeUnit::Seconds),
            "ms" => Some(TimeUnit::Millis),
            "us" | "µs" => Some(TimeUnit::Micros),
            _ => None,
        }
    }

    fn format(self, ms: f64) -> String {
        let (value, suffix) = match self {
            TimeUnit::Seconds => (ms / 1e3, "s"),
            TimeUnit::Millis => (ms, "ms"),
            TimeUnit::Micros => (ms * 1e3, "µs"),
        };
        format!(
            "{}{suffix}",
            format::format_number((value * 100.0).trunc() / 100.0)
        )
    }
}

/// The end-of-test report.
///
/// It owns a snapshot of everything it shows, so the aggregate can keep
/// changing (or be dropped) after the summary is built.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Statistics shown for trends, in order; [`TrendStat::defaults`]
    /// unless changed.
    pub trend_stats: Vec<TrendStat>,
    /// The unit every duration of the text summary is shown in; each
    /// picks its own when `None`.
    pub time_unit: Option<TimeUnit>,
    info: RunInfo,
    time_series: Option<TimeSeries>,
    /// Metrics with samples and the sub-metrics thresholds ask for, sorted
    /// by key.
    rows: Vec<MetricRow>,
    outcomes: Vec<ThresholdOutcome>,
    checks: Vec<CheckCount>,
    requests: Vec<RequestCount>,
    failures: Failures,
}

/// One line of the metrics block: a metric or a sub-metric (a metric
/// narrowed by a tag filter, keyed like `http_req_duration{name:me}`).
#[derive(Clone, Debug)]
struct MetricRow {
    key: String,
    metric: Metric,
    /// Tag filter in `key:value` form; empty for a whole metric.
    filter: Vec<(String, String)>,
    value: MetricValue,
    /// Indexes into the summary's outcomes of the thresholds on this row.
    thresholds: Vec<usize>,
}

#[derive(Clone, Debug, Default)]
struct Failures {
    total: u64,
    messages: Vec<(String, u64)>,
    other: u64,
    interrupted: u64,
}

impl Summary {
    /// Builds the summary of `aggregate` with the `outcomes` of the final
    /// threshold evaluation.
    pub fn new(aggregate: &Aggregate, outcomes: &[ThresholdOutcome], info: RunInfo) -> Summary {
        let log = aggregate.failed_iterations();
        let failures = Failures {
            total: log.total(),
            messages: log
                .messages()
                .into_iter()
                .map(|(m, n)| (m.to_string(), n))
                .collect(),
            other: log.other(),
            interrupted: aggregate.interrupted_iterations(),
        };
        Summary {
            trend_stats: TrendStat::defaults(),
            time_unit: None,
            info,
            time_series: None,
            rows: metric_rows(aggregate, outcomes),
            outcomes: outcomes.to_vec(),
            checks: aggregate.checks(),
            requests: by_impact(aggregate.requests_by_name()),
            failures,
        }
    }

    /// Replaces the trend statistics shown.
    pub fn with_trend_stats(mut self, trend_stats: Vec<TrendStat>) -> Summary {
        self.trend_stats = trend_stats;
        self
    }

    /// Shows every duration of the text summary in `unit`.
    pub fn with_time_unit(mut self, unit: Option<TimeUnit>) -> Summary {
        self.time_unit = unit;
        self
    }

    /// Adds the run's time series to the JSON summary (`time_series`).
    pub fn with_time_series(mut self, series: TimeSeries) -> Summary {
        self.time_series = Some(series);
        self
    }

    /// The run facts the summary was built with.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The threshold outcomes the summary shows, in threshold order.
    pub fn outcomes(&self) -> &[ThresholdOutcome] {
        &self.outcomes
    }

    /// Checks by group and name, in order of first appearance.
    pub fn checks(&self) -> &[CheckCount] {
        &self.checks
    }

    /// Whether every threshold held (exit code 99 otherwise).
    pub fn thresholds_passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.passed)
    }

    /// Whether anything failed: a threshold, a check, a request or an
    /// iteration. The text summary then opens with a "what failed" block.
    pub fn has_failures(&self) -> bool {
        !self.thresholds_passed()
            || self.checks.iter().any(|c| c.fails > 0)
            || self.failures.total > 0
            || self.failures.interrupted > 0
            || self.failed_requests().is_some_and(|(failed, _)| failed > 0)
    }

    /// Writes the text summary, k6's classic layout with a "what failed"
    /// block on top and a per-request breakdown at the bottom.
    ///
    /// # Errors
    ///
    /// Only those of `out`.
    pub fn render_text(&self, out: &mut impl Write) -> io::Result<()> {
        text::render(self, out)
    }

    /// The summary in k6's `--summary-export` layout plus loadwit's own
    /// top-level keys; see the crate docs for the schema.
    pub fn to_json(&self) -> serde_json::Value {
        json::render(self)
    }

    /// Failed and total requests, from `http_req_failed`.
    fn failed_requests(&self) -> Option<(u64, u64)> {
        self.rows.iter().find_map(|row| match row.value {
            MetricValue::Rate { passes, total }
                if row.metric == Metric::Builtin(Builtin::HttpReqFailed)
                    && row.filter.is_empty() =>
            {
                Some((passes, total))
            }
            _ => None,
        })
    }

    fn elapsed_secs(&self) -> f64 {
        self.info.elapsed.as_secs_f64()
    }
}

/// Arrival-rate lateness below this at p(95) is scheduling noise: the
/// coordinated-omission metrics are left out of the summary then.
const LATENESS_WORTH_SHOWING: Duration = Duration::from_millis(10);

/// Whether iterations started late enough against their schedule for the
/// corrected latency to tell something the plain one does not.
fn lateness_matters(aggregate: &Aggregate) -> bool {
    matches!(
        aggregate.metric(Builtin::IterationLateness),
        Some(MetricValue::Trend(trend)) if trend.percentile(95.0) > LATENESS_WORTH_SHOWING
    )
}

/// Request groups with the most failures first, then the busiest, so the
/// breakdown opens with what hurt most.
fn by_impact(mut requests: Vec<RequestCount>) -> Vec<RequestCount> {
    requests.sort_by(|a, b| {
        (b.failed, b.count)
            .cmp(&(a.failed, a.count))
            .then_with(|| (&a.name, &a.method).cmp(&(&b.name, &b.method)))
    });
    requests
}

fn metric_rows(aggregate: &Aggregate, outcomes: &[ThresholdOutcome]) -> Vec<MetricRow> {
    let show_lateness = lateness_matters(aggregate);
    let mut rows: Vec<MetricRow> = aggregate
        .metrics()
        .into_iter()
        .filter(|metric| {
            show_lateness
                || !matches!(
                    metric,
                    Metric::Builtin(Builtin::IterationLateness | Builtin::HttpReqDurationCorrected)
                )
        })
        .filter_map(|metric| {
            let value = aggregate.metric_named::<&str, &str>(metric.name(), &[])?;
            Some(MetricRow::new(metric, Vec::new(), value))
        })
        .collect();

    // k6 always shows the duration of expected responses, and a line for
    // every metric narrowed by a threshold's tag filter.
    let expected = vec![(EXPECTED_RESPONSE.to_string(), "true".to_string())];
    let duration = Metric::Builtin(Builtin::HttpReqDuration);
    let mut sub_metrics = vec![(duration, expected)];
    for outcome in outcomes {
        let threshold = &outcome.threshold;
        if let (Some(metric), false) = (&outcome.metric, threshold.filter.is_empty()) {
            sub_metrics.push((metric.clone(), threshold.filter.clone()));
        }
    }
    for (metric, filter) in sub_metrics {
        let key = metric_key(metric.name(), &filter);
        if rows.iter().any(|row| row.key == key) {
            continue;
        }
        if let Some(value) = aggregate.metric_named(metric.name(), &filter) {
            rows.push(MetricRow::new(metric, filter, value));
        }
    }

    rows.sort_by(|a, b| a.key.cmp(&b.key));
    for (index, outcome) in outcomes.iter().enumerate() {
        let key = outcome.threshold.metric_key();
        if let Some(row) = rows.iter_mut().find(|row| row.key == key) {
            row.thresholds.push(index);
        }
    }
    rows
}

impl MetricRow {
    fn new(metric: Metric, filter: Vec<(String, String)>, value: MetricValue) -> MetricRow {
        MetricRow {
            key: metric_key(metric.name(), &filter),
            metric,
            filter,
            value,
            thresholds: Vec::new(),
        }
    }

    /// Whether every threshold on the row held; `None` without thresholds.
    fn thresholds_passed(&self, outcomes: &[ThresholdOutcome]) -> Option<bool> {
        if self.thresholds.is_empty() {
            return None;
        }
        Some(self.thresholds.iter().all(|&i| outcomes[i].passed))
    }
}

impl ThresholdOutcome {
    /// The observed value as people read it: `p(95)=2.31ms`,
    /// `rate=20.00%`, `count=76,780`, or `no samples`.
    pub fn observed_text(&self) -> String {
        observed_text(self)
    }
}

/// See [`ThresholdOutcome::observed_text`].
fn observed_text(outcome: &ThresholdOutcome) -> String {
    let threshold = &outcome.threshold;
    let Some(observed) = outcome.observed else {
        return "no samples".to_string();
    };
    let aggregation = threshold.aggregation;
    let kind = outcome.metric.as_ref().map(Metric::kind);
    let value = match (outcome.unit(), aggregation, kind) {
        (ValueUnit::Time, _, _) => format::format_millis(observed),
        (_, Aggregation::Rate, Some(MetricKind::Rate)) => format::format_percent(observed),
        (ValueUnit::Data, Aggregation::Rate, _) => format::format_byte_rate(observed),
        (ValueUnit::Data, _, _) => format::format_bytes(observed.max(0.0) as u64),
        (_, Aggregation::Rate, _) => format::format_rate(observed),
        _ => format::format_number(observed),
    };
    format!("{aggregation}={value}")
}
