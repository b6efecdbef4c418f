//! Metrics: loadwit's own aggregate, converted to OTLP points.
//!
//! loadwit already aggregates every sample exactly (HDR histograms for
//! trends), so nothing here re-records measurements: each export reads the
//! run's cumulative [`Aggregate`] and turns every series into one point.
//! With delta temporality the exporter remembers the previous export's
//! values and sends the difference, so delta points add up to the totals.
//!
//! | loadwit kind | OTLP point | value |
//! | --- | --- | --- |
//! | counter | monotonic `Sum` | the count, or bytes for data counters |
//! | gauge | `Gauge` | the latest reading |
//! | rate | `Gauge`, unit `1`, no attributes | non-zero / all samples, all series |
//! | rate | `_nonzero` and `_total` sums, per series | the counts behind it |
//! | trend | `ExponentialHistogram`, unit `ms` | the distribution |
//!
//! A rate is exported twice over. The ratio gauge is the number people
//! alert on (`http_req_failed` is "the failure ratio"); it covers all the
//! metric's series, because per series it says little (a series of
//! `status:500` requests always fails); its window is the export interval
//! with delta temporality and the whole run with cumulative. The per-series
//! sums let a backend recompute the ratio for any tag, as k6's `rate`
//! does for sub-metrics (`checks{check:status is 200}`).

use std::collections::HashMap;

use hdrhistogram::Histogram;
use loadwit_metrics::{
    Aggregate, Builtin, GROUP_DURATION, Metric as RunMetric, MetricKind, MetricValue, TagSet,
    Trend, ValueUnit,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::config::{OtelConfig, Temporality};
use crate::pipeline::{MetricsBatch, Sink};
use crate::trace::{now_nanos, string};

/// The finest exponential-histogram scale used: buckets 0.27 % wide, a
/// little coarser than the trends' 0.1 % HDR resolution.
const MAX_SCALE: i32 = 8;

/// The most buckets in one exponential histogram, as OpenTelemetry SDKs
/// default to; the scale is lowered until the values fit.
const MAX_BUCKETS: i64 = 160;

/// Turns the run's aggregate into OTLP metric exports, every interval.
///
/// The engine owns one per run (from
/// [`Otel::metrics_exporter`](crate::Otel::metrics_exporter)), calls
/// [`export`](MetricsExporter::export) every
/// [`OtelConfig::metric_interval`] from the thread that holds the
/// aggregate, and once more at the end of the run before
/// [`Otel::shutdown`](crate::Otel::shutdown).
#[derive(Debug)]
pub struct MetricsExporter {
    sink: Option<Sink<MetricsBatch>>,
    resource: Resource,
    scope: InstrumentationScope,
    temporality: Temporality,
    prefix: String,
    start: u64,
    last: u64,
    /// The previous export's series per metric name, for delta points.
    previous: HashMap<String, HashMap<TagSet, MetricValue>>,
}

impl MetricsExporter {
    pub(crate) fn new(
        config: &OtelConfig,
        resource: Resource,
        scope: InstrumentationScope,
        sink: Option<Sink<MetricsBatch>>,
    ) -> Self {
        let start = now_nanos();
        MetricsExporter {
            sink,
            resource,
            scope,
            temporality: config.temporality(),
            prefix: config.metric_prefix().to_string(),
            start,
            last: start,
            previous: HashMap::new(),
        }
    }

    /// Queues one export of `aggregate`, the run's cumulative aggregate
    /// so far, stamped now. Converts on the calling thread (a few
    /// microseconds per series) and never waits on the network: a full
    /// queue drops the export and counts its points.
    pub fn export(&mut self, aggregate: &Aggregate) {
        let request = self.request(aggregate, now_nanos());
        let points = count_points(&request);
        if let Some(sink) = &self.sink
            && points > 0
        {
            sink.offer(MetricsBatch { request, points }, points);
        }
    }

    /// Builds the export of `aggregate` at `now` (Unix nanoseconds) and
    /// moves the delta baseline to it.
    pub fn request(&mut self, aggregate: &Aggregate, now: u64) -> ExportMetricsServiceRequest {
        let window_start = match self.temporality {
            Temporality::Delta => self.last,
            Temporality::Cumulative => self.start,
        };
        let times = Times {
            start: window_start,
            now,
        };
        let mut metrics = Vec::new();
        let builtins = Builtin::ALL.into_iter().map(RunMetric::Builtin);
        let custom = aggregate
            .custom_metrics()
            .into_iter()
            .map(RunMetric::Custom);
        for run_metric in builtins.chain(custom) {
            let series = aggregate.series_of(&run_metric);
            if series.is_empty() {
                continue;
            }
            let name = run_metric.name();
            let previous = self.previous.remove(name).unwrap_or_default();
            if run_metric.kind() == MetricKind::Rate {
                metrics.extend(self.rate_metrics(&run_metric, &series, &previous, times));
            } else if let Some(metric) = self.metric(&run_metric, &series, &previous, times) {
                metrics.push(metric);
            }
            if self.temporality == Temporality::Delta {
                let series = series.into_iter().collect();
                self.previous.insert(name.to_string(), series);
            }
        }
        self.last = now;

        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(self.scope.clone()),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn metric(
        &self,
        run_metric: &RunMetric,
        series: &[(TagSet, MetricValue)],
        previous: &HashMap<TagSet, MetricValue>,
        times: Times,
    ) -> Option<Metric> {
        let temporality = self.aggregation_temporality();
        let data = match run_metric.kind() {
            MetricKind::Counter => {
                let data_points = points(series, previous, times, counter_point);
                (!data_points.is_empty()).then_some(metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: temporality,
                    is_monotonic: true,
                }))
            }
            MetricKind::Gauge => {
                let data_points = points(series, previous, times, gauge_point);
                (!data_points.is_empty()).then_some(metric::Data::Gauge(Gauge { data_points }))
            }
            MetricKind::Rate => None,
            MetricKind::Trend => {
                let data_points = points(series, previous, times, histogram_point);
                (!data_points.is_empty()).then_some(metric::Data::ExponentialHistogram(
                    ExponentialHistogram {
                        data_points,
                        aggregation_temporality: temporality,
                    },
                ))
            }
        }?;
        Some(Metric {
            name: format!("{}{}", self.prefix, run_metric.name()),
            description: description(run_metric),
            unit: unit(run_metric).into(),
            data: Some(data),
            ..Metric::default()
        })
    }
}

