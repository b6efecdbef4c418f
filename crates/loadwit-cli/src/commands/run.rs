//! `loadwit run`: load a component, run its scenarios, report.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use loadwit_engine::options::StageOptions;
use loadwit_engine::{Live, Options, Plan, Report, RunError, Stop, StopLevel, Test, TestError};
use loadwit_metrics::{RunInfo, ThresholdOutcome, Thresholds};
use loadwit_otel::{Otel, OtelConfig};

use super::http_flags::HttpFlags;
use super::segment_flags::SegmentFlags;
use crate::exit::ExitCode;
use crate::live::{LiveOutcome, Watch, Writers};
use crate::otlp::{self, Exported, MetricsExport, OtlpFlags};
use crate::output::OutSpec;
use crate::output::result::{self, ResultHeader, stop_reason};
use crate::progress::Progress;
use crate::settings::{self, Settings};
use crate::{banner, diagnosis, report};

/// How often the aggregator closes a time-series bucket, evaluates
/// `abortOnFail` thresholds and refreshes progress.
pub(crate) const LIVE_INTERVAL: Duration = Duration::from_secs(1);

/// Runs a scenario component against its target and prints a summary.
///
/// Options come, lowest first, from the component's `options` export, a
/// `--config` file, the `LOADWIT_VUS`, `LOADWIT_DURATION`,
/// `LOADWIT_ITERATIONS` and `LOADWIT_STAGES` variables (k6's `K6_*`), and
/// the flags below. As in k6, any of `--vus`, `--duration`,
/// `--iterations` or `--stage` replaces the lower layers' `scenarios` with
/// one scenario built from the shortcuts.
///
/// The first Ctrl-C (or SIGTERM) stops gracefully: running iterations may
/// finish within `gracefulStop`. A second one stops at once. Either way
/// the summary is printed and written.
///
/// Exit codes: 0 success, 99 a threshold failed, 104 invalid options or
/// thresholds, 105 stopped with Ctrl-C, 107 the component failed to load
/// or its setup or teardown failed, 108 the scenario aborted the test.
///
/// Examples:
///
///   # 20 VUs for 30 seconds
///   loadwit run shop_stress.wasm --vus 20 --duration 30s
///
///   # Ramp to 100 VUs over 30 s, hold for a minute, ramp down
///   loadwit run shop_stress.wasm --stage 30s:100 --stage 1m:100 --stage 30s:0
///
///   # Show the resolved plan without running it
///   loadwit run shop_stress.wasm --config options.json --dry-run
///
///   # Point the scenario elsewhere and gate on latency
///   loadwit run shop_stress.wasm -e BASE_URL=http://127.0.0.1:8080 \
///       --threshold 'http_req_duration: p(95)<300'
///
///   # Every sample as NDJSON, and a JUnit report for CI
///   loadwit run shop_stress.wasm --out json=samples.ndjson --junit junit.xml
///
///   # The second of three runners of a distributed test, then the merge
///   loadwit run shop_stress.wasm --segment 2/3 --out result=part2.result
///   loadwit merge part1.result part2.result part3.result
///
///   # Traces and metrics to a local OpenTelemetry Collector or Datadog Agent
///   loadwit run shop_stress.wasm --otlp-endpoint http://localhost:4317 \
///       --otlp-protocol grpc --otlp-propagators tracecontext,datadog
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The scenario component (`.wasm`) to run.
    file: PathBuf,

    /// An options file in k6's JSON shape, layered over the component's
    /// options and under these flags.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Number of virtual users.
    #[arg(short = 'u', long)]
    vus: Option<u64>,

    /// How long to run, as `30s`, `1m30s` or `500ms`.
    #[arg(short, long, value_parser = parse_duration)]
    duration: Option<Duration>,

    /// Total iterations, shared between the VUs.
    #[arg(short, long)]
    iterations: Option<u64>,

    /// A ramping stage as `DURATION:TARGET`, e.g. `30s:100`.
    ///
    /// May be given several times, in order; the stages make one
    /// `ramping-vus` scenario starting from the resolved `vus` (the
    /// component's, a `--config` file's or `--vus`; 1 when none is set).
    #[arg(short, long = "stage", value_name = "DURATION:TARGET", value_parser = parse_stage)]
    stages: Vec<StageOptions>,

    /// Print the resolved plan (every scenario and its parameters) and
    /// the thresholds, then exit without running anything.
    #[arg(long)]
    dry_run: bool,

    /// A threshold as `METRIC: EXPRESSION`, e.g. `http_req_duration: p(95)<500`.
    ///
    /// May be given several times; adds to the thresholds the options
    /// resolved to (a `--config` file's `thresholds` replace the
    /// component's). Time values are in milliseconds, as in k6.
    #[arg(long = "threshold", value_name = "METRIC: EXPR")]
    thresholds: Vec<String>,

    /// A variable the scenario reads with its env lookup, as `KEY=VALUE`.
    ///
    /// The host's own environment never reaches the scenario; pass what it
    /// needs here.
    #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// A tag on every sample of the run, as `KEY=VALUE`.
    ///
    /// May be given several times; adds to the options' `tags`. A
    /// scenario's own tags win over these.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,

    /// Also write the summary as JSON, in k6's summary-export layout, with
    /// the per-second time series under `time_series`.
    #[arg(long, value_name = "FILE")]
    summary_export: Option<PathBuf>,

    /// Write every sample to a file as it is recorded: `json=FILE` for
    /// k6's NDJSON layout, `csv=FILE` for k6's CSV layout; or write the
    /// run's mergeable result at its end: `result=FILE`, which `loadwit
    /// merge` combines with other segments' results.
    ///
    /// May be given several times.
    #[arg(short, long = "out", value_name = "KIND=FILE", value_parser = OutSpec::parse)]
    out: Vec<OutSpec>,

    /// Write thresholds and checks as JUnit XML, one test case each.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Hide the live progress; the summary is still printed.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    segment: SegmentFlags,
    #[command(flatten)]
    otlp: OtlpFlags,
}

