//! Series of the metrics a scenario declares.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::series::{GaugeSeries, Part};
use super::update;
use crate::metric::{CustomMetric, MetricKind};
use crate::tags::TagSet;
use crate::trend::Trend;

/// Every series of one custom metric.
///
/// The first declaration seen fixes the metric's kind and unit; values
/// recorded under the same name with another kind are dropped, since one
/// name can only aggregate one way.
#[derive(Clone, Debug)]
pub(super) struct CustomSeries {
    pub(super) metric: Arc<CustomMetric>,
    pub(super) series: HashMap<TagSet, CustomValue>,
}

#[derive(Clone, Debug)]
pub(super) enum CustomValue {
    Counter(f64),
    Gauge(GaugeSeries),
    Rate { passes: u64, total: u64 },
    Trend(Trend),
}

impl CustomSeries {
    pub(super) fn new(metric: Arc<CustomMetric>) -> Self {
        CustomSeries {
            metric,
            series: HashMap::new(),
        }
    }

    pub(super) fn record(&mut self, metric: &CustomMetric, tags: &TagSet, value: f64, at: u64) {
        if metric.kind() != self.metric.kind() || metric.unit() != self.metric.unit() {
            return;
        }
        let kind = metric.kind();
        let new = || CustomValue::empty(kind);
        update(&mut self.series, tags, new, |v| v.record(value, at));
    }

    pub(super) fn merge(&mut self, other: &CustomSeries, clock: u64) {
        if other.metric.kind() != self.metric.kind() {
            return;
        }
        for (tags, theirs) in &other.series {
            match (self.series.get_mut(tags), theirs) {
                (Some(mine), theirs) => mine.merge(theirs, clock),
                (None, CustomValue::Gauge(g)) => {
                    self.series
                        .insert(tags.clone(), CustomValue::Gauge(g.shifted(clock)));
                }
                (None, theirs) => {
                    self.series.insert(tags.clone(), theirs.clone());
                }
            }
        }
    }
}

impl CustomValue {
    fn empty(kind: MetricKind) -> Self {
        match kind {
            MetricKind::Counter => CustomValue::Counter(0.0),
            MetricKind::Gauge => CustomValue::Gauge(GaugeSeries::default()),
            MetricKind::Rate => CustomValue::Rate {
                passes: 0,
                total: 0,
            },
            MetricKind::Trend => CustomValue::Trend(Trend::new()),
        }
    }

    fn record(&mut self, value: f64, at: u64) {
        match self {
            CustomValue::Counter(sum) => *sum += value,
            CustomValue::Gauge(g) => g.record(value, at),
            CustomValue::Rate { passes, total } => {
                *passes += u64::from(value != 0.0);
                *total += 1;
            }
            CustomValue::Trend(trend) => trend.record(millis(value)),
        }
    }

    fn merge(&mut self, other: &CustomValue, clock: u64) {
        match (self, other) {
            (CustomValue::Counter(a), CustomValue::Counter(b)) => *a += b,
            (CustomValue::Gauge(a), CustomValue::Gauge(b)) => a.merge(&b.shifted(clock)),
            (
                CustomValue::Rate { passes, total },
                CustomValue::Rate {
                    passes: p,
                    total: t,
                },
            ) => {
                *passes += p;
                *total += t;
            }
            (CustomValue::Trend(a), CustomValue::Trend(b)) => a.merge(b),
            _ => {}
        }
    }

    pub(super) fn part(&self) -> Part<'_> {
        match self {
            CustomValue::Counter(sum) => Part::Count(*sum),
            CustomValue::Gauge(g) => Part::Gauge(g),
            CustomValue::Rate { passes, total } => Part::Rate {
                passes: *passes,
                total: *total,
            },
            CustomValue::Trend(trend) => Part::Trend(trend),
        }
    }
}

/// A trend value as the duration its histogram holds: milliseconds for
/// time trends, and the same scale for plain ones, so both keep three
/// significant figures down to 0.001. Negative and non-finite values
/// record as zero.
fn millis(value: f64) -> Duration {
    if !value.is_finite() || value <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(value / 1e3).unwrap_or(Duration::MAX)
}
