//! The `http` import: one request out, one typed response or error back,
//! and one sample recorded.

use std::error::Error as _;
use std::time::{Duration, Instant};

use loadwit_metrics::{Builtin, HttpTimings, Sample, TagSet};
use reqwest::header::{HeaderName, HeaderValue};

use super::VuState;
use super::loadwit::scenario::http::Host;
use super::loadwit::scenario::types::{ErrorKind, HttpError, Method, Request, Response, Timings};

/// How long a request may take when the scenario sets no timeout, as k6.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A VU's HTTP client: its own connection pool, so connections are kept
/// alive per VU as a browser would, and never shared between VUs.
pub(crate) struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    pub(crate) fn new() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("loadwit/", env!("CARGO_PKG_VERSION")))
            .timeout(DEFAULT_TIMEOUT)
            .no_proxy()
            .build()
            .expect("a client with no TLS and no proxy always builds");
        Self { client }
    }
}

impl Host for VuState {
    async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let exchange = exchange(&self.context.http.client, request).await;
        let sample = exchange.sample(&self.context.tags);
        if let Some(lateness) = self.context.lateness {
            self.context.recorder.record(Sample::Trend {
                metric: Builtin::HttpReqDurationCorrected,
                tags: sample.tags().clone(),
                value: exchange.timings.duration + lateness,
            });
        }
        self.context.recorder.record(sample);
        self.guest_since = Instant::now();
        exchange.result
    }
}

/// One request and what came of it, with what the metrics need.
struct Exchange {
    result: Result<Response, HttpError>,
    method: String,
    name: String,
    extra_tags: Vec<(String, String)>,
    timings: HttpTimings,
    sent: u64,
    received: u64,
}

impl Exchange {
    fn sample(&self, base: &TagSet) -> Sample {
        let outcome = match &self.result {
            Ok(response) => ("status", response.status.to_string()),
            Err(error) => ("error_code", error_code(error.kind).to_owned()),
        };
        let failed = match &self.result {
            Ok(response) => response.status >= 400,
            Err(_) => true,
        };
        let tags = TagSet::new(
            base.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .chain(self.extra_tags.iter().cloned())
                .chain([
                    ("method".to_owned(), self.method.clone()),
                    ("name".to_owned(), self.name.clone()),
                    (outcome.0.to_owned(), outcome.1),
                ]),
        );
        Sample::Http {
            tags,
            timings: self.timings,
            failed,
            sent: self.sent,
            received: self.received,
        }
    }
}

async fn exchange(client: &reqwest::Client, request: Request) -> Exchange {
    let method = method_text(&request.method);
    let name = request.name.clone().unwrap_or_else(|| request.url.clone());
    let mut exchange = Exchange {
        result: Err(HttpError {
            kind: ErrorKind::Other,
            message: String::new(),
        }),
        method,
        name,
        extra_tags: request.tags.clone(),
        timings: HttpTimings::default(),
        sent: 0,
        received: 0,
    };

    let (built, sent) = match build(client, &exchange.method, request) {
        Ok(built) => built,
        Err(error) => {
            exchange.result = Err(error);
            return exchange;
        }
    };

    let started = Instant::now();
    exchange.sent = sent;
    let response = match built.send().await {
        Ok(response) => response,
        Err(error) => {
            exchange.timings = timings(started, Instant::now(), None);
            exchange.result = Err(classify(&error));
            return exchange;
        }
    };
    let headers_at = Instant::now();
    let status = response.status().as_u16();
    let headers = header_pairs(response.headers());
    let head_size = response_head_size(&headers);

    match response.bytes().await {
        Ok(body) => {
            exchange.timings = timings(started, headers_at, Some(Instant::now()));
            exchange.received = head_size + body.len() as u64;
            exchange.result = Ok(Response {
                status,
                headers,
                body: body.to_vec(),
                timings: wit_timings(&exchange.timings),
            });
        }
        Err(error) => {
            exchange.timings = timings(started, headers_at, Some(Instant::now()));
            exchange.received = head_size;
            exchange.result = Err(classify(&error));
        }
    }
    exchange
}

