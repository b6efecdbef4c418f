//! One request on one connection: take or open the connection, send,
//! read the response as it streams, and time every phase.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::write::GzDecoder;
use http::header::{CONNECTION, CONTENT_ENCODING, HOST};
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Full};
use loadwit_metrics::HttpTimings;

use super::client::Shared;
use super::connect::{Body, Connection, Origin, Proto, Sender, Setup, connect};
use super::error::{error, transfer_error};
use super::probe::Probe;
use crate::host::loadwit::scenario::types::{ErrorKind, HttpError};

/// The most bytes of a kept body; a larger one fails with
/// `body-too-large`, since the whole of it must reach the guest's memory.
pub(crate) const MAX_KEPT_BODY: usize = 64 << 20;

/// What the reader does with the body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyPolicy {
    pub(crate) keep: bool,
    /// The host asked for gzip, so it decodes what comes gzipped.
    pub(crate) gunzip: bool,
}

/// A response head and its body, as the host hands it on.
pub(crate) struct Received {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// What is known of a request so far; filled in as phases end, so a
/// request cut off by its timeout still reports how far it got.
pub(crate) struct Marks {
    started: Instant,
    setup: Option<Setup>,
    /// A connection was ready and the request started going out.
    ready: Option<Instant>,
    probe: Option<Arc<Probe>>,
    bytes_before: (u64, u64),
    proto: Option<Proto>,
    pub(crate) tls_version: Option<&'static str>,
    head: Option<Instant>,
    ended: Option<Instant>,
    /// Bytes of the head and body as HTTP/2 frames carry them; HTTP/1.1
    /// counts them on the socket instead.
    framed: (u64, u64),
}

impl Marks {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            setup: None,
            ready: None,
            probe: None,
            bytes_before: (0, 0),
            proto: None,
            tls_version: None,
            head: None,
            ended: None,
            framed: (0, 0),
        }
    }

    pub(crate) fn proto(&self) -> Option<Proto> {
        self.proto
    }

    /// The phases, as k6 splits them. Phases not reached are 0; the one
    /// a timeout cut runs to now.
    pub(crate) fn timings(&self) -> HttpTimings {
        let end = self.ended.unwrap_or_else(Instant::now);
        let Some(ready) = self.ready else {
            let (blocked, connecting, tls_handshaking) = self.setup_phases(end);
            return HttpTimings {
                blocked,
                connecting,
                tls_handshaking,
                ..HttpTimings::default()
            };
        };
        let (blocked, connecting, tls_handshaking) = self.setup_phases(ready);

        let probe = self.probe.as_deref();
        let sent = probe
            .and_then(Probe::last_write)
            .filter(|at| *at >= ready)
            .map_or(end, |at| at.min(end));
        let first_byte = match self.proto {
            Some(Proto::Http1) => probe.and_then(Probe::first_read).or(self.head),
            _ => self.head,
        };
        let first_byte = first_byte.map_or(end, |at| at.clamp(sent, end));
        let sending = sent.saturating_duration_since(ready);
        let waiting = first_byte.saturating_duration_since(sent);
        let receiving = end.saturating_duration_since(first_byte);
        HttpTimings {
            blocked,
            connecting,
            tls_handshaking,
            sending,
            waiting,
            receiving,
            duration: sending + waiting + receiving,
        }
    }

    /// `blocked`, `connecting` and `tls_handshaking` up to `until`.
    fn setup_phases(&self, until: Instant) -> (Duration, Duration, Duration) {
        match self.setup {
            None => (
                until.saturating_duration_since(self.started),
                Duration::ZERO,
                Duration::ZERO,
            ),
            Some(setup) => {
                let resolved = setup.resolved.min(until);
                let connected = setup.connected.clamp(resolved, until);
                let secured = setup.secured.clamp(connected, until);
                (
                    resolved.saturating_duration_since(self.started),
                    connected.saturating_duration_since(resolved),
                    secured.saturating_duration_since(connected),
                )
            }
        }
    }

    /// Bytes sent and received for this request: on the socket for
    /// HTTP/1.1 (a new connection's TLS handshake included), as framed
    /// for HTTP/2, whose socket carries other requests too.
    pub(crate) fn bytes(&self) -> (u64, u64) {
        match (self.proto, &self.probe) {
            (Some(Proto::Http1), Some(probe)) => {
                let (written, read) = probe.bytes();
                (
                    written.saturating_sub(self.bytes_before.0),
                    read.saturating_sub(self.bytes_before.1),
                )
            }
            _ => self.framed,
        }
    }
}

