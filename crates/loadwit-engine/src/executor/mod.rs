//! Executors: how a scenario's iterations are scheduled on its VUs.
//!
//! Every executor waits for its scenario's `startTime`, then runs until
//! its time is up; iterations still running then may go on for
//! `gracefulStop` and are interrupted after it, or at a hard stop.
//!
//! - The closed-loop executors (`constant-vus`, `per-vu-iterations`,
//!   `shared-iterations`) differ only in how many VUs run and when each VU
//!   stops, so each one builds a [`ClosedLoop`] and the loop lives here.
//! - `ramping-vus` (`ramping_vus.rs`) activates and parks VUs as the
//!   planned count moves between stages.
//! - The arrival-rate executors (`arrival_rate.rs`) start iterations on a
//!   [`Schedule`](schedule::Schedule), whatever the target's speed.

mod arrival_rate;
mod constant_vus;
mod per_vu_iterations;
mod ramping_vus;
mod schedule;
mod shared_iterations;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::time::sleep_until;

use crate::options::{Executor, ScenarioPlan};
use crate::run::Shared;
use crate::stop::{StopLevel, StopWatch};
use crate::vu::{Ended, Vu, VuFactory};

/// VUs that each loop over iterations until a budget or a deadline ends.
///
/// Invariant: no iteration starts at or after `end`; an iteration still
/// running at `end + graceful_stop` (or at a hard stop) is interrupted,
/// recorded as such, and its VU dropped.
pub(crate) struct ClosedLoop {
    pub budget: Budget,
}

/// How many iterations VUs may start.
#[derive(Clone)]
pub(crate) enum Budget {
    /// As many as time allows.
    Unlimited,
    /// This many per VU.
    PerVu(u64),
    /// This many between all VUs of the scenario.
    Shared(Arc<AtomicU64>),
}

