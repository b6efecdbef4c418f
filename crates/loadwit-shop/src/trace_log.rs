//! The trace context requests arrive with, kept so tests can join the
//! load generator's spans to what the target received.
//!
//! Off by default: a shop with a zero [`ShopConfig::trace_log`] takes no
//! lock and keeps nothing. When on, the last `capacity` requests that
//! carried a `traceparent` or `x-datadog-*` header are kept in arrival
//! order, older ones dropped, so memory stays bounded however long the
//! test runs; [`TraceLog::seen`] counts them all.
//!
//! [`ShopConfig::trace_log`]: crate::ShopConfig::trace_log

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderMap;
use serde::Serialize;

/// The trace-context headers of one request, as received.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TraceContext {
    /// W3C `traceparent`.
    pub traceparent: Option<String>,
    /// `x-datadog-trace-id`: the lower 64 bits of the trace id, decimal.
    pub datadog_trace_id: Option<String>,
    /// `x-datadog-parent-id`: the caller's span id, decimal.
    pub datadog_parent_id: Option<String>,
    /// `x-datadog-sampling-priority`.
    pub datadog_sampling_priority: Option<String>,
    /// `x-datadog-tags`, such as `_dd.p.tid=...`.
    pub datadog_tags: Option<String>,
}

impl TraceContext {
    /// The trace context of a request, `None` when it carried none.
    fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let context = TraceContext {
            traceparent: get("traceparent"),
            datadog_trace_id: get("x-datadog-trace-id"),
            datadog_parent_id: get("x-datadog-parent-id"),
            datadog_sampling_priority: get("x-datadog-sampling-priority"),
            datadog_tags: get("x-datadog-tags"),
        };
        (context != TraceContext::default()).then_some(context)
    }
}

/// The last trace contexts received, at most `capacity` of them.
#[derive(Debug, Default)]
pub struct TraceLog {
    capacity: usize,
    kept: Mutex<VecDeque<TraceContext>>,
    seen: AtomicU64,
}

impl TraceLog {
    pub(crate) fn new(capacity: usize) -> Self {
        TraceLog {
            capacity,
            kept: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            seen: AtomicU64::new(0),
        }
    }

    /// Keeps the request's trace context, if it has one and the log is on.
    pub(crate) fn record(&self, headers: &HeaderMap) {
        if self.capacity == 0 {
            return;
        }
        let Some(context) = TraceContext::from_headers(headers) else {
            return;
        };
        self.seen.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == self.capacity {
            kept.pop_front();
        }
        kept.push_back(context);
    }

    /// The kept trace contexts, oldest first.
    pub fn contexts(&self) -> Vec<TraceContext> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().cloned().collect()
    }

    /// Requests that carried trace context, kept or since dropped.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }
}