/// Runs the command and maps its outcome to an exit code.
pub fn run(args: RunArgs) -> ExitCode {
    match execute(&args) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            failure.code
        }
    }
}

/// An error that ends the command, with the exit code it maps to.
pub(crate) struct Failure {
    pub error: anyhow::Error,
    pub code: ExitCode,
}

impl Failure {
    pub(crate) fn new(code: ExitCode, error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            code,
        }
    }
}

/// Runs `task` on a multi-threaded runtime, as `coordinate` and `agent`
/// do too; a failure prints its one-line reason and gives its code.
pub(crate) fn on_runtime(task: impl Future<Output = Result<ExitCode, Failure>>) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(ExitCode::ScenarioFailed, e))
        .and_then(|runtime| runtime.block_on(task));
    match outcome {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            failure.code
        }
    }
}

fn execute(args: &RunArgs) -> Result<ExitCode, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(ExitCode::ScenarioFailed, e))?;
    runtime.block_on(execute_async(args))
}

async fn execute_async(args: &RunArgs) -> Result<ExitCode, Failure> {
    let Resolved {
        test,
        options,
        plan,
        thresholds,
        settings,
    } = resolve(args).await?;
    let otel_config = args.otel_config()?;

    let mut stdout = io::stdout().lock();
    if args.dry_run {
        banner::print_plan(&mut stdout, &args.file, &plan, &thresholds).ok();
        return Ok(ExitCode::Success);
    }
    banner::print(&mut stdout, &args.file, &plan).ok();
    drop(stdout);

    let mut otel = start_otlp(&otel_config, args, &settings)?;

    let stop = Stop::default();
    let metrics = MetricsExport::new(&otel, &otel_config);
    let (live, outcome) = live(args, &plan, &thresholds, &settings, &stop, metrics)?;
    let test = test.with_live(live).with_tracing(otel.tracing());
    let signals = tokio::spawn(stop_on_signals(stop.clone()));
    let started_at = result::now_rfc3339();
    let env = args.env_map();
    let result = test.run(&plan, &env, &stop).await;
    signals.abort();
    let outcome = std::mem::take(&mut *outcome.lock().unwrap_or_else(|e| e.into_inner()));
    let otlp = otlp::finish(&mut otel, &otel_config);
    let mut results = Results {
        args,
        thresholds: &thresholds,
        settings: &settings,
        options: &options,
        plan: &plan,
        started_at,
        live: outcome,
        setup_failed: false,
        otlp,
        extra_json: Vec::new(),
    };

    match result {
        Ok(report) => results.finish(report),
        Err(TestError::Setup { error, aggregate }) => {
            let report = Report {
                aggregate: *aggregate,
                elapsed: Duration::ZERO,
                vus_max: 0,
                vus_timeline: Vec::new(),
                stopped: stop.level(),
                teardown: None,
            };
            let failure = results.ended_in_setup(error);
            let code = results.finish(report)?;
            failure.map_or(Ok(code), Err)
        }
        Err(error) => Err(load_failure(error)),
    }
}

