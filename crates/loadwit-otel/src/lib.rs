//! OTLP traces and metrics for loadwit, and trace context for the target.
//!
//! A run's telemetry goes to any OpenTelemetry collector (the Datadog
//! Agent's OTLP intake included) over gRPC or HTTP/protobuf, from one
//! background thread, so the test itself never waits on the collector.
//!
//! # Tour
//!
//! - [`config`]: [`OtelConfig`], read from the standard `OTEL_*`
//!   variables by [`OtelConfig::from_env`] and overridden by the CLI's
//!   `--otlp-*` flags through its `with_*` setters. Nothing is exported
//!   unless an endpoint is set.
//! - [`Otel`]: the run's handle. [`Otel::start`] validates the
//!   destination and starts the export thread; it hands out a [`Tracing`]
//!   and a [`MetricsExporter`], counts what was [exported](Otel::exported)
//!   and [dropped](Otel::dropped), and [flushes](Otel::shutdown) at the end.
//! - [`trace`]: [`Tracing`] → [`IterationTrace`] per iteration →
//!   [`RequestSpan`] per HTTP request, yielding the `traceparent` (and
//!   optionally `x-datadog-*`) headers to inject. Spans wait in the
//!   iteration; its end decides whether they are exported.
//! - [`metrics`]: [`MetricsExporter::export`] turns the run's
//!   [`Aggregate`](loadwit_metrics::Aggregate) into OTLP sums, gauges and
//!   exponential histograms, delta or cumulative.
//!
//! # Why not the OpenTelemetry SDK pipeline
//!
//! The wire format and clients come from `opentelemetry-proto` (the
//! generated OTLP messages and tonic clients) and reqwest; the SDK's span
//! and metric pipelines are not used, for three reasons. loadwit already
//! aggregates metrics exactly, and the SDK's metric data types cannot be
//! built outside its own instruments, so exporting the aggregate through
//! it would mean recording every sample twice. Keeping an iteration's
//! spans until a tail decision needs spans held per VU with no shared
//! state, which the SDK's span processors (called per span, behind a
//! shared queue) do not give. And the summary must say exactly how many
//! spans and points were dropped, which the SDK's batch processors only
//! log.
//!
//! # What the engine calls
//!
//! 1. Before the run: `OtelConfig::from_env(|k| std::env::var(k).ok())`,
//!    then the flags' setters, then [`Otel::start`] with a [`RunMeta`].
//! 2. Per VU: a clone of [`Otel::tracing`]. Per iteration:
//!    [`Tracing::iteration`]; per request: [`IterationTrace::request`],
//!    inject [`RequestSpan::headers`], then [`RequestSpan::end`] (or, for
//!    requests running concurrently, [`RequestSpan::close`] where each
//!    ends and [`IterationTrace::add`] afterwards); per check:
//!    [`IterationTrace::check`]; at the iteration's end:
//!    [`IterationTrace::end`].
//! 3. On the aggregator thread: [`Otel::metrics_exporter`] once, then
//!    [`MetricsExporter::export`] every [`OtelConfig::metric_interval`] and
//!    once at the end.
//! 4. After the run: [`Otel::shutdown`] with a flush budget; its
//!    [`Counts`] of dropped spans and points go in the summary.
//!
//! ```
//! use std::time::Duration;
//! use loadwit_metrics::{Aggregate, IterationOutcome};
//! use loadwit_otel::{Otel, OtelConfig, RequestEnd, RunMeta};
//!
//! // No endpoint: nothing is exported, every call is cheap and harmless.
//! let config = OtelConfig::from_env(|_| None)?;
//! let mut otel = Otel::start(&config, RunMeta::default())?;
//! let tracing = otel.tracing();
//! let mut iteration = tracing.iteration("default", 1, 0);
//! let span = iteration.request("GET", "http://127.0.0.1:8080/");
//! assert!(span.headers().is_empty());
//! span.end(&mut iteration, RequestEnd::Response { status: 200, failed: false });
//! iteration.end(&IterationOutcome::Completed);
//! if let Some(mut metrics) = otel.metrics_exporter() {
//!     metrics.export(&Aggregate::new());
//! }
//! let dropped = otel.shutdown(Duration::from_secs(5));
//! assert_eq!((dropped.spans, dropped.points), (0, 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod config;
mod error;
pub mod metrics;
mod pipeline;
mod resource;
pub mod trace;
mod transport;

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;

