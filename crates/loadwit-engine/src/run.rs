//! A test run from start to end: setup, scenarios, teardown, totals.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use loadwit_metrics::{Aggregate, Builtin, Sample, TagSet};
use loadwit_otel::Tracing;

use crate::error::{LoadError, RunError};
use crate::executor;
use crate::host::{HttpClient, HttpRun, VuContext};
use crate::options::{Options, Plan, ScenarioPlan};
use crate::recorder::{Aggregator, Live, Recorder};
use crate::sandbox::{ComponentFile, Sandbox};
use crate::stop::{Stop, StopLevel, StopReason};
use crate::trace::VuTrace;
use crate::vu::{Vu, VuFactory};

/// How often the `vus` gauge is sampled.
const VUS_SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// A loaded scenario component, its own options read, ready to run.
pub struct Test {
    file: ComponentFile,
    /// A single-instance sandbox for `options`, `setup` and `teardown`.
    control: Sandbox,
    options: Options,
    /// How the next run is watched live; taken by [`Test::run`].
    live: Mutex<Option<Live>>,
    /// The run's tracer; `None` when nothing is traced.
    tracing: Option<Tracing>,
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
        let context = control_context(
            "options",
            Recorder::discard(),
            &BTreeMap::new(),
            Arc::default(),
        );
        let mut probe = Vu::new(&control, context).await?;
        let text = probe.call_options().await?;
        let options = Options::from_json(&text).map_err(|e| TestError::Options(e.to_string()))?;
        Ok(Self {
            file,
            control,
            options,
            live: Mutex::new(None),
            tracing: None,
        })
    }

    /// Watches the next run live: its aggregator hands batches and
    /// intervals to `live.observer`.
    pub fn with_live(self, live: Live) -> Self {
        *self.live.lock().expect("the live lock is never poisoned") = Some(live);
        self
    }

    /// Traces the run: every iteration (and `setup` and `teardown`) is a
    /// trace, every request a client span carrying trace context. A
    /// disabled tracer is the same as none.
    pub fn with_tracing(mut self, tracing: Tracing) -> Self {
        self.tracing = tracing.is_enabled().then_some(tracing);
        self
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
        let (aggregator, http, sandbox) = self.begin(plan)?;
        let context = control_context("setup", aggregator.recorder(), env, http.clone());
        let mut control = Vu::new(&self.control, context).await?;
        control.context().trace = VuTrace::new(self.tracing.clone());
        let setup_data = match control.call_setup().await {
            Ok(data) => Arc::<str>::from(data),
            Err(error) => {
                drop(control);
                return Err(TestError::Setup {
                    error,
                    aggregate: Box::new(aggregator.finish()),
                });
            }
        };

        let run = Scenarios {
            plan,
            env,
            stop,
            aggregator: &aggregator,
            http: &http,
            tracing: self.tracing.as_ref(),
        };
        let driven = run.drive(sandbox, setup_data, None).await?;
        let teardown = match stop.level() {
            StopLevel::Hard => None,
            _ => {
                control.context().setup_data = driven.shared.setup_data.clone();
                control.call_teardown().await.err()
            }
        };
        drop(control);
        Ok(driven.report(aggregator.finish(), stop, teardown))
    }

    /// Runs `plan` as one share of a distributed test: `setup` and
    /// `teardown` run elsewhere, once for the whole test, so this run
    /// takes `setup`'s bytes from `share` and starts its scenarios at the
    /// instant `share` is told, the same for every share.
    ///
    /// # Errors
    ///
    /// A [`RunError`] when VUs cannot be created; nothing ran then.
    pub async fn run_share(
        &self,
        plan: &Plan,
        env: &BTreeMap<String, String>,
        stop: &Stop,
        share: Share,
    ) -> Result<Report, TestError> {
        let (aggregator, http, sandbox) = self.begin(plan)?;
        let run = Scenarios {
            plan,
            env,
            stop,
            aggregator: &aggregator,
            http: &http,
            tracing: self.tracing.as_ref(),
        };
        let start = StartSignal {
            prepared: share.prepared,
            start_at: share.start_at,
        };
        let driven = run
            .drive(sandbox, Arc::from(share.setup_data), Some(start))
            .await?;
        Ok(driven.report(aggregator.finish(), stop, None))
    }

    /// Runs only the component's `setup`, for a distributed test whose
    /// shares run elsewhere ([`Test::run_share`]).
    ///
    /// # Errors
    ///
    /// [`TestError::Setup`] when `setup` fails, with what it recorded.
    pub async fn setup(
        &self,
        plan: &Plan,
        env: &BTreeMap<String, String>,
    ) -> Result<Setup, TestError> {
        let aggregator = Aggregator::spawn(None);
        let http = Arc::new(HttpRun::new(plan.http.clone(), false));
        let context = control_context("setup", aggregator.recorder(), env, http);
        let mut control = Vu::new(&self.control, context).await?;
        control.context().trace = VuTrace::new(self.tracing.clone());
        let result = control.call_setup().await;
        drop(control);
        let aggregate = aggregator.finish();
        match result {
            Ok(data) => Ok(Setup { data, aggregate }),
            Err(error) => Err(TestError::Setup {
                error,
                aggregate: Box::new(aggregate),
            }),
        }
    }

    /// Runs only the component's `teardown` with `setup`'s bytes, after
    /// every share of a distributed test has ended.
    ///
    /// # Errors
    ///
    /// A [`RunError`] when the instance cannot be made; a failing
    /// `teardown` itself is in the returned [`Teardown`].
    pub async fn teardown(
        &self,
        plan: &Plan,
        env: &BTreeMap<String, String>,
        data: &str,
    ) -> Result<Teardown, TestError> {
        let aggregator = Aggregator::spawn(None);
        let http = Arc::new(HttpRun::new(plan.http.clone(), false));
        let context = control_context("teardown", aggregator.recorder(), env, http);
        let mut control = Vu::new(&self.control, context).await?;
        control.context().trace = VuTrace::new(self.tracing.clone());
        control.context().setup_data = Arc::from(data);
        let error = control.call_teardown().await.err();
        drop(control);
        Ok(Teardown {
            aggregate: aggregator.finish(),
            error,
        })
    }

    /// What every run of scenarios starts from: the aggregator (watched
    /// live when asked), the HTTP settings, and the pool VUs come from.
    fn begin(&self, plan: &Plan) -> Result<(Aggregator, Arc<HttpRun>, Sandbox), LoadError> {
        let live = self.live.lock().map(|mut l| l.take()).unwrap_or(None);
        let tag_url = live.as_ref().is_some_and(Live::keeps_url);
        let aggregator = Aggregator::spawn(live);
        let http = Arc::new(HttpRun::new(plan.http.clone(), tag_url));
        let sandbox = pool_sandbox(&self.file, plan)?;
        Ok((aggregator, http, sandbox))
    }
}

