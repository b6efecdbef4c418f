//! `loadwit agent`: runs one share of a distributed test for a
//! coordinator.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::Args;
use loadwit_dist::protocol::agent_message::Kind as ToCoordinator;
use loadwit_dist::protocol::coordinator_message::Kind as FromCoordinator;
use loadwit_dist::protocol::{self, AgentMessage, Assign, CoordinatorMessage};
use loadwit_engine::{
    ExecutionSegment, Live, Options, Plan, Report, SegmentSequence, Share, Stop, StopLevel,
    StopReason, Test,
};
use loadwit_metrics::format;
use loadwit_otel::{Otel, OtelConfig};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::ClientTlsConfig;

use super::run::{self, Failure};
use super::tls_flags::TlsFlags;
use crate::agent_watch::{AgentEvent, AgentWatch};
use crate::exit::ExitCode;
use crate::otlp::{self, OtlpFlags};
use crate::output::OutSpec;
use crate::output::result::{self, ResultHeader};
use crate::settings::Settings;
use crate::{banner, settings};

/// The longest pause between two tries to reach the coordinator.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long the agent waits, once done, for the coordinator to close.
const GOODBYE: Duration = Duration::from_secs(5);

/// Runs one share of a distributed test for `loadwit coordinate`.
///
/// The agent dials the coordinator (so it may sit behind NAT, as a
/// Kubernetes Job pod), retrying with backoff for `--connect-for`. It
/// receives the component (cached by its hash), its segment of every
/// scenario, the resolved options and `setup`'s data, runs its share
/// from the agreed instant and sends what it measured every second. It
/// runs neither `setup` nor `teardown`: the coordinator does, once.
///
/// Its requests are traced when the `--otlp-*` flags or `OTEL_*`
/// variables ask, as with `loadwit run`; metrics are exported by the
/// coordinator, for the whole fleet, so agents export none.
///
/// Exits 0 once its share ran (or the coordinator stopped it), 107 when
/// it could not run: the coordinator was unreachable or went away, or
/// the component failed to load.
///
/// Examples:
///
///   loadwit agent --coordinator loadwit-coordinator:7070
///
///   # Keep this agent's own samples too
///   loadwit agent --coordinator 10.0.0.5:7070 --name eu-1 --out json=samples.ndjson
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct AgentArgs {
    /// The coordinator's address, as `HOST:PORT`.
    #[arg(long, value_name = "HOST:PORT")]
    coordinator: String,

    /// This agent's name in progress and the summary; the host name by
    /// default.
    #[arg(long)]
    name: Option<String>,

    /// Where components from the coordinator are kept, by hash;
    /// `components/` in loadwit's cache directory by default.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// How long to keep trying to reach the coordinator.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = run::parse_duration)]
    connect_for: Duration,

    /// Also write this agent's own samples, `json=FILE` or `csv=FILE`,
    /// or its share's mergeable result, `result=FILE`, as `loadwit run
    /// --out` does.
    ///
    /// May be given several times.
    #[arg(short, long = "out", value_name = "KIND=FILE", value_parser = OutSpec::parse)]
    out: Vec<OutSpec>,

    #[command(flatten)]
    tls: TlsFlags,

    #[command(flatten)]
    otlp: OtlpFlags,
}

/// Runs the command and maps its outcome to an exit code.
pub fn run(args: AgentArgs) -> ExitCode {
    run::on_runtime(execute(&args))
}

/// The agent's two streams: what it sends and what it receives.
struct Link {
    outbound: mpsc::Sender<AgentMessage>,
    inbound: Streaming<CoordinatorMessage>,
}

impl Link {
    async fn send(&self, kind: ToCoordinator) {
        let _ = self.outbound.send(AgentMessage::new(kind)).await;
    }

