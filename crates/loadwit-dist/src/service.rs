//! The `Fleet` gRPC service, written against tonic's server and client
//! machinery with prost's codec: one bidirectional streaming method,
//! `Session`, which an agent opens and the coordinator answers.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http};
use tonic::server::NamedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint, ServerTlsConfig};
use tonic::{Status, Streaming};
use tonic_prost::ProstCodec;

use crate::protocol::{AgentMessage, CoordinatorMessage};

/// The gRPC service's full name.
pub const SERVICE: &str = "loadwit.dist.v1.Fleet";

const SESSION_PATH: &str = "/loadwit.dist.v1.Fleet/Session";

/// The largest message either side accepts: a component travels whole,
/// and interpreter components weigh tens of megabytes.
pub const MAX_MESSAGE: usize = 512 << 20;

/// How often an idle HTTP/2 connection is pinged, so a dead peer is
/// noticed even when no delta is due.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// One agent's session, as the coordinator receives it.
pub struct Session {
    /// The agent's address, as the coordinator sees it.
    pub peer: Option<SocketAddr>,
    /// What the agent sends.
    pub inbound: Streaming<AgentMessage>,
    /// What the coordinator sends; an `Err` ends the session with that
    /// status.
    pub outbound: mpsc::Sender<Result<CoordinatorMessage, Status>>,
}

/// Serves the `Fleet` service on `listener` until `shutdown` resolves,
/// handing every session an agent opens to `sessions`.
///
/// # Errors
///
/// Those of the transport: a bad TLS configuration, a failed accept.
pub async fn serve(
    listener: TcpListener,
    tls: Option<ServerTlsConfig>,
    sessions: mpsc::Sender<Session>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE))
        .tcp_nodelay(true);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    builder
        .add_service(FleetServer { sessions })
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

/// Opens a channel to the coordinator at `address` (`HOST:PORT`), over
/// TLS when `tls` is given.
///
/// # Errors
///
/// When the address is malformed or nothing answers there.
pub async fn connect(
    address: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls)?;
    }
    endpoint.connect().await
}

/// Opens the agent's session on `channel`: `outbound` is what the agent
/// sends; the returned stream is what the coordinator answers.
///
/// # Errors
///
/// The status the coordinator answered with, or `unavailable` when the
/// channel broke.
pub async fn open_session(
    channel: Channel,
    outbound: impl Stream<Item = AgentMessage> + Send + 'static,
) -> Result<Streaming<CoordinatorMessage>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
    let mut request = tonic::Request::new(outbound);
    request
        .extensions_mut()
        .insert(tonic::codegen::GrpcMethod::new(SERVICE, "Session"));
    let path = http::uri::PathAndQuery::from_static(SESSION_PATH);
    let codec = ProstCodec::<AgentMessage, CoordinatorMessage>::default();
    Ok(grpc.streaming(request, path, codec).await?.into_inner())
}

/// The server half: routes `Session` calls, answers anything else as
/// unimplemented.
#[derive(Clone)]
struct FleetServer {
    sessions: mpsc::Sender<Session>,
}

impl NamedService for FleetServer {
    const NAME: &'static str = SERVICE;
}

impl<B> Service<http::Request<B>> for FleetServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != SESSION_PATH {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let method = SessionMethod(self.sessions.clone());
        Box::pin(async move {
            let codec = ProstCodec::<CoordinatorMessage, AgentMessage>::default();
            let mut grpc = tonic::server::Grpc::new(codec)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE);
            Ok(grpc.streaming(method, request).await)
        })
    }
}

/// Turns a `Session` call into a [`Session`] for the coordinator.
struct SessionMethod(mpsc::Sender<Session>);

impl Service<tonic::Request<Streaming<AgentMessage>>> for SessionMethod {
    type Response = tonic::Response<ReceiverStream<Result<CoordinatorMessage, Status>>>;
    type Error = Status;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Streaming<AgentMessage>>) -> Self::Future {
        let sessions = self.0.clone();
        Box::pin(async move {
            let peer = request.remote_addr();
            let (outbound, answers) = mpsc::channel(64);
            let session = Session {
                peer,
                inbound: request.into_inner(),
                outbound,
            };
            sessions
                .send(session)
                .await
                .map_err(|_| Status::unavailable("the coordinator takes no more agents"))?;
            Ok(tonic::Response::new(ReceiverStream::new(answers)))
        })
    }
}
