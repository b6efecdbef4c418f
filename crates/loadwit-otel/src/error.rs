//! Errors of starting the exporter.

/// Why [`Otel::start`](crate::Otel::start) could not start exporting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The endpoint (named by the variable that set it) is not an
    /// `http://` URL.
    #[error("invalid `{0}` value `{1}`; expected a URL such as `http://localhost:4318`")]
    Endpoint(&'static str, String),
    /// An `https://` endpoint: this build speaks plain HTTP only.
    #[error(
        "`{0}` value `{1}` needs TLS, which loadwit does not speak; \
         export to a local agent or collector over `http://`"
    )]
    Tls(&'static str, String),
    /// A header name or value cannot be sent.
    #[error(
        "invalid OTLP header `{0}` (from `--otlp-header` or `OTEL_EXPORTER_OTLP_HEADERS`); \
         names must be HTTP tokens and values visible ASCII"
    )]
    Header(String),
    /// The HTTP client could not be built.
    #[error("cannot build the OTLP HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The export thread could not be started.
    #[error("cannot start the OTLP export thread: {0}")]
    Thread(#[source] std::io::Error),
}
