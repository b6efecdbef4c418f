//! Executors: how a scenario's iterations are scheduled on its VUs.
//!
//! The closed-loop executors (`constant-vus`, `per-vu-iterations`,
//! `shared-iterations`) differ only in how many VUs run and when each VU
//! stops, so each one builds a [`ClosedLoop`] and the loop itself lives
//! here once.

mod constant_vus;
mod per_vu_iterations;
mod shared_iterations;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::time::timeout_at;

use crate::options::{Executor, ScenarioPlan};
use crate::run::Shared;
use crate::stop::StopLevel;
use crate::vu::{Ended, Vu};

/// VUs that each loop over iterations until a budget or a deadline ends.
///
/// Invariant: no iteration starts at or after `end`; an iteration still
/// running at `end + graceful_stop` (or at a hard stop) is interrupted,
/// recorded as such, and its VU dropped.
pub(crate) struct ClosedLoop {
    pub vus: u64,
    pub duration: Duration,
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

/// Plans the scenario's closed loop from its executor settings.
fn closed_loop(executor: &Executor) -> ClosedLoop {
    match *executor {
        Executor::ConstantVus { vus, duration } => constant_vus::plan(vus, duration),
        Executor::PerVuIterations {
            vus,
            iterations,
            max_duration,
        } => per_vu_iterations::plan(vus, iterations, max_duration),
        Executor::SharedIterations {
            vus,
            iterations,
            max_duration,
        } => shared_iterations::plan(vus, iterations, max_duration),
    }
}

/// How many VUs the scenario needs made before it starts.
pub(crate) fn vus_needed(executor: &Executor) -> u64 {
    closed_loop(executor).vus
}

/// Runs one scenario with VUs made in advance, until every VU is done.
pub(crate) async fn run_scenario(scenario: Arc<ScenarioPlan>, vus: Vec<Vu>, shared: Arc<Shared>) {
    let plan = closed_loop(&scenario.executor);
    let start = Instant::now();
    let end = start + plan.duration;
    let hard_end = end + scenario.graceful_stop;

    let tasks: Vec<_> = vus
        .into_iter()
        .map(|vu| {
            let driver = Driver {
                scenario: scenario.clone(),
                shared: shared.clone(),
                budget: plan.budget.clone(),
                end,
                hard_end,
            };
            tokio::spawn(driver.drive(vu))
        })
        .collect();
    for task in tasks {
        if let Err(error) = task.await {
            tracing::error!(%error, scenario = %scenario.name, "a VU task failed");
        }
    }
}

/// One VU's loop and the rules it stops by.
struct Driver {
    scenario: Arc<ScenarioPlan>,
    shared: Arc<Shared>,
    budget: Budget,
    end: Instant,
    hard_end: Instant,
}

impl Driver {
    async fn drive(mut self, mut vu: Vu) {
        let _active = self.shared.vus.until_done();
        let mut stop = self.shared.stop.subscribe();
        loop {
            if Instant::now() >= self.end
                || stop.level() != StopLevel::Running
                || !self.budget.claim()
            {
                return;
            }
            let started = Instant::now();
            let iteration = vu.iterate(&self.scenario.exec, &self.shared.setup_data);
            let ended = tokio::select! {
                ended = timeout_at(self.hard_end.into(), iteration) => ended.ok(),
                () = stop.hard() => None,
            };
            match ended {
                Some(Ended::Reusable) => {}
                Some(Ended::Trapped) => match vu.replace(&self.shared.sandbox).await {
                    Ok(fresh) => vu = fresh,
                    Err(error) => {
                        tracing::error!(%error, "cannot replace a trapped VU; it stops");
                        return;
                    }
                },
                None => {
                    vu.interrupted(started);
                    return;
                }
            }
        }
    }
}
