//! Stopping a run: gracefully first, at once if asked again.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

/// How far a stop has gone. Only ever increases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    Running,
    /// No new iterations start; running ones may finish within
    /// `gracefulStop`.
    Graceful,
    /// Running iterations are interrupted now.
    Hard,
}

/// Why a run was stopped; the first stop's reason is the one kept, and
/// the caller maps it to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A signal or the caller (exit 105).
    Outside,
    /// The coordinator of a distributed run, for the whole test.
    Remote,
}

/// The handle a caller (a signal handler, a test) stops a run with.
#[derive(Clone)]
pub struct Stop {
    level: watch::Sender<StopLevel>,
    reason: Arc<OnceLock<StopReason>>,
}

impl Default for Stop {
    fn default() -> Self {
        Self {
            level: watch::Sender::new(StopLevel::Running),
            reason: Arc::default(),
        }
    }
}

impl Stop {
    /// Escalates one step from outside: running → graceful → hard.
    /// Returns the new level.
    pub fn escalate(&self) -> StopLevel {
        self.escalate_for(StopReason::Outside)
    }

    /// Escalates one step for `reason`, kept if it is the first stop.
    pub fn escalate_for(&self, reason: StopReason) -> StopLevel {
        let _ = self.reason.set(reason);
        let mut now = StopLevel::Running;
        self.level.send_modify(|level| {
            *level = match *level {
                StopLevel::Running => StopLevel::Graceful,
                _ => StopLevel::Hard,
            };
            now = *level;
        });
        now
    }

    /// Stops at once for `reason` (kept if it is the first stop):
    /// running iterations are interrupted.
    pub fn stop_now(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.level.send_replace(StopLevel::Hard);
    }

    pub fn level(&self) -> StopLevel {
        *self.level.borrow()
    }

    /// Why the run was first stopped, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    pub(crate) fn subscribe(&self) -> StopWatch {
        StopWatch {
            level: self.level.subscribe(),
        }
    }
}

/// A VU's view of the stop level.
pub(crate) struct StopWatch {
    level: watch::Receiver<StopLevel>,
}

impl StopWatch {
    pub(crate) fn level(&self) -> StopLevel {
        *self.level.borrow()
    }

    /// Resolves when any stop is requested.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it loses nothing.
    pub(crate) async fn stopping(&mut self) {
        self.wait_for(StopLevel::Graceful).await;
    }

    /// Resolves when a hard stop is requested.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it loses nothing.
    pub(crate) async fn hard(&mut self) {
        self.wait_for(StopLevel::Hard).await;
    }

    async fn wait_for(&mut self, at_least: StopLevel) {
        if self
            .level
            .wait_for(|level| *level >= at_least)
            .await
            .is_err()
        {
            // The run owns the sender; if it is gone nothing will stop us.
            std::future::pending::<()>().await;
        }
    }
}
