//! Trends: distributions of durations in an HDR histogram.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Significant figures kept by trend histograms: values within 0.1 % of
/// each other share a bucket.
const SIGNIFICANT_FIGURES: u8 = 3;

/// A distribution of durations.
///
/// Invariants: the histogram holds every recorded value in whole
/// microseconds (rounded to nearest, at least 1 µs) and resizes itself, so
/// no value is ever rejected; `count`, `min`, `max` and `sum` are exact, in
/// nanoseconds, so the average and extremes are exact as in k6 and merging
/// trends gives exactly what one trend over all values would have given.
/// Memory is bounded by the range of values, never by their number.
#[derive(Clone, Debug)]
pub struct Trend {
    histogram: Histogram<u64>,
    count: u64,
    min_ns: u64,
    max_ns: u64,
    sum_ns: u128,
}

impl Default for Trend {
    fn default() -> Self {
        Trend::new()
    }
}

impl Trend {
    /// An empty trend.
    pub fn new() -> Self {
        let histogram = Histogram::new(SIGNIFICANT_FIGURES)
            .expect("3 significant figures is within hdrhistogram's 0..=5");
        Trend {
            histogram,
            count: 0,
            min_ns: u64::MAX,
            max_ns: 0,
            sum_ns: 0,
        }
    }

    /// Records one duration.
    pub fn record(&mut self, value: Duration) {
        let ns = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        let us = (ns.saturating_add(500) / 1_000).max(1);
        // `record` grows the histogram; `saturating_record` would clamp to
        // the current range instead, so it only catches values beyond what
        // any resize can hold (about 146 years).
        if self.histogram.record(us).is_err() {
            self.histogram.saturating_record(us);
        }
        self.count += 1;
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
        self.sum_ns += u128::from(ns);
    }

    /// Adds every value of `other`, exactly.
    pub fn merge(&mut self, other: &Trend) {
        if other.count == 0 {
            return;
        }
        self.histogram
            .add(&other.histogram)
            .expect("auto-resizing histograms accept any addend");
        self.count += other.count;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
        self.sum_ns += other.sum_ns;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether no value was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The exact smallest value, zero when empty.
    pub fn min(&self) -> Duration {
        if self.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.min_ns)
    }

    /// The exact largest value, zero when empty.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }

    /// The exact mean, in (fractional) milliseconds; zero when empty.
    pub fn avg_ms(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        self.sum_ns as f64 / self.count as f64 / 1e6
    }

    /// The exact mean, to the nanosecond; zero when empty.
    pub fn avg(&self) -> Duration {
        if self.is_empty() {
            return Duration::ZERO;
        }
        let mean = self.sum_ns / u128::from(self.count);
        Duration::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX))
    }

    /// The value below or at which `percentile` % of the values fall
    /// (`percentile` in `0..=100`; `50` is the median).
    ///
    /// It is the upper edge of the histogram bucket holding that rank, so
    /// it errs high by at most 0.1 %, kept within the exact min and max.
    pub fn percentile(&self, percentile: f64) -> Duration {
        if self.is_empty() {
            return Duration::ZERO;
        }
        let quantile = (percentile / 100.0).clamp(0.0, 1.0);
        let us = self.histogram.value_at_quantile(quantile);
        Duration::from_micros(us).clamp(self.min(), self.max())
    }

    /// The median, `percentile(50.0)`.
    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The exact statistics beside the histogram: count, minimum and
    /// maximum in nanoseconds, and the sum in nanoseconds.
    pub(crate) fn parts(&self) -> (u64, u64, u64, u128) {
        (self.count, self.min_ns, self.max_ns, self.sum_ns)
    }

    /// A trend rebuilt from a histogram and the statistics [`parts`]
    /// returned, as an encoded aggregate holds them.
    ///
    /// [`parts`]: Trend::parts
    pub(crate) fn from_parts(
        histogram: Histogram<u64>,
        count: u64,
        min_ns: u64,
        max_ns: u64,
        sum_ns: u128,
    ) -> Trend {
        Trend {
            histogram,
            count,
            min_ns,
            max_ns,
            sum_ns,
        }
    }

    /// The underlying histogram, in microseconds.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_microsecond_values_count_as_one_microsecond() {
        let mut trend = Trend::new();
        trend.record(Duration::from_nanos(200));
        trend.record(Duration::ZERO);
        assert_eq!(trend.histogram().len(), 2);
        assert_eq!(trend.histogram().min(), 1);
        assert_eq!(trend.min(), Duration::ZERO);
        assert_eq!(trend.max(), Duration::from_nanos(200));
        assert_eq!(trend.avg(), Duration::from_nanos(100));
    }

    #[test]
    fn extremes_and_average_are_exact() {
        let mut trend = Trend::new();
        for ms in [1, 2, 3, 4, 100] {
            trend.record(Duration::from_millis(ms));
        }
        assert_eq!(trend.min(), Duration::from_millis(1));
        assert_eq!(trend.max(), Duration::from_millis(100));
        assert_eq!(trend.avg_ms(), 22.0);
        // 3 ms sits in a 2 µs-wide bucket; percentiles report its upper edge.
        assert_eq!(trend.median(), Duration::from_micros(3_001));
        assert_eq!(trend.percentile(100.0), Duration::from_millis(100));
    }

    #[test]
    fn empty_trend_reports_zeros() {
        let trend = Trend::new();
        assert!(trend.is_empty());
        assert_eq!(trend.min(), Duration::ZERO);
        assert_eq!(trend.percentile(95.0), Duration::ZERO);
        assert_eq!(trend.avg_ms(), 0.0);
    }
}
