//! Live progress while a test runs: bars on a terminal, a plain line every
//! ten seconds otherwise (CI logs), nothing with `--quiet`.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use loadwit_engine::Plan;
use loadwit_metrics::{Aggregate, Builtin, MetricValue, format};

/// How often a plain progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// What one scenario's progress line needs from the plan.
struct ScenarioInfo {
    name: String,
    executor: &'static str,
    vus: u64,
    duration: Duration,
    /// The scenario's `startTime`: its clock starts there.
    start: Duration,
}

enum Mode {
    Quiet,
    Plain {
        next: Duration,
        /// The samples since the last line, and when they began.
        window: Box<Aggregate>,
        window_start: Duration,
    },
    Bars {
        multi: MultiProgress,
        bars: Vec<ProgressBar>,
        /// One line per footer line, added as the footer grows.
        notes: Vec<ProgressBar>,
        /// When the previous interval closed.
        last: Duration,
    },
}

/// Lines shown under the scenarios' progress, set from outside the
/// display: a coordinator's per-agent health.
#[derive(Clone, Default)]
pub struct Footer(Arc<Mutex<Vec<String>>>);

impl Footer {
    /// Replaces the lines; the next update shows them.
    pub fn set(&self, lines: Vec<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = lines;
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The samples rates and percentiles are read from: the latest interval
/// while running (what the target does now, not what it did at the
/// start), the whole run at the end.
struct Window<'a> {
    aggregate: &'a Aggregate,
    /// How long the window is; `None` for the scenario's whole time.
    span: Option<Duration>,
}

/// The progress display of one run.
pub struct Progress {
    scenarios: Vec<ScenarioInfo>,
    mode: Mode,
    footer: Footer,
}

impl Progress {
    /// Bars when stdout is a terminal, plain lines when it is not,
    /// nothing when `quiet`.
    pub fn new(plan: &Plan, quiet: bool) -> Self {
        let scenarios: Vec<ScenarioInfo> = plan
            .scenarios
            .iter()
            .map(|s| ScenarioInfo {
                name: s.name.clone(),
                executor: s.executor.name(),
                vus: s.executor.max_vus(),
                duration: s.executor.duration(),
                start: s.start_time,
            })
            .collect();
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stdout().is_terminal() {
            bars(&scenarios)
        } else {
            Mode::Plain {
                next: PLAIN_EVERY,
                window: Box::default(),
                window_start: Duration::ZERO,
            }
        };
        Progress {
            scenarios,
            mode,
            footer: Footer::default(),
        }
    }

    /// The handle that sets the lines under the scenarios.
    pub fn footer(&self) -> Footer {
        self.footer.clone()
    }

    /// Shows the state `elapsed` into the run: counts from `total`,
    /// rates and p95 from the samples since the last display.
    pub fn update(&mut self, total: &Aggregate, interval: &Aggregate, elapsed: Duration) {
        match &mut self.mode {
            Mode::Quiet => {}
            Mode::Plain {
                next,
                window,
                window_start,
            } => {
                window.merge(interval);
                if elapsed >= *next {
                    *next += PLAIN_EVERY;
                    let recent = Window {
                        aggregate: window,
                        span: Some(elapsed.saturating_sub(*window_start)),
                    };
                    print_lines(&self.scenarios, total, &recent, elapsed);
                    print_footer(&self.footer.lines());
                    **window = Aggregate::default();
                    *window_start = elapsed;
                }
            }
            Mode::Bars {
                multi,
                bars,
                notes,
                last,
            } => {
                let recent = Window {
                    aggregate: interval,
                    span: Some(elapsed.saturating_sub(*last)),
                };
                *last = elapsed;
                for (bar, scenario) in bars.iter().zip(&self.scenarios) {
                    let own = elapsed
                        .saturating_sub(scenario.start)
                        .min(scenario.duration);
                    bar.set_position(own.as_millis() as u64);
                    bar.set_message(stats(scenario, total, &recent, elapsed));
                }
                show_footer(multi, notes, self.footer.lines());
            }
        }
    }

    /// Clears the bars, or prints the last plain line over the whole run.
    pub fn finish(&mut self, total: &Aggregate, elapsed: Duration) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Plain { .. } => {
                let whole = Window {
                    aggregate: total,
                    span: None,
                };
                print_lines(&self.scenarios, total, &whole, elapsed);
                print_footer(&self.footer.lines());
                println!();
            }
            Mode::Bars { bars, notes, .. } => bars
                .iter()
                .chain(notes)
                .for_each(ProgressBar::finish_and_clear),
        }
    }
}

fn bars(scenarios: &[ScenarioInfo]) -> Mode {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {msg}")
        .expect("the template is valid")
        .progress_chars("=> ");
    let bars = scenarios
        .iter()
        .map(|scenario| {
            let bar = multi.add(ProgressBar::new(scenario.duration.as_millis() as u64));
            bar.set_style(style.clone());
            bar.set_prefix(scenario.name.clone());
            bar
        })
        .collect();
    Mode::Bars {
        multi,
        bars,
        notes: Vec::new(),
        last: Duration::ZERO,
    }
}

