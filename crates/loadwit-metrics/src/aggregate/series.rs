//! Per-series statistics, and the sums of series into metric totals.

use std::time::Duration;

use super::MetricValue;
use crate::metric::Builtin;
use crate::sample::{HttpTimings, IterationOutcome};
use crate::trend::Trend;

/// A borrowed view of one series' contribution to a metric.
pub(super) enum Part<'a> {
    Count(f64),
    Rate { passes: u64, total: u64 },
    Gauge(&'a GaugeSeries),
    Trend(&'a Trend),
}

/// A metric total being summed; gauges keep the time of their last reading
/// so the latest one across series wins.
pub(super) enum Accumulated {
    Counter(f64),
    Rate { passes: u64, total: u64 },
    Gauge(GaugeSeries),
    Trend(Trend),
}

impl Accumulated {
    pub(super) fn into_value(self) -> MetricValue {
        match self {
            Accumulated::Counter(sum) => MetricValue::Counter { sum },
            Accumulated::Rate { passes, total } => MetricValue::Rate { passes, total },
            Accumulated::Gauge(g) => MetricValue::Gauge {
                last: g.last,
                min: g.min,
                max: g.max,
            },
            Accumulated::Trend(trend) => MetricValue::Trend(trend),
        }
    }
}

pub(super) fn absorb(total: &mut Option<Accumulated>, part: Part<'_>) {
    match (total.as_mut(), part) {
        (None, Part::Count(sum)) => *total = Some(Accumulated::Counter(sum)),
        (None, Part::Rate { passes, total: n }) => {
            *total = Some(Accumulated::Rate { passes, total: n })
        }
        (None, Part::Gauge(g)) => *total = Some(Accumulated::Gauge(g.clone())),
        (None, Part::Trend(t)) => *total = Some(Accumulated::Trend(t.clone())),
        (Some(Accumulated::Counter(sum)), Part::Count(more)) => *sum += more,
        (
            Some(Accumulated::Rate { passes, total }),
            Part::Rate {
                passes: p,
                total: n,
            },
        ) => {
            *passes += p;
            *total += n;
        }
        (Some(Accumulated::Gauge(mine)), Part::Gauge(g)) => mine.merge(g),
        (Some(Accumulated::Trend(mine)), Part::Trend(t)) => mine.merge(t),
        (Some(_), _) => unreachable!("one metric yields parts of one kind"),
    }
}

/// The HTTP metrics of one tag set, split by the `failed` flag so that
/// `expected_response` filters select whole halves. A half exists once it
/// has a request.
#[derive(Clone, Debug, Default)]
pub(super) struct HttpSeries {
    pub(super) ok: Option<Box<HttpStats>>,
    pub(super) failed: Option<Box<HttpStats>>,
}

impl HttpSeries {
    pub(super) fn record(&mut self, timings: &HttpTimings, failed: bool, sent: u64, received: u64) {
        let half = if failed {
            &mut self.failed
        } else {
            &mut self.ok
        };
        half.get_or_insert_default().record(timings, sent, received);
    }

    pub(super) fn merge(&mut self, other: &HttpSeries) {
        for (mine, theirs) in [(&mut self.ok, &other.ok), (&mut self.failed, &other.failed)] {
            match (mine.as_mut(), theirs) {
                (Some(mine), Some(theirs)) => mine.merge(theirs),
                (None, Some(theirs)) => *mine = Some(theirs.clone()),
                (_, None) => {}
            }
        }
    }

    /// The halves that exist, each with its `failed` flag.
    pub(super) fn halves(&self) -> impl Iterator<Item = (bool, &HttpStats)> {
        let ok = self.ok.as_deref().map(|s| (false, s));
        let failed = self.failed.as_deref().map(|s| (true, s));
        ok.into_iter().chain(failed)
    }

    pub(super) fn requests(&self) -> u64 {
        self.halves().map(|(_, s)| s.requests).sum()
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct HttpStats {
    pub(super) requests: u64,
    pub(super) sent: u64,
    pub(super) received: u64,
    pub(super) blocked: Trend,
    pub(super) connecting: Trend,
    pub(super) tls_handshaking: Trend,
    pub(super) sending: Trend,
    pub(super) waiting: Trend,
    pub(super) receiving: Trend,
    pub(super) duration: Trend,
}

impl HttpStats {
    pub(super) fn record(&mut self, timings: &HttpTimings, sent: u64, received: u64) {
        self.requests += 1;
        self.sent += sent;
        self.received += received;
        self.blocked.record(timings.blocked);
        self.connecting.record(timings.connecting);
        self.tls_handshaking.record(timings.tls_handshaking);
        self.sending.record(timings.sending);
        self.waiting.record(timings.waiting);
        self.receiving.record(timings.receiving);
        self.duration.record(timings.duration);
    }

    pub(super) fn merge(&mut self, other: &HttpStats) {
        self.requests += other.requests;
        self.sent += other.sent;
        self.received += other.received;
        self.blocked.merge(&other.blocked);
        self.connecting.merge(&other.connecting);
        self.tls_handshaking.merge(&other.tls_handshaking);
        self.sending.merge(&other.sending);
        self.waiting.merge(&other.waiting);
        self.receiving.merge(&other.receiving);
        self.duration.merge(&other.duration);
    }

    pub(super) fn part(&self, metric: Builtin, failed: bool) -> Part<'_> {
        match metric {
            Builtin::HttpReqs => Part::Count(self.requests as f64),
            Builtin::HttpReqFailed => Part::Rate {
                passes: if failed { self.requests } else { 0 },
                total: self.requests,
            },
            Builtin::DataSent => Part::Count(self.sent as f64),
            Builtin::DataReceived => Part::Count(self.received as f64),
            Builtin::HttpReqBlocked => Part::Trend(&self.blocked),
            Builtin::HttpReqConnecting => Part::Trend(&self.connecting),
            Builtin::HttpReqTlsHandshaking => Part::Trend(&self.tls_handshaking),
            Builtin::HttpReqSending => Part::Trend(&self.sending),
            Builtin::HttpReqWaiting => Part::Trend(&self.waiting),
            Builtin::HttpReqReceiving => Part::Trend(&self.receiving),
            _ => Part::Trend(&self.duration),
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct CheckSeries {
    pub(super) passes: u64,
    pub(super) total: u64,
    pub(super) first_seen: u64,
}

impl CheckSeries {
    pub(super) fn first_seen_at(first_seen: u64) -> Self {
        CheckSeries {
            passes: 0,
            total: 0,
            first_seen,
        }
    }

    pub(super) fn record(&mut self, passed: bool) {
        self.passes += u64::from(passed);
        self.total += 1;
    }

    pub(super) fn merge(&mut self, other: &CheckSeries) {
        self.passes += other.passes;
        self.total += other.total;
    }
}

/// Iterations of one tag set. `duration` holds every iteration that ended
/// (completed or failed), so its count is the `iterations` counter.
#[derive(Clone, Debug, Default)]
pub(super) struct IterationSeries {
    pub(super) duration: Trend,
    pub(super) interrupted: u64,
}

impl IterationSeries {
    pub(super) fn record(&mut self, duration: Duration, outcome: &IterationOutcome) {
        match outcome {
            IterationOutcome::Completed | IterationOutcome::Failed(_) => {
                self.duration.record(duration)
            }
            IterationOutcome::Interrupted => self.interrupted += 1,
        }
    }

    pub(super) fn merge(&mut self, other: &IterationSeries) {
        self.duration.merge(&other.duration);
        self.interrupted += other.interrupted;
    }

    pub(super) fn part(&self, metric: Builtin) -> Part<'_> {
        match metric {
            Builtin::Iterations => Part::Count(self.duration.count() as f64),
            _ => Part::Trend(&self.duration),
        }
    }
}

/// Readings of one gauge series; `at` is the aggregate clock of the last
/// reading.
#[derive(Clone, Debug)]
pub(super) struct GaugeSeries {
    pub(super) last: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) at: u64,
}

impl Default for GaugeSeries {
    fn default() -> Self {
        GaugeSeries {
            last: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            at: 0,
        }
    }
}

impl GaugeSeries {
    pub(super) fn record(&mut self, value: f64, at: u64) {
        self.last = value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.at = at;
    }

    pub(super) fn merge(&mut self, other: &GaugeSeries) {
        if other.at >= self.at {
            self.last = other.last;
            self.at = other.at;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Adds a gauge read side by side with this one; an empty side adds
    /// nothing.
    pub(super) fn add(&mut self, other: &GaugeSeries) {
        if other.min > other.max {
            return;
        }
        if self.min > self.max {
            *self = other.clone();
            return;
        }
        self.last += other.last;
        self.min += other.min;
        self.max += other.max;
        self.at = self.at.max(other.at);
    }

    pub(super) fn shifted(&self, by: u64) -> GaugeSeries {
        GaugeSeries {
            at: self.at + by,
            ..self.clone()
        }
    }
}
