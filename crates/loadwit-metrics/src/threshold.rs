//! Thresholds: pass/fail expressions on metrics, in k6's syntax.
//!
//! A threshold names a metric, optionally narrowed by a tag filter, and an
//! expression `<aggregation> <operator> <number>`:
//!
//! ```text
//! http_req_duration               p(95)<500     (milliseconds, as in k6)
//! http_req_duration{name:login}   avg<=200
//! http_req_failed                 rate<0.01
//! http_reqs                       count>1000    rate>50   (per second)
//! vus                             value>=10
//! ```
//!
//! Expressions are parsed once into [`Threshold`]s, checked against the
//! metric's kind when the metric is built in, and evaluated against an
//! [`Aggregate`] as often as the engine likes. As in k6, a metric with no
//! samples is left alone while the test runs ([`Thresholds::evaluate_live`])
//! and counts as zero at the end ([`Thresholds::evaluate`]): `count>10`
//! on a counter that never counted fails, `rate<0.01` on no requests
//! passes. Custom metric names cannot be known at parse time, so an
//! unknown name is a metric with no samples.

mod parse;

use std::fmt;
use std::time::Duration;

use crate::aggregate::{Aggregate, MetricValue};
use crate::metric::{Builtin, Metric, MetricKind, ValueUnit};

pub use parse::{ThresholdError, parse_cli_threshold};

/// How a threshold reduces a metric to one number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregation {
    /// Trend mean.
    Avg,
    /// Trend minimum.
    Min,
    /// Trend maximum.
    Max,
    /// Trend median.
    Med,
    /// Trend percentile, `0..=100`, possibly fractional (`p(99.9)`).
    Percentile(f64),
    /// Share of non-zero samples of a rate, or a counter's total per second
    /// of test time.
    Rate,
    /// Counter total.
    Count,
    /// Gauge's last reading.
    Value,
}

impl Aggregation {
    /// Whether a metric of `kind` supports this aggregation.
    pub fn applies_to(self, kind: MetricKind) -> bool {
        use Aggregation::*;
        match kind {
            MetricKind::Counter => matches!(self, Count | Rate),
            MetricKind::Gauge => matches!(self, Value),
            MetricKind::Rate => matches!(self, Rate),
            MetricKind::Trend => matches!(self, Avg | Min | Max | Med | Percentile(_)),
        }
    }

    /// Reduces `value` to the number the threshold compares, or `None` when
    /// the aggregation does not apply to the value's kind or, for a
    /// counter's rate, when no time has elapsed. Time trends give
    /// milliseconds.
    pub fn observe(self, value: &MetricValue, elapsed: Duration) -> Option<f64> {
        let ms = |d: Duration| d.as_nanos() as f64 / 1e6;
        match (self, value) {
            (Aggregation::Count, MetricValue::Counter { sum }) => Some(*sum),
            (Aggregation::Rate, MetricValue::Counter { sum }) => {
                let secs = elapsed.as_secs_f64();
                (secs > 0.0).then(|| sum / secs)
            }
            (Aggregation::Rate, MetricValue::Rate { .. }) => value.pass_rate(),
            (Aggregation::Value, MetricValue::Gauge { last, .. }) => Some(*last),
            (Aggregation::Avg, MetricValue::Trend(t)) => Some(t.avg_ms()),
            (Aggregation::Min, MetricValue::Trend(t)) => Some(ms(t.min())),
            (Aggregation::Max, MetricValue::Trend(t)) => Some(ms(t.max())),
            (Aggregation::Med, MetricValue::Trend(t)) => Some(ms(t.median())),
            (Aggregation::Percentile(p), MetricValue::Trend(t)) => Some(ms(t.percentile(p))),
            _ => None,
        }
    }
}

/// Shows the aggregation as written: `avg`, `p(99.9)`, `rate`.
impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Med => f.write_str("med"),
            Aggregation::Percentile(p) => write!(f, "p({p})"),
            Aggregation::Rate => f.write_str("rate"),
            Aggregation::Count => f.write_str("count"),
            Aggregation::Value => f.write_str("value"),
        }
    }
}

/// A comparison operator. k6's `===` means the same as `==`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==` or `===`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// Whether `observed <op> limit` holds.
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        })
    }
}

