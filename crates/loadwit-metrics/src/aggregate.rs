//! The aggregate: every sample of a run folded into per-series statistics.

use std::collections::HashMap;
use std::sync::Arc;

use crate::metric::{Builtin, CustomMetric, FAILED_ITERATIONS, Metric, MetricKind};
use crate::sample::{IterationOutcome, Sample};
use crate::tags::TagSet;
use crate::trend::Trend;

mod custom;
mod encode;
mod failures;
mod series;
#[cfg(test)]
mod tests;

pub use encode::{AGGREGATE_FORMAT_VERSION, DecodeError};
pub use failures::{FailureLog, MAX_FAILURE_MESSAGE_LEN, MAX_FAILURE_MESSAGES};
use series::{Accumulated, CheckSeries, GaugeSeries, HttpSeries, IterationSeries, Part, absorb};

/// Gauges that count VUs: runs side by side add them up.
const CONCURRENT_GAUGES: [Builtin; 2] = [Builtin::Vus, Builtin::VusMax];

/// The tag k6 puts on HTTP samples to tell expected responses from failed
/// ones. HTTP series answer filters on it from their `failed` flag, so
/// `http_req_duration{expected_response:true}` works without the engine
/// setting the tag.
pub const EXPECTED_RESPONSE: &str = "expected_response";

/// Every sample of a run, folded per metric and tag set.
///
/// Each (metric, tag set) pair is a series. Memory grows with the number of
/// series and the range of values, never with the number of samples: trends
/// are HDR histograms, everything else is a few counters. Adding a sample
/// to an existing series allocates nothing; the tag set is cloned (one
/// reference count) only when a series is created.
///
/// The aggregate is plain data with no locks. The engine keeps one per
/// aggregator thread and may keep one per worker, then [`merge`] them: the
/// result is exactly the aggregate of all their samples.
///
/// [`merge`]: Aggregate::merge
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    /// All HTTP metrics of one tag set share an entry: one lookup per
    /// request instead of ten.
    http: HashMap<TagSet, HttpSeries>,
    checks: HashMap<TagSet, CheckSeries>,
    iterations: HashMap<TagSet, IterationSeries>,
    gauges: HashMap<Builtin, HashMap<TagSet, GaugeSeries>>,
    counters: HashMap<Builtin, HashMap<TagSet, f64>>,
    trends: HashMap<Builtin, HashMap<TagSet, Trend>>,
    custom: HashMap<Arc<str>, custom::CustomSeries>,
    failures: FailureLog,
    /// Ticks once per new check series and per gauge reading, to order
    /// checks by first appearance and gauge readings by time.
    clock: u64,
}

/// The value of a metric, over one series or summed over several.
#[derive(Clone, Debug)]
pub enum MetricValue {
    /// The sum of all increments.
    Counter {
        /// Total, in the metric's unit (bytes for data counters).
        sum: f64,
    },
    /// The latest reading and the extremes seen.
    Gauge {
        /// The most recent reading.
        last: f64,
        /// The smallest reading.
        min: f64,
        /// The largest reading.
        max: f64,
    },
    /// How many samples were non-zero ("passes") out of all.
    Rate {
        /// Non-zero samples: passed checks, or failed requests for
        /// `http_req_failed`.
        passes: u64,
        /// All samples.
        total: u64,
    },
    /// The distribution of values.
    Trend(Trend),
}

impl MetricValue {
    /// The kind of metric this value belongs to.
    pub fn kind(&self) -> MetricKind {
        match self {
            MetricValue::Counter { .. } => MetricKind::Counter,
            MetricValue::Gauge { .. } => MetricKind::Gauge,
            MetricValue::Rate { .. } => MetricKind::Rate,
            MetricValue::Trend(_) => MetricKind::Trend,
        }
    }

