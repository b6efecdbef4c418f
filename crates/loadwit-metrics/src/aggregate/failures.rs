//! The bounded tally of failed iterations' messages.

use std::collections::HashMap;

/// How many distinct failure messages are kept; further messages are only
/// counted, under "other errors".
pub const MAX_FAILURE_MESSAGES: usize = 100;

/// Failure messages are clipped to this many bytes before being tallied.
pub const MAX_FAILURE_MESSAGE_LEN: usize = 512;

/// Messages of failed iterations with how often each occurred.
///
/// Invariant: at most [`MAX_FAILURE_MESSAGES`] distinct messages, each
/// clipped to [`MAX_FAILURE_MESSAGE_LEN`] bytes; occurrences of further
/// messages are counted in [`other`](FailureLog::other), so the total is
/// always exact.
#[derive(Clone, Debug, Default)]
pub struct FailureLog {
    by_message: HashMap<String, u64>,
    other: u64,
}

impl FailureLog {
    /// Counts one occurrence of `message`.
    pub fn record(&mut self, message: &str) {
        self.record_n(message, 1);
    }

    fn record_n(&mut self, message: &str, n: u64) {
        let message = clip(message);
        if let Some(count) = self.by_message.get_mut(message) {
            *count += n;
        } else if self.by_message.len() < MAX_FAILURE_MESSAGES {
            self.by_message.insert(message.to_string(), n);
        } else {
            self.other += n;
        }
    }

    /// A log holding `messages` with their counts and `other` failures
    /// past the message limit, as an encoded aggregate holds them.
    pub(crate) fn from_parts(messages: Vec<(String, u64)>, other: u64) -> FailureLog {
        let mut log = FailureLog::default();
        for (message, count) in messages {
            log.record_n(&message, count);
        }
        log.other += other;
        log
    }

    /// Adds the counts of `other`; its most frequent messages claim free
    /// slots first.
    pub fn merge(&mut self, other: &FailureLog) {
        for (message, count) in other.messages() {
            self.record_n(message, count);
        }
        self.other += other.other;
    }

    /// Failed iterations in all.
    pub fn total(&self) -> u64 {
        self.by_message.values().sum::<u64>() + self.other
    }

    /// Failures whose message was not kept.
    pub fn other(&self) -> u64 {
        self.other
    }

    /// Whether no iteration failed.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Kept messages with their counts, most frequent first, ties by
    /// message.
    pub fn messages(&self) -> Vec<(&str, u64)> {
        let mut messages: Vec<_> = self
            .by_message
            .iter()
            .map(|(message, count)| (message.as_str(), *count))
            .collect();
        messages.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        messages
    }
}

pub(super) fn clip(message: &str) -> &str {
    if message.len() <= MAX_FAILURE_MESSAGE_LEN {
        return message;
    }
    let mut end = MAX_FAILURE_MESSAGE_LEN;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}