/// How a run that is one share of a distributed test begins.
pub struct Share {
    /// What the test's one `setup` returned.
    pub setup_data: String,
    /// Told once every VU the scenarios start with has been made.
    pub prepared: oneshot::Sender<()>,
    /// When to start the scenarios, on the wall clock. A sender dropped
    /// without sending calls the run off: it ends without an iteration.
    pub start_at: oneshot::Receiver<SystemTime>,
}

/// What [`Test::setup`] hands back.
pub struct Setup {
    /// What every VU and `teardown` read as `setup`'s data.
    pub data: String,
    /// What `setup` recorded (its requests count in the test's totals).
    pub aggregate: Aggregate,
}

/// What [`Test::teardown`] hands back.
pub struct Teardown {
    /// What `teardown` recorded.
    pub aggregate: Aggregate,
    /// The component's `teardown` error, if it returned one.
    pub error: Option<RunError>,
}

/// The pool every scenario VU of `plan` is made from.
fn pool_sandbox(file: &ComponentFile, plan: &Plan) -> Result<Sandbox, LoadError> {
    let pool_size = u32::try_from(plan.max_vus()).unwrap_or(u32::MAX);
    Sandbox::new(file, pool_size.max(2))
}

/// The scenarios of one run, between `setup` and `teardown`.
struct Scenarios<'a> {
    plan: &'a Plan,
    env: &'a BTreeMap<String, String>,
    stop: &'a Stop,
    aggregator: &'a Aggregator,
    http: &'a Arc<HttpRun>,
    /// The run's tracer; `None` when nothing is traced.
    tracing: Option<&'a Tracing>,
}

