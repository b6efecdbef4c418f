//! The `loadwit-shop` binary: the demo shop on a fixed address.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use loadwit_shop::{Route, RouteErrorRate, RouteLatency, ShopConfig};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// An in-memory e-commerce JSON API to point load tests at.
///
/// loadwit-shop serves a fixed catalog of 200 products in 8 categories,
/// 101 seed users (`demo`/`demo`, and `user1` to `user100` with password
/// `password`) and each user's recent orders. Everything lives in memory
/// and answers the same in every run. The shop prints one line to stdout
/// when it is ready and stops cleanly on Ctrl-C or SIGTERM.
///
/// Two knobs make it misbehave on purpose, per route. Their ROUTE is `*`
/// for every route, a path pattern exactly as listed below, or a pattern
/// ending in `*` for every route that starts with it (`/api/catalog/*`).
/// Put a method in front (`POST /api/orders`) to pick one method of a
/// path. When several entries select the same route, the last one wins.
///
/// Diagnostics go to stderr, filtered by the `LOADWIT_LOG` environment
/// variable (default `warn`; e.g. `LOADWIT_LOG=debug`).
#[derive(Debug, Parser)]
#[command(name = "loadwit-shop", version, max_term_width = 100)]
#[command(after_long_help = after_long_help())]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,

    /// Delay answers from ROUTE by DURATION, e.g. `/api/auth/me=50ms`.
    ///
    /// DURATION is a number with a unit: `us`, `ms`, `s` or `m`, as in
    /// `250us`, `50ms`, `1.5s`. The delay is a timer, not a busy wait, so
    /// it costs no CPU however many requests wait. Repeatable.
    #[arg(long, value_name = "ROUTE=DURATION")]
    latency: Vec<RouteLatency>,

    /// Answer FRACTION of requests to ROUTE with a 500, e.g.
    /// `/api/search=0.1`.
    ///
    /// FRACTION is from 0 to 1. Failures are spread evenly instead of
    /// drawn at random: with 0.1, exactly one request in ten fails. A
    /// failed request still waits out its `--latency`. Repeatable.
    #[arg(long = "error-rate", value_name = "ROUTE=FRACTION")]
    error_rate: Vec<RouteErrorRate>,

    /// Keep the trace context (`traceparent`, `x-datadog-*`) of the last
    /// N requests that carried one, served as JSON at
    /// `GET /admin/trace-contexts`.
    ///
    /// Off (0) by default. Reading the log is not counted as a request
    /// and is never slowed or failed by the knobs.
    #[arg(long, value_name = "N", default_value_t = 0)]
    trace_log: usize,
}

/// The route list and examples, after the flags in `--help`.
fn after_long_help() -> String {
    let mut help = String::from("Routes:\n");
    for route in Route::ALL {
        help += &format!("  {:<5}{}\n", route.method(), route.path());
    }
    help + EXAMPLES
}

const EXAMPLES: &str = "
Examples:
  # Serve on 127.0.0.1:3000
  loadwit-shop

  # Slow every route by 10ms, and /api/auth/me by 50ms
  loadwit-shop --latency '*=10ms' --latency /api/auth/me=50ms

  # Fail a tenth of searches and every order placement
  loadwit-shop --error-rate /api/search=0.1 --error-rate 'POST /api/orders=1'

  # Keep the trace context of the last 1000 traced requests
  loadwit-shop --trace-log 1000
  curl http://127.0.0.1:3000/admin/trace-contexts

  # Listen on every interface, with request logs
  LOADWIT_LOG=debug loadwit-shop --listen 0.0.0.0:8080";

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let listener = TcpListener::bind(cli.listen)
        .await
        .map_err(|err| format!("cannot listen on `{}`: {err}", cli.listen))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;

    let config = ShopConfig {
        latency: cli.latency,
        error_rate: cli.error_rate,
        trace_log: cli.trace_log,
    };
    println!("loadwit-shop listening on http://{addr}");
    loadwit_shop::serve_with_shutdown(listener, config, shutdown_signal())
        .await
        .map_err(|err| format!("stopped serving: {err}"))
}

fn init_logs() {
    let filter = match std::env::var("LOADWIT_LOG") {
        Ok(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|err| {
            eprintln!("warning: ignoring `LOADWIT_LOG`: {err}");
            EnvFilter::new("warn")
        }),
        Err(_) => EnvFilter::new("warn"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Completes on Ctrl-C or, on Unix, SIGTERM. A signal that cannot be
/// installed is never delivered rather than delivered at once.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate() => {}
    }
    tracing::info!("shutting down");
}

#[cfg(unix)]
async fn terminate() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => {
            sigterm.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}
