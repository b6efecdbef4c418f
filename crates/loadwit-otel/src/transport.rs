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
    #[error("collector answered gRPC status {0}")]
    Grpc(#[from] tonic::Status),
    #[error("collector request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("collector answered HTTP {0}")]
    Status(reqwest::StatusCode),
}

/// A validated destination, built before the export thread starts so a
/// bad endpoint or header is reported by [`Otel::start`](crate::Otel::start).
// One per run: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Destination {
    Grpc {
        endpoint: Endpoint,
        metadata: MetadataMap,
    },
    Http {
        client: reqwest::Client,
        traces_url: String,
        metrics_url: String,
    },
}

/// A connected transport. Cloning is cheap; clones share connections.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Transport {
    Grpc {
        traces: TraceServiceClient<Channel>,
        metrics: MetricsServiceClient<Channel>,
        metadata: MetadataMap,
    },
    Http {
        client: reqwest::Client,
        traces_url: String,
        metrics_url: String,
    },
}

/// What the collector kept of one export: the rejected count from an OTLP
/// partial success (zero when it took everything).
pub(crate) type Rejected = u64;

impl Destination {
    pub(crate) fn new(config: &OtelConfig) -> Result<Self, StartError> {
        let Some(endpoint) = config.endpoint() else {
            return Err(StartError::NoEndpoint);
        };
        if endpoint.starts_with("https://") {
            return Err(StartError::Tls(endpoint.to_string()));
        }
        if !endpoint.starts_with("http://") {
            return Err(StartError::Endpoint(endpoint.to_string()));
        }
        match config.protocol() {
            Protocol::Grpc => grpc(config, endpoint),
            Protocol::HttpProtobuf => http(config, endpoint),
        }
    }

    /// Connects lazily: an absent collector costs nothing here and fails
    /// each export instead. Must run inside a tokio runtime.
    pub(crate) fn connect(self) -> Transport {
        match self {
            Destination::Grpc { endpoint, metadata } => {
                let channel = endpoint.connect_lazy();
                Transport::Grpc {
                    traces: TraceServiceClient::new(channel.clone()),
                    metrics: MetricsServiceClient::new(channel),
                    metadata,
                }
            }
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

fn grpc(config: &OtelConfig, endpoint: &str) -> Result<Destination, StartError> {
    let timeout = config.timeout();
    let endpoint = Endpoint::from_shared(endpoint.to_string())
        .map_err(|_| StartError::Endpoint(endpoint.to_string()))?
        .timeout(timeout)
        .connect_timeout(timeout);

    let mut metadata = MetadataMap::new();
    for (name, value) in config.headers() {
        let bad = || StartError::Header(name.clone());
        let key =
            MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| bad())?;
        let value = MetadataValue::try_from(value.as_str()).map_err(|_| bad())?;
        metadata.insert(key, value);
    }
    Ok(Destination::Grpc { endpoint, metadata })
}

fn http(config: &OtelConfig, endpoint: &str) -> Result<Destination, StartError> {
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
        traces_url: format!("{endpoint}/v1/traces"),
        metrics_url: format!("{endpoint}/v1/metrics"),
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
                    traces, metadata, ..
                } => {
                    let request = with_metadata(request, metadata);
                    let response = traces.export(request).await?.into_inner();
                    Ok(response
                        .partial_success
                        .map_or(0, |p| p.rejected_spans as u64))
                }
                Transport::Http {
                    client, traces_url, ..
                } => {
                    let body = post(client, traces_url, request.encode_to_vec()).await?;
                    let response = ExportTraceServiceResponse::decode(body).unwrap_or_default();
                    Ok(response
                        .partial_success
                        .map_or(0, |p| p.rejected_spans as u64))
                }
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
                    metrics, metadata, ..
                } => {
                    let request = with_metadata(request, metadata);
                    let response = metrics.export(request).await?.into_inner();
                    Ok(response
                        .partial_success
                        .map_or(0, |p| p.rejected_data_points as u64))
                }
                Transport::Http {
                    client,
                    metrics_url,
                    ..
                } => {
                    let body = post(client, metrics_url, request.encode_to_vec()).await?;
                    let response = ExportMetricsServiceResponse::decode(body).unwrap_or_default();
                    Ok(response
                        .partial_success
                        .map_or(0, |p| p.rejected_data_points as u64))
                }
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