/// A loaded component and everything its options resolved to.
pub(crate) struct Resolved {
    pub test: Test,
    /// Every layer stacked: the component's, `--config`, variables,
    /// flags.
    pub options: Options,
    /// The plan, cut to `--segment` when one is given.
    pub plan: Plan,
    pub thresholds: Thresholds,
    pub settings: Settings,
}

/// Loads the component and resolves its options under `--config`, the
/// `LOADWIT_*` variables and the flags, into a plan with the run's tags.
pub(crate) async fn resolve(args: &RunArgs) -> Result<Resolved, Failure> {
    let test = Test::load(&args.file, super::build::cache_dir())
        .await
        .map_err(load_failure)?;
    let invalid = |e| Failure::new(ExitCode::InvalidConfig, e);
    let env_layer = Options::from_env(|name| std::env::var(name).ok()).map_err(invalid)?;
    let options = test
        .options()
        .clone()
        .overlay(config_file(args.config.as_deref())?)
        .overlay(env_layer)
        .overlay(flag_options(args));
    let mut plan = options.plan().map_err(invalid)?;
    plan = args
        .segment
        .apply(plan)
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))?;
    let thresholds = report::thresholds(options.thresholds.as_ref(), &args.thresholds)
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))?;
    let settings = Settings::from_options(&options.unknown)
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, anyhow::anyhow!(e)))?;
    add_run_tags(&mut plan, &settings, &args.tags);
    warn_unknown_options(&options);
    Ok(Resolved {
        test,
        options,
        plan,
        thresholds,
        settings,
    })
}

/// Starts the OTLP export `config` asks for, its resource carrying the
/// run's tags; nothing is exported when nothing is asked.
pub(crate) fn start_otlp(
    config: &OtelConfig,
    args: &RunArgs,
    settings: &Settings,
) -> Result<Otel, Failure> {
    let tags = run_tags(settings, &args.tags);
    otlp::start(config, otlp::run_id_from_env(), &tags)
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))
}

impl RunArgs {
    /// The OTLP settings: the `--otlp-*` flags over the `OTEL_*`
    /// variables.
    pub(crate) fn otel_config(&self) -> Result<OtelConfig, Failure> {
        self.otlp
            .config(|name| std::env::var(name).ok())
            .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))
    }

    /// The component file.
    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// Whether only the plan is to be printed.
    pub(crate) fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Whether progress is hidden.
    pub(crate) fn quiet(&self) -> bool {
        self.quiet
    }

    /// The `--tag` flags.
    pub(crate) fn tags(&self) -> &[(String, String)] {
        &self.tags
    }

    /// The `--out` flags.
    pub(crate) fn outputs(&self) -> &[OutSpec] {
        &self.out
    }

    /// The `--segment` flags.
    pub(crate) fn segment(&self) -> &SegmentFlags {
        &self.segment
    }

    /// What the scenario's env lookups see.
    pub(crate) fn env_map(&self) -> BTreeMap<String, String> {
        self.env.iter().cloned().collect()
    }
}

/// Run tags under each scenario's own: the options' `tags`, then `--tag`.
pub(crate) fn add_run_tags(plan: &mut Plan, settings: &Settings, flags: &[(String, String)]) {
    let run_tags = run_tags(settings, flags);
    for scenario in &mut plan.scenarios {
        let mut tags = run_tags.clone();
        tags.append(&mut scenario.tags);
        scenario.tags = tags;
    }
}

/// The run's own tags: the options' `tags`, then `--tag`.
fn run_tags(settings: &Settings, flags: &[(String, String)]) -> BTreeMap<String, String> {
    let mut tags = settings.run_tags.clone();
    tags.extend(flags.iter().cloned());
    tags
}

/// How the run is watched: outputs opened, progress chosen, thresholds
/// handed over for live evaluation.
fn live(
    args: &RunArgs,
    plan: &Plan,
    thresholds: &Thresholds,
    settings: &Settings,
    stop: &Stop,
    otlp: Option<MetricsExport>,
) -> Result<(Live, Arc<Mutex<LiveOutcome>>), Failure> {
    let writers = open_outputs(&args.out)?;
    let progress = Progress::new(plan, args.quiet);
    let (watch, outcome) = Watch::new(
        thresholds.clone(),
        stop.clone(),
        LIVE_INTERVAL,
        writers,
        progress,
    );
    let live = Live {
        observer: Box::new(watch.with_otlp(otlp)),
        interval: LIVE_INTERVAL,
        system_tags: settings.system_tags.clone(),
    };
    Ok((live, outcome))
}

