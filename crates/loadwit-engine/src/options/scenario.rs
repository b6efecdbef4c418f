//! One `scenarios` entry checked and turned into a [`ScenarioPlan`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::OptionsError;
use super::duration;
use super::plan::{Executor, Rate, ScenarioPlan, Stage, VuBudget};

/// How long a run of `iterations` may take before it is stopped, as in k6.
pub(super) const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);

/// How long running iterations may finish after a scenario's time is up.
pub(super) const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);

/// The executors this version runs, for error hints.
const EXECUTORS: &str = "constant-vus, ramping-vus, per-vu-iterations, shared-iterations, \
                         constant-arrival-rate or ramping-arrival-rate";

/// One entry of `scenarios`, as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioOptions {
    pub executor: String,
    pub vus: Option<u64>,
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_duration: Option<Duration>,
    #[serde(rename = "startVUs")]
    pub start_vus: Option<u64>,
    pub stages: Option<Vec<StageOptions>>,
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub graceful_ramp_down: Option<Duration>,
    pub rate: Option<f64>,
    pub start_rate: Option<f64>,
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_unit: Option<Duration>,
    #[serde(rename = "preAllocatedVUs")]
    pub pre_allocated_vus: Option<u64>,
    #[serde(rename = "maxVUs")]
    pub max_vus: Option<u64>,
    /// loadwit's own: how long an arrival-rate iteration may wait for a
    /// free VU before it is dropped (k6 drops at once).
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_lateness: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub graceful_stop: Option<Duration>,
    pub exec: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One stage as written; both fields are checked by the plan so a
/// missing one is named with its index.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageOptions {
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    pub target: Option<f64>,
}

/// Names fields as `scenarios.NAME.KEY`.
struct Fields<'a>(&'a str);

impl Fields<'_> {
    fn name(&self, key: &str) -> String {
        format!("scenarios.{}.{key}", self.0)
    }
}

impl ScenarioPlan {
    pub(super) fn from_options(
        name: &str,
        options: &ScenarioOptions,
    ) -> Result<Self, OptionsError> {
        let fields = Fields(name);
        let executor = executor(&fields, options)?;
        Ok(Self {
            name: name.to_owned(),
            exec: options.exec.clone().unwrap_or_else(|| "default".into()),
            executor,
            start_time: options.start_time.unwrap_or_default(),
            graceful_stop: options.graceful_stop.unwrap_or(DEFAULT_GRACEFUL_STOP),
            env: options.env.clone(),
            tags: options.tags.clone(),
            share: None,
        })
    }
}

fn executor(fields: &Fields<'_>, o: &ScenarioOptions) -> Result<Executor, OptionsError> {
    let f = |key: &str| fields.name(key);
    let vus = || positive(&f("vus"), o.vus.unwrap_or(1));
    let iterations = || positive(&f("iterations"), o.iterations.unwrap_or(1));
    let max_duration = o.max_duration.unwrap_or(DEFAULT_MAX_DURATION);
    Ok(match o.executor.as_str() {
        "constant-vus" => Executor::ConstantVus {
            vus: vus()?,
            duration: nonzero(&f("duration"), required(&f("duration"), o.duration)?)?,
        },
        "ramping-vus" => Executor::RampingVus {
            start_vus: o.start_vus.unwrap_or(1),
            stages: stages(&f("stages"), o.stages.as_deref())?,
            graceful_ramp_down: o.graceful_ramp_down.unwrap_or(DEFAULT_GRACEFUL_STOP),
        },
        "per-vu-iterations" => Executor::PerVuIterations {
            vus: vus()?,
            iterations: iterations()?,
            max_duration,
        },
        "shared-iterations" => Executor::SharedIterations {
            vus: vus()?,
            iterations: iterations()?,
            max_duration,
        },
        "constant-arrival-rate" => Executor::ConstantArrivalRate {
            rate: rate(fields, o, required(&f("rate"), o.rate)?)?,
            duration: nonzero(&f("duration"), required(&f("duration"), o.duration)?)?,
            vus: vu_budget(fields, o)?,
            max_lateness: o.max_lateness.unwrap_or_default(),
        },
        "ramping-arrival-rate" => Executor::RampingArrivalRate {
            start_rate: rate(fields, o, o.start_rate.unwrap_or(0.0))?,
            stages: stages(&f("stages"), o.stages.as_deref())?,
            vus: vu_budget(fields, o)?,
            max_lateness: o.max_lateness.unwrap_or_default(),
        },
        other => {
            return Err(OptionsError::field(
                f("executor"),
                format!("is `{other}`, which this version cannot run; use {EXECUTORS}"),
            ));
        }
    })
}

fn rate(fields: &Fields<'_>, o: &ScenarioOptions, iterations: f64) -> Result<Rate, OptionsError> {
    let key = if o.executor == "constant-arrival-rate" {
        "rate"
    } else {
        "startRate"
    };
    if !(iterations.is_finite() && iterations >= 0.0) {
        return Err(OptionsError::field(
            fields.name(key),
            "must be zero or more",
        ));
    }
    let time_unit = o.time_unit.unwrap_or(Duration::from_secs(1));
    Ok(Rate {
        iterations,
        time_unit: nonzero(&fields.name("timeUnit"), time_unit)?,
    })
}

fn vu_budget(fields: &Fields<'_>, o: &ScenarioOptions) -> Result<VuBudget, OptionsError> {
    let pre_allocated = required(&fields.name("preAllocatedVUs"), o.pre_allocated_vus)?;
    let max = o.max_vus.unwrap_or(pre_allocated);
    if max < pre_allocated {
        return Err(OptionsError::field(
            fields.name("maxVUs"),
            format!("is {max}, below `preAllocatedVUs` ({pre_allocated}); raise it or omit it"),
        ));
    }
    positive(&fields.name("maxVUs"), max)?;
    Ok(VuBudget { pre_allocated, max })
}

/// Checks a stage list: present, not empty, every stage with a duration
/// and a whole, non-negative target.
pub(super) fn stages(
    field: &str,
    stages: Option<&[StageOptions]>,
) -> Result<Vec<Stage>, OptionsError> {
    let stages = required(field, stages)?;
    if stages.is_empty() {
        return Err(OptionsError::field(
            field,
            "is empty; add a stage like `{\"duration\": \"30s\", \"target\": 10}`",
        ));
    }
    stages
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let duration = required(&format!("{field}[{i}].duration"), stage.duration)?;
            let target = required(&format!("{field}[{i}].target"), stage.target)?;
            if !(target.is_finite() && target >= 0.0 && target.fract() == 0.0) {
                return Err(OptionsError::field(
                    format!("{field}[{i}].target"),
                    format!("is {target}; use a whole number, zero or more"),
                ));
            }
            Ok(Stage {
                duration,
                target: target as u64,
            })
        })
        .collect()
}

pub(super) fn required<T>(field: &str, value: Option<T>) -> Result<T, OptionsError> {
    value.ok_or_else(|| OptionsError::field(field, "is required for this executor"))
}

pub(super) fn positive(field: &str, value: u64) -> Result<u64, OptionsError> {
    if value == 0 {
        return Err(OptionsError::field(field, "must be at least 1"));
    }
    Ok(value)
}

pub(super) fn nonzero(field: &str, value: Duration) -> Result<Duration, OptionsError> {
    if value.is_zero() {
        return Err(OptionsError::field(field, "must be longer than zero"));
    }
    Ok(value)
}
