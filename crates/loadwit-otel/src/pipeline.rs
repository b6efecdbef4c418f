//! The export thread: bounded queues in, batched OTLP requests out.
//!
//! One OS thread runs a single-threaded tokio runtime with two tasks, one
//! per signal, so a stuck trace export never holds metrics back. Callers
//! only ever `try_send` into a bounded queue: when it is full the item is
//! dropped and counted, and the caller goes on. Every span and point is
//! counted exactly once as exported or dropped by the time
//! [`Pipeline::shutdown`] returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tokio::sync::{mpsc, watch};

use crate::config::OtelConfig;
use crate::error::StartError;
use crate::trace::IterationRecord;
use crate::transport::{Destination, ExportError, Transport};

/// Spans or points of one signal: how many were exported, dropped, and
/// are still on their way (queued or in flight), and why the first drop
/// happened.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    exported: AtomicU64,
    dropped: AtomicU64,
    pending: AtomicU64,
    first_failure: OnceLock<String>,
}

impl Tally {
    pub(crate) fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn drop_now(&self, count: u64) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
    }

    /// Why items were first dropped, if any were.
    pub(crate) fn first_failure(&self) -> Option<&str> {
        self.first_failure.get().map(String::as_str)
    }

    fn note_failure(&self, why: impl FnOnce() -> String) {
        if self.first_failure.get().is_none() {
            let _ = self.first_failure.set(why());
        }
    }

    /// Settles `count` pending items: `rejected` of them dropped, the rest
    /// exported.
    fn settle(&self, count: u64, outcome: &Result<u64, ExportError>) {
        let dropped = match outcome {
            Ok(rejected) => (*rejected).min(count),
            Err(error) => {
                self.note_failure(|| describe(error));
                count
            }
        };
        self.exported.fetch_add(count - dropped, Ordering::Relaxed);
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
        self.pending.fetch_sub(count, Ordering::Relaxed);
    }

    /// Counts whatever is still pending as dropped; for after the thread
    /// stopped.
    fn abandon_pending(&self) {
        let pending = self.pending.swap(0, Ordering::Relaxed);
        self.dropped.fetch_add(pending, Ordering::Relaxed);
    }
}

/// The producer side of one signal's bounded queue.
#[derive(Debug)]
pub(crate) struct Sink<T> {
    tx: mpsc::Sender<T>,
    tally: Arc<Tally>,
}

impl<T> Clone for Sink<T> {
    fn clone(&self) -> Self {
        Sink {
            tx: self.tx.clone(),
            tally: self.tally.clone(),
        }
    }
}

impl<T> Sink<T> {
    /// Queues `item` holding `count` spans or points, or drops and counts
    /// it when the queue is full or closed. Never waits.
    pub(crate) fn offer(&self, item: T, count: u64) {
        // Pending first, so the export task can never settle more than
        // was added.
        self.tally.pending.fetch_add(count, Ordering::Relaxed);
        if self.tx.try_send(item).is_err() {
            self.tally.pending.fetch_sub(count, Ordering::Relaxed);
            self.tally.drop_now(count);
            self.tally.note_failure(|| {
                "the export queue was full: the collector is slower than the test".into()
            });
        }
    }
}

/// An export error and its causes on one line, each said once. A gRPC
/// status is said by its code and message, then its own causes, since
/// its display repeats them in debug form.
fn describe(error: &ExportError) -> String {
    use std::error::Error;
    let causes = match error {
        ExportError::Grpc(status) => status.source(),
        other => other.source(),
    };
    loadwit_metrics::format::join_causes(error.to_string(), causes)
}

/// What the export tasks share.
struct Worker {
    resource: Resource,
    scope: InstrumentationScope,
    timeout: Duration,
    batch_size: usize,
    flush_interval: Duration,
}

/// The running export thread and its queues.
pub(crate) struct Pipeline {
    pub(crate) spans: Arc<Tally>,
    pub(crate) points: Arc<Tally>,
    trace_sink: Sink<IterationRecord>,
    metric_sink: Sink<MetricsBatch>,
    closing: watch::Sender<Option<Instant>>,
    thread: Option<JoinHandle<()>>,
}

/// One metrics export, built by the caller, with its point count.
#[derive(Debug)]
pub(crate) struct MetricsBatch {
    pub(crate) request: ExportMetricsServiceRequest,
    pub(crate) points: u64,
}

impl Pipeline {
    /// Validates the destination and starts the export thread.
    pub(crate) fn start(
        config: &OtelConfig,
        resource: Resource,
        scope: InstrumentationScope,
    ) -> Result<Self, StartError> {
        let destination = Destination::new(config)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError::Thread)?;

        let capacity = config.queue_capacity();
        let (span_tx, span_rx) = mpsc::channel(capacity);
        let (metric_tx, metric_rx) = mpsc::channel(capacity.min(16));
        let (closing, closing_rx) = watch::channel(None);
        let spans = Arc::new(Tally::default());
        let points = Arc::new(Tally::default());

        let worker = Arc::new(Worker {
            resource,
            scope,
            timeout: config.timeout(),
            batch_size: config.batch_size(),
            flush_interval: config.flush_interval(),
        });
        let queues = Queues {
            spans: span_rx,
            metrics: metric_rx,
            closing: closing_rx,
        };
        let tallies = (spans.clone(), points.clone());
        let thread = std::thread::Builder::new()
            .name("loadwit-otel".into())
            .spawn(move || runtime.block_on(run(destination, worker, queues, tallies)))
            .map_err(StartError::Thread)?;

