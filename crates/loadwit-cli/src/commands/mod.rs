//! One module per subcommand.

mod agent;
mod build;
mod coordinate;
mod http_flags;
mod inspect;
mod merge;
mod new;
mod run;
mod segment_flags;
mod tls_flags;

use clap::Subcommand;

use crate::exit::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    Run(Box<run::RunArgs>),
    New(new::NewArgs),
    Build(build::BuildArgs),
    Inspect(inspect::InspectArgs),
    Coordinate(Box<coordinate::CoordinateArgs>),
    Agent(Box<agent::AgentArgs>),
    Merge(merge::MergeArgs),
}

/// Runs the command and returns how the process should exit.
pub fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Run(args) => run::run(*args),
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Coordinate(args) => coordinate::run(*args),
        Command::Agent(args) => agent::run(*args),
        Command::Merge(args) => merge::run(args),
    }
}