impl MetricsExporter {
    fn aggregation_temporality(&self) -> i32 {
        match self.temporality {
            Temporality::Delta => AggregationTemporality::Delta as i32,
            Temporality::Cumulative => AggregationTemporality::Cumulative as i32,
        }
    }

    /// A rate as the ratio over all its series (one gauge point, the
    /// number to alert on) and, per series, the two sums it is made of
    /// (`_nonzero` and `_total`), which backends can add up across tags.
    fn rate_metrics(
        &self,
        run_metric: &RunMetric,
        series: &[(TagSet, MetricValue)],
        previous: &HashMap<TagSet, MetricValue>,
        times: Times,
    ) -> Vec<Metric> {
        let windows: Vec<(&TagSet, u64, u64)> = series
            .iter()
            .filter_map(|(tags, value)| {
                rate_window(value, previous.get(tags)).map(|w| (tags, w.0, w.1))
            })
            .collect();
        if windows.is_empty() {
            return Vec::new();
        }
        let passes: u64 = windows.iter().map(|w| w.1).sum();
        let total: u64 = windows.iter().map(|w| w.2).sum();
        let name = format!("{}{}", self.prefix, run_metric.name());
        let ratio = Metric {
            name: name.clone(),
            description: description(run_metric),
            unit: "1".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![number_point(
                    Vec::new(),
                    times,
                    passes as f64 / total as f64,
                )],
            })),
            ..Metric::default()
        };
        let sum = |suffix: &str, what: &str, pick: fn(&(&TagSet, u64, u64)) -> u64| Metric {
            name: format!("{name}_{suffix}"),
            description: format!("{what} behind `{name}`"),
            unit: "{count}".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: windows
                    .iter()
                    .map(|w| number_point(attributes(w.0), times, pick(w) as f64))
                    .collect(),
                aggregation_temporality: self.aggregation_temporality(),
                is_monotonic: true,
            })),
            ..Metric::default()
        };
        vec![
            ratio,
            sum("nonzero", "non-zero samples", |w| w.1),
            sum("total", "all samples", |w| w.2),
        ]
    }
}

/// A rate's non-zero and total samples in the window; `None` when empty.
fn rate_window(value: &MetricValue, previous: Option<&MetricValue>) -> Option<(u64, u64)> {
    let MetricValue::Rate { passes, total } = value else {
        return None;
    };
    let (passes_before, total_before) = match previous {
        Some(MetricValue::Rate { passes, total }) => (*passes, *total),
        _ => (0, 0),
    };
    let total = total - total_before;
    (total > 0).then(|| (passes - passes_before, total))
}

/// A point's time window, in Unix nanoseconds.
#[derive(Clone, Copy)]
struct Times {
    start: u64,
    now: u64,
}

/// One point per series whose window saw anything; `previous` is the
/// baseline (empty for cumulative points).
fn points<P>(
    series: &[(TagSet, MetricValue)],
    previous: &HashMap<TagSet, MetricValue>,
    times: Times,
    point: impl Fn(&MetricValue, Option<&MetricValue>, Vec<KeyValue>, Times) -> Option<P>,
) -> Vec<P> {
    series
        .iter()
        .filter_map(|(tags, value)| point(value, previous.get(tags), attributes(tags), times))
        .collect()
}

