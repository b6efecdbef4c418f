//! A test run from start to end: setup, scenarios, teardown, totals.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use loadwit_metrics::{Aggregate, Builtin, Sample, TagSet};

use crate::error::{LoadError, RunError};
use crate::executor;
use crate::host::{HttpClient, HttpRun, VuContext};
use crate::options::{Options, Plan, ScenarioPlan};
use crate::recorder::{Aggregator, Recorder};
use crate::sandbox::{ComponentFile, Sandbox};
use crate::stop::{Stop, StopLevel};
use crate::vu::Vu;

/// How often the `vus` gauge is sampled.
const VUS_SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// A loaded scenario component, its own options read, ready to run.
pub struct Test {
    file: ComponentFile,
    /// A single-instance sandbox for `options`, `setup` and `teardown`.
    control: Sandbox,
    options: Options,
}

impl Test {
    /// Loads and checks the component at `path`, then asks it for its
    /// options. Compiled code is cached in `cache_dir` when given.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] when the file is not a loadwit component, or a
    /// [`RunError`] when its `options` export traps or returns invalid
    /// JSON.
    pub async fn load(path: &Path, cache_dir: Option<PathBuf>) -> Result<Self, TestError> {
        let file = ComponentFile::read(path, cache_dir)?;
        let control = Sandbox::new(&file, 1)?;
        let context = control_context("options", Recorder::discard(), &BTreeMap::new());
        let mut probe = Vu::new(&control, context).await?;
        let text = probe.call_options().await?;
        let options = Options::from_json(&text).map_err(|e| TestError::Options(e.to_string()))?;
        Ok(Self {
            file,
            control,
            options,
        })
    }

    /// The options the component exported.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Runs `plan` to the end, or until `stop` says otherwise.
    ///
    /// `env` is what the guest's `env` lookups see, under each scenario's
    /// own `env`.
    ///
    /// # Errors
    ///
    /// A [`RunError`] when VUs cannot be created or `setup` fails; nothing
    /// ran then. Once scenarios have started the run always returns a
    /// [`Report`], with a `teardown` failure inside it.
    pub async fn run(
        &self,
        plan: &Plan,
        env: &BTreeMap<String, String>,
        stop: &Stop,
    ) -> Result<Report, TestError> {
        let aggregator = Aggregator::spawn();
        let vus_max = plan.max_vus();
        let pool_size = u32::try_from(vus_max).unwrap_or(u32::MAX);
        let sandbox = Sandbox::new(&self.file, pool_size.max(2))?;

        let context = control_context("setup", aggregator.recorder(), env);
        let mut control = Vu::new(&self.control, context).await?;
        let setup_data = match control.call_setup().await {
            Ok(data) => data,
            Err(error) => {
                drop(control);
                return Err(TestError::Setup {
                    error,
                    aggregate: Box::new(aggregator.finish()),
                });
            }
        };

        let shared = Arc::new(Shared {
            sandbox,
            setup_data,
            stop: stop.clone(),
            vus: VuGauge::default(),
        });
        let started = Instant::now();
        let http = Arc::new(HttpRun::new(plan.http.clone()));
        let vus = make_vus(plan, env, &shared, &aggregator, &http).await?;
        shared.vus.max.store(vus_max, Ordering::Relaxed);
        let sampler = tokio::spawn(sample_vus(shared.clone(), aggregator.recorder()));

        let scenarios: Vec<_> = plan
            .scenarios
            .iter()
            .cloned()
            .zip(vus)
            .map(|(scenario, vus)| {
                tokio::spawn(executor::run_scenario(
                    Arc::new(scenario),
                    vus,
                    shared.clone(),
                ))
            })
            .collect();
        for scenario in scenarios {
            if let Err(error) = scenario.await {
                tracing::error!(%error, "a scenario task failed");
            }
        }
        let elapsed = started.elapsed();
        sampler.abort();
        let _ = sampler.await;

        let teardown = match stop.level() {
            StopLevel::Hard => None,
            _ => control.call_teardown(&shared.setup_data).await.err(),
        };
        drop(control);
        drop(shared);
        Ok(Report {
            aggregate: aggregator.finish(),
            elapsed,
            vus_max,
            stopped: stop.level(),
            teardown,
        })
    }
}

