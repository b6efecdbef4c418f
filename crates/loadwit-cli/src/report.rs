//! The end of a test, shared by `loadwit run` and `loadwit merge`: the
//! thresholds judged, the summary printed, and the summary export and
//! JUnit report written.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use loadwit_metrics::{Aggregate, RunInfo, Summary, ThresholdOutcome, Thresholds, TimeSeries};
use serde_json::Value;

use crate::output::junit;
use crate::settings::Settings;

/// Where the end-of-test reports go besides the terminal.
#[derive(Debug, Default, Clone, Copy)]
pub struct Exports<'a> {
    /// `--summary-export FILE`.
    pub summary: Option<&'a Path>,
    /// `--junit FILE`.
    pub junit: Option<&'a Path>,
}

impl<'a> Exports<'a> {
    /// The exports named by the two flags.
    pub fn new(summary: Option<&'a PathBuf>, junit: Option<&'a PathBuf>) -> Self {
        Self {
            summary: summary.map(PathBuf::as_path),
            junit: junit.map(PathBuf::as_path),
        }
    }
}

/// The thresholds of a test: those of the options' `thresholds` (k6's
/// shape), then those written in the CLI form `METRIC: EXPRESSION`.
///
/// # Errors
///
/// When one does not parse; the message names it.
pub fn thresholds(options: Option<&Value>, cli: &[String]) -> anyhow::Result<Thresholds> {
    let mut thresholds = match options {
        Some(value) => Thresholds::from_options(value)?,
        None => Thresholds::default(),
    };
    for text in cli {
        thresholds.push_cli(text)?;
    }
    Ok(thresholds)
}

/// The thresholds in the CLI form, which [`thresholds`] reads back: how
/// a result file carries them to `loadwit merge`.
pub fn threshold_texts(thresholds: &Thresholds) -> Vec<String> {
    thresholds
        .iter()
        .map(|t| format!("{}: {}", t.metric_key(), t.source))
        .collect()
}

/// The summary of `aggregate`, shaped by the result settings.
pub fn summary(
    aggregate: &Aggregate,
    outcomes: &[ThresholdOutcome],
    info: RunInfo,
    settings: &Settings,
    series: Option<TimeSeries>,
) -> Summary {
    let mut summary = Summary::new(aggregate, outcomes, info).with_time_unit(settings.time_unit);
    if let Some(stats) = &settings.trend_stats {
        summary = summary.with_trend_stats(stats.clone());
    }
    if let Some(series) = series {
        summary = summary.with_time_series(series);
    }
    summary
}

/// Prints the summary's text layout on stdout.
pub fn print(summary: &Summary) {
    let mut stdout = io::stdout().lock();
    summary.render_text(&mut stdout).ok();
    stdout.flush().ok();
}

/// Writes the summary export and JUnit report that were asked for.
///
/// # Errors
///
/// When a file cannot be written; the message names its flag.
pub fn write_exports(summary: &Summary, exports: Exports<'_>) -> anyhow::Result<()> {
    if let Some(path) = exports.summary {
        write_summary(path, summary, &[])?;
    }
    if let Some(path) = exports.junit {
        junit::write(path, summary)?;
    }
    Ok(())
}

/// Writes the JSON summary with `extra` keys beside k6's (a distributed
/// run's `agents`).
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_summary(
    path: &Path,
    summary: &Summary,
    extra: &[(&'static str, Value)],
) -> anyhow::Result<()> {
    let mut json = summary.to_json();
    for (key, value) in extra {
        json[*key] = value.clone();
    }
    write_json(path, &json)
}

/// Whether any threshold failed.
pub fn any_failed(outcomes: &[ThresholdOutcome]) -> bool {
    outcomes.iter().any(|outcome| !outcome.passed)
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("cannot write the summary to `{}`", path.display()))
}
