//! Traces: a span per iteration, a client span per HTTP request, trace
//! context for the target, and the keep-or-drop decision at iteration end.
//!
//! The engine drives it in this order, per VU and iteration, with no lock
//! and no I/O on the way:
//!
//! ```
//! use loadwit_metrics::IterationOutcome;
//! use loadwit_otel::{OtelConfig, RequestEnd, Tracing};
//!
//! let tracing = Tracing::new(&OtelConfig::default().with_trace_context(true));
//! let mut iteration = tracing.iteration("checkout", 7, 42);
//! let span = iteration.request("GET", "http://127.0.0.1:8080/products");
//! for (name, value) in span.headers() {
//!     // add `name: value` to the outgoing request
//!     assert_eq!(name, "traceparent");
//!     assert!(value.starts_with("00-"));
//! }
//! span.end(&mut iteration, RequestEnd::Response { status: 200, failed: false });
//! iteration.check("status is 200", true);
//! iteration.end(&IterationOutcome::Completed);
//! ```
//!
//! **Sampling.** The head decision comes from the trace id and the ratio
//! (`OTEL_TRACES_SAMPLER_ARG`), as OpenTelemetry's `TraceIdRatioBased`
//! sampler makes it, and is what the `traceparent` flags tell the target.
//! The tail decision is made by [`IterationTrace::end`]: a sampled
//! iteration exports all its spans; an unsampled one exports nothing,
//! unless a request or the iteration failed, in which case the iteration
//! span and the failed request spans are exported, so failures are never
//! invisible. Exported spans carry the sampled flag; the iteration span's
//! `loadwit.head_sampled` tells the two cases apart. Spans wait in the iteration until then: one allocation per
//! recorded request, nothing shared.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use loadwit_metrics::IterationOutcome;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use opentelemetry_semantic_conventions::attribute as semconv;

use crate::config::{OtelConfig, Propagators};
use crate::pipeline::Sink;

/// The tracer of a run: hands out one [`IterationTrace`] per iteration.
///
/// Cloning is cheap (one reference count); every VU may hold a clone.
/// [`Tracing::disabled`] (also what [`Tracing::new`] gives when neither
/// export nor trace context is configured) makes every call a no-op that
/// allocates nothing and yields no headers.
#[derive(Clone, Debug, Default)]
pub struct Tracing {
    shared: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    /// Trace ids whose lower 63 bits fall below this are sampled.
    bound: u64,
    /// `None` when trace context is off.
    propagators: Option<Propagators>,
    /// `None` when spans are not exported.
    sink: Option<Sink<IterationRecord>>,
}

/// One iteration's trace: its ids, and the spans it holds until
/// [`end`](IterationTrace::end) decides whether they are exported.
///
/// Owned by the VU running the iteration; nothing in it is shared.
#[derive(Debug)]
pub struct IterationTrace {
    shared: Option<Arc<Shared>>,
    trace_id: u128,
    span_id: u64,
    sampled: bool,
    record: Option<IterationRecord>,
}

/// One HTTP request's client span, from before the request is sent to
/// its response or error.
///
/// Get the headers to inject with [`headers`](RequestSpan::headers), then
/// hand the span back with [`end`](RequestSpan::end).
#[derive(Debug)]
pub struct RequestSpan {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
    propagators: Option<Propagators>,
    start: u64,
    method_url: Option<(String, String)>,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestEnd<'a> {
    /// A response arrived.
    Response {
        /// Its status code.
        status: u16,
        /// Whether the engine counts it as failed (`http_req_failed`).
        failed: bool,
    },
    /// No response: a transport error, such as `timeout` or
    /// `connection-refused`. Always failed.
    Error {
        /// The error kind, exported as `error.type`.
        error_type: &'a str,
    },
}

