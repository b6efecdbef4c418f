//! A VU's side of tracing: the running iteration's trace, and the spans
//! and trace-context headers of its requests.
//!
//! The run hands every VU a clone of one [`Tracing`] (`loadwit-otel`), or
//! none at all. Everything here is owned by the VU: no lock, no shared
//! state, no I/O. With tracing off, each call is one `Option` check and
//! allocates nothing; with it on, each request costs its span record and
//! its header values, and the spans leave the VU only when the iteration
//! ends (see `loadwit_otel::trace` for the keep-or-drop decision).

use loadwit_metrics::IterationOutcome;
use loadwit_otel::{ClosedSpan, IterationTrace, RequestEnd, RequestSpan, Tracing};

/// A VU's tracer and the trace of the iteration it is running.
///
/// Invariant: at most one iteration trace is open; starting another ends
/// nothing (the previous one must have been ended), and a trace still
/// open when the VU is dropped is discarded unexported.
#[derive(Debug, Default)]
pub(crate) struct VuTrace {
    tracing: Option<Tracing>,
    current: Option<IterationTrace>,
}

impl VuTrace {
    /// A VU tracer from the run's, `None` when tracing is off.
    pub(crate) fn new(tracing: Option<Tracing>) -> Self {
        VuTrace {
            tracing,
            current: None,
        }
    }

    /// Opens the trace of iteration `iteration` of VU `vu` in `scenario`.
    pub(crate) fn start(&mut self, scenario: &str, vu: u32, iteration: u64) {
        if let Some(tracing) = &self.tracing {
            self.current = Some(tracing.iteration(scenario, u64::from(vu), iteration));
        }
    }

    /// Opens the trace of the test's `setup` or `teardown`.
    pub(crate) fn start_stage(&mut self, stage: &'static str) {
        if let Some(tracing) = &self.tracing {
            self.current = Some(tracing.stage(stage));
        }
    }

    /// Ends the open trace with the iteration's outcome, queueing its
    /// spans for export when they are kept.
    pub(crate) fn end(&mut self, outcome: &IterationOutcome) {
        if let Some(trace) = self.current.take() {
            trace.end(outcome);
        }
    }

    /// The open trace, which requests take their spans from.
    pub(crate) fn current(&self) -> Option<&IterationTrace> {
        self.current.as_ref()
    }

    /// Records a check as an event on the iteration span.
    pub(crate) fn check(&mut self, name: &str, passed: bool) {
        if let Some(trace) = &mut self.current {
            trace.check(name, passed);
        }
    }

    /// Hands request spans closed during a `send` or `batch` to the open
    /// trace.
    pub(crate) fn add(&mut self, spans: impl Iterator<Item = ClosedSpan>) {
        if let Some(trace) = &mut self.current {
            for span in spans {
                trace.add(span);
            }
        }
    }
}

/// Opens the client span of one request on the wire (one redirect hop),
/// when a trace is open.
pub(crate) fn request_span(
    trace: Option<&IterationTrace>,
    method: &str,
    url: &str,
) -> Option<RequestSpan> {
    trace.map(|trace| trace.request(method, url))
}

/// Closes `span` with the hop's outcome: its status and whether it counts
/// as failed, or the transport error's `error_code`.
pub(crate) fn close(
    span: Option<RequestSpan>,
    outcome: Result<u16, &str>,
    failed: bool,
) -> Option<ClosedSpan> {
    let end = match outcome {
        Ok(status) => RequestEnd::Response { status, failed },
        Err(error_type) => RequestEnd::Error { error_type },
    };
    span.map(|span| span.close(end))
}
