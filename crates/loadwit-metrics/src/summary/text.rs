//! The text summary, laid out like k6's classic end-of-test summary.

use std::io::{self, Write};

use super::{MetricRow, Summary, observed_text};
use crate::aggregate::MetricValue;
use crate::format::{
    format_byte_rate, format_bytes, format_count, format_number, format_percent, format_rate,
};
use crate::metric::ValueUnit;

const PASS: &str = "✓";
const FAIL: &str = "✗";
/// Indent of block headings, checks and metric names.
const INDENT: &str = "     ";
/// Indent of the lines inside a headed block.
const INNER: &str = "       ";
/// Failure messages and request groups listed before summing up the rest.
const MAX_MESSAGES_SHOWN: usize = 5;
const MAX_REQUEST_ROWS: usize = 50;
/// Characters of a failure message shown on its line.
const MESSAGE_WIDTH: usize = 100;

pub(super) fn render(summary: &Summary, out: &mut impl Write) -> io::Result<()> {
    let blocks = [
        what_failed(summary),
        thresholds(summary),
        checks(summary),
        metrics(summary),
        requests(summary),
    ];
    let mut first = true;
    for block in blocks.iter().filter(|b| !b.is_empty()) {
        if !first {
            writeln!(out)?;
        }
        first = false;
        for line in block {
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// Characters as a terminal counts them (`µ` and `✓` are one each).
fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad(text: &str, to: usize) -> String {
    let mut padded = text.to_string();
    padded.extend(std::iter::repeat_n(' ', to.saturating_sub(width(text))));
    padded
}

fn pad_left(text: &str, to: usize) -> String {
    format!("{}{text}", " ".repeat(to.saturating_sub(width(text))))
}

fn plural(count: u64, one: &str, many: &str) -> String {
    let noun = if count == 1 { one } else { many };
    format!("{} {noun}", format_count(count))
}

fn what_failed(summary: &Summary) -> Vec<String> {
    if !summary.has_failures() {
        return Vec::new();
    }
    let mut lines = vec![format!("{INDENT}what failed")];
    let item = |text: String| format!("{INNER}{FAIL} {text}");

    for outcome in summary.outcomes.iter().filter(|o| !o.passed) {
        let threshold = &outcome.threshold;
        lines.push(item(format!(
            "threshold `{}` on {}: observed {}",
            threshold.source,
            threshold.metric_key(),
            observed_text(outcome)
        )));
    }

    for check in summary.checks.iter().filter(|c| c.fails > 0) {
        let total = check.passes + check.fails;
        let ratio = format!("{} of {}", format_count(check.passes), format_count(total));
        lines.push(item(if check.passes == 0 {
            format!("check `{}` never passed: {ratio}", check.name)
        } else {
            let percent = format_percent(check.passes as f64 / total as f64);
            format!("check `{}` passed {percent}: {ratio}", check.name)
        }));
    }

    lines.extend(failed_iterations(summary));
    if summary.failures.interrupted > 0 {
        let count = summary.failures.interrupted;
        lines.push(item(format!(
            "{} interrupted",
            plural(count, "iteration", "iterations")
        )));
    }
    lines.extend(failed_requests(summary));
    lines
}

fn failed_iterations(summary: &Summary) -> Vec<String> {
    let failures = &summary.failures;
    if failures.total == 0 {
        return Vec::new();
    }
    let heading = plural(failures.total, "iteration", "iterations");
    let mut lines = vec![format!("{INNER}{FAIL} {heading} failed")];

    let shown = &failures.messages[..failures.messages.len().min(MAX_MESSAGES_SHOWN)];
    let rest: u64 = failures.messages[shown.len()..]
        .iter()
        .map(|(_, n)| n)
        .sum::<u64>()
        + failures.other;
    let mut counted: Vec<(String, String)> = shown
        .iter()
        .map(|(message, count)| (format_count(*count), one_line(message)))
        .collect();
    if rest > 0 {
        counted.push((format_count(rest), "other errors".to_string()));
    }

    let count_width = counted.iter().map(|(n, _)| width(n)).max().unwrap_or(0);
    for (count, message) in counted {
        lines.push(format!(
            "{INNER}    {} × {message}",
            pad_left(&count, count_width)
        ));
    }
    lines
}

/// The first line of a message, shortened to fit one terminal line.
fn one_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or("").trim();
    if width(first) <= MESSAGE_WIDTH {
        return first.to_string();
    }
    let mut short: String = first.chars().take(MESSAGE_WIDTH - 1).collect();
    short.push('…');
    short
}

fn failed_requests(summary: &Summary) -> Vec<String> {
    let Some((failed, total)) = summary.failed_requests().filter(|(f, _)| *f > 0) else {
        return Vec::new();
    };
    let percent = format_percent(failed as f64 / total as f64);
    let mut lines = vec![format!(
        "{INNER}{FAIL} {} of {} failed ({percent})",
        format_count(failed),
        plural(total, "request", "requests"),
    )];

    let mut groups: Vec<_> = summary.requests.iter().filter(|r| r.failed > 0).collect();
    groups.sort_by_key(|r| std::cmp::Reverse(r.failed));
    groups.truncate(MAX_MESSAGES_SHOWN);
    let counts: Vec<String> = groups.iter().map(|r| format_count(r.failed)).collect();
    let count_width = counts.iter().map(|n| width(n)).max().unwrap_or(0);
    for (group, count) in groups.iter().zip(&counts) {
        lines.push(format!(
            "{INNER}    {} × {} {} {}",
            pad_left(count, count_width),
            group.method,
            group.name,
            group.outcome
        ));
    }
    lines
}

fn thresholds(summary: &Summary) -> Vec<String> {
    if summary.outcomes.is_empty() {
        return Vec::new();
    }
    let labels: Vec<String> = summary
        .outcomes
        .iter()
        .map(|o| format!("{}: {}", o.threshold.metric_key(), o.threshold.source))
        .collect();
    let label_width = labels.iter().map(|l| width(l)).max().unwrap_or(0);

    let mut lines = vec![format!("{INDENT}thresholds")];
    for (outcome, label) in summary.outcomes.iter().zip(&labels) {
        let mark = if outcome.passed { PASS } else { FAIL };
        let observed = observed_text(outcome);
        lines.push(format!(
            "{INNER}{mark} {}  {observed}",
            pad(label, label_width)
        ));
    }
    lines
}

/// Checks outside any group first, then each group's under its name,
/// nested as k6 draws them (`█ outer`, then `█ inner` indented).
fn checks(summary: &Summary) -> Vec<String> {
    let mut ordered: Vec<_> = summary.checks.iter().collect();
    ordered.sort_by(|a, b| a.group.cmp(&b.group));

    let mut lines = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    for check in ordered {
        let path: Vec<&str> = check.group.split("::").filter(|n| !n.is_empty()).collect();
        let shared = open.iter().zip(&path).take_while(|(a, b)| a == b).count();
        for (depth, name) in path.iter().enumerate().skip(shared) {
            if lines.last().is_some_and(|line: &String| !line.is_empty()) {
                lines.push(String::new());
            }
            lines.push(format!("{INDENT}{}█ {name}", "  ".repeat(depth)));
            lines.push(String::new());
        }
        open = path;
        lines.extend(check_lines(check, &"  ".repeat(open.len())));
    }
    lines
}

fn check_lines(check: &crate::aggregate::CheckCount, indent: &str) -> Vec<String> {
    if check.fails == 0 {
        return vec![format!("{INDENT}{indent}{PASS} {}", check.name)];
    }
    let total = check.passes + check.fails;
    let percent = check.passes * 100 / total;
    vec![
        format!("{INDENT}{indent}{FAIL} {}", check.name),
        format!(
            "{INDENT}{indent} ↳  {percent}% — {PASS} {} / {FAIL} {}",
            format_count(check.passes),
            format_count(check.fails)
        ),
    ]
}

/// The values of one metrics-block row: trend statistics, each in its own
/// column across trends, or a value followed by extras.
enum Cells {
    Trend(Vec<String>),
    Plain(String, Vec<String>),
}

fn cells(summary: &Summary, row: &MetricRow) -> Cells {
    let secs = summary.elapsed_secs();
    let per_sec = |sum: f64| (secs > 0.0).then(|| sum / secs);
    match &row.value {
        MetricValue::Trend(trend) => Cells::Trend(
            summary
                .trend_stats
                .iter()
                .map(|stat| {
                    let value = stat.of(trend, row.metric.unit());
                    format!("{stat}={}", value.text(summary.time_unit))
                })
                .collect(),
        ),
        MetricValue::Counter { sum } if row.metric.unit() == ValueUnit::Data => {
            let extras = per_sec(*sum).map(format_byte_rate).into_iter().collect();
            Cells::Plain(format_bytes(*sum as u64), extras)
        }
        MetricValue::Counter { sum } => {
            let extras = per_sec(*sum).map(format_rate).into_iter().collect();
            Cells::Plain(format_number(*sum), extras)
        }
        MetricValue::Gauge { last, min, max } => Cells::Plain(
            format_number(*last),
            vec![
                format!("min={}", format_number(*min)),
                format!("max={}", format_number(*max)),
            ],
        ),
        MetricValue::Rate { passes, total } => Cells::Plain(
            format_percent(row.value.pass_rate().unwrap_or(0.0)),
            vec![
                format!("{PASS} {}", format_count(*passes)),
                format!("{FAIL} {}", format_count(total - passes)),
            ],
        ),
    }
}

/// k6 shows a sub-metric as `{ tag:value }` under its metric.
fn display_name(row: &MetricRow) -> String {
    if row.filter.is_empty() {
        return row.key.clone();
    }
    let pairs: Vec<String> = row.filter.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("  {{ {} }}", pairs.join(", "))
}

fn metrics(summary: &Summary) -> Vec<String> {
    let names: Vec<String> = summary.rows.iter().map(display_name).collect();
    let cells: Vec<Cells> = summary.rows.iter().map(|row| cells(summary, row)).collect();
    let name_width = names.iter().map(|n| width(n)).max().unwrap_or(0) + 3;

    // Column widths: one per trend statistic across trends; for the other
    // rows, the value and each extra.
    let mut trend_widths: Vec<usize> = Vec::new();
    let mut value_width = 0;
    let mut extra_widths: Vec<usize> = Vec::new();
    for cell in &cells {
        let (widths, texts): (&mut Vec<usize>, &[String]) = match cell {
            Cells::Trend(stats) => (&mut trend_widths, stats),
            Cells::Plain(value, extras) => {
                value_width = value_width.max(width(value));
                (&mut extra_widths, extras)
            }
        };
        if widths.len() < texts.len() {
            widths.resize(texts.len(), 0);
        }
        for (w, text) in widths.iter_mut().zip(texts) {
            *w = (*w).max(width(text));
        }
    }

    let mut lines = Vec::new();
    for ((row, name), cell) in summary.rows.iter().zip(&names).zip(&cells) {
        let mark = match row.thresholds_passed(&summary.outcomes) {
            Some(true) => PASS,
            Some(false) => FAIL,
            None => " ",
        };
        let dots = ".".repeat(name_width - width(name));
        let data = match cell {
            Cells::Trend(stats) => columns(stats, &trend_widths),
            Cells::Plain(value, extras) if extras.len() <= 1 => {
                let mut data = pad(value, value_width);
                for extra in extras {
                    data = format!("{data} {extra}");
                }
                data
            }
            Cells::Plain(value, extras) => {
                format!(
                    "{} {}",
                    pad(value, value_width),
                    columns(extras, &extra_widths)
                )
            }
        };
        lines.push(format!("   {mark} {name}{dots}: {data}"));
    }
    lines
}

fn columns(texts: &[String], widths: &[usize]) -> String {
    let padded: Vec<String> = texts.iter().zip(widths).map(|(t, w)| pad(t, *w)).collect();
    padded.join(" ")
}

fn requests(summary: &Summary) -> Vec<String> {
    if summary.requests.is_empty() {
        return Vec::new();
    }
    let shown = &summary.requests[..summary.requests.len().min(MAX_REQUEST_ROWS)];
    let outcomes: Vec<String> = shown.iter().map(|r| r.outcome.to_string()).collect();
    let counts: Vec<String> = shown.iter().map(|r| format_count(r.count)).collect();
    let method_width = shown.iter().map(|r| width(&r.method)).max().unwrap_or(0);
    let name_width = shown.iter().map(|r| width(&r.name)).max().unwrap_or(0);
    let outcome_width = outcomes.iter().map(|o| width(o)).max().unwrap_or(0);
    let count_width = counts.iter().map(|c| width(c)).max().unwrap_or(0);

    let mut lines = vec![format!("{INDENT}requests by name")];
    for ((request, outcome), count) in shown.iter().zip(&outcomes).zip(&counts) {
        lines.push(format!(
            "{INNER}{} {}  {} × {}",
            pad(&request.method, method_width),
            pad(&request.name, name_width),
            pad(outcome, outcome_width),
            pad_left(count, count_width),
        ));
    }
    let hidden = summary.requests.len() - shown.len();
    if hidden > 0 {
        let groups = plural(hidden as u64, "more group", "more groups");
        lines.push(format!("{INNER}… and {groups}, listed in the JSON summary"));
    }
    lines
}