/// Everything an iteration recorded, shipped to the export thread when it
/// is kept, and turned into OTLP spans there.
#[derive(Debug)]
pub(crate) struct IterationRecord {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
    subject: Subject,
    start: u64,
    end: u64,
    outcome: Option<IterationOutcome>,
    requests: Vec<RequestRecord>,
    checks: Vec<CheckRecord>,
}

/// What a trace's root span stands for.
#[derive(Debug)]
enum Subject {
    /// One iteration of a scenario by one VU: the span `iteration`.
    Iteration {
        scenario: String,
        vu: u64,
        iteration: u64,
    },
    /// The test's `setup` or `teardown`, a span of that name.
    Stage(&'static str),
}

#[derive(Debug)]
struct RequestRecord {
    span_id: u64,
    start: u64,
    end: u64,
    method: String,
    url: String,
    status: Option<u16>,
    error_type: Option<String>,
    failed: bool,
}

#[derive(Debug)]
struct CheckRecord {
    name: String,
    passed: bool,
    at: u64,
}

impl Tracing {
    /// A tracer that records and propagates nothing.
    pub fn disabled() -> Self {
        Tracing::default()
    }

    /// A tracer that injects trace context when `config` asks for it and
    /// records nothing: use it to join backend traces without exporting.
    /// [`Otel::start`](crate::Otel::start) builds the exporting one.
    pub fn new(config: &OtelConfig) -> Self {
        Tracing::with_sink(config, None)
    }

    pub(crate) fn with_sink(config: &OtelConfig, sink: Option<Sink<IterationRecord>>) -> Self {
        let propagators = config.trace_context().then(|| config.propagators());
        if propagators.is_none() && sink.is_none() {
            return Tracing::disabled();
        }
        let bound = (config.sample_ratio() * (1u64 << 63) as f64) as u64;
        let shared = Shared {
            bound,
            propagators,
            sink,
        };
        Tracing {
            shared: Some(Arc::new(shared)),
        }
    }

    /// Whether this tracer does anything at all.
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Starts the trace of one iteration of `scenario` by VU `vu` (its
    /// 1-based id) and the VU's `iteration` counter.
    pub fn iteration(&self, scenario: &str, vu: u64, iteration: u64) -> IterationTrace {
        self.root(|| Subject::Iteration {
            scenario: scenario.to_string(),
            vu,
            iteration,
        })
    }

    /// Starts the trace of the test's `setup` or `teardown` (`stage`),
    /// whose root span takes that name; its requests and checks are
    /// recorded as an iteration's are.
    pub fn stage(&self, stage: &'static str) -> IterationTrace {
        self.root(|| Subject::Stage(stage))
    }

    fn root(&self, subject: impl FnOnce() -> Subject) -> IterationTrace {
        let Some(shared) = &self.shared else {
            return IterationTrace {
                shared: None,
                trace_id: 0,
                span_id: 0,
                sampled: false,
                record: None,
            };
        };
        let trace_id = nonzero(rand::random::<u128>);
        let span_id = nonzero(rand::random::<u64>);
        let sampled = ((trace_id as u64) >> 1) < shared.bound;
        let record = shared.sink.is_some().then(|| IterationRecord {
            trace_id,
            span_id,
            sampled,
            subject: subject(),
            start: now_nanos(),
            end: 0,
            outcome: None,
            requests: Vec::new(),
            checks: Vec::new(),
        });
        IterationTrace {
            shared: Some(shared.clone()),
            trace_id,
            span_id,
            sampled,
            record,
        }
    }
}

impl IterationTrace {
    /// The trace id as 32 lowercase hex digits, or `None` when tracing is
    /// disabled.
    pub fn trace_id(&self) -> Option<String> {
        self.shared
            .as_ref()
            .map(|_| format!("{:032x}", self.trace_id))
    }

    /// The iteration span's id as 16 lowercase hex digits, or `None` when
    /// tracing is disabled.
    pub fn span_id(&self) -> Option<String> {
        self.shared
            .as_ref()
            .map(|_| format!("{:016x}", self.span_id))
    }