fn counter_point(
    value: &MetricValue,
    previous: Option<&MetricValue>,
    attributes: Vec<KeyValue>,
    times: Times,
) -> Option<NumberDataPoint> {
    let MetricValue::Counter { sum } = value else {
        return None;
    };
    let before = match previous {
        Some(MetricValue::Counter { sum }) => *sum,
        _ => 0.0,
    };
    let delta = sum - before;
    (delta != 0.0).then(|| number_point(attributes, times, delta))
}

fn gauge_point(
    value: &MetricValue,
    _previous: Option<&MetricValue>,
    attributes: Vec<KeyValue>,
    times: Times,
) -> Option<NumberDataPoint> {
    let MetricValue::Gauge { last, .. } = value else {
        return None;
    };
    Some(number_point(attributes, times, *last))
}

fn histogram_point(
    value: &MetricValue,
    previous: Option<&MetricValue>,
    attributes: Vec<KeyValue>,
    times: Times,
) -> Option<ExponentialHistogramDataPoint> {
    let MetricValue::Trend(trend) = value else {
        return None;
    };
    let before = match previous {
        Some(MetricValue::Trend(before)) => Some(before),
        _ => None,
    };
    let window = window(trend, before)?;
    let (scale, positive) = exponential_buckets(&window.histogram);
    Some(ExponentialHistogramDataPoint {
        attributes,
        start_time_unix_nano: times.start,
        time_unix_nano: times.now,
        count: window.count,
        sum: Some(window.sum_ms),
        scale,
        zero_count: 0,
        positive: Some(positive),
        negative: None,
        min: Some(window.min_ms),
        max: Some(window.max_ms),
        ..ExponentialHistogramDataPoint::default()
    })
}

/// A trend's values within a point's window.
struct Window {
    histogram: Histogram<u64>,
    count: u64,
    sum_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

/// The values of `trend` not already in `before`; `None` when there are
/// none. Extremes are exact over the whole trend and the histogram's
/// (0.1 %) over a delta window.
fn window(trend: &Trend, before: Option<&Trend>) -> Option<Window> {
    let sum_ms = |t: &Trend| t.avg_ms() * t.count() as f64;
    let Some(before) = before.filter(|b| !b.is_empty()) else {
        return (!trend.is_empty()).then(|| Window {
            histogram: trend.histogram().clone(),
            count: trend.count(),
            sum_ms: sum_ms(trend),
            min_ms: trend.min().as_secs_f64() * 1e3,
            max_ms: trend.max().as_secs_f64() * 1e3,
        });
    };
    let count = trend
        .count()
        .checked_sub(before.count())
        .filter(|&c| c > 0)?;
    let mut histogram = trend.histogram().clone();
    histogram.subtract(before.histogram()).ok()?;
    let min_ms = histogram.lowest_equivalent(histogram.min()) as f64 / 1e3;
    let max_ms = histogram.highest_equivalent(histogram.max()) as f64 / 1e3;
    Some(Window {
        count,
        sum_ms: (sum_ms(trend) - sum_ms(before)).max(0.0),
        min_ms,
        max_ms: max_ms.max(min_ms),
        histogram,
    })
}

/// Maps an HDR histogram in microseconds to exponential buckets in
/// milliseconds, at the finest scale that fits [`MAX_BUCKETS`].
///
/// Each HDR bucket lands whole in the exponential bucket holding its
/// midpoint, so bucket counts add up to the histogram's count exactly.
fn exponential_buckets(histogram: &Histogram<u64>) -> (i32, Buckets) {
    let recorded: Vec<(i64, u64)> = histogram
        .iter_recorded()
        .map(|v| {
            let ms = histogram.median_equivalent(v.value_iterated_to()) as f64 / 1e3;
            (bucket_index(ms, MAX_SCALE), v.count_at_value())
        })
        .collect();
    let (Some(low), Some(high)) = (recorded.first(), recorded.last()) else {
        return (MAX_SCALE, Buckets::default());
    };

    let mut shift = 0;
    while (high.0 >> shift) - (low.0 >> shift) >= MAX_BUCKETS {
        shift += 1;
    }
    let offset = low.0 >> shift;
    let mut counts = vec![0u64; ((high.0 >> shift) - offset + 1) as usize];
    for (index, count) in recorded {
        counts[((index >> shift) - offset) as usize] += count;
    }
    let buckets = Buckets {
        offset: offset as i32,
        bucket_counts: counts,
    };
    (MAX_SCALE - shift, buckets)
}

/// The index of the bucket `(base^i, base^(i+1)]` holding `value`, with
/// `base = 2^(2^-scale)`.
fn bucket_index(value: f64, scale: i32) -> i64 {
    let scaled = value.log2() * f64::from(1u32 << scale);
    scaled.ceil() as i64 - 1
}

fn number_point(attributes: Vec<KeyValue>, times: Times, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: times.start,
        time_unix_nano: times.now,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..NumberDataPoint::default()
    }
}