    /// The next message; `None` when the coordinator ended the session.
    async fn receive(&mut self) -> Result<Option<FromCoordinator>, Failure> {
        loop {
            match self.inbound.message().await {
                Ok(Some(message)) => match message.kind {
                    Some(kind) => return Ok(Some(kind)),
                    None => continue,
                },
                Ok(None) => return Ok(None),
                Err(status) => {
                    return Err(could_not_run(anyhow::anyhow!(
                        "the coordinator ended the session: {}",
                        status.message()
                    )));
                }
            }
        }
    }

    /// Reports a failure to the coordinator, then hands it back.
    async fn fail(&self, failure: Failure) -> Failure {
        let message = format!("{:#}", failure.error);
        self.send(ToCoordinator::Failed(protocol::Failed { message }))
            .await;
        failure
    }
}

fn could_not_run(error: anyhow::Error) -> Failure {
    Failure::new(ExitCode::ScenarioFailed, error)
}

async fn execute(args: &AgentArgs) -> Result<ExitCode, Failure> {
    let name = args.name.clone().unwrap_or_else(host_name);
    let host = args
        .coordinator
        .rsplit_once(':')
        .map_or(args.coordinator.as_str(), |(host, _)| host);
    let tls = args
        .tls
        .files()
        .client(host)
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))?;
    let otel_config = args
        .otlp
        .config(|name| std::env::var(name).ok())
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))?
        .with_metrics(false);
    let writers = run::open_outputs(&args.out)?;
    let mut link = dial(args, &name, tls).await?;
    eprintln!("agent {name} connected to {}", args.coordinator);

    let Some(assign) = expect_assign(&mut link).await? else {
        return Ok(ExitCode::Success);
    };
    let wasm = match component(&mut link, &assign, args.cache_dir.as_deref()).await {
        Ok(wasm) => wasm,
        Err(failure) => return Err(link.fail(failure).await),
    };
    let Loaded {
        test,
        plan,
        settings,
        header,
    } = match load(&wasm, &assign).await {
        Ok(loaded) => loaded,
        Err(failure) => return Err(link.fail(failure).await),
    };
    eprintln!(
        "agent {name} runs segment {} of {}",
        assign.segment, assign.component_name
    );
    link.send(ToCoordinator::Loaded(protocol::Loaded {})).await;

    let otel = match otlp::start(&otel_config, otlp::run_id_from_env(), &settings.run_tags) {
        Ok(otel) => otel,
        Err(error) => {
            let failure = Failure::new(ExitCode::InvalidConfig, error);
            return Err(link.fail(failure).await);
        }
    };
    let Some(setup_data) = expect_setup(&mut link).await? else {
        return Ok(ExitCode::Success);
    };
    let interval = Duration::from_millis(assign.interval_ms.max(100));
    let env = assign.env.clone().into_iter().collect();
    let share = ShareRun {
        test,
        plan,
        settings,
        env,
        interval,
        setup_data,
        results: result_paths(&args.out),
        header,
        otel,
        otel_config,
    };
    share.run(link, writers).await
}