    /// Whether the head decision sampled this iteration.
    pub fn is_sampled(&self) -> bool {
        self.sampled
    }

    /// Opens the client span of a request about to be sent.
    pub fn request(&self, method: &str, url: &str) -> RequestSpan {
        let Some(shared) = &self.shared else {
            return RequestSpan {
                trace_id: 0,
                span_id: 0,
                sampled: false,
                propagators: None,
                start: 0,
                method_url: None,
            };
        };
        let recording = self.record.is_some();
        RequestSpan {
            trace_id: self.trace_id,
            span_id: nonzero(rand::random::<u64>),
            sampled: self.sampled,
            propagators: shared.propagators,
            start: if recording { now_nanos() } else { 0 },
            method_url: recording.then(|| (method.to_string(), url.to_string())),
        }
    }

    /// Adds a request span closed with [`RequestSpan::close`]; it must
    /// have been opened from this iteration.
    pub fn add(&mut self, span: ClosedSpan) {
        if let (Some(record), ClosedSpan(Some(request))) = (&mut self.record, span) {
            record.requests.push(request);
        }
    }

    /// Records a check result as an event on the iteration span.
    pub fn check(&mut self, name: &str, passed: bool) {
        if let Some(record) = &mut self.record {
            record.checks.push(CheckRecord {
                name: name.to_string(),
                passed,
                at: now_nanos(),
            });
        }
    }

    /// Ends the iteration and decides: the spans are queued for export
    /// when sampled, or when something failed (see the module docs), and
    /// dropped silently otherwise. Never waits: a full queue drops them
    /// and counts them in [`Otel::dropped`](crate::Otel::dropped).
    pub fn end(mut self, outcome: &IterationOutcome) {
        let (Some(shared), Some(mut record)) = (self.shared.take(), self.record.take()) else {
            return;
        };
        let Some(sink) = &shared.sink else {
            return;
        };
        record.end = now_nanos();
        record.outcome = Some(outcome.clone());
        let iteration_failed = matches!(outcome, IterationOutcome::Failed(_));
        if !record.sampled {
            record.requests.retain(|request| request.failed);
            if record.requests.is_empty() && !iteration_failed {
                return;
            }
        }
        let spans = 1 + record.requests.len() as u64;
        sink.offer(record, spans);
    }
}

impl RequestSpan {
    /// The W3C `traceparent` value for this request, `None` when trace
    /// context is off or W3C propagation is not chosen.
    pub fn traceparent(&self) -> Option<String> {
        let propagators = self.propagators?;
        propagators.w3c.then(|| {
            let flags = u8::from(self.sampled);
            format!(
                "00-{:032x}-{:016x}-{flags:02x}",
                self.trace_id, self.span_id
            )
        })
    }

    /// The trace-context headers to add to the request: `traceparent`,
    /// and Datadog's `x-datadog-*` when configured. Empty when trace
    /// context is off.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(traceparent) = self.traceparent() {
            headers.push(("traceparent", traceparent));
        }
        if self.propagators.is_some_and(|p| p.datadog) {
            // Datadog carries the lower 64 bits in decimal and the upper
            // ones as a propagated tag.
            let upper = (self.trace_id >> 64) as u64;
            headers.push(("x-datadog-trace-id", (self.trace_id as u64).to_string()));
            headers.push(("x-datadog-parent-id", self.span_id.to_string()));
            headers.push((
                "x-datadog-sampling-priority",
                u8::from(self.sampled).to_string(),
            ));
            headers.push(("x-datadog-tags", format!("_dd.p.tid={upper:016x}")));
        }
        headers
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// Closes the span into `iteration`, the trace it was opened from.
    pub fn end(self, iteration: &mut IterationTrace, end: RequestEnd<'_>) {
        iteration.add(self.close(end));
    }