fn attributes(tags: &TagSet) -> Vec<KeyValue> {
    tags.iter().map(|(key, value)| string(key, value)).collect()
}

/// The UCUM unit: bytes, milliseconds for time trends, `1` for ratios,
/// and counts for the rest (a plain custom trend's values are the
/// scenario's own numbers).
fn unit(metric: &RunMetric) -> &'static str {
    match (metric.kind(), metric.unit()) {
        (_, ValueUnit::Data) => "By",
        (MetricKind::Trend, ValueUnit::Time) => "ms",
        (MetricKind::Trend, ValueUnit::Plain) => "1",
        (MetricKind::Rate, _) => "1",
        _ => "{count}",
    }
}

fn description(metric: &RunMetric) -> String {
    match metric {
        RunMetric::Builtin(builtin) => builtin_description(*builtin).into(),
        RunMetric::Custom(custom) if custom.name() == GROUP_DURATION => {
            "time spent in each group".into()
        }
        RunMetric::Custom(custom) => {
            let kind = match custom.kind() {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Rate => "rate",
                MetricKind::Trend => "trend",
            };
            format!("custom {kind} declared by the scenario")
        }
    }
}

fn builtin_description(builtin: Builtin) -> &'static str {
    match builtin {
        Builtin::HttpReqs => "HTTP requests sent",
        Builtin::HttpReqDuration => "HTTP request time: sending + waiting + receiving",
        Builtin::HttpReqBlocked => "time waiting for a free connection",
        Builtin::HttpReqConnecting => "time establishing TCP connections",
        Builtin::HttpReqTlsHandshaking => "time in TLS handshakes",
        Builtin::HttpReqSending => "time writing requests",
        Builtin::HttpReqWaiting => "time to first byte",
        Builtin::HttpReqReceiving => "time reading responses",
        Builtin::HttpReqFailed => "ratio of failed HTTP requests",
        Builtin::Iterations => "iterations that ended",
        Builtin::IterationDuration => "duration of iterations",
        Builtin::DroppedIterations => "iterations not started for lack of a VU",
        Builtin::IterationLateness => "how late arrival-rate iterations started",
        Builtin::HttpReqDurationCorrected => {
            "HTTP request time measured from the iteration's scheduled start"
        }
        Builtin::Checks => "ratio of passed checks",
        Builtin::Vus => "active virtual users",
        Builtin::VusMax => "allocated virtual users",
        Builtin::DataSent => "bytes sent",
        Builtin::DataReceived => "bytes received",
    }
}

fn count_points(request: &ExportMetricsServiceRequest) -> u64 {
    let metrics = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics);
    metrics
        .map(|m| match &m.data {
            Some(metric::Data::Sum(sum)) => sum.data_points.len(),
            Some(metric::Data::Gauge(gauge)) => gauge.data_points.len(),
            Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(metric::Data::Histogram(h)) => h.data_points.len(),
            Some(metric::Data::Summary(s)) => s.data_points.len(),
            None => 0,
        } as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_boundaries_are_upper_inclusive() {
        // At scale 0 buckets are (1, 2], (2, 4], ...
        assert_eq!(bucket_index(2.0, 0), 0);
        assert_eq!(bucket_index(2.1, 0), 1);
        assert_eq!(bucket_index(1.0, 0), -1);
        assert_eq!(bucket_index(0.5, 0), -2);
    }

    #[test]
    fn buckets_keep_every_count_and_fit_the_limit() {
        let mut trend = Trend::new();
        for us in [3, 900, 1_000, 1_500, 45_000, 2_000_000, 9_000_000] {
            trend.record(std::time::Duration::from_micros(us));
        }
        let (scale, buckets) = exponential_buckets(trend.histogram());
        assert!(scale < MAX_SCALE, "a wide range lowers the scale");
        assert!(buckets.bucket_counts.len() as i64 <= MAX_BUCKETS);
        assert_eq!(buckets.bucket_counts.iter().sum::<u64>(), 7);

        // 45 ms falls in the bucket whose bounds surround it.
        let base = 2f64.powf(2f64.powi(-scale));
        let position = buckets
            .bucket_counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0);
        let bounds: Vec<(f64, f64)> = position
            .map(|(i, _)| {
                let index = buckets.offset + i as i32;
                (base.powi(index), base.powi(index + 1))
            })
            .collect();
        assert!(
            bounds
                .iter()
                .any(|(low, high)| *low < 45.0 && 45.0 <= *high * 1.001)
        );
    }
}
