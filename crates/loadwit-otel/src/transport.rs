//! The wire: OTLP export requests over gRPC (tonic) or HTTP/protobuf
//! (reqwest), each bounded by the configured timeout.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    metrics_service_client::MetricsServiceClient,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse, trace_service_client::TraceServiceClient,
};
use prost::Message;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::config::{OtelConfig, Protocol};
use crate::error::StartError;

/// Why one export did not land. Its spans or points count as dropped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    #[error("export timed out")]
    Timeout,
    #[error("collector answered gRPC {:?}: {}", .0.code(), .0.message())]
    Grpc(#[from] tonic::Status),
    #[error("collector request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("collector answered HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("no endpoint for this signal")]
    Unconfigured,
}

/// A validated destination, built before the export thread starts so a
/// bad endpoint or header is reported by [`Otel::start`](crate::Otel::start).
/// A signal that is not exported has no endpoint.
// One per run: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Destination {
    Grpc {
        traces: Option<Endpoint>,
        metrics: Option<Endpoint>,
        metadata: MetadataMap,
    },
    Http {
        client: reqwest::Client,
        traces_url: Option<String>,
        metrics_url: Option<String>,
    },
}

/// A connected transport. Cloning is cheap; clones share connections.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Transport {
    Grpc {
        traces: Option<TraceServiceClient<Channel>>,
        metrics: Option<MetricsServiceClient<Channel>>,
        metadata: MetadataMap,
    },
    Http {
        client: reqwest::Client,
        traces_url: Option<String>,
        metrics_url: Option<String>,
    },
}

/// What the collector kept of one export: the rejected count from an OTLP
/// partial success (zero when it took everything).
pub(crate) type Rejected = u64;

impl Destination {
    pub(crate) fn new(config: &OtelConfig) -> Result<Self, StartError> {
        // The base endpoint first, so an error shows the value as given
        // rather than with `/v1/traces` appended.
        if let Some(base) = config.endpoint() {
            checked((config.endpoint_source(), base.to_string()))?;
        }
        let traces = config.traces_url().filter(|_| config.exports_traces());
        let metrics = config.metrics_url().filter(|_| config.exports_metrics());
        let traces = traces.map(checked).transpose()?;
        let metrics = metrics.map(checked).transpose()?;
        match config.protocol() {
            Protocol::Grpc => grpc(config, traces, metrics),
            Protocol::HttpProtobuf => http(config, traces, metrics),
        }
    }

    /// Connects lazily: an absent collector costs nothing here and fails
    /// each export instead. Must run inside a tokio runtime.
    pub(crate) fn connect(self) -> Transport {
        match self {
            Destination::Grpc {
                traces,
                metrics,
                metadata,
            } => Transport::Grpc {
                traces: traces.map(|e| TraceServiceClient::new(e.connect_lazy())),
                metrics: metrics.map(|e| MetricsServiceClient::new(e.connect_lazy())),
                metadata,
            },
            Destination::Http {
                client,
                traces_url,
                metrics_url,
            } => Transport::Http {
                client,
                traces_url,
                metrics_url,
            },
        }
    }
}

/// Accepts `http://` URLs only, naming the variable that set a bad one.
fn checked((name, url): (&'static str, String)) -> Result<String, StartError> {
    if url.starts_with("https://") {
        return Err(StartError::Tls(name, url));
    }
    if !url.starts_with("http://") {
        return Err(StartError::Endpoint(name, url));
    }
    Ok(url)
}

fn grpc(
    config: &OtelConfig,
    traces: Option<String>,
    metrics: Option<String>,
) -> Result<Destination, StartError> {
    let timeout = config.timeout();
    let endpoint = |url: String| {
        Endpoint::from_shared(url.clone())
            .map(|e| e.timeout(timeout).connect_timeout(timeout))
            .map_err(|_| StartError::Endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", url))
    };

    let mut metadata = MetadataMap::new();
    for (name, value) in config.headers() {
        let bad = || StartError::Header(name.clone());
        let key =
            MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| bad())?;
        let value = MetadataValue::try_from(value.as_str()).map_err(|_| bad())?;
        metadata.insert(key, value);
    }
    Ok(Destination::Grpc {
        traces: traces.map(endpoint).transpose()?,
        metrics: metrics.map(endpoint).transpose()?,
        metadata,
    })
}

fn http(
    config: &OtelConfig,
    traces_url: Option<String>,
    metrics_url: Option<String>,
) -> Result<Destination, StartError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    for (name, value) in config.headers() {
        let bad = || StartError::Header(name.clone());
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        headers.insert(name, HeaderValue::from_str(value).map_err(|_| bad())?);
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(config.timeout())
        .connect_timeout(config.timeout())
        .build()
        .map_err(StartError::Client)?;
    Ok(Destination::Http {
        client,
        traces_url,
        metrics_url,
    })
}

impl Transport {
    /// Sends one trace export, giving up after `timeout`.
    pub(crate) async fn send_traces(
        &mut self,
        request: ExportTraceServiceRequest,
        timeout: Duration,
    ) -> Result<Rejected, ExportError> {
        let send = async {
            match self {
                Transport::Grpc {
                    traces: Some(traces),
                    metadata,
                    ..
                } => {
                    let request = with_metadata(request, metadata);
                    let response = traces.export(request).await?.into_inner();
                    Ok(response
                        .partial_success
                        .map_or(0, |p| p.rejected_spans as u64))
                }
                Transport::Http {
                    client,
                    traces_url: Some(traces_url),
                    ..
                } => {
                    let body = post(client, traces_url, request.encode_to_vec()).await?;
                    let response = ExportTraceServiceResponse::decode(body).unwrap_or_default();
                    Ok(response
                        .partial_success
                        .map_or(0, |p| p.rejected_spans as u64))
                }
                _ => Err(ExportError::Unconfigured),
            }
        };
        tokio::time::timeout(timeout, send)
            .await
            .map_err(|_| ExportError::Timeout)?
    }

    /// Sends one metrics export, giving up after `timeout`.
    pub(crate) async fn send_metrics(
        &mut self,
        request: ExportMetricsServiceRequest,
        timeout: Duration,
    ) -> Result<Rejected, ExportError> {
        let send = async {
            match self {
                Transport::Grpc {
                    metrics: Some(metrics),
                    metadata,
                    ..
                } => {
                    let request = with_metadata(request, metadata);
                    let response = metrics.export(request).await?.into_inner();
                    Ok(response
                        .partial_success
                        .map_or(0, |p| p.rejected_data_points as u64))
                }
                Transport::Http {
                    client,
                    metrics_url: Some(metrics_url),
                    ..
                } => {
                    let body = post(client, metrics_url, request.encode_to_vec()).await?;
                    let response = ExportMetricsServiceResponse::decode(body).unwrap_or_default();
                    Ok(response
                        .partial_success
                        .map_or(0, |p| p.rejected_data_points as u64))
                }
                _ => Err(ExportError::Unconfigured),
            }
        };
        tokio::time::timeout(timeout, send)
            .await
            .map_err(|_| ExportError::Timeout)?
    }
}

fn with_metadata<T>(message: T, metadata: &MetadataMap) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    *request.metadata_mut() = metadata.clone();
    request
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> Result<prost::bytes::Bytes, ExportError> {
    let response = client.post(url).body(body).send().await?;
    let status = response.status();
    if !status.is_success() {
        return Err(ExportError::Status(status));
    }
    Ok(response.bytes().await?)
}