fn build(
    client: &reqwest::Client,
    method: &str,
    request: Request,
) -> Result<(reqwest::RequestBuilder, u64), HttpError> {
    let invalid = |message: String| HttpError {
        kind: ErrorKind::InvalidUrl,
        message,
    };
    let url = reqwest::Url::parse(&request.url)
        .map_err(|e| invalid(format!("`{}` is not a valid URL: {e}", request.url)))?;
    if url.scheme() != "http" {
        return Err(invalid(format!(
            "`{}` is not an http:// URL; this build of loadwit speaks plain HTTP only",
            request.url
        )));
    }
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| HttpError {
        kind: ErrorKind::Other,
        message: format!("`{method}` is not a valid HTTP method"),
    })?;

    let sent = request_size(&method, &url, &request);
    let mut builder = client.request(method, url).body(request.body);
    for (name, value) in request.headers {
        let name = HeaderName::from_bytes(name.as_bytes());
        let value = HeaderValue::from_str(&value);
        let (Ok(name), Ok(value)) = (name, value) else {
            return Err(HttpError {
                kind: ErrorKind::Other,
                message: "a request header has an invalid name or value".into(),
            });
        };
        builder = builder.header(name, value);
    }
    if let Some(ms) = request.timeout_ms {
        builder = builder.timeout(Duration::from_millis(u64::from(ms)));
    }
    Ok((builder, sent))
}

/// Sorts a transport failure into the kinds the guest and the summary
/// tell apart.
fn classify(error: &reqwest::Error) -> HttpError {
    let message = error_chain(error);
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if let Some(io) = io_kind(error) {
        match io {
            std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::UnexpectedEof => ErrorKind::ConnectionReset,
            _ if message.contains("dns error") => ErrorKind::Dns,
            _ => ErrorKind::Other,
        }
    } else if message.contains("dns error") {
        ErrorKind::Dns
    } else if message.contains("connection closed before message completed") {
        ErrorKind::ConnectionReset
    } else {
        ErrorKind::Other
    };
    HttpError { kind, message }
}

fn io_kind(error: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = inner.source();
    }
    None
}

/// The error and its causes on one line, as the summary shows them.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The `error_code` tag value of an error kind, stable across versions.
pub(crate) fn error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidUrl => "invalid-url",
        ErrorKind::Dns => "dns",
        ErrorKind::ConnectionRefused => "connection-refused",
        ErrorKind::ConnectionReset => "connection-reset",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Other => "other",
    }
}

fn method_text(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Patch => "PATCH".into(),
        Method::Delete => "DELETE".into(),
        Method::Options => "OPTIONS".into(),
        Method::Other(other) => other.to_ascii_uppercase(),
    }
}

/// Time to the response head is `waiting`, the body is `receiving`.
///
/// Until the transport reports connection events, connecting and sending
/// are folded into `waiting`; `blocked`, `connecting` and `sending` stay 0.
fn timings(started: Instant, head: Instant, body_end: Option<Instant>) -> HttpTimings {
    let waiting = head.duration_since(started);
    let receiving = body_end.map_or(Duration::ZERO, |end| end.duration_since(head));
    HttpTimings {
        waiting,
        receiving,
        duration: waiting + receiving,
        ..HttpTimings::default()
    }
}

fn wit_timings(t: &HttpTimings) -> Timings {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Timings {
        blocked: ms(t.blocked),
        connecting: ms(t.connecting),
        sending: ms(t.sending),
        waiting: ms(t.waiting),
        receiving: ms(t.receiving),
        duration: ms(t.duration),
    }
}

fn header_pairs(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Bytes of the request on the wire, as HTTP/1.1 frames it: request line,
/// `Host`, `User-Agent`, the scenario's headers and the body.
fn request_size(method: &reqwest::Method, url: &reqwest::Url, request: &Request) -> u64 {
    let target = url.path().len() + url.query().map_or(0, |q| q.len() + 1);
    let line = method.as_str().len()
        + 1
        + target
        + " HTTP/1.1
"
        .len();
    let host = "host: 
"
    .len()
        + url.host_str().map_or(0, str::len)
        + 6;
    let agent = "user-agent: loadwit/
"
    .len()
        + env!("CARGO_PKG_VERSION").len();
    let headers: usize = request
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 4)
        .sum();
    (line + host + agent + headers + 2 + request.body.len()) as u64
}

/// Bytes of a response's status line and headers.
fn response_head_size(headers: &[(String, String)]) -> u64 {
    let line = "HTTP/1.1 200 OK\r\n".len();
    let fields: usize = headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    (line + fields + 2) as u64
}