    /// Ends the span now, to be handed to its iteration later with
    /// [`IterationTrace::add`]: for requests that run concurrently (a
    /// batch) while the iteration cannot be borrowed mutably. Allocates
    /// nothing when the iteration is not recording.
    pub fn close(self, end: RequestEnd<'_>) -> ClosedSpan {
        let Some((method, url)) = self.method_url else {
            return ClosedSpan(None);
        };
        let (status, error_type, failed) = match end {
            RequestEnd::Response { status, failed } => {
                let error_type = failed.then(|| status.to_string());
                (Some(status), error_type, failed)
            }
            RequestEnd::Error { error_type } => (None, Some(error_type.to_string()), true),
        };
        ClosedSpan(Some(RequestRecord {
            span_id: self.span_id,
            start: self.start,
            end: now_nanos(),
            method,
            url,
            status,
            error_type,
            failed,
        }))
    }
}

/// A request span that has ended, waiting to join its iteration through
/// [`IterationTrace::add`]. Empty when nothing is recorded.
#[derive(Debug)]
pub struct ClosedSpan(Option<RequestRecord>);

impl IterationRecord {
    /// Converts the record to OTLP spans, appended to `spans`.
    pub(crate) fn append_spans(self, spans: &mut Vec<Span>) {
        let trace_id = self.trace_id.to_be_bytes().to_vec();
        let parent = self.span_id.to_be_bytes().to_vec();
        // Exported spans were recorded, so they carry the sampled flag even
        // when kept only for a failure; the iteration span says which.
        let flags = 1;
        for request in &self.requests {
            spans.push(request.to_span(&trace_id, &parent, flags));
        }
        spans.push(self.iteration_span(trace_id, flags));
    }

    fn iteration_span(self, trace_id: Vec<u8>, flags: u32) -> Span {
        let (name, mut attributes) = match &self.subject {
            Subject::Iteration {
                scenario,
                vu,
                iteration,
            } => (
                "iteration",
                vec![
                    string("loadwit.scenario", scenario),
                    int("loadwit.vu", *vu),
                    int("loadwit.iteration", *iteration),
                ],
            ),
            Subject::Stage(stage) => (*stage, Vec::new()),
        };
        attributes.push(boolean("loadwit.head_sampled", self.sampled));
        let status = match &self.outcome {
            Some(IterationOutcome::Failed(message)) => Some(Status {
                message: message.clone(),
                code: StatusCode::Error as i32,
            }),
            Some(IterationOutcome::Interrupted) => {
                attributes.push(boolean("loadwit.iteration.interrupted", true));
                None
            }
            _ => None,
        };
        let events = self
            .checks
            .into_iter()
            .map(CheckRecord::into_event)
            .collect();
        Span {
            trace_id,
            span_id: self.span_id.to_be_bytes().to_vec(),
            flags,
            name: name.into(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: self.start,
            end_time_unix_nano: self.end,
            attributes,
            events,
            status,
            ..Span::default()
        }
    }
}

impl RequestRecord {
    fn to_span(&self, trace_id: &[u8], parent: &[u8], flags: u32) -> Span {
        let mut attributes = vec![
            string(semconv::HTTP_REQUEST_METHOD, &self.method),
            string(semconv::URL_FULL, &self.url),
        ];
        if let Ok(url) = reqwest::Url::parse(&self.url) {
            if let Some(host) = url.host_str() {
                attributes.push(string(semconv::SERVER_ADDRESS, host));
            }
            if let Some(port) = url.port_or_known_default() {
                attributes.push(int(semconv::SERVER_PORT, u64::from(port)));
            }
        }
        if let Some(status) = self.status {
            attributes.push(int(semconv::HTTP_RESPONSE_STATUS_CODE, u64::from(status)));
        }
        if let Some(error_type) = &self.error_type {
            attributes.push(string(semconv::ERROR_TYPE, error_type));
        }
        let status = self.failed.then(|| Status {
            message: self.error_type.clone().unwrap_or_default(),
            code: StatusCode::Error as i32,
        });
        Span {
            trace_id: trace_id.to_vec(),
            span_id: self.span_id.to_be_bytes().to_vec(),
            parent_span_id: parent.to_vec(),
            flags,
            name: self.method.clone(),
            kind: SpanKind::Client as i32,
            start_time_unix_nano: self.start,
            end_time_unix_nano: self.end,
            attributes,
            status,
            ..Span::default()
        }
    }
}

impl CheckRecord {
    fn into_event(self) -> Event {
        Event {
            time_unix_nano: self.at,
            name: "check".into(),
            attributes: vec![
                string("loadwit.check.name", &self.name),
                boolean("loadwit.check.passed", self.passed),
            ],
            dropped_attributes_count: 0,
        }
    }
}

fn nonzero<T: Default + PartialEq>(mut random: impl FnMut() -> T) -> T {
    loop {
        let value = random();
        if value != T::default() {
            return value;
        }
    }
}

pub(crate) fn now_nanos() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn string(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_string()))
}

