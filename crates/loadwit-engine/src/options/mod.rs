//! Test options in k6's JSON shape, and the plan they resolve to.
//!
//! Options arrive in layers, lowest first: what the component's `options`
//! export returns, a `--config` file, the `LOADWIT_*` variables
//! ([`Options::from_env`]) and the command-line flags.
//! [`Options::overlay`] stacks two layers the way k6 does; [`Options::plan`]
//! checks the result and turns it into a [`Plan`] of typed scenarios, or an
//! [`OptionsError`] naming the field at fault.

mod duration;
mod env;
mod http;
mod plan;
mod scenario;
pub mod segment;
mod split;

pub(crate) use http::ClientCert;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use duration::parse_duration;
pub use env::{VARIABLES as ENV_VARIABLES, parse_stage};
pub use http::{DEFAULT_MAX_REDIRECTS, HttpOptions, HttpSettings, TlsAuth};
pub use plan::{Executor, Plan, Rate, ScenarioPlan, Share, Stage, VuBudget};
use scenario::{DEFAULT_GRACEFUL_STOP, DEFAULT_MAX_DURATION, nonzero, positive, stages};
pub use scenario::{ScenarioOptions, StageOptions};
pub use segment::{ExecutionSegment, SegmentError, SegmentSequence, Stripe};

/// One layer of options, as a component or a user writes them.
///
/// Every field is optional so layers can be stacked; fields this version
/// does not know are kept in `unknown` and reported, not rejected, since
/// k6 options blocks often carry keys for other outputs. Serialized, a
/// layer is k6's JSON again (durations as text), which is how resolved
/// options travel to the agents of a distributed run.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vus: Option<u64>,
    #[serde(
        default,
        deserialize_with = "duration::deserialize_opt",
        serialize_with = "duration::serialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<StageOptions>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<BTreeMap<String, ScenarioOptions>>,
    /// Thresholds stay raw here: the metrics crate parses them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<serde_json::Value>,
    /// HTTP client options (`maxRedirects`, `insecureSkipTLSVerify`, ...),
    /// at the top level as in k6.
    #[serde(flatten)]
    pub http: HttpOptions,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// Why options could not become a plan. Each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("options are not valid JSON in k6's shape: {0}")]
    Json(#[from] serde_json::Error),
    #[error("`{path}` is invalid: {message}")]
    Shape { path: String, message: String },
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
    /// [`OptionsError::Shape`] naming the field whose value has the wrong
    /// type or form (a negative duration, say), or [`OptionsError::Json`]
    /// when the text is not JSON at all.
    pub fn from_json(text: &str) -> Result<Self, OptionsError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut json = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut json).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if path == "." || inner.is_syntax() || inner.is_eof() {
                return OptionsError::Json(inner);
            }
            OptionsError::Shape {
                path,
                message: strip_position(&inner.to_string()),
            }
        })
    }

    /// Stacks `top` over `self`, as k6 layers script options under flags.
    ///
    /// Fields set in `top` win. When `top` sets any of the shortcuts
    /// (`vus`, `duration`, `iterations`, `stages`) it replaces the lower
    /// layer's `scenarios`, as k6 does, so `--vus 5` on the command line
    /// means five VUs whatever the component planned. When it sets one of
    /// `duration`, `iterations` or `stages`, the lower layer's others of
    /// those go too: the top layer's shape wins whole.
    pub fn overlay(mut self, top: Options) -> Options {
        let top_has_shape =
            top.duration.is_some() || top.iterations.is_some() || top.stages.is_some();
        if (top_has_shape || top.vus.is_some()) && top.scenarios.is_none() {
            self.scenarios = None;
        }
        if top_has_shape {
            self.duration = None;
            self.iterations = None;
            self.stages = None;
        }
        self.vus = top.vus.or(self.vus);
        self.duration = top.duration.or(self.duration);
        self.iterations = top.iterations.or(self.iterations);
        self.stages = top.stages.or(self.stages);
        self.scenarios = top.scenarios.or(self.scenarios);
        self.thresholds = top.thresholds.or(self.thresholds);
        self.http = self.http.overlay(top.http);
        self.unknown.extend(top.unknown);
        self
    }

    /// Checks the options and resolves them into scenarios, following
    /// k6's shortcut rules: `scenarios` when given; else `stages` make
    /// `ramping-vus`; else `iterations` make `shared-iterations`; else
    /// `duration` makes `constant-vus`; else one VU runs one iteration.
    ///
    /// # Errors
    ///
    /// An [`OptionsError::Field`] for an unknown executor, a missing or
    /// zero required parameter, `maxVUs` below `preAllocatedVUs`, a stage
    /// with no duration, shortcuts that contradict each other, or an empty
    /// scenario list.
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
        Ok(Plan {
            scenarios,
            http,
            segment: ExecutionSegment::default(),
            sequence: SegmentSequence::default(),
        })
    }

    fn shortcut_scenario(&self) -> Result<ScenarioPlan, OptionsError> {
        let vus = positive("vus", self.vus.unwrap_or(1))?;
        let executor = match (&self.stages, self.iterations, self.duration) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(OptionsError::field(
                    "stages",
                    "cannot be combined with `duration` or `iterations`; use one of them",
                ));
            }
            (Some(list), None, None) => Executor::RampingVus {
                start_vus: self.vus.unwrap_or(1),
                stages: stages("stages", Some(list))?,
                graceful_ramp_down: DEFAULT_GRACEFUL_STOP,
            },
            (None, Some(iterations), max_duration) => Executor::SharedIterations {
                vus,
                iterations: positive("iterations", iterations)?,
                max_duration: max_duration.unwrap_or(DEFAULT_MAX_DURATION),
            },
            (None, None, Some(duration)) => Executor::ConstantVus {
                vus,
                duration: nonzero("duration", duration)?,
            },
            (None, None, None) => Executor::SharedIterations {
                vus,
                iterations: 1,
                max_duration: DEFAULT_MAX_DURATION,
            },
        };
        Ok(ScenarioPlan {
            name: "default".into(),
            exec: "default".into(),
            executor,
            start_time: Duration::ZERO,
            graceful_stop: DEFAULT_GRACEFUL_STOP,
            env: BTreeMap::new(),
            tags: BTreeMap::new(),
            share: None,
        })
    }
}

