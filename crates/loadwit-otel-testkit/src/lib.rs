//! Real OTLP receivers and a target for loadwit's tests, all on 127.0.0.1.
//!
//! Each runs on its own tokio runtime in a background thread, so tests
//! stay synchronous like the engine's callers, and blocking calls such as
//! `Otel::shutdown` never starve the receiver. The receivers decode every
//! export with `opentelemetry-proto`, over gRPC (tonic) or HTTP/protobuf
//! (axum), and keep it for the test to inspect; a collector that never
//! answers and an address where nothing listens stand in for a collector
//! that is down. `loadwit-otel`'s own tests and the end-to-end tests of
//! the `loadwit` binary share them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use loadwit_otel::Protocol;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    metrics_service_server::{MetricsService, MetricsServiceServer},
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What a receiver decoded: every export request, as sent.
#[derive(Clone, Default)]
pub struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    /// The headers (gRPC metadata) of every export, traces and metrics.
    headers: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Received {
    /// Every span received, in arrival order.
    pub fn spans(&self) -> Vec<Span> {
        let traces = self.traces.lock().expect("lock");
        traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.iter().cloned())
            .collect()
    }

    /// The resource attributes of the first trace export.
    pub fn trace_resource(&self) -> Vec<KeyValue> {
        let traces = self.traces.lock().expect("lock");
        let first = traces.first().and_then(|r| r.resource_spans.first());
        first
            .and_then(|r| r.resource.clone())
            .map(|r| r.attributes)
            .unwrap_or_default()
    }

    /// Every metric of every export, in arrival order.
    pub fn metrics(&self) -> Vec<Metric> {
        let metrics = self.metrics.lock().expect("lock");
        metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| s.metrics.iter().cloned())
            .collect()
    }

    /// The value of header `name` on every export, in arrival order.
    pub fn header(&self, name: &str) -> Vec<Option<String>> {
        let headers = self.headers.lock().expect("lock");
        headers
            .iter()
            .map(|h| h.get(name).and_then(|v| v.to_str().ok()).map(String::from))
            .collect()
    }

    fn keep_headers(&self, headers: HeaderMap) {
        self.headers.lock().expect("lock").push(headers);
    }

    /// How many metric export requests arrived.
    pub fn metric_exports(&self) -> usize {
        self.metrics.lock().expect("lock").len()
    }
}

/// A server on its own runtime, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub received: Received,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime")
}

