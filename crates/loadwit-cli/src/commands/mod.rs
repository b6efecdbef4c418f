//! One module per subcommand.

mod build;
mod http_flags;
mod inspect;
mod merge;
mod new;
mod run;
mod segment_flags;

use clap::Subcommand;

use crate::exit::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    Run(Box<run::RunArgs>),
    New(new::NewArgs),
    Build(build::BuildArgs),
    Inspect(inspect::InspectArgs),
    Merge(merge::MergeArgs),
}

/// Runs the command and returns how the process should exit.
pub fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Run(args) => run::run(*args),
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Merge(args) => merge::run(args),
    }
}