/// serde_json appends ` at line L column C`; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
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
    fn a_layer_written_out_resolves_to_the_same_plan() {
        let layer = Options::from_json(
            r#"{"scenarios": {"s": {"executor": "ramping-arrival-rate", "startRate": 2,
                "timeUnit": "1s", "preAllocatedVUs": 2, "maxVUs": 4, "startTime": "1.5s",
                "stages": [{"duration": "10s", "target": 8}], "tags": {"k": "v"}}},
                "maxRedirects": 3, "thresholds": {"checks": ["rate>0.9"]}, "tags": {"env": "ci"}}"#,
        )
        .unwrap();
        let text = serde_json::to_string(&layer).unwrap();
        let again = Options::from_json(&text).unwrap();
        let scenarios = |o: &Options| format!("{:?}", o.plan().unwrap().scenarios);
        assert_eq!(scenarios(&again), scenarios(&layer));
        assert_eq!(again.thresholds, layer.thresholds);
        assert_eq!(again.unknown, layer.unknown);
        assert_eq!(again.http.max_redirects, Some(3));
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

    #[test]
    fn higher_layer_shapes_replace_lower_ones() {
        let component = Options::from_json(r#"{"vus": 2, "duration": "5s"}"#).unwrap();
        let env = Options::from_json(r#"{"stages": [{"duration": "3s", "target": 6}]}"#).unwrap();
        let p = component.overlay(env).plan().unwrap();
        assert_eq!(
            p.scenarios[0].executor,
            Executor::RampingVus {
                start_vus: 2,
                stages: vec![Stage {
                    duration: Duration::from_secs(3),
                    target: 6
                }],
                graceful_ramp_down: Duration::from_secs(30),
            }
        );
    }

    #[test]
    fn contradictions_and_bad_shapes_name_their_field() {
        let err =
            plan(r#"{"stages": [{"duration": "1s", "target": 1}], "duration": "5s"}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("`stages` cannot be combined"),
            "{err}"
        );
        let err = plan(r#"{"scenarios": {"s": {"executor": "constant-vus", "vus": "ten"}}}"#)
            .unwrap_err();
        assert!(
            err.to_string().starts_with("`scenarios.s.vus` is invalid"),
            "{err}"
        );
        let err = plan(
            r#"{"scenarios": {"s": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 1,
                "stages": [{"duration": "1s", "target": 2.5}]}}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`scenarios.s.stages[0].target`"),
            "{err}"
        );
        let p = plan(
            r#"{"scenarios": {"s": {"executor": "constant-arrival-rate", "rate": 30,
                "timeUnit": "1m", "duration": "1m", "preAllocatedVUs": 3, "startTime": "10s"}}}"#,
        )
        .unwrap();
        assert_eq!(p.max_vus(), 3, "maxVUs defaults to preAllocatedVUs");
        assert_eq!(p.max_duration(), Duration::from_secs(100));
    }
}