/// Opens every `--out` file that writes samples; the result file is
/// written at the end instead.
pub(crate) fn open_outputs(specs: &[OutSpec]) -> Result<Writers, Failure> {
    let mut writers: Writers = Vec::new();
    for spec in specs {
        let writer = spec
            .open()
            .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))?;
        if let Some(writer) = writer {
            writers.push((spec.path().to_path_buf(), writer));
        }
    }
    Ok(writers)
}

/// Everything the end of a run reports from.
pub(crate) struct Results<'a> {
    pub args: &'a RunArgs,
    pub thresholds: &'a Thresholds,
    pub settings: &'a Settings,
    pub options: &'a Options,
    pub plan: &'a Plan,
    pub started_at: String,
    pub live: LiveOutcome,
    /// Set when `setup` failed: the result file then records exit 107,
    /// or 108 when the scenario aborted in it.
    pub setup_failed: bool,
    /// What OTLP export came to; `None` when nothing was exported.
    pub otlp: Option<Exported>,
    /// Keys added to the JSON summary beside k6's (a distributed run's
    /// `agents`).
    pub extra_json: Vec<(&'static str, serde_json::Value)>,
}

impl Results<'_> {
    /// Notes that `setup` ended the run. `abort()` there is the
    /// scenario's own verdict (exit 108); anything else is a failure to
    /// explain, handed back to be returned once the summary is written.
    pub(crate) fn ended_in_setup(&mut self, error: RunError) -> Option<Failure> {
        self.setup_failed = true;
        match error {
            RunError::Aborted { reason, .. } => {
                self.live.scenario_abort.get_or_insert(reason);
                None
            }
            error => Some(Failure::new(ExitCode::ScenarioFailed, error)),
        }
    }

    /// Prints and writes the summary and reports, then decides the exit
    /// code.
    pub(crate) fn finish(self, report: Report) -> Result<ExitCode, Failure> {
        let outcomes = self.thresholds.evaluate(&report.aggregate, report.elapsed);
        let info = RunInfo {
            elapsed: report.elapsed,
            vus_max: report.vus_max,
        };
        let series = self.live.series.clone();
        let summary = report::summary(&report.aggregate, &outcomes, info, self.settings, series);
        report::print(&summary);
        if let Some(otlp) = &self.otlp {
            println!("\n{}", otlp.line());
        }

        if let Some(reason) = diagnosis::unreachable_target(&report.aggregate) {
            // Without a failed threshold the run still passes, as in k6;
            // the line then warns rather than claims an error.
            let level = if report::any_failed(&outcomes) {
                "error"
            } else {
                "warning"
            };
            eprintln!("{level}: {reason}");
        }
        self.report_aborts();
        let write_failed = |e| Failure::new(ExitCode::ScenarioFailed, e);
        let mut exports =
            report::Exports::new(self.args.summary_export.as_ref(), self.args.junit.as_ref());
        let mut extra = self.extra_json.clone();
        if let Some(otlp) = &self.otlp {
            extra.push(("otlp", otlp.json()));
        }
        if let Some(path) = exports.summary.take() {
            report::write_summary(path, &summary, &extra).map_err(write_failed)?;
        }
        report::write_exports(&summary, exports).map_err(write_failed)?;
        for error in &self.live.errors {
            eprintln!("error: writing the output {error}; it is incomplete");
        }
        let code = self.verdict(&report, &outcomes);
        // A setup that failed, not one that aborted, ends the run with 107.
        let recorded = if self.setup_failed && code != ExitCode::ScenarioAborted {
            ExitCode::ScenarioFailed
        } else {
            code
        };
        self.write_result(&report, recorded).map_err(write_failed)?;
        Ok(code)
    }

    /// Writes the `--out result=FILE` files, if any.
    fn write_result(&self, report: &Report, code: ExitCode) -> anyhow::Result<()> {
        let paths = self.args.out.iter().filter_map(|spec| match spec {
            OutSpec::Result(path) => Some(path),
            _ => None,
        });
        let mut header = None;
        for path in paths {
            let header = match &mut header {
                Some(header) => header,
                None => header.insert(self.result_header(report, code)?),
            };
            result::write(path, header, &report.aggregate)?;
        }
        Ok(())
    }

    fn result_header(&self, report: &Report, code: ExitCode) -> anyhow::Result<ResultHeader> {
        let mut header = ResultHeader::for_component(&self.args.file)?;
        header.segment = self.plan.segment.to_string();
        header.sequence = self.plan.sequence.to_string();
        header.plan = self
            .plan
            .scenarios
            .iter()
            .map(banner::describe_scenario)
            .collect();
        header.thresholds = report::threshold_texts(self.thresholds);
        header.summary_options = settings::summary_options(&self.options.unknown);
        header.elapsed_ms = report.elapsed.as_secs_f64() * 1e3;
        header.vus_max = report.vus_max;
        header.started_at = self.started_at.clone();
        header.ended_at = result::now_rfc3339();
        header.stop_reason = self.stop_reason(report).map(str::to_owned);
        header.exit_code = code as u8;
        Ok(header)
    }

    fn stop_reason(&self, report: &Report) -> Option<&'static str> {
        if self.live.threshold_abort.is_some() {
            return Some(stop_reason::THRESHOLD_ABORT);
        }
        if self.live.scenario_abort.is_some() {
            return Some(stop_reason::SCENARIO_ABORT);
        }
        (report.stopped != StopLevel::Running).then_some(stop_reason::STOPPED)
    }

    fn report_aborts(&self) {
        if let Some(threshold) = &self.live.threshold_abort {
            eprintln!("aborted: threshold `{threshold}` failed and has abortOnFail");
        }
        if let Some(reason) = &self.live.scenario_abort {
            eprintln!("aborted by the scenario: {reason}");
        }
    }

    /// An abort beats a stop from outside, which beats failed thresholds,
    /// which beat a failed teardown, as in k6.
    fn verdict(&self, report: &Report, outcomes: &[ThresholdOutcome]) -> ExitCode {
        if self.live.threshold_abort.is_some() {
            return ExitCode::ThresholdsFailed;
        }
        if self.live.scenario_abort.is_some() {
            return ExitCode::ScenarioAborted;
        }
        verdict(report, outcomes)
    }
}

