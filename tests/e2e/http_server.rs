//! A test-only HTTP server on 127.0.0.1 with the routes the HTTP client's
//! tests need: cookies, redirects, slow and hanging responses, chunked,
//! gzipped, large and non-UTF-8 bodies, echoes; plain HTTP/1.1 on one
//! port, and TLS (a certificate generated at start) with HTTP/2 and
//! HTTP/1.1 by ALPN on another, optionally requiring client certificates.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, RawQuery, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The session cookie `/login` sets and `/private` wants.
const SESSION: &str = "session=s3cret";

/// The servers, alive as long as this value.
pub struct HttpServer {
    /// `http://127.0.0.1:port`
    pub http: String,
    /// `https://127.0.0.1:port`, HTTP/2 or HTTP/1.1 by ALPN.
    pub https: String,
    /// `https://127.0.0.1:port` that wants a client certificate (TLS 1.2).
    pub mtls: String,
    /// A port that accepts connections and closes them at once.
    pub reset: String,
    /// PEM files: the CA that signed the server's and client's
    /// certificates, and the client's certificate and key.
    pub ca_file: PathBuf,
    pub client_cert_file: PathBuf,
    pub client_key_file: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl HttpServer {
    /// Starts every listener; certificates are written under `dir`.
    pub fn start(dir: &Path) -> Self {
        let certs = Certs::generate();
        let ca_file = dir.join("ca.pem");
        let client_cert_file = dir.join("client.pem");
        let client_key_file = dir.join("client-key.pem");
        std::fs::write(&ca_file, &certs.ca_pem).expect("the CA file");
        std::fs::write(&client_cert_file, &certs.client_pem).expect("the client cert");
        std::fs::write(&client_key_file, &certs.client_key_pem).expect("the client key");

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the test server");
        let (http, https, mtls, reset) = runtime.block_on(async {
            let http = spawn_plain().await;
            let https = spawn_tls(certs.server_config(false)).await;
            let mtls = spawn_tls(certs.server_config(true)).await;
            let reset = spawn_reset().await;
            (http, https, mtls, reset)
        });
        Self {
            http: format!("http://{http}"),
            https: format!("https://{https}"),
            mtls: format!("https://{mtls}"),
            reset: format!("http://{reset}/"),
            ca_file,
            client_cert_file,
            client_key_file,
            _runtime: runtime,
        }
    }
}

fn routes() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/login", post(login))
        .route("/private", get(private))
        .route("/echo-cookies", get(echo_cookies))
        .route("/redirect/{n}", get(redirect))
        .route("/loop", get(|| async { redirect_to("/loop") }))
        .route("/hang", get(hang))
        .route("/slow", get(slow))
        .route("/chunked", get(chunked))
        .route("/gzip", get(gzip))
        .route("/bytes", get(|| async { (0..=255).collect::<Vec<u8>>() }))
        .route("/big", get(big))
        .route("/echo", any(echo))
        .route(
            "/query",
            get(|RawQuery(q): RawQuery| async move { q.unwrap_or_default() }),
        )
        .route("/agent", get(agent))
        .route("/item/{id}", get(|| async { "item" }))
}

async fn login() -> Response {
    let cookie = format!("{SESSION}; Path=/; HttpOnly");
    ([(header::SET_COOKIE, cookie)], "welcome").into_response()
}

fn cookie_header(headers: &HeaderMap) -> String {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn private(headers: HeaderMap) -> Response {
    if cookie_header(&headers).split("; ").any(|c| c == SESSION) {
        (StatusCode::OK, "secret").into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "log in first").into_response()
    }
}

async fn echo_cookies(headers: HeaderMap) -> String {
    cookie_header(&headers)
}

fn redirect_to(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

async fn redirect(UrlPath(n): UrlPath<u32>) -> Response {
    if n == 0 {
        return "arrived".into_response();
    }
    redirect_to(&format!("/redirect/{}", n - 1))
}

async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "too late"
}

#[derive(serde::Deserialize)]
struct Slow {
    ms: u64,
    id: String,
}

async fn slow(Query(slow): Query<Slow>) -> String {
    tokio::time::sleep(Duration::from_millis(slow.ms)).await;
    slow.id
}

async fn chunked() -> Body {
    let chunks = futures_util::stream::unfold(0, |i| async move {
        if i == 3 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        Some((
            Ok::<_, Infallible>(Bytes::from(format!("chunk {i}\n"))),
            i + 1,
        ))
    });
    Body::from_stream(chunks)
}

async fn gzip() -> Response {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all("gzip ".repeat(1000).as_bytes())
        .expect("gzip into memory");
    let body = encoder.finish().expect("gzip into memory");
    ([(header::CONTENT_ENCODING, "gzip")], body).into_response()
}

#[derive(serde::Deserialize)]
struct Big {
    mb: usize,
}

/// `mb` MiB streamed from one shared 64 KiB block, so the server holds
/// no more than that whatever the size.
async fn big(Query(big): Query<Big>) -> Response {
    let block = Bytes::from(vec![b'x'; 64 << 10]);
    let blocks = big.mb * 16;
    let stream =
        futures_util::stream::iter((0..blocks).map(move |_| Ok::<_, Infallible>(block.clone())));
    let length = (blocks * (64 << 10)).to_string();
    (
        [(header::CONTENT_LENGTH, length)],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The body back, with the request's content type in `x-content-type`.
async fn echo(request: Request) -> Response {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static(""));
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    ([("x-content-type", content_type)], body).into_response()
}

async fn agent(headers: HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    (listener, addr)
}

async fn spawn_plain() -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move { axum::serve(listener, routes()).await });
    addr
}

async fn spawn_tls(config: rustls::ServerConfig) -> SocketAddr {
    let (listener, addr) = listener().await;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = TowerToHyperService::new(routes());
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

async fn spawn_reset() -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            drop(tcp);
        }
    });
    addr
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate,
/// all generated for this test process.
pub struct Certs {
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    pub server_pem: String,
    pub server_key_pem: String,
    pub client_pem: String,
    pub client_key_pem: String,
}

impl Certs {
    pub fn generate() -> Self {
        let mut ca_params = CertificateParams::new(Vec::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("a CA key");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("a CA");

        let server_key = KeyPair::generate().expect("a server key");
        let server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server params")
            .signed_by(&server_key, &ca)
            .expect("a server certificate");
        let client_key = KeyPair::generate().expect("a client key");
        let client = CertificateParams::new(vec!["client".into()])
            .expect("client params")
            .signed_by(&client_key, &ca)
            .expect("a client certificate");
        Self {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    fn server_config(&self, want_client_cert: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // The client-certificate server speaks TLS 1.2 only: there a
        // rejected certificate fails the handshake itself, where TLS 1.3
        // reports it after, racing the client's first write.
        let versions: &[&rustls::SupportedProtocolVersion] = if want_client_cert {
            &[&rustls::version::TLS12]
        } else {
            rustls::DEFAULT_VERSIONS
        };
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .expect("supported versions");
        let builder = if want_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).expect("the CA as a root");
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("a client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = CertificateDer::pem_slice_iter(self.server_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the server chain");
        let key =
            PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).expect("the server key");
        let mut config = builder
            .with_single_cert(chain, key)
            .expect("a server config");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}