    /// For a rate, `passes / total` (zero when empty); `None` otherwise.
    pub fn pass_rate(&self) -> Option<f64> {
        match *self {
            MetricValue::Rate { passes, total } if total > 0 => Some(passes as f64 / total as f64),
            MetricValue::Rate { .. } => Some(0.0),
            _ => None,
        }
    }
}

/// Requests of one name, method and outcome, for the summary's breakdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestCount {
    /// The `name` tag (the URL unless the scenario named it), or `-`.
    pub name: String,
    /// The `method` tag, or `-`.
    pub method: String,
    /// The status, or the transport error.
    pub outcome: RequestOutcome,
    /// Requests in this group.
    pub count: u64,
    /// Of those, requests counted as failed.
    pub failed: u64,
}

/// How a request ended, from its `status` and `error_code` tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestOutcome {
    /// An HTTP status.
    Status(u16),
    /// A transport error such as `connection-refused`.
    Error(String),
    /// Neither tag was set.
    Unknown,
}

impl std::fmt::Display for RequestOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestOutcome::Status(status) => write!(f, "{status}"),
            RequestOutcome::Error(code) => f.write_str(code),
            RequestOutcome::Unknown => f.write_str("-"),
        }
    }
}

/// Passes and failures of one check name in one group, over all its
/// series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckCount {
    /// The `group` tag: the group path such as `::outer::inner`, empty
    /// outside any group.
    pub group: String,
    /// The `check` tag.
    pub name: String,
    /// Times the check held.
    pub passes: u64,
    /// Times it did not.
    pub fails: u64,
}

impl Aggregate {
    /// An empty aggregate.
    pub fn new() -> Self {
        Aggregate::default()
    }

    /// Folds one sample in.
    pub fn add(&mut self, sample: &Sample) {
        match sample {
            Sample::Http {
                tags,
                timings,
                failed,
                sent,
                received,
            } => update(&mut self.http, tags, HttpSeries::default, |series| {
                series.record(timings, *failed, *sent, *received)
            }),
            Sample::Check { tags, passed } => {
                let clock = &mut self.clock;
                let new = || CheckSeries::first_seen_at(tick(clock));
                update(&mut self.checks, tags, new, |series| series.record(*passed));
            }
            Sample::Iteration {
                tags,
                duration,
                outcome,
            } => {
                update(&mut self.iterations, tags, Default::default, |series| {
                    series.record(*duration, outcome)
                });
                if let IterationOutcome::Failed(message) = outcome {
                    self.failures.record(message);
                }
            }
            Sample::Gauge {
                metric,
                tags,
                value,
            } => self.add_gauge(*metric, tags, *value),
            Sample::Counter {
                metric,
                tags,
                value,
            } => self.add_counter(*metric, tags, *value),
            Sample::Trend {
                metric,
                tags,
                value,
            } => self.add_trend(*metric, tags, *value),
            Sample::Custom {
                metric,
                tags,
                value,
            } => self.add_custom(metric, tags, *value),
        }
    }

    fn add_custom(&mut self, metric: &Arc<CustomMetric>, tags: &TagSet, value: f64) {
        let at = tick(&mut self.clock);
        let series = match self.custom.get_mut(metric.name()) {
            Some(series) => series,
            None => {
                let name: Arc<str> = metric.name().into();
                let series = custom::CustomSeries::new(metric.clone());
                self.custom.entry(name).or_insert(series)
            }
        };
        series.record(metric, tags, value, at);
    }

    /// Folds a batch in, in order.
    pub fn add_all(&mut self, batch: &[Sample]) {
        for sample in batch {
            self.add(sample);
        }
    }

    fn add_gauge(&mut self, metric: Builtin, tags: &TagSet, value: f64) {
        if metric.kind() != MetricKind::Gauge {
            debug_assert!(false, "`{metric}` is not a gauge");
            return;
        }
        let at = tick(&mut self.clock);
        let series = self.gauges.entry(metric).or_default();
        update(series, tags, GaugeSeries::default, |g| g.record(value, at));
    }