/// One parsed threshold.
///
/// Invariants, when built by the parsers: `value` is finite; a percentile
/// is within `0..=100`; if `metric` names a built-in metric,
/// `aggregation` applies to its kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// Metric name, without the tag filter.
    pub metric: String,
    /// Tag filter from `metric{key:value,...}`, in written order; empty for
    /// the whole metric.
    pub filter: Vec<(String, String)>,
    /// The expression as written, trimmed, such as `p(95)<500`.
    pub source: String,
    /// How the metric is reduced to one number.
    pub aggregation: Aggregation,
    /// How that number is compared.
    pub op: Op,
    /// The limit; milliseconds for time metrics.
    pub value: f64,
    /// Whether a failure should stop the test.
    pub abort_on_fail: bool,
    /// How long into the test a failure is not yet allowed to stop it.
    pub delay_abort_eval: Option<Duration>,
}

impl Threshold {
    /// Parses `expression` on `metric_key` (a metric name with an optional
    /// `{key:value}` filter).
    ///
    /// # Errors
    ///
    /// When the key or the expression does not parse, or the aggregation
    /// does not fit the kind of a built-in metric.
    pub fn parse(metric_key: &str, expression: &str) -> Result<Threshold, ThresholdError> {
        let (metric, filter) = parse::metric_key(metric_key)?;
        parse::near_builtin(&metric)?;
        let kind = parse::known_kind(metric_key, &metric, &filter)?;
        let (aggregation, op, value) = parse::expression(&metric, kind, expression)?;
        Ok(Threshold {
            metric,
            filter,
            source: expression.trim().to_string(),
            aggregation,
            op,
            value,
            abort_on_fail: false,
            delay_abort_eval: None,
        })
    }

    /// The built-in metric the threshold is on, if it is one.
    pub fn builtin(&self) -> Option<Builtin> {
        Builtin::from_name(&self.metric)
    }

    /// The metric with its filter, as k6 keys sub-metrics:
    /// `http_req_duration{name:login}`.
    pub fn metric_key(&self) -> String {
        metric_key(&self.metric, &self.filter)
    }

    /// The observed number, or `None` when the metric has no matching
    /// samples (or the aggregation does not fit the metric's kind).
    pub fn observe(&self, aggregate: &Aggregate, elapsed: Duration) -> Option<f64> {
        let value = aggregate.metric_named(&self.metric, &self.filter)?;
        self.aggregation.observe(&value, elapsed)
    }

    /// The unit of the observed number for a built-in metric: time for
    /// time trends, data for data counters, plain otherwise.
    pub fn observed_unit(&self) -> ValueUnit {
        match self.builtin() {
            Some(builtin) => observed_unit(&Metric::Builtin(builtin), self.aggregation),
            None => ValueUnit::Plain,
        }
    }
}

/// The unit of what `aggregation` observes on `metric`.
fn observed_unit(metric: &Metric, aggregation: Aggregation) -> ValueUnit {
    match (metric.kind(), aggregation) {
        (MetricKind::Counter, Aggregation::Count | Aggregation::Rate) => metric.unit(),
        (MetricKind::Trend, _) => metric.unit(),
        _ => ValueUnit::Plain,
    }
}

/// A metric name with its filter, as k6 keys sub-metrics:
/// `http_req_duration{name:login}`, or the bare name without a filter.
pub fn metric_key(metric: &str, filter: &[(String, String)]) -> String {
    if filter.is_empty() {
        return metric.to_string();
    }
    let pairs: Vec<String> = filter.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{metric}{{{}}}", pairs.join(","))
}

/// `http_req_duration: p(95)<500`
impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.metric_key(), self.source)
    }
}

/// The result of evaluating one threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdOutcome {
    /// The threshold evaluated.
    pub threshold: Threshold,
    /// The observed number (milliseconds for time trends), or `None` when
    /// the metric had no matching samples.
    pub observed: Option<f64>,
    /// Whether the threshold held. Without samples it is judged on zero
    /// at the end of the test, and holds while the test runs.
    pub passed: bool,
    /// The metric, when it is built in or had samples; it tells how to
    /// show the observed number.
    pub metric: Option<Metric>,
}