fn int(key: &str, value: u64) -> KeyValue {
    attribute(
        key,
        any_value::Value::IntValue(i64::try_from(value).unwrap_or(i64::MAX)),
    )
}

fn boolean(key: &str, value: bool) -> KeyValue {
    attribute(key, any_value::Value::BoolValue(value))
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracing(ratio: f64, datadog: bool) -> Tracing {
        let config = OtelConfig::default()
            .with_trace_context(true)
            .with_propagators(Propagators { w3c: true, datadog })
            .with_sample_ratio(ratio)
            .expect("ratio in range");
        Tracing::new(&config)
    }

    #[test]
    fn traceparent_carries_the_trace_and_span_ids() {
        let iteration = tracing(1.0, false).iteration("s", 1, 1);
        let span = iteration.request("GET", "http://127.0.0.1/");
        let trace_id = iteration.trace_id().expect("enabled");
        let expected = format!("00-{trace_id}-{}-01", span.span_id());
        assert_eq!(span.traceparent(), Some(expected));
    }

    #[test]
    fn unsampled_traceparent_has_flags_zero() {
        let iteration = tracing(0.0, false).iteration("s", 1, 1);
        let traceparent = iteration.request("GET", "/").traceparent().expect("w3c on");
        assert!(traceparent.ends_with("-00"));
    }

    #[test]
    fn datadog_headers_split_the_trace_id() {
        let iteration = tracing(1.0, true).iteration("s", 1, 1);
        let span = iteration.request("GET", "/");
        let headers = span.headers();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        let trace_id = u128::from_str_radix(&iteration.trace_id().expect("on"), 16).expect("hex");
        let lower: u64 = get("x-datadog-trace-id")
            .expect("set")
            .parse()
            .expect("decimal");
        assert_eq!(lower, trace_id as u64);
        let tid = get("x-datadog-tags").expect("set");
        assert_eq!(tid, format!("_dd.p.tid={:016x}", (trace_id >> 64) as u64));
        let parent: u64 = get("x-datadog-parent-id")
            .expect("set")
            .parse()
            .expect("decimal");
        assert_eq!(format!("{parent:016x}"), span.span_id());
        assert_eq!(get("x-datadog-sampling-priority").as_deref(), Some("1"));
    }

    #[test]
    fn disabled_tracing_yields_no_headers() {
        let iteration = Tracing::disabled().iteration("s", 1, 1);
        assert!(iteration.request("GET", "/").headers().is_empty());
        assert_eq!(iteration.trace_id(), None);
    }

    #[test]
    fn half_ratio_samples_about_half() {
        let tracing = tracing(0.5, false);
        let sampled = (0..4000)
            .filter(|_| tracing.iteration("s", 1, 1).is_sampled())
            .count();
        assert!((1700..2300).contains(&sampled), "{sampled} of 4000 sampled");
    }
}