impl Budget {
    /// Claims one iteration; `false` when the budget is spent.
    fn claim(&mut self) -> bool {
        match self {
            Self::Unlimited => true,
            Self::PerVu(left) => {
                let claimed = *left > 0;
                *left = left.saturating_sub(1);
                claimed
            }
            Self::Shared(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// The scenario's clock, fixed when it starts.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    pub start: Instant,
    /// No iteration starts at or after this.
    pub end: Instant,
    /// Iterations still running now are interrupted.
    pub hard_end: Instant,
}

/// Runs one scenario with VUs made in advance, until every VU is done.
/// Nothing runs when the run is stopped before the scenario's
/// `startTime`.
pub(crate) async fn run_scenario(
    scenario: Arc<ScenarioPlan>,
    vus: Vec<Vu>,
    factory: VuFactory,
    shared: Arc<Shared>,
) {
    let mut stop = shared.stop.subscribe();
    tokio::select! {
        () = tokio::time::sleep(scenario.start_time) => {}
        () = stop.stopping() => return,
    }
    let start = Instant::now();
    let end = start + scenario.executor.duration();
    let timing = Timing {
        start,
        end,
        hard_end: end + scenario.graceful_stop,
    };

    match &scenario.executor {
        Executor::ConstantVus { .. } => {
            run_closed(constant_vus::plan(), &scenario, vus, &shared, timing).await
        }
        Executor::PerVuIterations { iterations, .. } => {
            let plan = per_vu_iterations::plan(*iterations);
            run_closed(plan, &scenario, vus, &shared, timing).await
        }
        Executor::SharedIterations { iterations, .. } => {
            let plan = shared_iterations::plan(*iterations);
            run_closed(plan, &scenario, vus, &shared, timing).await
        }
        Executor::RampingVus { .. } => {
            let ramp = ramp(&scenario).expect("a ramping-vus scenario has a ramp");
            ramp.run(&scenario, vus, &shared, timing).await
        }
        Executor::ConstantArrivalRate {
            vus: budget,
            max_lateness,
            ..
        }
        | Executor::RampingArrivalRate {
            vus: budget,
            max_lateness,
            ..
        } => {
            let schedule = Box::new(due_times(&scenario));
            let open = arrival_rate::OpenLoop::new(schedule, *budget, *max_lateness);
            open.run(&scenario, vus, factory, &shared, timing).await
        }
    }
}

/// The VU ramp of a `ramping-vus` scenario: the whole scenario's, with
/// this runner's share of the count at every step.
fn ramp(scenario: &ScenarioPlan) -> Option<ramping_vus::Ramp> {
    let Executor::RampingVus {
        start_vus,
        stages,
        graceful_ramp_down,
    } = scenario.whole_executor()
    else {
        return None;
    };
    let ramp = ramping_vus::Ramp::new(*start_vus, stages, *graceful_ramp_down);
    Some(ramp.striped(&scenario.stripe()))
}

/// How many VUs a `ramping-vus` scenario plans to run `at` after its
/// start, on this runner; zero for other executors.
#[cfg(test)]
pub(crate) fn planned_vus(scenario: &ScenarioPlan, at: std::time::Duration) -> u64 {
    ramp(scenario).map_or(0, |ramp| ramp.planned_at(at))
}

/// When an arrival-rate scenario's iterations on this runner are due, as
/// offsets from its start: the whole schedule's, keeping the iterations
/// whose global index the runner's stripe takes. Empty for other
/// executors.
pub(crate) fn due_times(
    scenario: &ScenarioPlan,
) -> impl Iterator<Item = std::time::Duration> + Send + use<> {
    let schedule = match scenario.whole_executor() {
        Executor::ConstantArrivalRate { rate, duration, .. } => {
            Some(schedule::Schedule::constant(*rate, *duration))
        }
        Executor::RampingArrivalRate {
            start_rate, stages, ..
        } => Some(schedule::Schedule::ramping(*start_rate, stages)),
        _ => None,
    };
    let stripe = scenario.stripe();
    schedule
        .into_iter()
        .flatten()
        .zip(0u64..)
        .filter(move |(_, index)| stripe.contains(*index))
        .map(|(due, _)| due)
}

/// Runs a closed loop: one task per VU, each looping until done.
async fn run_closed(
    plan: ClosedLoop,
    scenario: &Arc<ScenarioPlan>,
    vus: Vec<Vu>,
    shared: &Arc<Shared>,
    timing: Timing,
) {
    let tasks: Vec<_> = vus
        .into_iter()
        .map(|vu| {
            let driver = Driver {
                scenario: scenario.clone(),
                shared: shared.clone(),
                budget: plan.budget.clone(),
                timing,
            };
            tokio::spawn(driver.drive(vu))
        })
        .collect();
    join_all(tasks, &scenario.name).await;
}

async fn join_all(tasks: Vec<tokio::task::JoinHandle<()>>, scenario: &str) {
    for task in tasks {
        if let Err(error) = task.await {
            tracing::error!(%error, scenario, "a VU task failed");
        }
    }
}

/// One VU's loop and the rules it stops by.
struct Driver {
    scenario: Arc<ScenarioPlan>,
    shared: Arc<Shared>,
    budget: Budget,
    timing: Timing,
}

impl Driver {
    async fn drive(mut self, mut vu: Vu) {
        let _active = self.shared.vus.activate();
        let mut stop = self.shared.stop.subscribe();
        loop {
            if Instant::now() >= self.timing.end
                || stop.level() != StopLevel::Running
                || !self.budget.claim()
            {
                return;
            }
            let cut = hard_cut(self.timing.hard_end, &mut stop);
            match iterate_once(vu, &self.scenario, &self.shared, None, cut).await {
                Some(next) => vu = next,
                None => return,
            }
        }
    }
}

/// Runs one iteration on `vu`, due at `scheduled` for arrival-rate
/// executors, unless `cut` resolves first. Returns the VU when it can run
/// more: a trapped instance is replaced, an interrupted one recorded and
/// dropped.
async fn iterate_once(
    mut vu: Vu,
    scenario: &ScenarioPlan,
    shared: &Shared,
    scheduled: Option<Instant>,
    cut: impl Future<Output = ()>,
) -> Option<Vu> {
    let started = Instant::now();
    let ended = tokio::select! {
        ended = vu.iterate(&scenario.exec, scheduled) => Some(ended),
        () = cut => None,
    };
    match ended {
        Some(Ended::Reusable) => Some(vu),
        Some(Ended::Trapped) => match vu.replace(&shared.sandbox).await {
            Ok(fresh) => Some(fresh),
            Err(error) => {
                tracing::error!(%error, "cannot replace a trapped VU; it stops");
                None
            }
        },
        None => {
            vu.interrupted(started);
            None
        }
    }
}

/// Resolves at the scenario's hard end or at a hard stop, whichever is
/// first.
async fn hard_cut(hard_end: Instant, stop: &mut StopWatch) {
    tokio::select! {
        () = sleep_until(hard_end.into()) => {}
        () = stop.hard() => {}
    }
}

/// Sleeps until `at`, or forever when there is no such time.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