impl ThresholdOutcome {
    /// The unit of [`observed`](ThresholdOutcome::observed).
    pub fn unit(&self) -> ValueUnit {
        match &self.metric {
            Some(metric) => observed_unit(metric, self.threshold.aggregation),
            None => ValueUnit::Plain,
        }
    }
}

impl ThresholdOutcome {
    /// Whether this outcome should stop the test now: the threshold failed,
    /// has `abortOnFail`, and `elapsed` is past its `delayAbortEval`.
    pub fn aborts(&self, elapsed: Duration) -> bool {
        let delay = self.threshold.delay_abort_eval.unwrap_or_default();
        !self.passed && self.threshold.abort_on_fail && elapsed >= delay
    }
}

/// The thresholds of a test, in the order they were given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds(Vec<Threshold>);

impl Thresholds {
    /// No thresholds.
    pub fn new() -> Self {
        Thresholds::default()
    }

    /// Parses the value of the options' `thresholds` key: an object from
    /// metric key to a list of expressions, each a string or an object
    /// `{"threshold": "...", "abortOnFail": bool, "delayAbortEval": "10s"}`.
    /// `null` gives no thresholds.
    ///
    /// # Errors
    ///
    /// When the shape is wrong or an expression does not parse; the
    /// message names the offending field, such as
    /// `thresholds.http_req_failed[0].delayAbortEval`.
    pub fn from_options(options: &serde_json::Value) -> Result<Thresholds, ThresholdError> {
        parse::options(options).map(Thresholds)
    }

    /// Parses and adds a threshold in the CLI form
    /// `http_req_duration{name:me}: p(95)<500`.
    ///
    /// # Errors
    ///
    /// When the text has no `metric: expression` shape or either part does
    /// not parse.
    pub fn push_cli(&mut self, text: &str) -> Result<(), ThresholdError> {
        let (metric, expression) = parse_cli_threshold(text)?;
        self.0.push(Threshold::parse(&metric, &expression)?);
        Ok(())
    }

    /// Adds a parsed threshold.
    pub fn push(&mut self, threshold: Threshold) {
        self.0.push(threshold);
    }

    /// The thresholds, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Threshold> {
        self.0.iter()
    }

    /// The thresholds as a slice.
    pub fn as_slice(&self) -> &[Threshold] {
        &self.0
    }

    /// How many thresholds there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Evaluates every threshold against the test's final `aggregate`,
    /// `elapsed` into the test (used by `rate` on counters); a metric
    /// with no samples counts as zero, as in k6's final evaluation.
    /// Outcomes come in threshold order.
    pub fn evaluate(&self, aggregate: &Aggregate, elapsed: Duration) -> Vec<ThresholdOutcome> {
        self.judge(aggregate, elapsed, Some(0.0))
    }

    /// Evaluates every threshold while the test runs: one on a metric
    /// with no samples yet passes, as k6's periodic evaluation skips
    /// empty metrics, so `abortOnFail` never fires on what has not
    /// happened yet.
    pub fn evaluate_live(&self, aggregate: &Aggregate, elapsed: Duration) -> Vec<ThresholdOutcome> {
        self.judge(aggregate, elapsed, None)
    }

    /// Evaluates every threshold, judging one without samples on `empty`
    /// (zero at the end), or passing it when `None`.
    fn judge(
        &self,
        aggregate: &Aggregate,
        elapsed: Duration,
        empty: Option<f64>,
    ) -> Vec<ThresholdOutcome> {
        self.0
            .iter()
            .map(|threshold| {
                let observed = threshold.observe(aggregate, elapsed);
                let passed = observed
                    .or(empty)
                    .is_none_or(|o| threshold.op.holds(o, threshold.value));
                ThresholdOutcome {
                    threshold: threshold.clone(),
                    observed,
                    passed,
                    metric: aggregate.resolve(&threshold.metric),
                }
            })
            .collect()
    }
}

impl From<Vec<Threshold>> for Thresholds {
    fn from(thresholds: Vec<Threshold>) -> Self {
        Thresholds(thresholds)
    }
}

impl<'a> IntoIterator for &'a Thresholds {
    type Item = &'a Threshold;
    type IntoIter = std::slice::Iter<'a, Threshold>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests;
