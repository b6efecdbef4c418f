//! The lines printed before a run starts: what will run, and how.

use std::io::{self, Write};
use std::path::Path;

use loadwit_engine::{Executor, Plan};
use loadwit_metrics::format_duration;

/// Prints the component and each scenario's shape, as k6's start banner.
pub fn print(out: &mut impl Write, path: &Path, plan: &Plan) -> io::Result<()> {
    let file = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    writeln!(out, "  loadwit {}  {file}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out)?;
    let count = plan.scenarios.len();
    let plural = if count == 1 { "" } else { "s" };
    writeln!(
        out,
        "  {count} scenario{plural}, up to {} VUs",
        plan.max_vus()
    )?;
    for scenario in &plan.scenarios {
        writeln!(
            out,
            "    {}: {} (exec: {}, gracefulStop: {})",
            scenario.name,
            describe(&scenario.executor),
            scenario.exec,
            format_duration(scenario.graceful_stop),
        )?;
    }
    writeln!(out)
}

fn describe(executor: &Executor) -> String {
    match *executor {
        Executor::ConstantVus { vus, duration } => {
            format!("{vus} VUs for {}, constant-vus", format_duration(duration))
        }
        Executor::PerVuIterations {
            vus,
            iterations,
            max_duration,
        } => format!(
            "{iterations} iterations for each of {vus} VUs (maxDuration: {}), per-vu-iterations",
            format_duration(max_duration)
        ),
        Executor::SharedIterations {
            vus,
            iterations,
            max_duration,
        } => format!(
            "{iterations} iterations shared by {vus} VUs (maxDuration: {}), shared-iterations",
            format_duration(max_duration)
        ),
    }
}
