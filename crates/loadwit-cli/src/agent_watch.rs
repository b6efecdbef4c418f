//! What watches an agent's share from the engine's aggregator thread:
//! its own sample outputs, and every interval's aggregate sent on to the
//! coordinator with the agent's CPU use.

use std::time::{Duration, SystemTime};

use loadwit_dist::cpu::CpuMeter;
use loadwit_dist::protocol::Delta;
use loadwit_engine::{Observer, Plan, Stop, StopReason};
use loadwit_metrics::{Aggregate, Stamped, Thresholds};
use tokio::sync::mpsc;

use crate::live::Watch;
use crate::progress::Progress;

/// What the agent's loop hears from the aggregator thread.
pub enum AgentEvent {
    /// An interval closed (or the run ended, with the last, partial one).
    Delta(Delta),
    /// The scenario called `abort`.
    Aborted(String),
}

/// The observer an agent hands the engine.
pub struct AgentWatch {
    /// The outputs, as `loadwit run` writes them.
    outputs: Watch,
    events: mpsc::UnboundedSender<AgentEvent>,
    cpu: CpuMeter,
    stop: Stop,
}

impl AgentWatch {
    pub fn new(
        plan: &Plan,
        writers: crate::live::Writers,
        events: mpsc::UnboundedSender<AgentEvent>,
        stop: Stop,
    ) -> Self {
        let (outputs, _) = Watch::new(
            Thresholds::default(),
            stop.clone(),
            Duration::from_secs(1),
            writers,
            Progress::new(plan, true),
        );
        Self {
            outputs,
            events,
            cpu: CpuMeter::new(),
            stop,
        }
    }

    fn send(&mut self, interval: &Aggregate, elapsed: Duration) {
        let delta = Delta {
            aggregate: interval.encode(),
            cpu: self.cpu.sample().unwrap_or(-1.0),
            elapsed_ms: elapsed.as_millis() as u64,
            sent_unix_micros: loadwit_dist::unix_micros(SystemTime::now()),
        };
        let _ = self.events.send(AgentEvent::Delta(delta));
    }
}

impl Observer for AgentWatch {
    fn batch(&mut self, samples: &[Stamped]) {
        self.outputs.batch(samples);
    }

    fn interval(&mut self, _total: &Aggregate, interval: &Aggregate, elapsed: Duration) {
        self.send(interval, elapsed);
    }

    /// The whole test stops: this share at once, the others when the
    /// coordinator hears of it.
    fn aborted(&mut self, reason: &str) {
        let _ = self.events.send(AgentEvent::Aborted(reason.to_string()));
        self.stop.stop_now(StopReason::Remote);
    }

    fn finish(&mut self, total: &Aggregate, interval: &Aggregate, elapsed: Duration) {
        self.outputs.finish(total, interval, elapsed);
        self.send(interval, elapsed);
    }
}
