//! `loadwit merge`: combine the result files of a distributed run's
//! segments into one summary and one verdict.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use loadwit_engine::options::segment::Fraction;
use loadwit_engine::{ExecutionSegment, SegmentSequence};
use loadwit_metrics::{Aggregate, RunInfo};

use crate::exit::ExitCode;
use crate::output::result::{self, RunResult, stop_reason};
use crate::report;
use crate::settings::Settings;

/// Merges the `--out result=FILE` files of a test's segments, prints the
/// summary of all of them together and judges the thresholds on it.
///
/// The files must come from runs of the same component whose segments do
/// not overlap, and cover the whole test unless `--partial` is given: a
/// missing part is an error (after the summary is printed and written),
/// so a CI job that lost one cannot pass.
/// Histograms are added, not averaged, so merged percentiles are those
/// of every sample of every part. Thresholds are the ones the runs had,
/// plus any `--threshold`, judged on the merged totals: a threshold can
/// fail on the whole even when it passed on every part.
///
/// Exit codes: 0 success, 99 a threshold failed on the merged result (or
/// a part was aborted by one), 104 a file is unreadable, the files do
/// not belong together or a part is missing, 105 a part was stopped from
/// outside, 107 a part's scenario failed to load or its setup or teardown
/// failed, 108 a part's scenario aborted the test.
///
/// Examples:
///
///   # Three segments run anywhere, merged in CI
///   loadwit merge part1.result part2.result part3.result \
///       --summary-export summary.json --junit junit.xml
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct MergeArgs {
    /// The result files, one per segment.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Another threshold to judge the merged result by, as `METRIC:
    /// EXPRESSION`; may be given several times.
    #[arg(long = "threshold", value_name = "METRIC: EXPR")]
    thresholds: Vec<String>,

    /// Also write the merged summary as JSON, in k6's summary-export
    /// layout.
    #[arg(long, value_name = "FILE")]
    summary_export: Option<PathBuf>,

    /// Write the merged thresholds and checks as JUnit XML.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Accept results that cover only part of the test, judging those
    /// segments alone, instead of failing with exit 104.
    #[arg(long)]
    partial: bool,
}

/// Runs the command and maps its outcome to an exit code.
pub fn run(args: MergeArgs) -> ExitCode {
    match execute(&args) {
        Ok(code) => code,
        Err((code, error)) => {
            eprintln!("error: {error:#}");
            code
        }
    }
}

type Failure = (ExitCode, anyhow::Error);

fn invalid(error: impl Into<anyhow::Error>) -> Failure {
    (ExitCode::InvalidConfig, error.into())
}

fn execute(args: &MergeArgs) -> Result<ExitCode, Failure> {
    let parts = args
        .files
        .iter()
        .map(|path| result::read(path))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(invalid)?;
    check_together(args, &parts).map_err(invalid)?;
    let covered = coverage(&parts);
    warn_on_mismatches(&parts);

    let first = &parts[0].header;
    let thresholds = report::thresholds(
        None,
        &[first.thresholds.clone(), args.thresholds.clone()].concat(),
    )
    .map_err(invalid)?;
    let settings =
        Settings::from_options(&first.summary_options).map_err(|e| invalid(anyhow::anyhow!(e)))?;

    let mut aggregate = Aggregate::new();
    for part in &parts {
        aggregate.merge_concurrent(&part.aggregate);
    }
    let info = RunInfo {
        elapsed: elapsed(&parts),
        vus_max: parts.iter().map(|p| p.header.vus_max).sum(),
    };
    let outcomes = thresholds.evaluate(&aggregate, info.elapsed);
    let summary = report::summary(&aggregate, &outcomes, info, &settings, None);
    let noun = if parts.len() == 1 {
        "result"
    } else {
        "results"
    };
    println!("  merged {} {noun} of {}\n", parts.len(), first.component);
    report::print(&summary);
    let exports = report::Exports::new(args.summary_export.as_ref(), args.junit.as_ref());
    report::write_exports(&summary, exports).map_err(|e| (ExitCode::ScenarioFailed, e))?;
    if covered != Fraction::from_integer(1) {
        if !args.partial {
            return Err(invalid(anyhow::anyhow!(
                "the results cover {covered} of the test: a part is missing; \
                 merge every part, or pass --partial to judge these alone"
            )));
        }
        eprintln!(
            "warning: the results cover {covered} of the test; the summary is of those segments only"
        );
    }
    Ok(verdict(&parts, report::any_failed(&outcomes)))
}