        Ok(Pipeline {
            trace_sink: Sink {
                tx: span_tx,
                tally: spans.clone(),
            },
            metric_sink: Sink {
                tx: metric_tx,
                tally: points.clone(),
            },
            spans,
            points,
            closing,
            thread: Some(thread),
        })
    }

    pub(crate) fn trace_sink(&self) -> Sink<IterationRecord> {
        self.trace_sink.clone()
    }

    pub(crate) fn metric_sink(&self) -> Sink<MetricsBatch> {
        self.metric_sink.clone()
    }

    /// Flushes what is queued, waiting at most `timeout`; whatever has not
    /// been exported by then counts as dropped. Items offered afterwards
    /// are dropped and counted.
    pub(crate) fn shutdown(&mut self, timeout: Duration) {
        let _ = self.closing.send(Some(Instant::now() + timeout));
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the OTLP export thread panicked");
        }
        self.spans.abandon_pending();
        self.points.abandon_pending();
    }
}

impl Drop for Pipeline {
    /// Abandons the queues at once without waiting for the thread.
    fn drop(&mut self) {
        let _ = self.closing.send(Some(Instant::now()));
    }
}

struct Queues {
    spans: mpsc::Receiver<IterationRecord>,
    metrics: mpsc::Receiver<MetricsBatch>,
    closing: watch::Receiver<Option<Instant>>,
}

async fn run(
    destination: Destination,
    worker: Arc<Worker>,
    queues: Queues,
    (spans, points): (Arc<Tally>, Arc<Tally>),
) {
    let transport = destination.connect();
    let deadline = deadline(queues.closing.clone());
    let traces = export_traces(
        queues.spans,
        transport.clone(),
        worker.clone(),
        spans,
        queues.closing.clone(),
    );
    let metrics = export_metrics(queues.metrics, transport, worker, points, queues.closing);
    tokio::select! {
        _ = async { tokio::join!(traces, metrics) } => {}
        _ = deadline => tracing::debug!("OTLP flush deadline reached; abandoning the rest"),
    }
}

/// Resolves at the shutdown deadline, or never before shutdown starts.
async fn deadline(mut closing: watch::Receiver<Option<Instant>>) {
    loop {
        if let Some(at) = *closing.borrow_and_update() {
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        if closing.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves once shutdown has started.
async fn closed(closing: &mut watch::Receiver<Option<Instant>>) {
    let _ = closing.wait_for(Option::is_some).await;
}

async fn export_traces(
    mut rx: mpsc::Receiver<IterationRecord>,
    mut transport: Transport,
    worker: Arc<Worker>,
    tally: Arc<Tally>,
    mut closing: watch::Receiver<Option<Instant>>,
) {
    let mut batch = Vec::new();
    let mut tick = tokio::time::interval(worker.flush_interval);
    loop {
        tokio::select! {
            biased;
            _ = closed(&mut closing) => break,
            record = rx.recv() => match record {
                Some(record) => record.append_spans(&mut batch),
                None => break,
            },
            _ = tick.tick() => {
                flush_spans(&mut batch, &mut transport, &worker, &tally).await;
                continue;
            }
        }
        if batch.len() >= worker.batch_size {
            flush_spans(&mut batch, &mut transport, &worker, &tally).await;
        }
    }

    rx.close();
    while let Ok(record) = rx.try_recv() {
        record.append_spans(&mut batch);
        if batch.len() >= worker.batch_size {
            flush_spans(&mut batch, &mut transport, &worker, &tally).await;
        }
    }
    flush_spans(&mut batch, &mut transport, &worker, &tally).await;
}

async fn flush_spans(
    batch: &mut Vec<Span>,
    transport: &mut Transport,
    worker: &Worker,
    tally: &Tally,
) {
    if batch.is_empty() {
        return;
    }
    let spans = std::mem::take(batch);
    let count = spans.len() as u64;
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(worker.resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(worker.scope.clone()),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    let outcome = transport.send_traces(request, worker.timeout).await;
    if let Err(error) = &outcome {
        tracing::debug!(%error, count, "dropping spans");
    }
    tally.settle(count, &outcome);
}

async fn export_metrics(
    mut rx: mpsc::Receiver<MetricsBatch>,
    mut transport: Transport,
    worker: Arc<Worker>,
    tally: Arc<Tally>,
    mut closing: watch::Receiver<Option<Instant>>,
) {
    loop {
        let batch = tokio::select! {
            biased;
            _ = closed(&mut closing) => break,
            batch = rx.recv() => match batch {
                Some(batch) => batch,
                None => break,
            },
        };
        send_metrics(batch, &mut transport, &worker, &tally).await;
    }

    rx.close();
    while let Ok(batch) = rx.try_recv() {
        send_metrics(batch, &mut transport, &worker, &tally).await;
    }
}

async fn send_metrics(
    batch: MetricsBatch,
    transport: &mut Transport,
    worker: &Worker,
    tally: &Tally,
) {
    let outcome = transport.send_metrics(batch.request, worker.timeout).await;
    if let Err(error) = &outcome {
        tracing::debug!(%error, points = batch.points, "dropping metric points");
    }
    tally.settle(batch.points, &outcome);
}
