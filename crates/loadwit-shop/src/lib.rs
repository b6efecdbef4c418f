//! An in-memory e-commerce JSON API: the target of loadwit's demo and
//! end-to-end tests.
//!
//! The shop serves a fixed catalog of 200 products in 8 categories
//! ([`catalog`](mod@catalog)), signs in 101 seed users with self-checking
//! bearer tokens ([`auth`](mod@auth)) and keeps each user's recent orders
//! ([`orders`](mod@orders)). Everything is deterministic: the same request
//! gets the same answer in every run, apart from order ids.
//!
//! It is built to be hammered from the same machine: read paths take no
//! lock and answer from bodies serialized at startup, memory stays
//! bounded however many logins and orders a test sends, and every request
//! is counted in lock-free [`ShopStats`].
//!
//! Two knobs ([`knobs`](mod@knobs)) make it misbehave on purpose: added
//! latency and a fraction of 500 answers, per route.
//!
//! With [`ShopConfig::trace_log`] set, it also keeps the trace context
//! (`traceparent`, `x-datadog-*`) of the last requests that carried one
//! ([`trace_log`](mod@trace_log)), readable through
//! [`RunningShop::trace_log`] or `GET /admin/trace-contexts`, so a test
//! can join a load generator's spans to what the target received.
//!
//! # Routes
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /health` | `{"status":"ok"}` |
//! | `POST /api/auth/login` | `{"token","user"}`; 401 bad credentials, 400 bad body |
//! | `GET /api/auth/me` | the user; 401 without a valid bearer token |
//! | `GET /api/catalog/products?limit=N` | first `N` products (20, at most 100) |
//! | `GET /api/catalog/products/{slug}` | one product; 404 unknown slug |
//! | `GET /api/catalog/categories` | the categories |
//! | `GET /api/search?q=term` | matching products; 400 without `q` |
//! | `GET /api/orders` | the user's orders, newest first; needs a token |
//! | `POST /api/orders` | 201 and the order; 400 bad items; needs a token |
//!
//! Anything else is a 404 (or 405 for a known path) with an
//! `{"error": ...}` body.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use loadwit_shop::{Route, RouteLatency, ShopConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let config = ShopConfig {
//!     latency: vec![RouteLatency::new(Route::Me, Duration::from_millis(50))],
//!     ..ShopConfig::default()
//! };
//! let shop = loadwit_shop::spawn(config).await?;
//! println!("try {}/api/catalog/products", shop.base_url());
//! // ... run a load test against it ...
//! assert!(shop.stats().count(Route::Me) > 0);
//! shop.shutdown().await
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod app;
pub mod auth;
pub mod catalog;
pub mod knobs;
pub mod orders;
mod reply;
mod route;
mod stats;
pub mod trace_log;

pub use knobs::{KnobError, RouteErrorRate, RouteLatency, RouteSelector, parse_duration};
pub use route::Route;
pub use stats::ShopStats;
pub use trace_log::{TraceContext, TraceLog};

/// How a shop misbehaves on purpose. The default is a shop that answers
/// at once and never fails.
#[derive(Debug, Clone, Default)]
pub struct ShopConfig {
    /// Delay added to routes; for a route several entries select, the
    /// last one wins.
    pub latency: Vec<RouteLatency>,
    /// Fraction of 500 answers per route; the last matching entry wins.
    pub error_rate: Vec<RouteErrorRate>,
    /// How many received trace contexts to keep, newest last; 0 (the
    /// default) keeps none and costs nothing.
    pub trace_log: usize,
}

/// The shop as an axum router, for embedding or driving without a socket.
///
/// Its [`ShopStats`] are not reachable from here; use [`spawn`] when a
/// test needs them.
pub fn router(config: ShopConfig) -> Router {
    app::build(config).0
}

/// Serves the shop on `listener` until the task is dropped or accepting
/// fails.
///
/// # Errors
///
/// The listener's error, if it stops accepting connections.
pub async fn serve(listener: TcpListener, config: ShopConfig) -> io::Result<()> {
    serve_with_shutdown(listener, config, std::future::pending()).await
}

/// Serves the shop on `listener` until `signal` completes, then finishes
/// the requests in flight and closes idle connections before returning.
///
/// # Errors
///
/// The listener's error, if it stops accepting connections.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    config: ShopConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (router, _) = app::build(config);
    serve_router(listener, router, signal).await
}

async fn serve_router(
    listener: TcpListener,
    router: Router,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Responses are small and clients wait for each one: never let Nagle
    // hold a response back.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {err}");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(signal)
        .await
}

/// Starts a shop on `127.0.0.1` with a free port, in a background task of
/// the current tokio runtime.
///
/// The shop stops when the returned [`RunningShop`] is dropped or
/// [`shut down`](RunningShop::shutdown).
///
/// # Errors
///
/// Binding the port failed.
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn spawn(config: ShopConfig) -> io::Result<RunningShop> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (router, handles) = app::build(config);

    let (stop, stopped) = oneshot::channel::<()>();
    let signal = async {
        // Both an explicit stop and a dropped sender end the shop.
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve_router(listener, router, signal));
    Ok(RunningShop {
        addr,
        stats: handles.stats,
        traces: handles.traces,
        stop: Some(stop),
        task: Some(task),
    })
}

/// A shop started by [`spawn`].
///
/// Dropping it asks the shop to stop without waiting; call
/// [`shutdown`](Self::shutdown) to wait until it has.
#[derive(Debug)]
pub struct RunningShop {
    /// Where the shop listens.
    pub addr: SocketAddr,
    stats: Arc<ShopStats>,
    traces: Arc<TraceLog>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningShop {
    /// The URL to prefix paths with: `http://127.0.0.1:PORT`, no slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shop's request counters, live.
    pub fn stats(&self) -> &ShopStats {
        &self.stats
    }

    /// The trace contexts received, when [`ShopConfig::trace_log`] is set.
    pub fn trace_log(&self) -> &TraceLog {
        &self.traces
    }

    /// Stops the shop and waits for in-flight requests to finish.
    ///
    /// Connections a client keeps open with a request in progress delay
    /// this until that request is answered.
    ///
    /// # Errors
    ///
    /// The server's error, if it had failed before being stopped.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningShop {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
