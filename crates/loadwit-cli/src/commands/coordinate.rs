//! `loadwit coordinate`: one test across several agents, one summary,
//! one verdict.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use loadwit_engine::{Report, Stop};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::run::{self, Failure, Resolved, Results, RunArgs};
use super::tls_flags::TlsFlags;
use crate::coordinator::{Assignment, Coordinator, Halt, LossPolicy, Policy, Ran};
use crate::exit::ExitCode;
use crate::fleet::Fleet;
use crate::live::{LiveOutcome, Watch};
use crate::otlp::{self, Exported, MetricsExport};
use crate::output::OutSpec;
use crate::output::result;
use crate::progress::Progress;
use crate::{banner, report};

/// Runs one test across several `loadwit agent` processes, with one
/// summary and one verdict.
///
/// The coordinator resolves options exactly as `loadwit run` does, waits
/// for `--agents` agents to dial in, and hands each the component, the
/// resolved options and its share of every scenario (segment `i/N`). It
/// runs `setup` once and sends its data to all, starts every agent at one
/// instant, folds the aggregates they send every second into the fleet's
/// totals, evaluates thresholds on those (an `abortOnFail` stops every
/// agent), runs `teardown` once, and prints the one summary.
///
/// Agents dial out, so they may sit behind NAT. Traffic is plaintext
/// unless `--tls-cert` and `--tls-key` are given: keep it on a private
/// network otherwise.
///
/// Exit codes are `loadwit run`'s; an agent lost under
/// `--on-agent-loss abort` exits 105, and too few agents joining exits
/// 107.
///
/// Examples:
///
///   # Three agents share 300 VUs; start them with
///   #   loadwit agent --coordinator HOST:7070
///   loadwit coordinate shop_stress.wasm --agents 3 --listen 0.0.0.0:7070 \
///       --vus 300 --duration 5m --summary-export summary.json
///
///   # Stop everything if one agent disappears
///   loadwit coordinate shop_stress.wasm --agents 3 --on-agent-loss abort
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct CoordinateArgs {
    #[command(flatten)]
    run: RunArgs,

    /// How many agents run the test; each runs the share `i/N`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    agents: u32,

    /// The address agents dial, as `HOST:PORT`.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:7070")]
    listen: String,

    /// When an agent's stream breaks or it goes silent: `continue` with
    /// the others (the loss is reported), or `abort` the test.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = LossPolicy::Continue)]
    on_agent_loss: LossPolicy,

    /// How long a running agent may send nothing before it is lost.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = run::parse_duration)]
    agent_timeout: Duration,

    /// How long to wait for the agents to join, and then for each to
    /// load the component and make its VUs.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = run::parse_duration)]
    join_timeout: Duration,

    #[command(flatten)]
    tls: TlsFlags,
}

/// Runs the command and maps its outcome to an exit code.
pub fn run(args: CoordinateArgs) -> ExitCode {
    run::on_runtime(execute(&args))
}