/// The handshake of a share's start: VUs made, then the agreed instant.
struct StartSignal {
    prepared: oneshot::Sender<()>,
    start_at: oneshot::Receiver<SystemTime>,
}

/// What running the scenarios leaves for the report.
struct Driven {
    elapsed: Duration,
    vus_max: u64,
    vus_timeline: Vec<(Duration, u64)>,
    /// Kept for `teardown`, which gets `setup`'s bytes.
    shared: Arc<Shared>,
}

impl Driven {
    fn report(self, aggregate: Aggregate, stop: &Stop, teardown: Option<RunError>) -> Report {
        Report {
            aggregate,
            elapsed: self.elapsed,
            vus_max: self.vus_max,
            vus_timeline: self.vus_timeline,
            stopped: stop.level(),
            teardown,
        }
    }
}

impl Scenarios<'_> {
    /// Makes the VUs, waits for the start when one is signalled, then
    /// runs every scenario to its end.
    async fn drive(
        &self,
        sandbox: Sandbox,
        setup_data: Arc<str>,
        start: Option<StartSignal>,
    ) -> Result<Driven, TestError> {
        let shared = Arc::new(Shared {
            sandbox,
            setup_data,
            stop: self.stop.clone(),
            vus: VuGauge::default(),
        });
        let scenarios = prepare_scenarios(
            self.plan,
            self.env,
            &shared,
            self.aggregator,
            self.http,
            self.tracing,
        )
        .await?;
        if let Some(start) = start {
            wait_for_start(start, self.stop).await;
        }
        let (sampler, sampler_done) = VusSampler::spawn(shared.clone(), self.aggregator.recorder());

        let started = Instant::now();
        let tasks: Vec<_> = scenarios
            .into_iter()
            .map(|(scenario, vus, factory)| {
                tokio::spawn(executor::run_scenario(
                    scenario,
                    vus,
                    factory,
                    shared.clone(),
                ))
            })
            .collect();
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a scenario task failed");
            }
        }
        let elapsed = started.elapsed();
        let vus_timeline = sampler.finish(sampler_done).await;
        let vus_max = shared.vus.made.load(Ordering::Relaxed);
        Ok(Driven {
            elapsed,
            vus_max,
            vus_timeline,
            shared,
        })
    }
}

/// Says the VUs are made, then sleeps until the agreed start; a stop
/// meanwhile, or a start called off, ends the wait (the scenarios then
/// see the stop and start nothing).
async fn wait_for_start(start: StartSignal, stop: &Stop) {
    let _ = start.prepared.send(());
    let mut watch = stop.subscribe();
    let at = tokio::select! {
        at = start.start_at => at,
        _ = watch.stopping() => return,
    };
    let Ok(at) = at else {
        stop.stop_now(StopReason::Remote);
        return;
    };
    match at.duration_since(SystemTime::now()) {
        Ok(wait) => {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = watch.stopping() => {}
            }
        }
        Err(late) => tracing::warn!(
            late_ms = late.duration().as_millis() as u64,
            "the agreed start instant had passed; starting now (are the clocks in sync?)"
        ),
    }
}

/// What a finished run hands back.
pub struct Report {
    pub aggregate: Aggregate,
    /// From the first iteration's start to the last one's end.
    pub elapsed: Duration,
    /// VUs made during the run (pre-allocated and on demand).
    pub vus_max: u64,
    /// The `vus` gauge as sampled once a second: time since the scenarios
    /// started, and active VUs then.
    pub vus_timeline: Vec<(Duration, u64)>,
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
    /// What `setup` returned; every VU reads it through `setup-data`.
    pub setup_data: Arc<str>,
    pub stop: Stop,
    pub vus: VuGauge,
}

/// Live and initialised VU counts, for the `vus` and `vus_max` gauges.
///
/// A VU counts in `vus_max` from its creation on, and in `vus` while an
/// executor holds it active (an [`ActiveVu`] guard is alive): ramping-vus
/// VUs outside the planned count, and scenarios waiting for their
/// `startTime`, do not count.
#[derive(Default)]
pub(crate) struct VuGauge {
    active: Arc<AtomicU64>,
    made: AtomicU64,
}

