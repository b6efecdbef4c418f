//! `loadwit run`: load a component, run its scenarios, report.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use loadwit_engine::{Options, Plan, Report, Stop, StopLevel, Test, TestError};
use loadwit_metrics::{RunInfo, Summary, ThresholdOutcome, Thresholds};

use super::http_flags::HttpFlags;
use crate::exit::ExitCode;
use crate::{banner, diagnosis};

/// Runs a scenario component against its target and prints a summary.
///
/// Options come from the component's `options` export; the flags below
/// override them as k6's do: any of `--vus`, `--duration` or
/// `--iterations` replaces the component's `scenarios` with one scenario
/// built from the flags.
///
/// Exit codes: 0 success, 99 a threshold failed, 104 invalid options or
/// thresholds, 105 stopped with Ctrl-C, 107 the component failed to load
/// or its setup or teardown failed.
///
/// Examples:
///
///   # 20 VUs for 30 seconds
///   loadwit run shop_stress.wasm --vus 20 --duration 30s
///
///   # Point the scenario elsewhere and gate on latency
///   loadwit run shop_stress.wasm -e BASE_URL=http://127.0.0.1:8080 \
///       --threshold 'http_req_duration: p(95)<300'
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

    /// A threshold as `METRIC: EXPRESSION`, e.g. `http_req_duration: p(95)<500`.
    ///
    /// May be given several times; adds to the component's thresholds.
    #[arg(long = "threshold", value_name = "METRIC: EXPR")]
    thresholds: Vec<String>,

    /// A variable the scenario reads with its env lookup, as `KEY=VALUE`.
    ///
    /// The host's own environment never reaches the scenario; pass what it
    /// needs here.
    #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// Also write the summary as JSON, in k6's summary-export layout.
    #[arg(long, value_name = "FILE")]
    summary_export: Option<PathBuf>,

    #[command(flatten)]
    http: HttpFlags,
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
struct Failure {
    error: anyhow::Error,
    code: ExitCode,
}

impl Failure {
    fn new(code: ExitCode, error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            code,
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
    let test = Test::load(&args.file, cache_dir())
        .await
        .map_err(load_failure)?;
    let options = test
        .options()
        .clone()
        .overlay(config_file(args.config.as_deref())?)
        .overlay(flag_options(args));
    let plan = options
        .plan()
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))?;
    let thresholds = thresholds(&options, &args.thresholds)?;
    warn_unknown_options(&options);

    let mut stdout = io::stdout().lock();
    banner::print(&mut stdout, &args.file, &plan).ok();
    drop(stdout);

    let stop = Stop::default();
    let signals = tokio::spawn(stop_on_signals(stop.clone()));
    let env: BTreeMap<String, String> = args.env.iter().cloned().collect();
    let result = test.run(&plan, &env, &stop).await;
    signals.abort();

    match result {
        Ok(report) => finish(args, &plan, &thresholds, report),
        Err(TestError::Setup { error, aggregate }) => {
            let report = Report {
                aggregate: *aggregate,
                elapsed: Duration::ZERO,
                vus_max: 0,
                stopped: stop.level(),
                teardown: None,
            };
            finish(args, &plan, &thresholds, report)?;
            Err(Failure::new(
                ExitCode::ScenarioFailed,
                anyhow::anyhow!(error),
            ))
        }
        Err(error) => Err(load_failure(error)),
    }
}

/// Prints and writes the summary, then decides the exit code.
fn finish(
    args: &RunArgs,
    _plan: &Plan,
    thresholds: &Thresholds,
    report: Report,
) -> Result<ExitCode, Failure> {
    let outcomes = thresholds.evaluate(&report.aggregate, report.elapsed);
    let info = RunInfo {
        elapsed: report.elapsed,
        vus_max: report.vus_max,
    };
    let summary = Summary::new(&report.aggregate, &outcomes, info);

    let mut stdout = io::stdout().lock();
    summary.render_text(&mut stdout).ok();
    stdout.flush().ok();
    drop(stdout);

    if let Some(reason) = diagnosis::unreachable_target(&report.aggregate) {
        eprintln!("error: {reason}");
    }
    if let Some(path) = &args.summary_export {
        write_json(path, &summary.to_json())
            .map_err(|e| Failure::new(ExitCode::ScenarioFailed, e))?;
    }
    Ok(verdict(&report, &outcomes))
}

/// Stopped beats failed thresholds, which beat a failed teardown, as in k6.
fn verdict(report: &Report, outcomes: &[ThresholdOutcome]) -> ExitCode {
    if report.stopped != StopLevel::Running {
        return ExitCode::Stopped;
    }
    if outcomes.iter().any(|outcome| !outcome.passed) {
        return ExitCode::ThresholdsFailed;
    }
    if let Some(error) = &report.teardown {
        eprintln!("error: {error}");
        return ExitCode::ScenarioFailed;
    }
    ExitCode::Success
}

fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("cannot write the summary to `{}`", path.display()))
}

fn load_failure(error: TestError) -> Failure {
    let code = match error {
        TestError::Options(_) => ExitCode::InvalidConfig,
        _ => ExitCode::ScenarioFailed,
    };
    Failure::new(code, error)
}

/// Where compiled components are cached: `LOADWIT_CACHE_DIR`, else the
/// user's cache directory. An empty `LOADWIT_CACHE_DIR` turns caching off.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LOADWIT_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("loadwit"))
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
        http: args.http.options(),
        ..Options::default()
    }
}

fn thresholds(options: &Options, flags: &[String]) -> Result<Thresholds, Failure> {
    let invalid = |e| Failure::new(ExitCode::InvalidConfig, e);
    let mut thresholds = match &options.thresholds {
        Some(value) => Thresholds::from_options(value).map_err(invalid)?,
        None => Thresholds::default(),
    };
    for flag in flags {
        thresholds.push_cli(flag).map_err(invalid)?;
    }
    Ok(thresholds)
}

fn warn_unknown_options(options: &Options) {
    for key in options.unknown.keys() {
        tracing::warn!("option `{key}` is not supported by this version and is ignored");
    }
}

/// Escalates the stop on each Ctrl-C or SIGTERM: graceful, then hard.
async fn stop_on_signals(stop: Stop) {
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

fn parse_duration(text: &str) -> Result<Duration, String> {
    loadwit_engine::options::parse_duration(text)
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}