async fn execute(args: &CoordinateArgs) -> Result<ExitCode, Failure> {
    refuse_segment(&args.run)?;
    let mut resolved = run::resolve(&args.run).await?;
    let otel_config = args.run.otel_config()?;
    refuse_sample_outputs(args.run.outputs())?;
    let mut stdout = io::stdout().lock();
    if args.run.dry_run() {
        banner::print_plan(
            &mut stdout,
            args.run.file(),
            &resolved.plan,
            &resolved.thresholds,
        )
        .ok();
        return Ok(ExitCode::Success);
    }
    banner::print(&mut stdout, args.run.file(), &resolved.plan).ok();
    drop(stdout);
    let assignment = assignment(&args.run, &resolved)?;

    let (sessions, shutdown) = listen(args).await?;
    let wanted = args.agents as usize;
    let fleet = Fleet::gather(sessions, wanted, args.join_timeout)
        .await
        .map_err(|few| {
            Failure::new(
                ExitCode::ScenarioFailed,
                anyhow::anyhow!(
                    "only {} of {wanted} agents joined within {}; start more with \
                     `loadwit agent --coordinator HOST:PORT`, or lower `--agents`",
                    few.joined,
                    humantime::format_duration(args.join_timeout)
                ),
            )
        })?;

    // The coordinator exports the fleet's merged metrics and traces the
    // `setup` and `teardown` it runs; the agents trace their iterations.
    let mut otel = run::start_otlp(&otel_config, &args.run, &resolved.settings)?;
    resolved.test = resolved.test.with_tracing(otel.tracing());
    let stop = Stop::default();
    let progress = Progress::new(&resolved.plan, args.run.quiet());
    let footer = progress.footer();
    let (watch, outcome) = Watch::new(
        resolved.thresholds.clone(),
        stop.clone(),
        run::LIVE_INTERVAL,
        Vec::new(),
        progress,
    );
    let watch = watch.with_otlp(MetricsExport::new(&otel, &otel_config));
    let policy = Policy {
        on_loss: args.on_agent_loss,
        agent_timeout: args.agent_timeout,
        phase_timeout: args.join_timeout,
    };
    let mut coordinator = Coordinator::new(
        fleet,
        stop.clone(),
        policy,
        (watch, outcome.clone()),
        footer,
    );
    let signals = tokio::spawn(run::stop_on_signals(stop.clone()));
    let started_at = result::now_rfc3339();
    let driven = coordinator
        .drive(&resolved.test, &resolved.plan, &assignment)
        .await;
    signals.abort();
    let _ = shutdown.send(());

    let live = std::mem::take(&mut *outcome.lock().unwrap_or_else(|e| e.into_inner()));
    let ended = Ended {
        started_at,
        live,
        driven,
        otlp: otlp::finish(&mut otel, &otel_config),
    };
    conclude(args, &resolved, &coordinator, ended)
}

/// How the coordinated run ended, for the report.
struct Ended {
    started_at: String,
    live: LiveOutcome,
    driven: Result<Ran, Halt>,
    otlp: Option<Exported>,
}

/// Writes the summary and result files and decides the exit code.
fn conclude(
    args: &CoordinateArgs,
    resolved: &Resolved,
    coordinator: &Coordinator,
    ended: Ended,
) -> Result<ExitCode, Failure> {
    let mut results = Results {
        args: &args.run,
        thresholds: &resolved.thresholds,
        settings: &resolved.settings,
        options: &resolved.options,
        plan: &resolved.plan,
        started_at: ended.started_at,
        live: ended.live,
        setup_failed: false,
        otlp: ended.otlp,
        extra_json: vec![("agents", coordinator.fleet.to_json())],
    };
    let stopped = coordinator.stop.level();
    let (ran, halt) = match ended.driven {
        Ok(ran) => (ran, None),
        Err(Halt::Setup { error, aggregate }) => {
            let ran = Ran {
                total: *aggregate,
                elapsed: Duration::ZERO,
                vus_max: 0,
                teardown: None,
            };
            (ran, results.ended_in_setup(error))
        }
        Err(Halt::NoAgents) => {
            let failure = Failure::new(
                ExitCode::ScenarioFailed,
                anyhow::anyhow!("every agent was lost before the start; nothing ran"),
            );
            return Err(failure);
        }
        Err(Halt::Test(error)) => return Err(run::load_failure(error)),
    };
    let code = results.finish(Report {
        aggregate: ran.total,
        elapsed: ran.elapsed,
        vus_max: ran.vus_max,
        vus_timeline: Vec::new(),
        stopped,
        teardown: ran.teardown,
    })?;
    print_agents(coordinator);
    match halt {
        Some(failure) => Err(failure),
        None => Ok(code),
    }
}

/// The agents' table after the summary, with every loss.
fn print_agents(coordinator: &Coordinator) {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "     agents").ok();
    for line in coordinator.fleet.health_lines() {
        writeln!(stdout, "     {}", line.trim_start()).ok();
    }
    writeln!(stdout).ok();
    stdout.flush().ok();
    let lost = coordinator.fleet.lost();
    if lost > 0 {
        eprintln!(
            "warning: {lost} of {} agents were lost; their shares did not run to the end",
            coordinator.fleet.agents.len()
        );
    }
}