/// Stopped beats failed thresholds, which beat a failed teardown, as in k6.
fn verdict(report: &Report, outcomes: &[ThresholdOutcome]) -> ExitCode {
    if report.stopped != StopLevel::Running {
        return ExitCode::Stopped;
    }
    if report::any_failed(outcomes) {
        return ExitCode::ThresholdsFailed;
    }
    if let Some(error) = &report.teardown {
        eprintln!("error: {error}");
        return ExitCode::ScenarioFailed;
    }
    ExitCode::Success
}

pub(crate) fn load_failure(error: TestError) -> Failure {
    let code = match error {
        TestError::Options(_) => ExitCode::InvalidConfig,
        _ => ExitCode::ScenarioFailed,
    };
    Failure::new(code, error)
}

/// The `--config` file's layer of options; empty without the flag.
fn config_file(path: Option<&Path>) -> Result<Options, Failure> {
    let Some(path) = path else {
        return Ok(Options::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the `--config` file `{}`", path.display()))
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))?;
    Options::from_json(&text)
        .with_context(|| format!("`--config` file `{}`", path.display()))
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))
}

/// The flags' layer of options, stacked over the component's.
fn flag_options(args: &RunArgs) -> Options {
    Options {
        vus: args.vus,
        duration: args.duration,
        iterations: args.iterations,
        stages: (!args.stages.is_empty()).then(|| args.stages.clone()),
        http: args.http.options(),
        ..Options::default()
    }
}

fn warn_unknown_options(options: &Options) {
    for key in options.unknown.keys() {
        if settings::KEYS.contains(&key.as_str()) {
            continue;
        }
        tracing::warn!("option `{key}` is not supported by this version and is ignored");
    }
}

/// Escalates the stop on each Ctrl-C or SIGTERM: graceful, then hard.
pub(crate) async fn stop_on_signals(stop: Stop) {
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return;
    };
    loop {
        tokio::select! {
            result = tokio::signal::ctrl_c() => if result.is_err() { return },
            _ = terminate.recv() => {}
        }
        match stop.escalate() {
            StopLevel::Graceful => {
                eprintln!("stopping: running iterations may finish; interrupt again to stop now")
            }
            _ => eprintln!("stopping now"),
        }
    }
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    loadwit_engine::options::parse_duration(text)
}

fn parse_stage(text: &str) -> Result<StageOptions, String> {
    loadwit_engine::options::parse_stage(text)
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    parse_env(text)
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}