impl VuGauge {
    pub(crate) fn made(&self) {
        self.made.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one VU as active until the guard drops.
    pub(crate) fn activate(&self) -> ActiveVu {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveVu(self.active.clone())
    }
}

pub(crate) struct ActiveVu(Arc<AtomicU64>);

impl Drop for ActiveVu {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A scenario ready to start: its plan, the VUs made before the clock
/// starts, and the factory for any made later.
type Prepared = (Arc<ScenarioPlan>, Vec<Vu>, VuFactory);

/// Creates every scenario's initial VUs before the clock starts, as k6
/// does, so instantiation cost never shows up in the scenario's timing.
async fn prepare_scenarios(
    plan: &Plan,
    env: &BTreeMap<String, String>,
    shared: &Shared,
    aggregator: &Aggregator,
    http: &Arc<HttpRun>,
    tracing: Option<&Tracing>,
) -> Result<Vec<Prepared>, RunError> {
    let started = Instant::now();
    let next_id = Arc::new(AtomicU32::new(1));
    let mut prepared = Vec::with_capacity(plan.scenarios.len());
    for scenario in &plan.scenarios {
        let factory = VuFactory {
            scenario: scenario.name.as_str().into(),
            env: Arc::new(scenario_env(env, scenario)),
            tags: scenario_tags(scenario),
            next_id: next_id.clone(),
            recorder: aggregator.recorder(),
            http: http.clone(),
            tracing: tracing.cloned(),
            setup_data: shared.setup_data.clone(),
        };
        let count = scenario.executor.initial_vus();
        let mut vus = Vec::with_capacity(count as usize);
        for _ in 0..count {
            vus.push(factory.make(&shared.sandbox).await?);
            shared.vus.made();
        }
        prepared.push((Arc::new(scenario.clone()), vus, factory));
    }
    tracing::info!(
        vus = next_id.load(Ordering::Relaxed) - 1,
        elapsed_us = started.elapsed().as_micros() as u64,
        "virtual users created"
    );
    Ok(prepared)
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
fn control_context(
    stage: &str,
    recorder: Recorder,
    env: &BTreeMap<String, String>,
    http: Arc<HttpRun>,
) -> VuContext {
    VuContext {
        id: 0,
        scenario: stage.into(),
        iteration: 0,
        env: Arc::new(env.clone()),
        tags: TagSet::new([("scenario", stage)]),
        http: HttpClient::new(http),
        recorder,
        trace: VuTrace::default(),
        lateness: None,
        setup_data: Arc::from(""),
    }
}

/// Records `vus` and `vus_max` once a second, and keeps the `vus`
/// readings for the report.
struct VusSampler(tokio::task::JoinHandle<Vec<(Duration, u64)>>);

impl VusSampler {
    fn spawn(shared: Arc<Shared>, recorder: Recorder) -> (Self, tokio::sync::oneshot::Sender<()>) {
        let (done, until) = tokio::sync::oneshot::channel();
        (
            Self(tokio::spawn(sample_vus(shared, recorder, until))),
            done,
        )
    }

    async fn finish(self, done: tokio::sync::oneshot::Sender<()>) -> Vec<(Duration, u64)> {
        let _ = done.send(());
        self.0.await.unwrap_or_default()
    }
}

async fn sample_vus(
    shared: Arc<Shared>,
    mut recorder: Recorder,
    mut until: tokio::sync::oneshot::Receiver<()>,
) -> Vec<(Duration, u64)> {
    let started = Instant::now();
    let mut timeline = Vec::new();
    let mut ticks = tokio::time::interval(VUS_SAMPLE_EVERY);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut until => return timeline,
        }
        let active = shared.vus.active.load(Ordering::Relaxed);
        let made = shared.vus.made.load(Ordering::Relaxed);
        timeline.push((started.elapsed(), active));
        for (metric, value) in [(Builtin::Vus, active), (Builtin::VusMax, made)] {
            recorder.record(Sample::Gauge {
                metric,
                tags: TagSet::default(),
                value: value as f64,
            });
        }
        recorder.flush();
    }
}
