//! `ramping-vus`: the number of looping VUs follows the stages.
//!
//! VU number `i` (from 0) loops while the planned count is above `i`. The
//! count moves one VU at a time at the instants k6 computes for a linear
//! ramp. When the count drops below a VU, it starts no new iteration; one
//! still running may finish within `gracefulRampDown`, else it is
//! interrupted. All VUs are made before the start, so a ramp up costs no
//! instantiation on the way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::time::sleep_until;

use super::{Timing, hard_cut, iterate_once, join_all};
use crate::options::{ScenarioPlan, Stage, Stripe};
use crate::run::Shared;
use crate::stop::StopLevel;
use crate::vu::Vu;

/// A planned VU count and when it changes.
pub(super) struct Ramp {
    start_vus: u64,
    /// Offsets from the scenario's start, in order, with the count from
    /// then on.
    steps: Vec<(Duration, u64)>,
    graceful_ramp_down: Duration,
}

impl Ramp {
    pub(super) fn new(start_vus: u64, stages: &[Stage], graceful_ramp_down: Duration) -> Self {
        Self {
            start_vus,
            steps: steps(start_vus, stages),
            graceful_ramp_down,
        }
    }

    /// The same ramp, running `stripe.scale(count)` of every planned
    /// `count`: the share of one runner of a distributed run, so that the
    /// runners' counts add up to the whole count at every instant.
    pub(super) fn striped(self, stripe: &Stripe) -> Self {
        if stripe.is_whole() {
            return self;
        }
        let start_vus = stripe.scale(self.start_vus);
        let mut last = start_vus;
        let mut steps = Vec::new();
        for (at, count) in self.steps {
            let count = stripe.scale(count);
            if count != last {
                steps.push((at, count));
                last = count;
            }
        }
        Self {
            start_vus,
            steps,
            graceful_ramp_down: self.graceful_ramp_down,
        }
    }

    /// The planned count at `at` after the start.
    #[cfg(test)]
    pub(super) fn planned_at(&self, at: Duration) -> u64 {
        self.steps
            .iter()
            .take_while(|(step, _)| *step <= at)
            .last()
            .map_or(self.start_vus, |(_, count)| *count)
    }

    pub(super) async fn run(
        self,
        scenario: &Arc<ScenarioPlan>,
        vus: Vec<Vu>,
        shared: &Arc<Shared>,
        timing: Timing,
    ) {
        let (count, watch) = watch::channel(self.start_vus);
        let tasks: Vec<_> = vus
            .into_iter()
            .enumerate()
            .map(|(index, vu)| {
                let driver = RampDriver {
                    index: index as u64,
                    count: watch.clone(),
                    scenario: scenario.clone(),
                    shared: shared.clone(),
                    timing,
                    graceful_ramp_down: self.graceful_ramp_down,
                };
                tokio::spawn(driver.drive(vu))
            })
            .collect();
        drop(watch);

        let mut stop = shared.stop.subscribe();
        for (at, planned) in self.steps {
            tokio::select! {
                () = sleep_until((timing.start + at).into()) => {}
                () = stop.stopping() => break,
            }
            count.send_replace(planned);
        }
        // Keep the sender alive until every VU is done, so a VU never
        // reads a closed channel as "ramped down".
        join_all(tasks, &scenario.name).await;
        drop(count);
    }
}

/// The instants the planned count changes, one VU at a time, as k6
/// spreads a linear ramp.
fn steps(start_vus: u64, stages: &[Stage]) -> Vec<(Duration, u64)> {
    let mut steps = Vec::new();
    let (mut from, mut offset) = (start_vus, Duration::ZERO);
    for stage in stages {
        let to = stage.target;
        let span = to.abs_diff(from);
        for n in 1..=span {
            let at = offset + stage.duration.mul_f64(n as f64 / span as f64);
            let count = if to > from { from + n } else { from - n };
            steps.push((at, count));
        }
        from = to;
        offset += stage.duration;
    }
    steps
}

/// The planned count at `at` after the start.
#[cfg(test)]
fn planned_at(start_vus: u64, stages: &[Stage], at: Duration) -> u64 {
    Ramp::new(start_vus, stages, Duration::ZERO).planned_at(at)
}

/// One VU's life in a ramp: wait to be counted in, loop, be counted out.
struct RampDriver {
    index: u64,
    count: watch::Receiver<u64>,
    scenario: Arc<ScenarioPlan>,
    shared: Arc<Shared>,
    timing: Timing,
    graceful_ramp_down: Duration,
}

impl RampDriver {
    async fn drive(mut self, mut vu: Vu) {
        let mut stop = self.shared.stop.subscribe();
        let index = self.index;
        loop {
            tokio::select! {
                result = self.count.wait_for(|count| *count > index) => {
                    if result.is_err() { return }
                }
                () = sleep_until(self.timing.end.into()) => return,
                () = stop.stopping() => return,
            }
            let active = self.shared.vus.activate();
            while self.may_start(stop.level()) {
                let ramp_cut = ramped_out(self.count.clone(), index, self.graceful_ramp_down);
                let cut = async {
                    tokio::select! {
                        () = hard_cut(self.timing.hard_end, &mut stop) => {}
                        () = ramp_cut => {}
                    }
                };
                match iterate_once(vu, &self.scenario, &self.shared, None, cut).await {
                    Some(next) => vu = next,
                    None => return,
                }
            }
            drop(active);
            if Instant::now() >= self.timing.end || stop.level() != StopLevel::Running {
                return;
            }
        }
    }

    fn may_start(&self, stop: StopLevel) -> bool {
        Instant::now() < self.timing.end
            && stop == StopLevel::Running
            && *self.count.borrow() > self.index
    }
}

/// Resolves when VU `index` has been out of the planned count for
/// `grace` (if the count rises again meanwhile, the wait starts over).
async fn ramped_out(mut count: watch::Receiver<u64>, index: u64, grace: Duration) {
    loop {
        if count.wait_for(|count| *count <= index).await.is_err() {
            return std::future::pending().await;
        }
        tokio::time::sleep(grace).await;
        if *count.borrow() <= index {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(secs: u64, target: u64) -> Stage {
        Stage {
            duration: Duration::from_secs(secs),
            target,
        }
    }

    #[test]
    fn ramps_move_one_vu_at_a_time_linearly() {
        let stages = [stage(4, 20), stage(2, 20), stage(4, 0)];
        let at = |s: f64| planned_at(0, &stages, Duration::from_secs_f64(s));
        assert_eq!(at(0.0), 0);
        assert_eq!(at(0.2), 1);
        assert_eq!(at(2.0), 10);
        assert_eq!(at(4.0), 20);
        assert_eq!(at(5.0), 20);
        assert_eq!(at(6.2), 19);
        assert_eq!(at(8.0), 10);
        assert_eq!(at(10.0), 0);
        assert_eq!(steps(0, &stages).len(), 40);
    }

    #[test]
    fn start_vus_count_from_the_start() {
        assert_eq!(planned_at(5, &[stage(10, 5)], Duration::ZERO), 5);
        assert_eq!(planned_at(5, &[stage(1, 0)], Duration::from_secs(1)), 0);
    }
}
