//! What watches a run from the engine's aggregator thread: the sample
//! outputs, the time series, live thresholds, progress and OTLP metrics.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loadwit_engine::{Observer, Stop, StopLevel};
use loadwit_metrics::{Aggregate, Stamped, Thresholds, TimeSeries};

use crate::otlp::MetricsExport;
use crate::output::SampleWriter;
use crate::progress::Progress;

/// The open `--out` sample files, each with its path for messages.
pub type Writers = Vec<(PathBuf, Box<dyn SampleWriter>)>;

/// What the run leaves for the CLI once it ends.
#[derive(Default)]
pub struct LiveOutcome {
    /// The per-interval series, complete once the run has ended.
    pub series: Option<TimeSeries>,
    /// The `abortOnFail` threshold that stopped the test, as written.
    pub threshold_abort: Option<String>,
    /// Why the scenario aborted the test.
    pub scenario_abort: Option<String>,
    /// Outputs that failed to write, with why; they stopped writing then.
    pub errors: Vec<String>,
}

/// The observer the CLI hands the engine.
pub struct Watch {
    thresholds: Thresholds,
    stop: Stop,
    series: TimeSeries,
    writers: Writers,
    progress: Progress,
    otlp: Option<MetricsExport>,
    outcome: Arc<Mutex<LiveOutcome>>,
}

impl Watch {
    /// A watch evaluating `thresholds` (those with `abortOnFail` stop the
    /// run through `stop`), writing every sample to `writers`.
    pub fn new(
        thresholds: Thresholds,
        stop: Stop,
        interval: Duration,
        writers: Writers,
        progress: Progress,
    ) -> (Self, Arc<Mutex<LiveOutcome>>) {
        let outcome = Arc::new(Mutex::new(LiveOutcome::default()));
        let watch = Watch {
            thresholds,
            stop,
            series: TimeSeries::new(interval),
            writers,
            progress,
            otlp: None,
            outcome: outcome.clone(),
        };
        (watch, outcome)
    }

    /// Also exports the run's metrics over OTLP, on its own interval and
    /// once at the end.
    pub fn with_otlp(mut self, otlp: Option<MetricsExport>) -> Self {
        self.otlp = otlp;
        self
    }

    fn outcome(&self) -> std::sync::MutexGuard<'_, LiveOutcome> {
        self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the run now: running iterations are interrupted, so the test
    /// ends within moments of the decision.
    fn stop_now(&self) {
        while self.stop.level() != StopLevel::Hard {
            self.stop.escalate();
        }
    }

    fn check_thresholds(&mut self, total: &Aggregate, elapsed: Duration) {
        if self.outcome().threshold_abort.is_some()
            || !self.thresholds.iter().any(|t| t.abort_on_fail)
        {
            return;
        }
        let outcomes = self.thresholds.evaluate_live(total, elapsed);
        let Some(breach) = outcomes.iter().find(|o| o.aborts(elapsed)) else {
            return;
        };
        let text = format!("{} ({})", breach.threshold, breach.observed_text());
        tracing::info!(threshold = %text, "an abortOnFail threshold failed; stopping");
        self.outcome().threshold_abort = Some(text);
        self.stop_now();
    }
}

impl Observer for Watch {
    fn batch(&mut self, samples: &[Stamped]) {
        let mut failed = Vec::new();
        for (index, (path, writer)) in self.writers.iter_mut().enumerate() {
            if let Err(error) = writer.write(samples) {
                failed.push((index, format!("`{}`: {error:#}", path.display())));
            }
        }
        for (index, message) in failed.into_iter().rev() {
            self.writers.remove(index);
            self.outcome().errors.push(message);
        }
    }

    fn interval(&mut self, total: &Aggregate, interval: &Aggregate, elapsed: Duration) {
        self.series.push(elapsed, interval);
        self.check_thresholds(total, elapsed);
        self.progress.update(total, interval, elapsed);
    }

    fn aborted(&mut self, reason: &str) {
        let mut outcome = self.outcome();
        if outcome.scenario_abort.is_none() {
            outcome.scenario_abort = Some(reason.to_string());
        }
        drop(outcome);
        self.stop_now();
    }

    fn tick_every(&self) -> Option<Duration> {
        self.otlp.as_ref().map(MetricsExport::every)
    }

    fn tick(&mut self, total: &Aggregate) {
        if let Some(otlp) = &mut self.otlp {
            otlp.export(total);
        }
    }

    fn finish(&mut self, total: &Aggregate, interval: &Aggregate, elapsed: Duration) {
        if !interval.is_empty() {
            self.series.push(elapsed, interval);
        }
        if let Some(otlp) = &mut self.otlp {
            otlp.export(total);
        }
        for (path, writer) in &mut self.writers {
            if let Err(error) = writer.finish() {
                let message = format!("`{}`: {error:#}", path.display());
                self.outcome
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .errors
                    .push(message);
            }
        }
        self.progress.finish(total, elapsed);
        let series = std::mem::replace(&mut self.series, TimeSeries::new(Duration::ZERO));
        self.outcome().series = Some(series);
    }
}
