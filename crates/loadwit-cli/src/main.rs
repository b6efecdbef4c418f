//! `loadwit`: runs WebAssembly load-test scenarios and reports on them.

mod agent_watch;
mod banner;
mod commands;
mod coordinator;
mod diagnosis;
mod exit;
mod fleet;
mod live;
mod otlp;
mod output;
mod progress;
mod report;
mod settings;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// Load tests written as WebAssembly components, run at native speed.
///
/// A scenario is a component built for the `loadwit:scenario` world in any
/// language. loadwit runs it as many virtual users against an HTTP target,
/// prints a k6-style summary and exits non-zero when thresholds fail.
#[derive(Parser)]
#[command(name = "loadwit", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let code = commands::dispatch(cli.command);
    ExitCode::from(code as u8)
}

/// Diagnostics go to stderr through `tracing`, filtered by `LOADWIT_LOG`
/// (for example `LOADWIT_LOG=debug`). Guest output (the `guest` target)
/// shows by default, as a scenario's `console.log` does in k6, and so do
/// notices of slow steps (`loadwit::progress`, such as a first compile).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOADWIT_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,guest=info,loadwit::progress=info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .compact()
        .init();
}