/// What a finished run hands back.
pub struct Report {
    pub aggregate: Aggregate,
    /// From the first iteration's start to the last one's end.
    pub elapsed: Duration,
    pub vus_max: u64,
    /// How far a stop from outside went, [`StopLevel::Running`] if none.
    pub stopped: StopLevel,
    /// The component's `teardown` error, if it returned one.
    pub teardown: Option<RunError>,
}

/// Why a test could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the component's options are invalid: {0}")]
    Options(String),
    #[error(transparent)]
    Run(#[from] RunError),
    /// `setup` failed; `aggregate` holds what it recorded before failing.
    #[error("{error}")]
    Setup {
        error: RunError,
        aggregate: Box<Aggregate>,
    },
}

/// What every VU task of a run shares.
pub(crate) struct Shared {
    pub sandbox: Sandbox,
    pub setup_data: Vec<u8>,
    pub stop: Stop,
    pub vus: VuGauge,
}

/// Live and initialised VU counts, for the `vus` and `vus_max` gauges.
///
/// A VU counts as active from its creation until its loop ends, so the
/// gauge reads the full count from the first sample on.
#[derive(Default)]
pub(crate) struct VuGauge {
    active: AtomicU64,
    max: AtomicU64,
}

impl VuGauge {
    fn created(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a created VU as inactive when the guard drops.
    pub(crate) fn until_done(&self) -> ActiveVu<'_> {
        ActiveVu(&self.active)
    }
}

pub(crate) struct ActiveVu<'a>(&'a AtomicU64);

impl Drop for ActiveVu<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Creates every scenario's VUs before the clock starts, as k6 does, so
/// instantiation cost never shows up in the scenario's timing.
async fn make_vus(
    plan: &Plan,
    env: &BTreeMap<String, String>,
    shared: &Shared,
    aggregator: &Aggregator,
    http: &Arc<HttpRun>,
) -> Result<Vec<Vec<Vu>>, RunError> {
    let mut next_id = 1_u32;
    let mut all = Vec::with_capacity(plan.scenarios.len());
    for scenario in &plan.scenarios {
        let env = Arc::new(scenario_env(env, scenario));
        let tags = scenario_tags(scenario);
        let name: Arc<str> = scenario.name.as_str().into();
        let count = executor::vus_needed(&scenario.executor);
        let mut vus = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let context = VuContext {
                id: next_id,
                scenario: name.clone(),
                iteration: 0,
                env: env.clone(),
                tags: tags.clone(),
                http: HttpClient::new(http.clone()),
                recorder: aggregator.recorder(),
            };
            vus.push(Vu::new(&shared.sandbox, context).await?);
            shared.vus.created();
            next_id += 1;
        }
        all.push(vus);
    }
    Ok(all)
}

fn scenario_env(
    global: &BTreeMap<String, String>,
    scenario: &ScenarioPlan,
) -> BTreeMap<String, String> {
    let mut env = global.clone();
    env.extend(scenario.env.clone());
    env
}

fn scenario_tags(scenario: &ScenarioPlan) -> TagSet {
    TagSet::new(
        scenario
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain([("scenario".to_owned(), scenario.name.clone())]),
    )
}

/// The context of the instance that runs `options`, `setup` and
/// `teardown`: VU 0, outside any scenario.
fn control_context(stage: &str, recorder: Recorder, env: &BTreeMap<String, String>) -> VuContext {
    VuContext {
        id: 0,
        scenario: stage.into(),
        iteration: 0,
        env: Arc::new(env.clone()),
        tags: TagSet::new([("scenario", stage)]),
        http: HttpClient::new(Arc::default()),
        recorder,
    }
}

/// Records `vus` and `vus_max` once a second until aborted.
async fn sample_vus(shared: Arc<Shared>, mut recorder: Recorder) {
    let mut ticks = tokio::time::interval(VUS_SAMPLE_EVERY);
    loop {
        ticks.tick().await;
        let active = shared.vus.active.load(Ordering::Relaxed) as f64;
        let max = shared.vus.max.load(Ordering::Relaxed) as f64;
        recorder.record(Sample::Gauge {
            metric: Builtin::Vus,
            tags: TagSet::default(),
            value: active,
        });
        recorder.record(Sample::Gauge {
            metric: Builtin::VusMax,
            tags: TagSet::default(),
            value: max,
        });
        recorder.flush();
    }
}