/// Starts an OTLP receiver speaking `protocol`.
pub fn receiver(protocol: Protocol) -> Server {
    let runtime = runtime();
    let received = Received::default();
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind receiver");
    let addr = listener.local_addr().expect("address");
    match protocol {
        Protocol::Grpc => {
            let server = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(received.clone()))
                .add_service(MetricsServiceServer::new(received.clone()))
                .serve_with_incoming(TcpListenerStream::new(listener));
            runtime.spawn(server);
        }
        Protocol::HttpProtobuf => {
            let app = Router::new()
                .route("/v1/traces", post(http_traces))
                .route("/v1/metrics", post(http_metrics))
                .with_state(received.clone());
            runtime.spawn(async move { axum::serve(listener, app).await });
        }
    }
    Server {
        addr,
        received,
        runtime: Some(runtime),
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.keep_headers(request.metadata().clone().into_headers());
        self.traces.lock().expect("lock").push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.keep_headers(request.metadata().clone().into_headers());
        self.metrics
            .lock()
            .expect("lock")
            .push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

async fn http_traces(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> Vec<u8> {
    received.keep_headers(headers);
    let request = ExportTraceServiceRequest::decode(body).expect("protobuf trace export");
    received.traces.lock().expect("lock").push(request);
    ExportTraceServiceResponse::default().encode_to_vec()
}

async fn http_metrics(
    State(received): State<Received>,
    headers: HeaderMap,
    body: Bytes,
) -> Vec<u8> {
    received.keep_headers(headers);
    let request = ExportMetricsServiceRequest::decode(body).expect("protobuf metrics export");
    received.metrics.lock().expect("lock").push(request);
    ExportMetricsServiceResponse::default().encode_to_vec()
}

/// A collector that accepts connections and never answers.
pub fn silent_collector() -> Server {
    let runtime = runtime();
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind silent collector");
    let addr = listener.local_addr().expect("address");
    runtime.spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Server {
        addr,
        received: Received::default(),
        runtime: Some(runtime),
    }
}

/// An address where nothing listens.
pub fn absent_collector() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

/// The target of the load test: `GET /ok` answers 200, `GET /fail` 500,
/// both recording the `traceparent` header they received.
pub struct Target {
    pub server: Server,
    pub traceparents: Arc<Mutex<Vec<String>>>,
    /// `x-datadog-trace-id` and `x-datadog-parent-id` of each request
    /// that had them.
    pub datadog: Arc<Mutex<Vec<(String, String)>>>,
    client: reqwest::Client,
}

pub fn target() -> Target {
    let runtime = runtime();
    let traceparents = Arc::new(Mutex::new(Vec::new()));
    let datadog = Arc::new(Mutex::new(Vec::new()));
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind target");
    let addr = listener.local_addr().expect("address");
    let record = |status: u16| {
        let (traceparents, datadog) = (traceparents.clone(), datadog.clone());
        move |headers: HeaderMap| async move {
            let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            if let Some(value) = get("traceparent") {
                traceparents.lock().expect("lock").push(value.to_string());
            }
            if let (Some(trace), Some(parent)) =
                (get("x-datadog-trace-id"), get("x-datadog-parent-id"))
            {
                datadog
                    .lock()
                    .expect("lock")
                    .push((trace.to_string(), parent.to_string()));
            }
            axum::http::StatusCode::from_u16(status).expect("status")
        }
    };
    let app = Router::new()
        .route("/ok", get(record(200)))
        .route("/fail", get(record(500)));
    runtime.spawn(async move { axum::serve(listener, app).await });
    Target {
        server: Server {
            addr,
            received: Received::default(),
            runtime: Some(runtime),
        },
        traceparents,
        datadog,
        client: reqwest::Client::new(),
    }
}

impl Target {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    /// Sends `GET url` with `headers`, returning the status.
    pub fn get(&self, url: &str, headers: &[(&'static str, String)]) -> u16 {
        let runtime = self.server.runtime.as_ref().expect("running");
        let mut request = self.client.get(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = runtime.block_on(request.send()).expect("target answers");
        response.status().as_u16()
    }
}

/// The value of attribute `key`, as text.
pub fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The metrics named `name`, one per export.
pub fn named<'a>(metrics: &'a [Metric], name: &str) -> Vec<&'a Metric> {
    metrics.iter().filter(|m| m.name == name).collect()
}

/// The sum of every point of the sum metric `name`, over all exports.
pub fn sum_of(metrics: &[Metric], name: &str) -> f64 {
    let points = named(metrics, name)
        .into_iter()
        .flat_map(|m| match &m.data {
            Some(metric::Data::Sum(sum)) => sum.data_points.clone(),
            _ => Vec::new(),
        });
    points
        .map(|p| match p.value {
            Some(number_data_point::Value::AsDouble(v)) => v,
            Some(number_data_point::Value::AsInt(v)) => v as f64,
            None => 0.0,
        })
        .sum()
}

/// The count of every point of the histogram `name`, over all exports;
/// asserts each point's buckets add up to its count.
pub fn histogram_count(metrics: &[Metric], name: &str) -> u64 {
    let points = named(metrics, name)
        .into_iter()
        .flat_map(|m| match &m.data {
            Some(metric::Data::ExponentialHistogram(h)) => h.data_points.clone(),
            _ => Vec::new(),
        });
    points
        .map(|p| {
            let buckets: u64 = p.positive.map_or(0, |b| b.bucket_counts.iter().sum());
            assert_eq!(
                buckets + p.zero_count,
                p.count,
                "buckets add up to the count"
            );
            p.count
        })
        .sum()
}

/// The sum of every point of the histogram `name`, over all exports.
pub fn histogram_sum(metrics: &[Metric], name: &str) -> f64 {
    named(metrics, name)
        .into_iter()
        .flat_map(|m| match &m.data {
            Some(metric::Data::ExponentialHistogram(h)) => h.data_points.clone(),
            _ => Vec::new(),
        })
        .filter_map(|p| p.sum)
        .sum()
}

/// The values of every point of the gauge `name`, in arrival order.
pub fn gauge_values(metrics: &[Metric], name: &str) -> Vec<f64> {
    named(metrics, name)
        .into_iter()
        .flat_map(|m| match &m.data {
            Some(metric::Data::Gauge(gauge)) => gauge.data_points.clone(),
            _ => Vec::new(),
        })
        .filter_map(|p| match p.value {
            Some(number_data_point::Value::AsDouble(v)) => Some(v),
            Some(number_data_point::Value::AsInt(v)) => Some(v as f64),
            None => None,
        })
        .collect()
}

/// Data points of every kind in `metrics`.
pub fn count_points(metrics: &[Metric]) -> u64 {
    metrics
        .iter()
        .map(|m| match &m.data {
            Some(metric::Data::Sum(s)) => s.data_points.len(),
            Some(metric::Data::Gauge(g)) => g.data_points.len(),
            Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
            _ => 0,
        } as u64)
        .sum()
}
