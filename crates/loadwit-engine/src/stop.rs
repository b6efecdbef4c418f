//! Stopping a run from outside: gracefully first, at once if asked again.

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

/// The handle a caller (a signal handler, a test) stops a run with.
#[derive(Clone)]
pub struct Stop {
    level: watch::Sender<StopLevel>,
}

impl Default for Stop {
    fn default() -> Self {
        Self {
            level: watch::Sender::new(StopLevel::Running),
        }
    }
}

impl Stop {
    /// Escalates one step: running → graceful → hard. Returns the new level.
    pub fn escalate(&self) -> StopLevel {
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

    pub fn level(&self) -> StopLevel {
        *self.level.borrow()
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

    /// Resolves when a hard stop is requested.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it loses nothing.
    pub(crate) async fn hard(&mut self) {
        if self
            .level
            .wait_for(|level| *level == StopLevel::Hard)
            .await
            .is_err()
        {
            // The run owns the sender; if it is gone nothing will stop us.
            std::future::pending::<()>().await;
        }
    }
}
