//! The resolved, validated shape of a run: what the executors consume.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::HttpSettings;
use super::segment::{ExecutionSegment, SegmentSequence, Stripe};

/// The resolved, validated shape of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenarios: Vec<ScenarioPlan>,
    /// The HTTP client's settings, shared by every VU of the run.
    pub http: HttpSettings,
    /// The share of the whole test this runner executes: `0:1` unless
    /// the plan was [split](Plan::segment).
    pub segment: ExecutionSegment,
    /// How the whole test is cut between the runners of a distributed
    /// run; one segment unless the plan was split.
    pub sequence: SegmentSequence,
}

impl Plan {
    /// The most VUs the run can have alive at once: every scenario's
    /// maximum added up, as the VU pool is sized for all of them.
    pub fn max_vus(&self) -> u64 {
        self.scenarios.iter().map(|s| s.executor.max_vus()).sum()
    }

    /// The longest the run can take: the latest scenario end plus its
    /// graceful stop.
    pub fn max_duration(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.start_time + s.executor.duration() + s.graceful_stop)
            .max()
            .unwrap_or_default()
    }
}

/// One scenario, ready to run.
#[derive(Debug, Clone)]
pub struct ScenarioPlan {
    pub name: String,
    /// Passed to the component's `run` export to pick the workload.
    pub exec: String,
    pub executor: Executor,
    /// How long after the run's start the scenario begins.
    pub start_time: Duration,
    /// How long iterations still running when time is up may go on.
    pub graceful_stop: Duration,
    pub env: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Set when the plan was split between runners: which part of the
    /// whole scenario's ramp or schedule this runner follows.
    /// `executor` then holds this runner's own numbers.
    pub share: Option<Arc<Share>>,
}

impl ScenarioPlan {
    /// The executor of the whole scenario, before any split.
    pub fn whole_executor(&self) -> &Executor {
        match &self.share {
            Some(share) => &share.whole,
            None => &self.executor,
        }
    }

    /// Which items of the whole scenario this runner takes: all of them
    /// unless the plan was split.
    pub fn stripe(&self) -> Stripe {
        match &self.share {
            Some(share) => share.stripe.clone(),
            None => Stripe::whole(),
        }
    }
}

/// A scenario's part in a distributed run.
///
/// Ramps and arrival schedules are computed for the whole scenario on
/// every runner, and each runner takes the items its stripe deals it: the
/// VUs of a ramp at every instant, the iterations of a schedule by their
/// global index. That is what makes the parts add up exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// The items of the whole scenario this runner takes.
    pub stripe: Stripe,
    /// The whole scenario's executor.
    pub whole: Executor,
}

/// One step of a ramping executor: reach `target` linearly over
/// `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub duration: Duration,
    pub target: u64,
}

/// An arrival rate: `iterations` started every `time_unit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub iterations: f64,
    pub time_unit: Duration,
}

impl Rate {
    /// Iterations per second.
    pub fn per_second(self) -> f64 {
        self.iterations / self.time_unit.as_secs_f64()
    }
}

/// The VUs an arrival-rate executor may use: made before the start, and
/// made on demand up to a ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VuBudget {
    pub pre_allocated: u64,
    pub max: u64,
}

/// How a scenario schedules its iterations, with k6's parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// `vus` VUs loop over iterations for `duration`.
    ConstantVus { vus: u64, duration: Duration },
    /// The number of looping VUs follows `stages` from `start_vus`.
    RampingVus {
        start_vus: u64,
        stages: Vec<Stage>,
        /// How long an iteration of a VU that ramping down removed may
        /// go on before it is interrupted.
        graceful_ramp_down: Duration,
    },
    /// Each of `vus` VUs runs exactly `iterations` iterations.
    PerVuIterations {
        vus: u64,
        iterations: u64,
        max_duration: Duration,
    },
    /// `vus` VUs share `iterations` iterations between them.
    SharedIterations {
        vus: u64,
        iterations: u64,
        max_duration: Duration,
    },
    /// Iterations start at a fixed rate, whatever the target's speed.
    ConstantArrivalRate {
        rate: Rate,
        duration: Duration,
        vus: VuBudget,
        /// How long an iteration may wait for a free VU before it counts
        /// as dropped; zero drops at once, as k6 does.
        max_lateness: Duration,
    },
    /// The start rate follows `stages` (targets are rates per
    /// `time_unit`) from `start_rate`.
    RampingArrivalRate {
        start_rate: Rate,
        stages: Vec<Stage>,
        vus: VuBudget,
        max_lateness: Duration,
    },
}

impl Executor {
    /// The name k6 and the options use for this executor.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ConstantVus { .. } => "constant-vus",
            Self::RampingVus { .. } => "ramping-vus",
            Self::PerVuIterations { .. } => "per-vu-iterations",
            Self::SharedIterations { .. } => "shared-iterations",
            Self::ConstantArrivalRate { .. } => "constant-arrival-rate",
            Self::RampingArrivalRate { .. } => "ramping-arrival-rate",
        }
    }

    /// The most VUs the scenario can have alive at once.
    pub fn max_vus(&self) -> u64 {
        match self {
            Self::ConstantVus { vus, .. }
            | Self::PerVuIterations { vus, .. }
            | Self::SharedIterations { vus, .. } => *vus,
            Self::RampingVus {
                start_vus, stages, ..
            } => stages.iter().map(|s| s.target).fold(*start_vus, u64::max),
            Self::ConstantArrivalRate { vus, .. } | Self::RampingArrivalRate { vus, .. } => vus.max,
        }
    }

    /// How many VUs are made before the scenario starts.
    pub fn initial_vus(&self) -> u64 {
        match self {
            Self::ConstantArrivalRate { vus, .. } | Self::RampingArrivalRate { vus, .. } => {
                vus.pre_allocated
            }
            Self::SharedIterations {
                vus, iterations, ..
            } => (*vus).min(*iterations),
            other => other.max_vus(),
        }
    }

    /// How long the scenario may start new iterations.
    pub fn duration(&self) -> Duration {
        match self {
            Self::ConstantVus { duration, .. } | Self::ConstantArrivalRate { duration, .. } => {
                *duration
            }
            Self::PerVuIterations { max_duration, .. }
            | Self::SharedIterations { max_duration, .. } => *max_duration,
            Self::RampingVus { stages, .. } | Self::RampingArrivalRate { stages, .. } => {
                stages.iter().map(|s| s.duration).sum()
            }
        }
    }
}
