//! The lines printed before a run starts: what will run, and how. With
//! `--dry-run` they are all that is printed, with each scenario's details
//! and the thresholds that will judge the run.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use loadwit_engine::{Executor, Plan, ScenarioPlan};
use loadwit_metrics::{Threshold, Thresholds, format_duration};

/// Prints the component and each scenario's shape, as k6's start banner.
pub fn print(out: &mut impl Write, path: &Path, plan: &Plan) -> io::Result<()> {
    header(out, path, plan)?;
    for scenario in &plan.scenarios {
        writeln!(out, "    {}", describe_scenario(scenario))?;
    }
    writeln!(out)
}

/// Prints the banner and, under each scenario, every parameter the plan
/// resolved (stages, VU limits, env and tags), then the thresholds, so a
/// dry run shows everything that decides the exit code.
pub fn print_plan(
    out: &mut impl Write,
    path: &Path,
    plan: &Plan,
    thresholds: &Thresholds,
) -> io::Result<()> {
    header(out, path, plan)?;
    for scenario in &plan.scenarios {
        writeln!(out, "    {}", describe_scenario(scenario))?;
        for line in details(scenario) {
            writeln!(out, "      {line}")?;
        }
    }
    writeln!(out)?;
    if !thresholds.is_empty() {
        writeln!(out, "  thresholds")?;
        for threshold in thresholds.iter() {
            writeln!(out, "    {}", describe_threshold(threshold))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `http_req_failed: rate<0.01 (abortOnFail, delayAbortEval: 10s)`
fn describe_threshold(threshold: &Threshold) -> String {
    let mut flags = Vec::new();
    if threshold.abort_on_fail {
        flags.push("abortOnFail".to_owned());
    }
    if let Some(delay) = threshold.delay_abort_eval {
        flags.push(format!("delayAbortEval: {}", format_duration(delay)));
    }
    if flags.is_empty() {
        threshold.to_string()
    } else {
        format!("{threshold} ({})", flags.join(", "))
    }
}

fn header(out: &mut impl Write, path: &Path, plan: &Plan) -> io::Result<()> {
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
        "  {count} scenario{plural}, up to {} VUs, {} max duration (incl. graceful stop)",
        plan.max_vus(),
        format_duration(plan.max_duration()),
    )?;
    if !plan.segment.is_whole() {
        writeln!(
            out,
            "  segment {} of the sequence {}: this runner's share",
            plan.segment, plan.sequence
        )?;
    }
    Ok(())
}

/// One line saying what a scenario runs, as the banner and a result
/// file's header show it.
pub fn describe_scenario(scenario: &ScenarioPlan) -> String {
    let start = if scenario.start_time.is_zero() {
        String::new()
    } else {
        format!("startTime: {}, ", format_duration(scenario.start_time))
    };
    format!(
        "{}: {}, {} ({start}exec: {}, gracefulStop: {})",
        scenario.name,
        describe(&scenario.executor),
        scenario.executor.name(),
        scenario.exec,
        format_duration(scenario.graceful_stop),
    )
}

fn describe(executor: &Executor) -> String {
    let d = |duration: Duration| format_duration(duration);
    match executor {
        Executor::ConstantVus { vus, duration } => format!("{vus} VUs for {}", d(*duration)),
        Executor::RampingVus {
            start_vus, stages, ..
        } => format!(
            "up to {} VUs over {} in {} stages from {start_vus}",
            executor.max_vus(),
            d(executor.duration()),
            stages.len()
        ),
        Executor::PerVuIterations {
            vus,
            iterations,
            max_duration,
        } => format!(
            "{iterations} iterations for each of {vus} VUs (maxDuration: {})",
            d(*max_duration)
        ),
        Executor::SharedIterations {
            vus,
            iterations,
            max_duration,
        } => format!(
            "{iterations} iterations shared by {vus} VUs (maxDuration: {})",
            d(*max_duration)
        ),
        Executor::ConstantArrivalRate {
            rate,
            duration,
            vus,
            ..
        } => format!(
            "{} iterations/{} for {} (maxVUs: {}, preAllocatedVUs: {})",
            rate.iterations,
            d(rate.time_unit),
            d(*duration),
            vus.max,
            vus.pre_allocated
        ),
        Executor::RampingArrivalRate {
            start_rate,
            stages,
            vus,
            ..
        } => format!(
            "up to {} iterations/{} over {} in {} stages (maxVUs: {}, preAllocatedVUs: {})",
            stages.iter().map(|s| s.target).max().unwrap_or(0),
            d(start_rate.time_unit),
            d(executor.duration()),
            stages.len(),
            vus.max,
            vus.pre_allocated
        ),
    }
}

/// The parameters the one-line description leaves out.
fn details(scenario: &ScenarioPlan) -> Vec<String> {
    let mut lines = Vec::new();
    match &scenario.executor {
        Executor::RampingVus {
            start_vus,
            stages,
            graceful_ramp_down,
        } => {
            lines.push(format!(
                "startVUs: {start_vus}, gracefulRampDown: {}",
                format_duration(*graceful_ramp_down)
            ));
            lines.extend(stage_lines(stages, "VUs"));
        }
        Executor::RampingArrivalRate {
            start_rate,
            stages,
            max_lateness,
            ..
        } => {
            lines.push(format!(
                "startRate: {} per {}, maxLateness: {}",
                start_rate.iterations,
                format_duration(start_rate.time_unit),
                format_duration(*max_lateness)
            ));
            lines.extend(stage_lines(stages, "iterations per timeUnit"));
        }
        Executor::ConstantArrivalRate { max_lateness, .. } => {
            lines.push(format!("maxLateness: {}", format_duration(*max_lateness)));
        }
        _ => {}
    }
    for (key, value) in &scenario.env {
        lines.push(format!("env {key}={value}"));
    }
    for (key, value) in &scenario.tags {
        lines.push(format!("tag {key}={value}"));
    }
    lines
}

fn stage_lines<'a>(
    stages: &'a [loadwit_engine::Stage],
    unit: &'a str,
) -> impl Iterator<Item = String> + 'a {
    stages.iter().enumerate().map(move |(i, stage)| {
        format!(
            "stage {}: to {} {unit} over {}",
            i + 1,
            stage.target,
            format_duration(stage.duration)
        )
    })
}