/// Draws the footer's lines under the bars, one plain line each.
fn show_footer(multi: &MultiProgress, notes: &mut Vec<ProgressBar>, lines: Vec<String>) {
    while notes.len() < lines.len() {
        let note = multi.add(ProgressBar::new(1));
        note.set_style(ProgressStyle::with_template("{msg}").expect("the template is valid"));
        notes.push(note);
    }
    for (note, line) in notes.iter().zip(lines) {
        note.set_message(line);
    }
}

fn print_footer(lines: &[String]) {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        writeln!(stdout, "{line}").ok();
    }
    stdout.flush().ok();
}

fn print_lines(
    scenarios: &[ScenarioInfo],
    total: &Aggregate,
    window: &Window<'_>,
    elapsed: Duration,
) {
    let mut stdout = std::io::stdout().lock();
    for scenario in scenarios {
        let line = format!(
            "running {}: {}",
            scenario.name,
            stats(scenario, total, window, elapsed)
        );
        writeln!(stdout, "{line}").ok();
    }
    stdout.flush().ok();
}

/// `3.0s/10s, 20 VUs, 1,234 iterations, 456 req/s, 0.00% failed,
/// p(95)=1.2ms` for one scenario: iterations so far, the rest over
/// `window`.
fn stats(
    scenario: &ScenarioInfo,
    total: &Aggregate,
    window: &Window<'_>,
    elapsed: Duration,
) -> String {
    let filter = [("scenario", scenario.name.as_str())];
    let count = |aggregate: &Aggregate, metric| match aggregate.metric_matching(metric, &filter) {
        Some(MetricValue::Counter { sum }) => sum,
        _ => 0.0,
    };
    // The scenario's own time: from its `startTime`, at most its length.
    let elapsed = elapsed
        .saturating_sub(scenario.start)
        .min(scenario.duration);
    let span = window.span.unwrap_or(elapsed).as_secs_f64().max(1e-3);
    let failed = window
        .aggregate
        .metric_matching(Builtin::HttpReqFailed, &filter)
        .and_then(|v| v.pass_rate())
        .unwrap_or(0.0);
    let p95 = match window
        .aggregate
        .metric_matching(Builtin::HttpReqDuration, &filter)
    {
        Some(MetricValue::Trend(trend)) => format::format_duration(trend.percentile(95.0)),
        _ => "-".to_string(),
    };
    let shown = Duration::from_millis(elapsed.as_millis() as u64 / 100 * 100);
    let rate = format::format_rate(count(window.aggregate, Builtin::HttpReqs) / span);
    let rate = rate.strip_suffix("/s").unwrap_or(&rate);
    format!(
        "{}/{} {}, {} VUs, {} iterations, {rate} req/s, {} failed, p(95)={p95}",
        format::format_duration(shown),
        format::format_duration(scenario.duration),
        scenario.executor,
        scenario.vus,
        format::format_count(count(total, Builtin::Iterations) as u64),
        format::format_percent(failed),
    )
}

#[cfg(test)]
mod tests {
    use loadwit_metrics::{HttpTimings, Sample, TagSet};

    use super::*;

    /// Regression: a scenario that started late and ended early showed
    /// the whole run's time (`5s/1s`) and a rate over that time.
    #[test]
    fn a_scenario_counts_its_own_time_from_its_start() {
        let scenario = ScenarioInfo {
            name: "late".into(),
            executor: "constant-vus",
            vus: 1,
            duration: Duration::from_secs(1),
            start: Duration::from_secs(4),
        };
        let aggregate = Aggregate::default();
        let whole = Window {
            aggregate: &aggregate,
            span: None,
        };
        let line = stats(&scenario, &aggregate, &whole, Duration::from_secs(5));
        assert!(line.starts_with("1s/1s "), "{line}");
        let line = stats(&scenario, &aggregate, &whole, Duration::from_secs(2));
        assert!(line.starts_with("0s/1s "), "{line}");
    }

    fn requests(aggregate: &mut Aggregate, count: usize, duration: Duration) {
        let timings = HttpTimings {
            duration,
            waiting: duration,
            ..HttpTimings::default()
        };
        for _ in 0..count {
            aggregate.add(&Sample::Http {
                tags: TagSet::new([("scenario", "now")]),
                timings,
                failed: false,
                sent: 100,
                received: 100,
            });
        }
    }

    /// Regression: the bars showed the whole run's p95, so a target that
    /// slowed down late in a long run barely moved it.
    #[test]
    fn rate_and_p95_come_from_the_latest_interval() {
        let scenario = ScenarioInfo {
            name: "now".into(),
            executor: "constant-vus",
            vus: 1,
            duration: Duration::from_secs(60),
            start: Duration::ZERO,
        };
        let mut total = Aggregate::default();
        requests(&mut total, 1_000, Duration::from_millis(1));
        let mut interval = Aggregate::default();
        requests(&mut interval, 50, Duration::from_millis(400));
        total.merge(&interval);
        let recent = Window {
            aggregate: &interval,
            span: Some(Duration::from_millis(500)),
        };
        let line = stats(&scenario, &total, &recent, Duration::from_secs(30));
        assert!(line.contains("p(95)=400"), "{line}");
        assert!(line.contains("100 req/s"), "{line}");
    }
}
