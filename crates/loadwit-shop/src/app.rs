//! The router and the middleware that counts requests and applies the
//! knobs.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::knobs::Knobs;
use crate::orders::OrderBook;
use crate::trace_log::TraceLog;
use crate::{Route, ShopConfig, ShopStats, auth, catalog, orders, reply};

/// State shared by every request to one shop.
pub(crate) struct Shop {
    knobs: Knobs,
    stats: Arc<ShopStats>,
    traces: Arc<TraceLog>,
    pub(crate) orders: OrderBook,
}

/// What a test can read from a running shop.
pub(crate) struct Handles {
    pub(crate) stats: Arc<ShopStats>,
    pub(crate) traces: Arc<TraceLog>,
}

/// Builds the router and hands back its counters and trace log.
pub(crate) fn build(config: ShopConfig) -> (Router, Handles) {
    let stats = Arc::new(ShopStats::default());
    let traces = Arc::new(TraceLog::new(config.trace_log));
    let shop = Arc::new(Shop {
        knobs: Knobs::new(&config.latency, &config.error_rate),
        stats: Arc::clone(&stats),
        traces: Arc::clone(&traces),
        orders: OrderBook::new(),
    });

    let mut router = routes()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&shop), knobs));
    // Added after the layer: reading the log is neither counted nor
    // slowed or failed by the knobs.
    if config.trace_log > 0 {
        router = router.route(TRACE_CONTEXTS_PATH, get(trace_contexts));
    }
    (router.with_state(shop), Handles { stats, traces })
}

/// Where the kept trace contexts are served, when the log is on.
pub(crate) const TRACE_CONTEXTS_PATH: &str = "/admin/trace-contexts";

fn routes() -> Router<Arc<Shop>> {
    let path = |route: Route| route.path();
    Router::new()
        .route(path(Route::Health), get(health))
        .route(path(Route::Login), post(auth::login))
        .route(path(Route::Me), get(auth::me))
        .route(path(Route::Products), get(catalog::list))
        .route(path(Route::Product), get(catalog::detail))
        .route(path(Route::Categories), get(catalog::categories))
        .route(path(Route::Search), get(catalog::search))
        .route(
            path(Route::ListOrders),
            get(orders::list).post(orders::create),
        )
}

/// Counts the request, then sleeps and fails it as the knobs say.
///
/// `Router::layer` wraps each route after matching, so `MatchedPath` is
/// set here for every request except those the fallback answers.
async fn knobs(State(shop): State<Arc<Shop>>, request: Request, next: Next) -> Response {
    let pattern = request.extensions().get::<MatchedPath>();
    let route = pattern.and_then(|p| Route::matched(request.method(), p.as_str()));
    shop.stats.record(route);
    shop.traces.record(request.headers());
    let Some(route) = route else {
        return next.run(request).await;
    };

    let delay = shop.knobs.delay(route);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if shop.knobs.should_fail(route) {
        shop.stats.record_injected_error();
        let message = "injected failure; see `--error-rate`";
        return reply::error(StatusCode::INTERNAL_SERVER_ERROR, message);
    }
    next.run(request).await
}

async fn health() -> Response {
    reply::raw(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
}

/// `{"seen": N, "contexts": [...]}`: the kept trace contexts, oldest
/// first, and how many requests carried one.
async fn trace_contexts(State(shop): State<Arc<Shop>>) -> Response {
    let body = serde_json::json!({
        "seen": shop.traces.seen(),
        "contexts": shop.traces.contexts(),
    });
    reply::raw(StatusCode::OK, Bytes::from(body.to_string()))
}

async fn not_found() -> Response {
    reply::error(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    reply::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}