/// Connects to the coordinator and says hello, retrying with backoff
/// until `--connect-for` has passed.
async fn dial(args: &AgentArgs, name: &str, tls: Option<ClientTlsConfig>) -> Result<Link, Failure> {
    let hello = AgentMessage::new(ToCoordinator::Hello(protocol::Hello {
        name: name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }));
    let deadline = Instant::now() + args.connect_for;
    let mut backoff = Duration::from_millis(200);
    loop {
        let error = match try_dial(&args.coordinator, tls.clone(), hello.clone()).await {
            Ok(link) => return Ok(link),
            Err(error) => error,
        };
        if Instant::now() + backoff >= deadline {
            return Err(could_not_run(anyhow::anyhow!(
                "cannot reach the coordinator at `{}` within {}: {error}; is `loadwit \
                 coordinate` listening there?",
                args.coordinator,
                humantime::format_duration(args.connect_for)
            )));
        }
        tracing::info!(%error, retry_in_ms = backoff.as_millis() as u64, "the coordinator is not reachable yet");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn try_dial(
    address: &str,
    tls: Option<ClientTlsConfig>,
    hello: AgentMessage,
) -> Result<Link, String> {
    let channel = loadwit_dist::connect(address, tls)
        .await
        .map_err(|e| format::error_chain(&e))?;
    let (outbound, queued) = mpsc::channel(64);
    let _ = outbound.send(hello).await;
    let inbound = loadwit_dist::open_session(channel, ReceiverStream::new(queued))
        .await
        .map_err(|status| status.message().to_string())?;
    Ok(Link { outbound, inbound })
}

/// Waits for the share; `None` when the coordinator stopped the test
/// first.
async fn expect_assign(link: &mut Link) -> Result<Option<Assign>, Failure> {
    loop {
        match link.receive().await? {
            Some(FromCoordinator::Assign(assign)) => return Ok(Some(assign)),
            Some(FromCoordinator::Stop(_)) => return Ok(stopped_before_start()),
            None => return Err(went_away_before_start()),
            Some(_) => {}
        }
    }
}

/// Waits for `setup`'s data; `None` when the coordinator stopped the
/// test first.
async fn expect_setup(link: &mut Link) -> Result<Option<String>, Failure> {
    loop {
        match link.receive().await? {
            Some(FromCoordinator::SetupData(setup)) => return Ok(Some(setup.data)),
            Some(FromCoordinator::Stop(_)) => return Ok(stopped_before_start()),
            None => return Err(went_away_before_start()),
            Some(_) => {}
        }
    }
}

/// A stop before the start is the coordinator's decision (its exit code
/// tells the verdict), so this agent's part ends cleanly.
fn stopped_before_start<T>() -> Option<T> {
    eprintln!("the coordinator stopped the test before this share started");
    None
}

/// A session that ends before the start means the test never ran here.
fn went_away_before_start() -> Failure {
    could_not_run(anyhow::anyhow!(
        "the coordinator went away before the test started; its output says why"
    ))
}

/// The assigned component's file: from the cache when its hash is
/// there, from the coordinator otherwise (then cached).
async fn component(
    link: &mut Link,
    assign: &Assign,
    cache_dir: Option<&Path>,
) -> Result<PathBuf, Failure> {
    let hash = &assign.component_hash;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(could_not_run(anyhow::anyhow!(
            "the coordinator sent `{hash}`, which is not a component hash"
        )));
    }
    let dir = match cache_dir {
        Some(dir) => dir.to_path_buf(),
        None => super::build::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("components"),
    };
    let path = dir.join(format!("{hash}.wasm"));
    if path.is_file() {
        tracing::info!(path = %path.display(), "the component is cached");
        return Ok(path);
    }
    link.send(ToCoordinator::NeedComponent(protocol::NeedComponent {}))
        .await;
    let wasm = loop {
        match link.receive().await? {
            Some(FromCoordinator::Component(component)) => break component.wasm,
            Some(FromCoordinator::Stop(_)) | None => {
                return Err(could_not_run(anyhow::anyhow!(
                    "the coordinator stopped before sending the component"
                )));
            }
            Some(_) => {}
        }
    };
    if loadwit_dist::component_hash(&wasm) != *hash {
        return Err(could_not_run(anyhow::anyhow!(
            "the component received does not match its hash `{hash}`"
        )));
    }
    store(&dir, &path, &wasm)
        .with_context(|| format!("cannot cache the component in `{}`", dir.display()))
        .map_err(could_not_run)?;
    Ok(path)
}

/// Writes the file whole or not at all, so a crash leaves no torn
/// component under a valid hash.
fn store(dir: &Path, path: &Path, wasm: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let partial = path.with_extension(format!("partial.{}", std::process::id()));
    std::fs::write(&partial, wasm)?;
    std::fs::rename(&partial, path)
}

/// The component loaded and this agent's share planned.
struct Loaded {
    test: Test,
    plan: Plan,
    settings: Settings,
    /// The header of this agent's `--out result=FILE`, but for how the
    /// run went.
    header: ResultHeader,
}

/// Loads the component and plans this agent's share from the options
/// the coordinator resolved.
async fn load(wasm: &Path, assign: &Assign) -> Result<Loaded, Failure> {
    let test = Test::load(wasm, super::build::cache_dir())
        .await
        .map_err(run::load_failure)?;
    let invalid = |e: anyhow::Error| Failure::new(ExitCode::InvalidConfig, e);
    let options = Options::from_json(&assign.options_json).map_err(|e| invalid(e.into()))?;
    let mut plan = options.plan().map_err(|e| invalid(e.into()))?;
    let settings =
        Settings::from_options(&options.unknown).map_err(|e| invalid(anyhow::anyhow!(e)))?;
    run::add_run_tags(&mut plan, &settings, &[]);
    let plan = share_of(&plan, assign).map_err(invalid)?;
    let mut header = ResultHeader::for_component(wasm).map_err(could_not_run)?;
    header.component = assign.component_name.clone();
    header.segment = plan.segment.to_string();
    header.sequence = plan.sequence.to_string();
    header.plan = plan
        .scenarios
        .iter()
        .map(banner::describe_scenario)
        .collect();
    header.thresholds = assign.thresholds.clone();
    header.summary_options = settings::summary_options(&options.unknown);
    Ok(Loaded {
        test,
        plan,
        settings,
        header,
    })
}

/// The `--out result=FILE` paths.
fn result_paths(outputs: &[OutSpec]) -> Vec<PathBuf> {
    outputs
        .iter()
        .filter_map(|spec| match spec {
            OutSpec::Result(path) => Some(path.clone()),
            _ => None,
        })
        .collect()
}

/// The agent's segment of `plan`, as the coordinator assigned it.
fn share_of(plan: &Plan, assign: &Assign) -> anyhow::Result<Plan> {
    let segment = ExecutionSegment::parse_range(&assign.segment)
        .with_context(|| format!("the coordinator sent the segment `{}`", assign.segment))?;
    let sequence = SegmentSequence::parse(&assign.sequence)
        .with_context(|| format!("the coordinator sent the sequence `{}`", assign.sequence))?;
    Ok(plan.segment(&segment, &sequence)?)
}

/// A share ready to run.
struct ShareRun {
    test: Test,
    plan: Plan,
    settings: Settings,
    env: std::collections::BTreeMap<String, String>,
    interval: Duration,
    setup_data: String,
    /// Where this share's mergeable result goes.
    results: Vec<PathBuf>,
    header: ResultHeader,
    /// Traces this share's iterations and requests when asked.
    otel: Otel,
    otel_config: OtelConfig,
}

impl ShareRun {
    /// Runs the share, relaying the start and stops from the coordinator
    /// and the deltas to it.
    async fn run(self, mut link: Link, writers: crate::live::Writers) -> Result<ExitCode, Failure> {
        let stop = Stop::default();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let watch = AgentWatch::new(&self.plan, writers, events_tx, stop.clone());
        let test = self
            .test
            .with_live(Live {
                observer: Box::new(watch),
                interval: self.interval,
                system_tags: self.settings.system_tags.clone(),
            })
            .with_tracing(self.otel.tracing());
        let (mut otel, otel_config) = (self.otel, self.otel_config);
        let (prepared, mut made) = oneshot::channel();
        let (start, start_at) = oneshot::channel();
        let share = Share {
            setup_data: self.setup_data,
            prepared,
            start_at,
        };
        let (plan, env, run_stop) = (self.plan, self.env, stop.clone());
        let (results, mut header) = (self.results, self.header);
        header.started_at = result::now_rfc3339();
        let task = tokio::spawn(async move { test.run_share(&plan, &env, &run_stop, share).await });

        let mut start = Some(start);
        let mut made_done = false;
        let mut coordinator_gone = false;
        loop {
            tokio::select! {
                result = &mut made, if !made_done => {
                    made_done = true;
                    if result.is_ok() {
                        link.send(ToCoordinator::Ready(protocol::Ready {})).await;
                    }
                }
                message = link.receive(), if !coordinator_gone => match message {
                    Ok(Some(FromCoordinator::Start(at))) => {
                        let at = loadwit_dist::from_unix_micros(at.unix_micros);
                        if let Some(start) = start.take() {
                            let _ = start.send(at);
                        }
                        log_start(at);
                    }
                    Ok(Some(FromCoordinator::Stop(how))) => obey(&stop, how.hard),
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        coordinator_gone = true;
                        start.take();
                        eprintln!("error: the coordinator went away; stopping this share");
                        stop.stop_now(StopReason::Remote);
                    }
                },
                event = events.recv() => match event {
                    Some(AgentEvent::Delta(delta)) => link.send(ToCoordinator::Delta(delta)).await,
                    Some(AgentEvent::Aborted(reason)) => {
                        link.send(ToCoordinator::Aborted(protocol::Aborted { reason })).await;
                    }
                    None => break,
                },
            }
        }
        let result = task.await;
        let report = match result {
            Ok(Ok(report)) => report,
            Ok(Err(error)) => return Err(link.fail(run::load_failure(error)).await),
            Err(error) => {
                return Err(link
                    .fail(could_not_run(anyhow::anyhow!(
                        "the share's task failed: {error}"
                    )))
                    .await);
            }
        };
        if let Err(error) = write_results(&results, &mut header, &report) {
            eprintln!("error: {error:#}");
        }
        if let Some(exported) = otlp::finish(&mut otel, &otel_config) {
            eprintln!("{}", exported.line());
        }
        let done = protocol::Done {
            vus_max: report.vus_max,
            elapsed_ms: report.elapsed.as_millis() as u64,
        };
        link.send(ToCoordinator::Done(done)).await;
        if coordinator_gone {
            return Err(could_not_run(anyhow::anyhow!(
                "the coordinator went away before this share ended"
            )));
        }
        goodbye(link).await;
        Ok(ExitCode::Success)
    }
}

