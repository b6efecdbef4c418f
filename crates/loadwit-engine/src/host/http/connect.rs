//! Opening connections with every phase timed: DNS, TCP, TLS, then the
//! HTTP/1.1 or HTTP/2 handshake that ALPN picked. This is where
//! `http_req_blocked`, `http_req_connecting` and
//! `http_req_tls_handshaking` come from.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

use super::error::{connect_error, error, handshake_error, transfer_error};
use super::probe::{Probe, Probed, Records};
use super::tls::TlsConfigs;
use crate::host::loadwit::scenario::types::{ErrorKind, HttpError};

pub(crate) type Body = Full<Bytes>;

/// Where a connection goes: connections are reused only for the same one.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Origin {
    pub(crate) fn of(url: &Url) -> Result<Self, HttpError> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(error(
                    ErrorKind::InvalidUrl,
                    format!("`{url}` has scheme `{other}`; use http:// or https://"),
                ));
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| error(ErrorKind::InvalidUrl, format!("`{url}` has no host")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        Ok(Self { https, host, port })
    }
}

/// The protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Http1,
    Http2,
}

impl Proto {
    /// The `proto` tag value, as k6 writes it.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Proto::Http1 => "HTTP/1.1",
            Proto::Http2 => "HTTP/2.0",
        }
    }
}

pub(crate) enum Sender {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

/// An open connection: its request handle and its I/O probe.
pub(crate) struct Connection {
    pub(crate) sender: Sender,
    pub(crate) probe: Arc<Probe>,
    pub(crate) tls_version: Option<&'static str>,
}

impl Connection {
    pub(crate) fn proto(&self) -> Proto {
        match self.sender {
            Sender::Http1(_) => Proto::Http1,
            Sender::Http2(_) => Proto::Http2,
        }
    }

    fn is_open(&self) -> bool {
        match &self.sender {
            Sender::Http1(sender) => !sender.is_closed(),
            Sender::Http2(sender) => !sender.is_closed(),
        }
    }

    /// Another handle on an HTTP/2 connection, which carries many
    /// requests at once; `None` for HTTP/1.1, which carries one.
    fn share(&self) -> Option<Connection> {
        match &self.sender {
            Sender::Http2(sender) => Some(Connection {
                sender: Sender::Http2(sender.clone()),
                probe: self.probe.clone(),
                tls_version: self.tls_version,
            }),
            Sender::Http1(_) => None,
        }
    }
}

/// The instants of a new connection's setup.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Setup {
    /// DNS answered; TCP connect starts.
    pub(crate) resolved: Instant,
    /// TCP connected; TLS starts.
    pub(crate) connected: Instant,
    /// TLS done (equal to `connected` for plain HTTP).
    pub(crate) secured: Instant,
}

/// Opens a connection to `origin`, recording each phase in `setup` as it
/// ends so a timeout still knows how far it got.
pub(crate) async fn connect(
    origin: &Origin,
    tls: &TlsConfigs,
    setup: &mut Option<Setup>,
) -> Result<Connection, HttpError> {
    let address = format!("{}:{}", origin.host, origin.port);
    let addresses: Vec<_> = tokio::net::lookup_host(&address)
        .await
        .map_err(|e| error(ErrorKind::Dns, format!("looking up {}: {e}", origin.host)))?
        .collect();
    let resolved = Instant::now();
    *setup = Some(Setup {
        resolved,
        connected: resolved,
        secured: resolved,
    });

    let tcp = connect_any(&addresses, &address).await?;
    let _ = tcp.set_nodelay(true);
    let connected = Instant::now();
    *setup = Some(Setup {
        resolved,
        connected,
        secured: connected,
    });

    let probe = Probe::new();
    if !origin.https {
        let io = Probed::new(tcp, probe.clone(), Records::Both);
        let sender = handshake_http1(io).await?;
        return Ok(Connection {
            sender,
            probe,
            tls_version: None,
        });
    }

    let config = tls.for_host(&origin.host).clone();
    let name = ServerName::try_from(origin.host.clone())
        .map_err(|e| error(ErrorKind::InvalidUrl, format!("`{}`: {e}", origin.host)))?;
    let counted = Probed::new(tcp, probe.clone(), Records::Bytes);
    let stream = TlsConnector::from(config)
        .connect(name, counted)
        .await
        .map_err(|e| handshake_error(&e, &origin.host))?;
    let secured = Instant::now();
    *setup = Some(Setup {
        resolved,
        connected,
        secured,
    });

    let (_, session) = stream.get_ref();
    let tls_version = session.protocol_version().map(version_tag);
    let h2 = session.alpn_protocol() == Some(b"h2");
    let io = Probed::new(stream, probe.clone(), Records::Instants);
    let sender = if h2 {
        handshake_http2(io).await?
    } else {
        handshake_http1(io).await?
    };
    Ok(Connection {
        sender,
        probe,
        tls_version,
    })
}

async fn connect_any(
    addresses: &[std::net::SocketAddr],
    address: &str,
) -> Result<TcpStream, HttpError> {
    let mut last = None;
    for addr in addresses {
        match TcpStream::connect(addr).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => connect_error(&e, address),
        None => error(ErrorKind::Dns, format!("{address} resolved to no address")),
    })
}

async fn handshake_http1<T>(io: T) -> Result<Sender, HttpError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| transfer_error(&e, false))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::trace!(%error, "an HTTP/1.1 connection ended");
        }
    });
    Ok(Sender::Http1(sender))
}

async fn handshake_http2<T>(io: T) -> Result<Sender, HttpError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
        .await
        .map_err(|e| transfer_error(&e, false))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::trace!(%error, "an HTTP/2 connection ended");
        }
    });
    Ok(Sender::Http2(sender))
}

fn version_tag(version: rustls::ProtocolVersion) -> &'static str {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "tls1.3",
        rustls::ProtocolVersion::TLSv1_2 => "tls1.2",
        _ => "tls",
    }
}

/// A VU's idle connections, by origin.
///
/// HTTP/1.1 connections leave the pool while they carry a request and come
/// back after it; an HTTP/2 connection stays in and is shared.
#[derive(Default)]
pub(crate) struct Pool {
    idle: HashMap<Origin, Vec<Connection>>,
}

impl Pool {
    /// An open connection to `origin`, if one is idle.
    pub(crate) fn take(&mut self, origin: &Origin) -> Option<Connection> {
        let idle = self.idle.get_mut(origin)?;
        while let Some(connection) = idle.pop() {
            if !connection.is_open() {
                continue;
            }
            if let Some(shared) = connection.share() {
                idle.push(connection);
                return Some(shared);
            }
            return Some(connection);
        }
        None
    }

    /// Returns a connection after its request, unless it closed.
    pub(crate) fn put(&mut self, origin: Origin, connection: Connection) {
        if !connection.is_open() {
            return;
        }
        let idle = self.idle.entry(origin).or_default();
        let shared = connection.proto() == Proto::Http2;
        if shared
            && idle
                .iter()
                .any(|c| Arc::ptr_eq(&c.probe, &connection.probe))
        {
            return;
        }
        idle.push(connection);
    }

    /// Closes every idle connection.
    pub(crate) fn clear(&mut self) {
        self.idle.clear();
    }
}
