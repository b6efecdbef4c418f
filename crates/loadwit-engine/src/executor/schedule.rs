//! When arrival-rate iterations are due: rates interpolated linearly
//! between stages, as k6 does, and the start time of iteration `k` found
//! where the cumulative count of iterations reaches `k`.

use std::time::Duration;

use crate::options::{Rate, Stage};

/// One stretch of time over which the rate moves linearly from `from` to
/// `to` (iterations per second).
#[derive(Debug, Clone, Copy)]
struct Segment {
    duration: Duration,
    from: f64,
    to: f64,
}

impl Segment {
    /// Iterations due over the whole segment.
    fn total(&self) -> f64 {
        (self.from + self.to) * self.duration.as_secs_f64() / 2.0
    }

    /// When, from the segment's start, the `x`-th of its iterations is due:
    /// the root of `from·t + (to − from)·t² / 2d = x`, written so that it
    /// holds for constant, rising and falling rates alike.
    fn time_of(&self, x: f64) -> Duration {
        if x <= 0.0 {
            return Duration::ZERO;
        }
        let d = self.duration.as_secs_f64();
        let a = (self.to - self.from) / (2.0 * d);
        let b = self.from;
        let root = (b * b + 4.0 * a * x).max(0.0).sqrt();
        let t = 2.0 * x / (b + root);
        Duration::from_secs_f64(t.min(d))
    }
}

/// The due times of a scenario's iterations, as offsets from its start,
/// in order. The first is at zero when the starting rate is not zero.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    segments: Vec<Segment>,
    /// The number of the next iteration.
    next: u64,
    segment: usize,
    /// Iterations and time before the current segment.
    before_count: f64,
    before_time: Duration,
}

impl Schedule {
    pub(crate) fn constant(rate: Rate, duration: Duration) -> Self {
        let per_second = rate.per_second();
        Self::of(vec![Segment {
            duration,
            from: per_second,
            to: per_second,
        }])
    }

    /// Stage targets are rates per `start.time_unit`, as in k6.
    pub(crate) fn ramping(start: Rate, stages: &[Stage]) -> Self {
        let unit = start.time_unit.as_secs_f64();
        let mut from = start.per_second();
        let segments = stages
            .iter()
            .map(|stage| {
                let to = stage.target as f64 / unit;
                let segment = Segment {
                    duration: stage.duration,
                    from,
                    to,
                };
                from = to;
                segment
            })
            .collect();
        Self::of(segments)
    }

    fn of(segments: Vec<Segment>) -> Self {
        Self {
            segments,
            next: 0,
            segment: 0,
            before_count: 0.0,
            before_time: Duration::ZERO,
        }
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // Rounding in the running sums must not add or lose an iteration.
        const EPSILON: f64 = 1e-6;
        let k = self.next as f64;
        while let Some(segment) = self.segments.get(self.segment) {
            let x = k - self.before_count;
            if segment.duration > Duration::ZERO && x < segment.total() - EPSILON {
                self.next += 1;
                return Some(self.before_time + segment.time_of(x));
            }
            self.before_count += segment.total();
            self.before_time += segment.duration;
            self.segment += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_second(iterations: f64) -> Rate {
        Rate {
            iterations,
            time_unit: Duration::from_secs(1),
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn constant_rate_is_evenly_spaced_and_exact() {
        let times: Vec<_> = Schedule::constant(per_second(200.0), secs(10.0)).collect();
        assert_eq!(times.len(), 2000);
        assert_eq!(times[0], Duration::ZERO);
        assert!((times[1].as_secs_f64() - 0.005).abs() < 1e-9);
        assert!(times[1999] < secs(10.0));
    }

    #[test]
    fn time_unit_divides_the_rate() {
        let rate = Rate {
            iterations: 30.0,
            time_unit: Duration::from_secs(60),
        };
        assert_eq!(Schedule::constant(rate, secs(10.0)).count(), 5);
    }

    #[test]
    fn ramps_interpolate_linearly() {
        let stages = [
            Stage {
                duration: secs(2.0),
                target: 10,
            },
            Stage {
                duration: secs(1.0),
                target: 10,
            },
            Stage {
                duration: secs(2.0),
                target: 0,
            },
        ];
        let times: Vec<_> = Schedule::ramping(per_second(0.0), &stages).collect();
        // 0→10/s over 2 s: 10; then 10; then 10→0 over 2 s: 10.
        assert_eq!(times.len(), 30);
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        // Half the ramp-up's iterations fall in its second half.
        let early = times.iter().filter(|t| **t < secs(1.0)).count();
        assert_eq!(early, 3, "{times:?}");
        assert!(times[29] < secs(5.0));
    }

    #[test]
    fn zero_rate_schedules_nothing() {
        assert_eq!(Schedule::constant(per_second(0.0), secs(5.0)).count(), 0);
    }
}