/// Writes this share's `--out result=FILE` files: its own aggregate,
/// which `loadwit merge` adds to the other agents'.
fn write_results(
    paths: &[PathBuf],
    header: &mut ResultHeader,
    report: &Report,
) -> anyhow::Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    header.elapsed_ms = report.elapsed.as_secs_f64() * 1e3;
    header.vus_max = report.vus_max;
    header.ended_at = result::now_rfc3339();
    header.stop_reason =
        (report.stopped != StopLevel::Running).then(|| result::stop_reason::STOPPED.to_owned());
    for path in paths {
        result::write(path, header, &report.aggregate)?;
    }
    Ok(())
}

/// Stops the share as the coordinator says.
fn obey(stop: &Stop, hard: bool) {
    if hard {
        eprintln!("stopping now: the coordinator stopped the test");
        stop.stop_now(StopReason::Remote);
    } else {
        eprintln!("stopping: the coordinator stopped the test; running iterations may finish");
        stop.escalate_for(StopReason::Remote);
    }
}

fn log_start(at: SystemTime) {
    let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
    tracing::info!(
        in_ms = wait.as_millis() as u64,
        "starting at the agreed instant"
    );
}

/// Closes the agent's side and waits briefly for the coordinator's, so
/// the last messages are delivered before the process exits.
async fn goodbye(link: Link) {
    let Link {
        outbound,
        mut inbound,
    } = link;
    drop(outbound);
    let drain = async { while let Ok(Some(_)) = inbound.message().await {} };
    let _ = tokio::time::timeout(GOODBYE, drain).await;
}

/// The host's name, which a Kubernetes pod's is.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("agent-{}", std::process::id()))
}