    fn add_counter(&mut self, metric: Builtin, tags: &TagSet, value: f64) {
        if !is_standalone_counter(metric) {
            debug_assert!(false, "`{metric}` is not fed by counter samples");
            return;
        }
        let series = self.counters.entry(metric).or_default();
        update(series, tags, || 0.0, |sum| *sum += value);
    }

    fn add_trend(&mut self, metric: Builtin, tags: &TagSet, value: std::time::Duration) {
        if !is_standalone_trend(metric) {
            debug_assert!(false, "`{metric}` is not fed by trend samples");
            return;
        }
        let series = self.trends.entry(metric).or_default();
        update(series, tags, Trend::default, |trend| trend.record(value));
    }

    /// Adds the aggregate of a run that ran side by side with this one,
    /// as the segments of a distributed run do: as [`merge`], except that
    /// the VU gauges (`vus`, `vus_max`) add up instead of the later
    /// reading winning. Their last readings add exactly; their minimum
    /// and maximum become the sums of the parts' extremes, bounds that
    /// hold even when the parts' extremes came at different instants.
    ///
    /// [`merge`]: Aggregate::merge
    pub fn merge_concurrent(&mut self, other: &Aggregate) {
        let mine: Vec<_> = CONCURRENT_GAUGES
            .iter()
            .map(|metric| self.gauges.remove(metric))
            .collect();
        self.merge(other);
        for (metric, mine) in CONCURRENT_GAUGES.iter().zip(mine) {
            let Some(mine) = mine else { continue };
            let total = self.gauges.entry(*metric).or_default();
            for (tags, gauge) in mine {
                total.entry(tags).or_default().add(&gauge);
            }
        }
    }

    /// Takes the VU gauges (`vus`, `vus_max`) out, returning each series'
    /// last reading. A coordinator folding intervals from runs that go on
    /// side by side sums the parts' latest readings itself, which neither
    /// [`merge`](Aggregate::merge) (last reading wins) nor
    /// [`merge_concurrent`](Aggregate::merge_concurrent) (sums every
    /// extreme, for finished parts) can do interval by interval.
    pub fn take_vu_readings(&mut self) -> Vec<(Builtin, TagSet, f64)> {
        CONCURRENT_GAUGES
            .iter()
            .filter_map(|metric| Some((*metric, self.gauges.remove(metric)?)))
            .flat_map(|(metric, series)| {
                series
                    .into_iter()
                    .map(move |(tags, gauge)| (metric, tags, gauge.last))
            })
            .collect()
    }

    /// Adds everything `other` holds, exactly: histograms are added,
    /// counters summed, extremes combined. Gauge readings of `other` count
    /// as later than those of `self`, so its last reading wins.
    pub fn merge(&mut self, other: &Aggregate) {
        for (tags, series) in &other.http {
            self.http.entry(tags.clone()).or_default().merge(series);
        }

        // In first-seen order, so check names new to `self` keep theirs.
        let mut checks: Vec<_> = other.checks.iter().collect();
        checks.sort_by_key(|(_, series)| series.first_seen);
        for (tags, series) in checks {
            let clock = &mut self.clock;
            let new = || CheckSeries::first_seen_at(tick(clock));
            update(&mut self.checks, tags, new, |mine| mine.merge(series));
        }

        for (tags, series) in &other.iterations {
            let mine = self.iterations.entry(tags.clone()).or_default();
            mine.merge(series);
        }
        for (metric, series) in &other.gauges {
            let mine = self.gauges.entry(*metric).or_default();
            for (tags, gauge) in series {
                let shifted = gauge.shifted(self.clock);
                match mine.get_mut(tags) {
                    Some(g) => g.merge(&shifted),
                    None => {
                        mine.insert(tags.clone(), shifted);
                    }
                }
            }
        }
        for (metric, series) in &other.counters {
            let mine = self.counters.entry(*metric).or_default();
            for (tags, sum) in series {
                *mine.entry(tags.clone()).or_default() += sum;
            }
        }

        for (metric, series) in &other.trends {
            let mine = self.trends.entry(*metric).or_default();
            for (tags, trend) in series {
                mine.entry(tags.clone()).or_default().merge(trend);
            }
        }
        for (name, theirs) in &other.custom {
            let mine = self
                .custom
                .entry(name.clone())
                .or_insert_with(|| custom::CustomSeries::new(theirs.metric.clone()));
            mine.merge(theirs, self.clock);
        }

        self.failures.merge(&other.failures);
        self.clock += other.clock;
    }

