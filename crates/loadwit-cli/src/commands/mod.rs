//! One module per subcommand.

mod http_flags;
mod run;

use clap::Subcommand;

use crate::exit::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    Run(run::RunArgs),
}

/// Runs the command and returns how the process should exit.
pub fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Run(args) => run::run(args),
    }
}