/// Refuses files from different components, and segments that overlap.
fn check_together(args: &MergeArgs, parts: &[RunResult]) -> anyhow::Result<()> {
    let first = &parts[0].header;
    for (path, part) in args.files.iter().zip(parts).skip(1) {
        if part.header.component_sha256 != first.component_sha256 {
            anyhow::bail!(
                "`{}` is a result of another component (`{}`, sha256 {}) than `{}` \
                 (`{}`, sha256 {}); merge the results of one test only",
                path.display(),
                part.header.component,
                short(&part.header.component_sha256),
                args.files[0].display(),
                first.component,
                short(&first.component_sha256),
            );
        }
    }
    let segments = segments(args, parts)?;
    for (i, (path_a, a)) in segments.iter().enumerate() {
        for (path_b, b) in &segments[i + 1..] {
            if a.overlaps(b) {
                anyhow::bail!(
                    "the segments of `{}` ({a}) and `{}` ({b}) overlap, so their samples would \
                     count twice; merge one result per segment",
                    path_a.display(),
                    path_b.display(),
                );
            }
        }
    }
    Ok(())
}

fn segments<'a>(
    args: &'a MergeArgs,
    parts: &[RunResult],
) -> anyhow::Result<Vec<(&'a PathBuf, ExecutionSegment)>> {
    args.files
        .iter()
        .zip(parts)
        .map(|(path, part)| {
            let segment = ExecutionSegment::from_str(&part.header.segment)
                .map_err(|e| anyhow::anyhow!("`{}` has an invalid segment: {e}", path.display()))?;
            Ok((path, segment))
        })
        .collect()
}

/// How much of the test the parts' segments make together.
fn coverage(parts: &[RunResult]) -> Fraction {
    parts
        .iter()
        .filter_map(|p| ExecutionSegment::from_str(&p.header.segment).ok())
        .map(|s| s.length())
        .sum()
}

/// Warns when the parts were cut by different sequences (then their
/// counts need not add up exactly) or had different thresholds.
fn warn_on_mismatches(parts: &[RunResult]) {
    let sequences: Vec<_> = parts
        .iter()
        .filter_map(|p| SegmentSequence::from_str(&p.header.sequence).ok())
        .collect();
    if sequences.windows(2).any(|pair| pair[0] != pair[1]) {
        eprintln!(
            "warning: the results were run with different segment sequences, so their \
             shares need not add up to the whole plan exactly; give every runner the same \
             `--execution-segment-sequence`"
        );
    }
    let first = &parts[0].header;
    if parts
        .iter()
        .any(|p| p.header.thresholds != first.thresholds)
    {
        eprintln!("warning: the results had different thresholds; judging by the first file's");
    }
}

/// The longest part's time: the parts ran side by side.
fn elapsed(parts: &[RunResult]) -> Duration {
    parts
        .iter()
        .map(|p| Duration::from_secs_f64(p.header.elapsed_ms.max(0.0) / 1e3))
        .max()
        .unwrap_or_default()
}

/// The merged verdict, by k6's order: an abort, then a stop from
/// outside, then failed thresholds (judged on the merged totals), then a
/// part whose scenario failed.
fn verdict(parts: &[RunResult], thresholds_failed: bool) -> ExitCode {
    let reasons: Vec<Option<&str>> = parts
        .iter()
        .map(|p| p.header.stop_reason.as_deref())
        .collect();
    if reasons.contains(&Some(stop_reason::THRESHOLD_ABORT)) {
        return ExitCode::ThresholdsFailed;
    }
    if reasons.contains(&Some(stop_reason::SCENARIO_ABORT)) {
        return ExitCode::ScenarioAborted;
    }
    if reasons.contains(&Some(stop_reason::STOPPED)) {
        return ExitCode::Stopped;
    }
    if thresholds_failed {
        return ExitCode::ThresholdsFailed;
    }
    if parts
        .iter()
        .any(|p| p.header.exit_code == ExitCode::ScenarioFailed as u8)
    {
        return ExitCode::ScenarioFailed;
    }
    ExitCode::Success
}

fn short(sha256: &str) -> &str {
    &sha256[..sha256.len().min(12)]
}