    /// Whether no sample was added.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty()
            && self.checks.is_empty()
            && self.iterations.is_empty()
            && self.gauges.values().all(HashMap::is_empty)
            && self.counters.values().all(HashMap::is_empty)
            && self.trends.values().all(HashMap::is_empty)
            && self.custom.values().all(|c| c.series.is_empty())
    }

    /// The metric called `name`: built in, or declared by the scenario
    /// and recorded at least once.
    pub fn resolve(&self, name: &str) -> Option<Metric> {
        if let Some(builtin) = Builtin::from_name(name) {
            return Some(Metric::Builtin(builtin));
        }
        if name == FAILED_ITERATIONS {
            return Some(Metric::Custom(Arc::new(CustomMetric::failed_iterations())));
        }
        let custom = self.custom.get(name)?;
        Some(Metric::Custom(custom.metric.clone()))
    }

    /// The custom metrics with values (`group_duration` included), by
    /// name.
    pub fn custom_metrics(&self) -> Vec<Arc<CustomMetric>> {
        let mut metrics: Vec<_> = self
            .custom
            .values()
            .filter(|c| !c.series.is_empty())
            .map(|c| c.metric.clone())
            .collect();
        metrics.sort_by(|a, b| a.name().cmp(b.name()));
        metrics
    }

    /// Every metric with values: the built-in ones in declaration order,
    /// then the custom ones by name.
    pub fn metrics(&self) -> Vec<Metric> {
        let builtins = Builtin::ALL
            .into_iter()
            .filter(|b| self.metric(*b).is_some())
            .map(Metric::Builtin);
        let custom = self.custom_metrics().into_iter().map(Metric::Custom);
        builtins.chain(custom).collect()
    }

    /// Like [`metric_matching`](Aggregate::metric_matching), for any metric
    /// by name; `None` for an unknown name or no matching samples.
    pub fn metric_named<K, V>(&self, name: &str, filter: &[(K, V)]) -> Option<MetricValue>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        if let Some(builtin) = Builtin::from_name(name) {
            return self.metric_matching(builtin, filter);
        }
        if name == FAILED_ITERATIONS {
            // Counted once per run, without tags.
            let sum = self.failures.total() as f64;
            return filter.is_empty().then_some(MetricValue::Counter { sum });
        }
        let custom = self.custom.get(name)?;
        let mut total = None;
        for (tags, value) in &custom.series {
            if matches(tags, None, filter) {
                absorb(&mut total, value.part());
            }
        }
        total.map(Accumulated::into_value)
    }

    /// Every series of any metric with its value, sorted by tags; see
    /// [`series`](Aggregate::series).
    pub fn series_of(&self, metric: &Metric) -> Vec<(TagSet, MetricValue)> {
        let custom = match metric {
            Metric::Builtin(builtin) => return self.series(*builtin),
            Metric::Custom(custom) => custom,
        };
        let Some(custom) = self.custom.get(custom.name()) else {
            return Vec::new();
        };
        let mut series: Vec<_> = custom
            .series
            .iter()
            .filter_map(|(tags, value)| {
                let mut total = None;
                absorb(&mut total, value.part());
                total.map(|t| (tags.clone(), t.into_value()))
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series
    }

    /// The total of one metric over all its series, tags ignored; `None`
    /// when it has no samples.
    pub fn metric(&self, metric: Builtin) -> Option<MetricValue> {
        self.metric_matching::<&str, &str>(metric, &[])
    }

    /// The total of one metric over the series whose tags hold every pair
    /// of `filter` (see [`TagSet::matches`]); `None` when none has samples.
    ///
    /// HTTP series also match `expected_response:true` (requests not
    /// counted as failed) and `expected_response:false`.
    pub fn metric_matching<K, V>(&self, metric: Builtin, filter: &[(K, V)]) -> Option<MetricValue>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut total = None;
        self.for_each_part(metric, |tags, expected, part| {
            if matches(tags, expected, filter) {
                absorb(&mut total, part);
            }
        });
        total.map(Accumulated::into_value)
    }

    /// Every series of one metric with its value, sorted by tags.
    ///
    /// HTTP series carry an `expected_response` tag (`true` or `false`)
    /// telling requests that were not counted as failed from those that
    /// were, as in k6.
    pub fn series(&self, metric: Builtin) -> Vec<(TagSet, MetricValue)> {
        let mut series = Vec::new();
        self.for_each_part(metric, |tags, expected, part| {
            let tags = match expected {
                Some(ok) if tags.get(EXPECTED_RESPONSE).is_none() => {
                    tags.with(EXPECTED_RESPONSE, bool_str(ok))
                }
                _ => tags.clone(),
            };
            let mut value = None;
            absorb(&mut value, part);
            series.extend(value.map(|v| (tags, v.into_value())));
        });
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series
    }

    /// HTTP requests grouped by name, method and outcome, sorted by those.
    pub fn requests_by_name(&self) -> Vec<RequestCount> {
        let mut groups: HashMap<(&str, &str, RequestOutcome), (u64, u64)> = HashMap::new();
        for (tags, series) in &self.http {
            let name = tags.get("name").or_else(|| tags.get("url")).unwrap_or("-");
            let method = tags.get("method").unwrap_or("-");
            let group = groups.entry((name, method, outcome(tags))).or_default();
            group.0 += series.requests();
            group.1 += series.failed.as_ref().map_or(0, |s| s.requests);
        }

        let mut rows: Vec<RequestCount> = groups
            .into_iter()
            .map(|((name, method, outcome), (count, failed))| RequestCount {
                name: name.to_string(),
                method: method.to_string(),
                outcome,
                count,
                failed,
            })
            .collect();
        rows.sort_by(|a, b| {
            (&a.name, &a.method, &a.outcome).cmp(&(&b.name, &b.method, &b.outcome))
        });
        rows
    }

    /// Checks grouped by their `group` and `check` tags, in order of
    /// first appearance.
    pub fn checks(&self) -> Vec<CheckCount> {
        let mut by_name: HashMap<(&str, &str), (u64, CheckCount)> = HashMap::new();
        for (tags, series) in &self.checks {
            let name = tags.get("check").unwrap_or("(unnamed)");
            let group = tags.get("group").unwrap_or("");
            let (first_seen, count) = by_name.entry((group, name)).or_insert_with(|| {
                let count = CheckCount {
                    group: group.to_string(),
                    name: name.to_string(),
                    passes: 0,
                    fails: 0,
                };
                (series.first_seen, count)
            });
            *first_seen = (*first_seen).min(series.first_seen);
            count.passes += series.passes;
            count.fails += series.total - series.passes;
        }

        let mut checks: Vec<_> = by_name.into_values().collect();
        checks.sort_by_key(|(first_seen, _)| *first_seen);
        checks.into_iter().map(|(_, count)| count).collect()
    }

    /// Messages of failed iterations, with counts.
    pub fn failed_iterations(&self) -> &FailureLog {
        &self.failures
    }

    /// Iterations cut short; they count in no metric.
    pub fn interrupted_iterations(&self) -> u64 {
        self.iterations.values().map(|s| s.interrupted).sum()
    }

    /// Calls `f` with every series part of `metric`: its tags, whether it
    /// holds expected responses (HTTP only), and its value.
    fn for_each_part(&self, metric: Builtin, mut f: impl FnMut(&TagSet, Option<bool>, Part<'_>)) {
        match metric {
            Builtin::HttpReqs
            | Builtin::HttpReqDuration
            | Builtin::HttpReqBlocked
            | Builtin::HttpReqConnecting
            | Builtin::HttpReqTlsHandshaking
            | Builtin::HttpReqSending
            | Builtin::HttpReqWaiting
            | Builtin::HttpReqReceiving
            | Builtin::HttpReqFailed
            | Builtin::DataSent
            | Builtin::DataReceived => {
                for (tags, series) in &self.http {
                    for (failed, stats) in series.halves() {
                        f(tags, Some(!failed), stats.part(metric, failed));
                    }
                }
            }
            Builtin::Iterations | Builtin::IterationDuration => {
                for (tags, series) in &self.iterations {
                    if !series.duration.is_empty() {
                        f(tags, None, series.part(metric));
                    }
                }
            }
            Builtin::Checks => {
                for (tags, series) in &self.checks {
                    let (passes, total) = (series.passes, series.total);
                    f(tags, None, Part::Rate { passes, total });
                }
            }
            Builtin::Vus | Builtin::VusMax => {
                for (tags, gauge) in self.gauges.get(&metric).into_iter().flatten() {
                    f(tags, None, Part::Gauge(gauge));
                }
            }
            Builtin::DroppedIterations => {
                for (tags, sum) in self.counters.get(&metric).into_iter().flatten() {
                    f(tags, None, Part::Count(*sum));
                }
            }
            Builtin::IterationLateness | Builtin::HttpReqDurationCorrected => {
                for (tags, trend) in self.trends.get(&metric).into_iter().flatten() {
                    f(tags, None, Part::Trend(trend));
                }
            }
        }
    }
}

/// Calls `with` on the series of `tags`, creating it with `new` first if
/// needed. A hit costs one lookup and no allocation.
fn update<V>(
    map: &mut HashMap<TagSet, V>,
    tags: &TagSet,
    new: impl FnOnce() -> V,
    with: impl FnOnce(&mut V),
) {
    if let Some(series) = map.get_mut(tags) {
        with(series);
        return;
    }
    with(map.entry(tags.clone()).or_insert_with(new));
}

fn tick(clock: &mut u64) -> u64 {
    *clock += 1;
    *clock
}

fn is_standalone_counter(metric: Builtin) -> bool {
    metric == Builtin::DroppedIterations
}

fn is_standalone_trend(metric: Builtin) -> bool {
    matches!(
        metric,
        Builtin::IterationLateness | Builtin::HttpReqDurationCorrected
    )
}

fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

fn matches<K: AsRef<str>, V: AsRef<str>>(
    tags: &TagSet,
    expected: Option<bool>,
    filter: &[(K, V)],
) -> bool {
    filter.iter().all(|(key, value)| {
        let (key, value) = (key.as_ref(), value.as_ref());
        match tags.get(key) {
            Some(tag) => tag == value,
            None => key == EXPECTED_RESPONSE && expected.map(bool_str) == Some(value),
        }
    })
}

fn outcome(tags: &TagSet) -> RequestOutcome {
    let status = tags.get("status").and_then(|s| s.parse::<u16>().ok());
    match (status, tags.get("error_code")) {
        (Some(status), _) if status != 0 => RequestOutcome::Status(status),
        (_, Some(code)) => RequestOutcome::Error(code.to_string()),
        (Some(status), None) => RequestOutcome::Status(status),
        (None, None) => RequestOutcome::Unknown,
    }
}