pub use config::{ConfigError, OtelConfig, Propagators, Protocol, Temporality};
pub use error::StartError;
pub use metrics::MetricsExporter;
pub use resource::RunMeta;
pub use trace::{ClosedSpan, IterationTrace, RequestEnd, RequestSpan, Tracing};

use pipeline::{Pipeline, Tally};

/// Spans and points, counted for one outcome (exported or dropped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Spans.
    pub spans: u64,
    /// Metric data points.
    pub points: u64,
}

/// The telemetry of one run: its tracer, its metrics exporter and the
/// export thread behind them.
///
/// Invariant: every span and point handed over (a kept iteration's spans,
/// an export's points) ends up counted exactly once, as exported or as
/// dropped, by the time [`shutdown`](Otel::shutdown) returns. Dropped
/// means the queue was full, the collector failed or timed out, or the
/// flush budget ran out.
pub struct Otel {
    config: OtelConfig,
    tracing: Tracing,
    resource: Resource,
    scope: InstrumentationScope,
    pipeline: Option<Pipeline>,
    run_id: String,
}

impl Otel {
    /// Starts exporting as `config` says: an export thread when traces or
    /// metrics are exported, none otherwise.
    ///
    /// # Errors
    ///
    /// An endpoint that is not an `http://` URL, a header that cannot
    /// be sent, or a thread or runtime that cannot start.
    pub fn start(config: &OtelConfig, mut run: RunMeta) -> Result<Otel, StartError> {
        let resource = resource::resource(config, &mut run);
        let scope = resource::scope();
        let exporting = config.exports_traces() || config.exports_metrics();
        let pipeline = match exporting {
            true => Some(Pipeline::start(config, resource.clone(), scope.clone())?),
            false => None,
        };
        let sink = pipeline
            .as_ref()
            .filter(|_| config.exports_traces())
            .map(Pipeline::trace_sink);
        Ok(Otel {
            config: config.clone(),
            tracing: Tracing::with_sink(config, sink),
            resource,
            scope,
            pipeline,
            run_id: run.run_id.unwrap_or_default(),
        })
    }

    /// The run's tracer; clone it into every VU.
    pub fn tracing(&self) -> Tracing {
        self.tracing.clone()
    }

    /// A metrics exporter, `None` when metrics are not exported. Take one
    /// per run: each keeps its own delta baseline.
    pub fn metrics_exporter(&self) -> Option<MetricsExporter> {
        let pipeline = self
            .pipeline
            .as_ref()
            .filter(|_| self.config.exports_metrics())?;
        let sink = Some(pipeline.metric_sink());
        let (resource, scope) = (self.resource.clone(), self.scope.clone());
        Some(MetricsExporter::new(&self.config, resource, scope, sink))
    }

    /// The run id exported as `loadwit.run.id`.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Spans and points dropped so far.
    pub fn dropped(&self) -> Counts {
        self.counts(Tally::dropped)
    }

    /// Why spans or points were first dropped (an export error, or a
    /// full queue); `None` while nothing was.
    pub fn first_failure(&self) -> Option<String> {
        let pipeline = self.pipeline.as_ref()?;
        pipeline
            .spans
            .first_failure()
            .or_else(|| pipeline.points.first_failure())
            .map(str::to_owned)
    }

    /// Spans and points the collector accepted so far.
    pub fn exported(&self) -> Counts {
        self.counts(Tally::exported)
    }

    /// Flushes what is queued, waiting at most `timeout`, stops the export
    /// thread and returns the final count of dropped spans and points
    /// (what the summary reports). Spans ended afterwards are dropped and
    /// counted, never sent. A second call returns at once.
    pub fn shutdown(&mut self, timeout: Duration) -> Counts {
        if let Some(pipeline) = &mut self.pipeline {
            pipeline.shutdown(timeout);
        }
        self.dropped()
    }

    fn counts(&self, count: fn(&Tally) -> u64) -> Counts {
        match &self.pipeline {
            Some(pipeline) => Counts {
                spans: count(&pipeline.spans),
                points: count(&pipeline.points),
            },
            None => Counts::default(),
        }
    }
}

impl std::fmt::Debug for Otel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Otel")
            .field("endpoint", &self.config.endpoint())
            .field("run_id", &self.run_id)
            .field("exporting", &self.pipeline.is_some())
            .finish()
    }
}