/// A segment is one runner's share; the coordinator hands every agent
/// its own.
fn refuse_segment(args: &RunArgs) -> Result<(), Failure> {
    let segment = args
        .segment()
        .resolve()
        .map_err(|e| Failure::new(ExitCode::InvalidConfig, e))?;
    if segment.is_some() {
        return Err(Failure::new(
            ExitCode::InvalidConfig,
            anyhow::anyhow!(
                "`--segment` picks one runner's share, and `loadwit coordinate` hands every \
                 agent its own; leave it out"
            ),
        ));
    }
    Ok(())
}

/// Sample outputs are the agents' to write: the coordinator sees
/// aggregates, not samples.
fn refuse_sample_outputs(outputs: &[OutSpec]) -> Result<(), Failure> {
    for spec in outputs {
        if matches!(spec, OutSpec::Json(_) | OutSpec::Csv(_)) {
            return Err(Failure::new(
                ExitCode::InvalidConfig,
                anyhow::anyhow!(
                    "`--out` `{}` writes samples, which stay on the agents in a distributed \
                     run; give it to `loadwit agent` instead",
                    spec.path().display()
                ),
            ));
        }
    }
    Ok(())
}

/// The component and the resolved options, as every agent gets them:
/// `--tag` flags folded into `tags`, PEM files inlined.
fn assignment(args: &RunArgs, resolved: &Resolved) -> Result<Assignment, Failure> {
    let invalid = |e: anyhow::Error| Failure::new(ExitCode::InvalidConfig, e);
    let file = args.file();
    let wasm = std::fs::read(file)
        .with_context(|| format!("cannot read `{}`", file.display()))
        .map_err(|e| Failure::new(ExitCode::ScenarioFailed, e))?;
    let mut options = resolved.options.clone();
    options
        .http
        .inline_pem_files()
        .map_err(|e| invalid(anyhow::anyhow!(e)))?;
    let mut tags = resolved.settings.run_tags.clone();
    tags.extend(args.tags().iter().cloned());
    if !tags.is_empty() {
        options
            .unknown
            .insert("tags".into(), serde_json::json!(tags));
    }
    let options_json = serde_json::to_string(&options).map_err(|e| invalid(e.into()))?;
    let env: BTreeMap<String, String> = args.env_map();
    Ok(Assignment {
        hash: loadwit_dist::component_hash(&wasm),
        name: file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        wasm,
        options_json,
        env,
        interval: run::LIVE_INTERVAL,
        thresholds: report::threshold_texts(&resolved.thresholds),
    })
}

/// Listens for agents; returns their sessions and the means to stop
/// listening.
async fn listen(
    args: &CoordinateArgs,
) -> Result<(mpsc::Receiver<loadwit_dist::Session>, oneshot::Sender<()>), Failure> {
    let invalid = |e: anyhow::Error| Failure::new(ExitCode::InvalidConfig, e);
    let tls = args.tls.files().server().map_err(|e| invalid(e.into()))?;
    let listener = TcpListener::bind(args.listen.as_str())
        .await
        .with_context(|| {
            format!(
                "cannot listen on `{}`; pick another `--listen` address",
                args.listen
            )
        })
        .map_err(invalid)?;
    let address = listener
        .local_addr()
        .map_or_else(|_| args.listen.clone(), |a| a.to_string());
    let secure = if tls.is_some() { "TLS" } else { "plaintext" };
    eprintln!("waiting for {} agents on {address} ({secure})", args.agents);
    let (sessions_tx, sessions) = mpsc::channel(16);
    let (shutdown, until) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let stopped = async {
            let _ = until.await;
        };
        if let Err(error) = loadwit_dist::serve(listener, tls, sessions_tx, stopped).await {
            eprintln!("error: the coordinator's listener failed: {error}");
        }
    });
    Ok((sessions, shutdown))
}