/// Sends `request` to `origin` on a pooled or new connection and reads the
/// response under `policy`.
///
/// # Cancel safety
///
/// Dropping the future (a timeout) drops the connection with it; `marks`
/// keeps what was measured until then.
pub(crate) async fn exchange(
    shared: &Shared<'_>,
    origin: &Origin,
    mut request: Request<Body>,
    policy: BodyPolicy,
    marks: &mut Marks,
) -> Result<Received, HttpError> {
    let mut connection = obtain(shared, origin, marks).await?;
    let proto = connection.proto();
    marks.proto = Some(proto);
    marks.tls_version = connection.tls_version;
    marks.probe = Some(connection.probe.clone());
    marks.bytes_before = connection.probe.bytes();
    marks.framed.0 = request_size(&request);

    if proto == Proto::Http1 {
        to_origin_form(&mut request);
    }
    connection.probe.arm();
    marks.ready = Some(Instant::now());
    let response = match &mut connection.sender {
        Sender::Http1(sender) => sender.send_request(request).await,
        Sender::Http2(sender) => sender.send_request(request).await,
    }
    .map_err(|e| transfer_error(&e, marks.tls_version.is_some()))?;
    marks.head = Some(Instant::now());

    let (head, body) = response.into_parts();
    marks.framed.1 = head_size(&head.headers);
    let gzipped = policy.gunzip
        && head
            .headers
            .get(CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let body = read_body(body, policy.keep, gzipped, marks).await?;
    marks.ended = Some(Instant::now());

    let closing = head
        .headers
        .get(CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    if !shared.settings.no_connection_reuse && !closing {
        shared.pool().put(origin.clone(), connection);
    }
    Ok(Received {
        status: head.status.as_u16(),
        headers: head.headers,
        body,
    })
}

/// A connection ready to send: an idle one that is still open, else a new
/// one, with its setup recorded in `marks`.
async fn obtain(
    shared: &Shared<'_>,
    origin: &Origin,
    marks: &mut Marks,
) -> Result<Connection, HttpError> {
    if !shared.settings.no_connection_reuse {
        loop {
            let idle = shared.pool().take(origin);
            let Some(mut connection) = idle else { break };
            if ready(&mut connection).await {
                return Ok(connection);
            }
        }
    }
    let mut connection = connect(origin, &shared.settings.tls, &mut marks.setup).await?;
    ready(&mut connection).await;
    Ok(connection)
}

/// Waits until the connection can take a request; `false` if it closed.
async fn ready(connection: &mut Connection) -> bool {
    match &mut connection.sender {
        Sender::Http1(sender) => sender.ready().await.is_ok(),
        Sender::Http2(sender) => sender.ready().await.is_ok(),
    }
}

/// HTTP/1.1 sends the path and a `Host` header; HTTP/2 the whole URI.
fn to_origin_form(request: &mut Request<Body>) {
    let uri = request.uri().clone();
    if let Some(authority) = uri.authority()
        && !request.headers().contains_key(HOST)
        && let Ok(value) = authority.as_str().parse()
    {
        request.headers_mut().insert(HOST, value);
    }
    let path = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()
        .unwrap_or_else(|_| Uri::from_static("/"));
    *request.uri_mut() = path;
}

/// Reads the body frame by frame: counted always, kept (and gunzipped)
/// only when asked, so a discarded body never sits whole in memory.
async fn read_body(
    mut body: hyper::body::Incoming,
    keep: bool,
    gzipped: bool,
    marks: &mut Marks,
) -> Result<Vec<u8>, HttpError> {
    let mut kept = Vec::new();
    let mut decoder = (keep && gzipped).then(|| GzDecoder::new(Vec::new()));
    while let Some(frame) = body.frame().await {
        let secure = marks.tls_version.is_some();
        let frame = frame.map_err(|e| transfer_error(&e, secure))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        marks.framed.1 += data.len() as u64;
        if !keep {
            continue;
        }
        let size = match &mut decoder {
            Some(decoder) => {
                decoder
                    .write_all(&data)
                    .map_err(|e| error(ErrorKind::Other, format!("gzip body: {e}")))?;
                decoder.get_ref().len()
            }
            None => {
                kept.extend_from_slice(&data);
                kept.len()
            }
        };
        if size > MAX_KEPT_BODY {
            return Err(too_large());
        }
    }
    match decoder {
        Some(decoder) => decoder
            .finish()
            .map_err(|e| error(ErrorKind::Other, format!("gzip body: {e}"))),
        None => Ok(kept),
    }
}

fn too_large() -> HttpError {
    error(
        ErrorKind::BodyTooLarge,
        format!(
            "the response body is larger than {} MiB; discard it with \
             `discardResponseBodies` or the request's body mode",
            MAX_KEPT_BODY >> 20
        ),
    )
}

/// The request as HTTP/1.1 would frame it, for HTTP/2's byte counts.
fn request_size(request: &Request<Body>) -> u64 {
    let line = request.method().as_str().len() + request.uri().to_string().len() + 12;
    let body = hyper::body::Body::size_hint(request.body())
        .exact()
        .unwrap_or(0);
    (line as u64) + head_size(request.headers()) + body
}

/// Header fields as HTTP/1.1 frames them, plus the blank line.
fn head_size(headers: &HeaderMap) -> u64 {
    let fields: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    (fields + 2) as u64
}

/// A request body from the guest's bytes.
pub(crate) fn body(bytes: Vec<u8>) -> Body {
    Full::new(Bytes::from(bytes))
}
