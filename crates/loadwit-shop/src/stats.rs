//! Request counters a test can read while the shop runs.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::Route;

/// Counts of requests the shop has received, by route.
///
/// Every counter is a relaxed atomic bumped once per request before the
/// handler runs, so a client that has read a response also sees it
/// counted. Reads are snapshots of single counters; the sum of the
/// per-route counts and [`unmatched`](Self::unmatched) equals
/// [`total`](Self::total) once the shop is idle.
#[derive(Debug, Default)]
pub struct ShopStats {
    total: AtomicU64,
    routes: [AtomicU64; Route::COUNT],
    unmatched: AtomicU64,
    injected_errors: AtomicU64,
}

impl ShopStats {
    /// All requests received, including 404s and injected failures.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Requests received by one route, whatever their outcome.
    pub fn count(&self, route: Route) -> u64 {
        self.routes[route.index()].load(Ordering::Relaxed)
    }

    /// Requests received by the route written as `"GET /api/auth/me"`;
    /// `None` if no route has that method and path pattern.
    pub fn count_pattern(&self, pattern: &str) -> Option<u64> {
        Route::from_pattern(pattern).map(|route| self.count(route))
    }

    /// Requests that matched no route (answered 404 or 405).
    pub fn unmatched(&self) -> u64 {
        self.unmatched.load(Ordering::Relaxed)
    }

    /// Requests answered 500 by the `--error-rate` knob.
    pub fn injected_errors(&self) -> u64 {
        self.injected_errors.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, route: Option<Route>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let counter = match route {
            Some(route) => &self.routes[route.index()],
            None => &self.unmatched,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_injected_error(&self) {
        self.injected_errors.fetch_add(1, Ordering::Relaxed);
    }
}
