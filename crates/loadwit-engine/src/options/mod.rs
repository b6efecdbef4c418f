//! Test options in k6's JSON shape, and the plan they resolve to.
//!
//! Options arrive in layers: what the component's `options` export returns,
//! then command-line flags on top. [`Options::overlay`] stacks two layers the
//! way k6 does; [`Options::plan`] turns the result into a [`Plan`] of typed
//! scenarios, or an [`OptionsError`] naming the field at fault.

mod duration;
mod http;

pub(crate) use http::ClientCert;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

pub use duration::parse_duration;
pub use http::{DEFAULT_MAX_REDIRECTS, HttpOptions, HttpSettings, TlsAuth};

/// How long a run of `iterations` may take before it is stopped, as in k6.
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);

/// How long running iterations may finish after a scenario's time is up.
const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);

/// One layer of options, as a component or a user writes them.
///
/// Every field is optional so layers can be stacked; fields this version
/// does not know are kept in `unknown` and reported, not rejected, since
/// k6 options blocks often carry keys for other outputs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    pub vus: Option<u64>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    pub scenarios: Option<BTreeMap<String, ScenarioOptions>>,
    /// Thresholds stay raw here: the metrics crate parses them.
    pub thresholds: Option<serde_json::Value>,
    /// HTTP client options (`maxRedirects`, `insecureSkipTLSVerify`, ...),
    /// at the top level as in k6.
    #[serde(flatten)]
    pub http: HttpOptions,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// One entry of `scenarios`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioOptions {
    pub executor: String,
    pub vus: Option<u64>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub max_duration: Option<Duration>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub graceful_stop: Option<Duration>,
    pub exec: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Why options could not become a plan. Each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("options are not valid JSON in k6's shape: {0}")]
    Json(#[from] serde_json::Error),
    #[error("`{field}` {problem}")]
    Field { field: String, problem: String },
}

impl OptionsError {
    fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl Options {
    /// Parses one layer; an empty or blank text is an empty layer.
    ///
    /// # Errors
    ///
    /// Returns [`OptionsError::Json`] when the text is not an options object.
    pub fn from_json(text: &str) -> Result<Self, OptionsError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        Ok(serde_json::from_str(text)?)
    }

    /// Stacks `top` over `self`, as k6 layers script options under flags.
    ///
    /// Fields set in `top` win. When `top` sets any of the shortcuts
    /// (`vus`, `duration`, `iterations`) it replaces the lower layer's
    /// `scenarios`, as k6 does, so `--vus 5` on the command line means
    /// five VUs whatever the component planned.
    pub fn overlay(mut self, top: Options) -> Options {
        let top_has_shortcut =
            top.vus.is_some() || top.duration.is_some() || top.iterations.is_some();
        if top_has_shortcut && top.scenarios.is_none() {
            self.scenarios = None;
        }
        self.vus = top.vus.or(self.vus);
        self.duration = top.duration.or(self.duration);
        self.iterations = top.iterations.or(self.iterations);
        self.scenarios = top.scenarios.or(self.scenarios);
        self.thresholds = top.thresholds.or(self.thresholds);
        self.http = self.http.overlay(top.http);
        self.unknown.extend(top.unknown);
        self
    }

    /// Resolves the options into scenarios, following k6's shortcut rules:
    /// `scenarios` when given; else `iterations` makes `shared-iterations`;
    /// else `duration` makes `constant-vus`; else one VU runs one iteration.
    ///
    /// # Errors
    ///
    /// Returns an [`OptionsError::Field`] for an unknown executor, a missing
    /// or zero required parameter, or a scenario list that is empty.
    pub fn plan(&self) -> Result<Plan, OptionsError> {
        let scenarios = match &self.scenarios {
            Some(scenarios) if scenarios.is_empty() => {
                return Err(OptionsError::field(
                    "scenarios",
                    "is empty; define at least one",
                ));
            }
            Some(scenarios) => scenarios
                .iter()
                .map(|(name, options)| ScenarioPlan::from_options(name, options))
                .collect::<Result<_, _>>()?,
            None => vec![self.shortcut_scenario()?],
        };
        let http = self.http.resolve()?;
        Ok(Plan { scenarios, http })
    }

    fn shortcut_scenario(&self) -> Result<ScenarioPlan, OptionsError> {
        let vus = positive("vus", self.vus.unwrap_or(1))?;
        let executor = match (self.iterations, self.duration) {
            (Some(iterations), max_duration) => Executor::SharedIterations {
                vus,
                iterations: positive("iterations", iterations)?,
                max_duration: max_duration.unwrap_or(DEFAULT_MAX_DURATION),
            },
            (None, Some(duration)) => Executor::ConstantVus {
                vus,
                duration: nonzero("duration", duration)?,
            },
            (None, None) => Executor::SharedIterations {
                vus,
                iterations: 1,
                max_duration: DEFAULT_MAX_DURATION,
            },
        };
        Ok(ScenarioPlan {
            name: "default".into(),
            exec: "default".into(),
            executor,
            graceful_stop: DEFAULT_GRACEFUL_STOP,
            env: BTreeMap::new(),
            tags: BTreeMap::new(),
        })
    }
}

/// The resolved, validated shape of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenarios: Vec<ScenarioPlan>,
    pub http: HttpSettings,
}

impl Plan {
    /// The most VUs the run can have alive at once.
    pub fn max_vus(&self) -> u64 {
        self.scenarios.iter().map(|s| s.executor.max_vus()).sum()
    }
}

