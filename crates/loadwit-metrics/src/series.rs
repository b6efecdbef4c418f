//! The time series: per-interval aggregates of every metric and tag set.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::aggregate::{Aggregate, MetricValue};
use crate::metric::Metric;
use crate::tags::TagSet;

/// One interval's worth of every series, reduced to a few numbers each.
///
/// The engine folds each interval's samples into a fresh [`Aggregate`]
/// and [pushes](TimeSeries::push) it when the interval closes; only the
/// reduced points are kept, so a bucket costs some tens of bytes per
/// series, whatever the sample rate, and the interval's histograms are
/// dropped.
#[derive(Clone, Debug)]
pub struct TimeSeries {
    interval: Duration,
    buckets: Vec<Bucket>,
}

/// The series of one interval.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// When the interval ended, from the start of the run.
    pub end: Duration,
    /// One point per metric and tag set with samples in the interval.
    pub points: Vec<SeriesPoint>,
}

/// One series over one interval.
#[derive(Clone, Debug)]
pub struct SeriesPoint {
    /// The metric.
    pub metric: Metric,
    /// The series' tags.
    pub tags: TagSet,
    /// What the interval held.
    pub value: PointValue,
}

/// A series over one interval, reduced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PointValue {
    /// Sum of increments in the interval.
    Counter {
        /// The sum.
        count: f64,
    },
    /// The last reading in the interval.
    Gauge {
        /// The reading.
        value: f64,
    },
    /// Non-zero samples out of all in the interval.
    Rate {
        /// Non-zero samples.
        passes: u64,
        /// All samples.
        total: u64,
    },
    /// The interval's distribution, in milliseconds (plain numbers for
    /// plain trends).
    Trend {
        /// Values recorded.
        count: u64,
        /// Mean.
        avg: f64,
        /// Smallest.
        min: f64,
        /// Largest.
        max: f64,
        /// 95th percentile.
        p95: f64,
    },
}

impl TimeSeries {
    /// An empty series of buckets `interval` long.
    pub fn new(interval: Duration) -> Self {
        TimeSeries {
            interval,
            buckets: Vec::new(),
        }
    }

    /// The interval length.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Closes one interval ending at `end` with the samples it held.
    pub fn push(&mut self, end: Duration, interval: &Aggregate) {
        let mut points = Vec::new();
        for metric in interval.metrics() {
            for (tags, value) in interval.series_of(&metric) {
                let value = PointValue::of(&value);
                let metric = metric.clone();
                points.push(SeriesPoint {
                    metric,
                    tags,
                    value,
                });
            }
        }
        self.buckets.push(Bucket { end, points });
    }

    /// The buckets, oldest first.
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The series as JSON: `{interval_ms, buckets: [{time_ms, series:
    /// [{metric, tags, ...values}]}]}`, values named as in the summary.
    pub fn to_json(&self) -> Value {
        let buckets: Vec<Value> = self.buckets.iter().map(Bucket::to_json).collect();
        json!({"interval_ms": millis(self.interval), "buckets": buckets})
    }
}

impl Bucket {
    fn to_json(&self) -> Value {
        let series: Vec<Value> = self.points.iter().map(SeriesPoint::to_json).collect();
        json!({"time_ms": millis(self.end), "series": series})
    }
}

impl SeriesPoint {
    fn to_json(&self) -> Value {
        let tags: Map<String, Value> = self
            .tags
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect();
        let mut object = match self.value.to_json() {
            Value::Object(map) => map,
            _ => unreachable!("point values are objects"),
        };
        object.insert("metric".into(), self.metric.name().into());
        object.insert("tags".into(), Value::Object(tags));
        Value::Object(object)
    }
}

impl PointValue {
    fn of(value: &MetricValue) -> PointValue {
        let ms = |d: Duration| d.as_nanos() as f64 / 1e6;
        match value {
            MetricValue::Counter { sum } => PointValue::Counter { count: *sum },
            MetricValue::Gauge { last, .. } => PointValue::Gauge { value: *last },
            MetricValue::Rate { passes, total } => PointValue::Rate {
                passes: *passes,
                total: *total,
            },
            MetricValue::Trend(trend) => PointValue::Trend {
                count: trend.count(),
                avg: trend.avg_ms(),
                min: ms(trend.min()),
                max: ms(trend.max()),
                p95: ms(trend.percentile(95.0)),
            },
        }
    }

    fn to_json(self) -> Value {
        match self {
            PointValue::Counter { count } => json!({"count": count}),
            PointValue::Gauge { value } => json!({"value": value}),
            PointValue::Rate { passes, total } => {
                json!({"passes": passes, "fails": total - passes})
            }
            PointValue::Trend {
                count,
                avg,
                min,
                max,
                p95,
            } => json!({"count": count, "avg": avg, "min": min, "max": max, "p(95)": p95}),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;

    #[test]
    fn buckets_hold_each_interval_alone() {
        let mut series = TimeSeries::new(Duration::from_secs(1));
        let tags = TagSet::new([("check", "ok")]);
        let mut first = Aggregate::new();
        first.add(&Sample::Check {
            tags: tags.clone(),
            passed: true,
        });
        series.push(Duration::from_secs(1), &first);
        let mut second = Aggregate::new();
        for passed in [true, false] {
            let tags = tags.clone();
            second.add(&Sample::Check { tags, passed });
        }
        series.push(Duration::from_secs(2), &second);

        let json = series.to_json();
        assert_eq!(json["interval_ms"], 1000);
        assert_eq!(json["buckets"][0]["series"][0]["passes"], 1);
        assert_eq!(json["buckets"][1]["time_ms"], 2000);
        assert_eq!(json["buckets"][1]["series"][0]["fails"], 1);
        assert_eq!(json["buckets"][1]["series"][0]["metric"], "checks");
    }
}