/// One scenario, ready to run.
#[derive(Debug, Clone)]
pub struct ScenarioPlan {
    pub name: String,
    /// Passed to the component's `run` export to pick the workload.
    pub exec: String,
    pub executor: Executor,
    /// How long iterations still running when time is up may go on.
    pub graceful_stop: Duration,
    pub env: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// How a scenario schedules its iterations, with k6's parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// `vus` VUs loop over iterations for `duration`.
    ConstantVus { vus: u64, duration: Duration },
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
}

impl Executor {
    /// The name k6 and the options use for this executor.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ConstantVus { .. } => "constant-vus",
            Self::PerVuIterations { .. } => "per-vu-iterations",
            Self::SharedIterations { .. } => "shared-iterations",
        }
    }

    pub fn max_vus(&self) -> u64 {
        match *self {
            Self::ConstantVus { vus, .. }
            | Self::PerVuIterations { vus, .. }
            | Self::SharedIterations { vus, .. } => vus,
        }
    }

    /// How long the scenario may schedule new iterations.
    pub fn duration(&self) -> Duration {
        match *self {
            Self::ConstantVus { duration, .. } => duration,
            Self::PerVuIterations { max_duration, .. }
            | Self::SharedIterations { max_duration, .. } => max_duration,
        }
    }
}

impl ScenarioPlan {
    fn from_options(name: &str, options: &ScenarioOptions) -> Result<Self, OptionsError> {
        let field = |key: &str| format!("scenarios.{name}.{key}");
        let vus = positive(&field("vus"), options.vus.unwrap_or(1))?;
        let executor = match options.executor.as_str() {
            "constant-vus" => Executor::ConstantVus {
                vus,
                duration: nonzero(
                    &field("duration"),
                    required(&field("duration"), options.duration)?,
                )?,
            },
            "per-vu-iterations" => Executor::PerVuIterations {
                vus,
                iterations: positive(&field("iterations"), options.iterations.unwrap_or(1))?,
                max_duration: options.max_duration.unwrap_or(DEFAULT_MAX_DURATION),
            },
            "shared-iterations" => Executor::SharedIterations {
                vus,
                iterations: positive(&field("iterations"), options.iterations.unwrap_or(1))?,
                max_duration: options.max_duration.unwrap_or(DEFAULT_MAX_DURATION),
            },
            other => {
                return Err(OptionsError::field(
                    field("executor"),
                    format!(
                        "is `{other}`, which this version cannot run; \
                         use constant-vus, per-vu-iterations or shared-iterations"
                    ),
                ));
            }
        };
        Ok(Self {
            name: name.to_owned(),
            exec: options.exec.clone().unwrap_or_else(|| "default".into()),
            executor,
            graceful_stop: options.graceful_stop.unwrap_or(DEFAULT_GRACEFUL_STOP),
            env: options.env.clone(),
            tags: options.tags.clone(),
        })
    }
}

fn required<T>(field: &str, value: Option<T>) -> Result<T, OptionsError> {
    value.ok_or_else(|| OptionsError::field(field, "is required for this executor"))
}

fn positive(field: &str, value: u64) -> Result<u64, OptionsError> {
    if value == 0 {
        return Err(OptionsError::field(field, "must be at least 1"));
    }
    Ok(value)
}

fn nonzero(field: &str, value: Duration) -> Result<Duration, OptionsError> {
    if value.is_zero() {
        return Err(OptionsError::field(field, "must be longer than zero"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> Result<Plan, OptionsError> {
        Options::from_json(json)?.plan()
    }

    #[test]
    fn shortcuts_follow_k6() {
        let p = plan(r#"{"vus": 20, "duration": "5s"}"#).unwrap();
        assert_eq!(
            p.scenarios[0].executor,
            Executor::ConstantVus {
                vus: 20,
                duration: Duration::from_secs(5)
            }
        );
        let p = plan(r#"{"vus": 3, "iterations": 10}"#).unwrap();
        assert_eq!(p.scenarios[0].executor.name(), "shared-iterations");
        let p = plan("").unwrap();
        assert_eq!(p.max_vus(), 1);
    }

    #[test]
    fn flags_replace_component_scenarios() {
        let component = Options::from_json(
            r#"{"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 7, "iterations": 13}}}"#,
        )
        .unwrap();
        let flags = Options {
            vus: Some(2),
            duration: Some(Duration::from_secs(1)),
            ..Options::default()
        };
        let p = component.overlay(flags).plan().unwrap();
        assert_eq!(p.scenarios.len(), 1);
        assert_eq!(p.scenarios[0].executor.name(), "constant-vus");
        assert_eq!(p.max_vus(), 2);
    }

    #[test]
    fn bad_scenarios_name_their_field() {
        let err = plan(r#"{"scenarios": {"s": {"executor": "warp-speed"}}}"#).unwrap_err();
        assert!(err.to_string().contains("`scenarios.s.executor`"), "{err}");
        let err =
            plan(r#"{"scenarios": {"s": {"executor": "constant-vus", "vus": 2}}}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("`scenarios.s.duration` is required"),
            "{err}"
        );
        let err = plan(r#"{"vus": 0, "duration": "1s"}"#).unwrap_err();
        assert!(
            err.to_string().contains("`vus` must be at least 1"),
            "{err}"
        );
        assert!(plan(r#"{"duration": "soon"}"#).is_err());
        assert!(plan("{not json").is_err());
    }
}
