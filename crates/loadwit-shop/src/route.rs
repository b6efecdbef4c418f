//! The shop's routes as a closed set.
//!
//! Stats and knobs index fixed arrays by [`Route`] so the request path
//! never hashes or compares strings after the router has matched.

use std::fmt;

use axum::http::Method;

/// One route of the shop: a method and a path pattern.
///
/// The set is closed: unknown paths are not routes, they are counted as
/// unmatched by [`ShopStats`](crate::ShopStats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /health`
    Health,
    /// `POST /api/auth/login`
    Login,
    /// `GET /api/auth/me`
    Me,
    /// `GET /api/catalog/products`
    Products,
    /// `GET /api/catalog/products/{slug}`
    Product,
    /// `GET /api/catalog/categories`
    Categories,
    /// `GET /api/search`
    Search,
    /// `GET /api/orders`
    ListOrders,
    /// `POST /api/orders`
    CreateOrder,
}

impl Route {
    /// Every route, in the order the help text lists them.
    pub const ALL: [Route; 9] = [
        Route::Health,
        Route::Login,
        Route::Me,
        Route::Products,
        Route::Product,
        Route::Categories,
        Route::Search,
        Route::ListOrders,
        Route::CreateOrder,
    ];

    /// How many routes there are; the length of per-route tables.
    pub const COUNT: usize = Self::ALL.len();

    /// The HTTP method, uppercase.
    pub fn method(self) -> &'static str {
        match self {
            Route::Login | Route::CreateOrder => "POST",
            _ => "GET",
        }
    }

    /// The path pattern as registered with the router, e.g.
    /// `/api/catalog/products/{slug}`.
    pub fn path(self) -> &'static str {
        match self {
            Route::Health => "/health",
            Route::Login => "/api/auth/login",
            Route::Me => "/api/auth/me",
            Route::Products => "/api/catalog/products",
            Route::Product => "/api/catalog/products/{slug}",
            Route::Categories => "/api/catalog/categories",
            Route::Search => "/api/search",
            Route::ListOrders | Route::CreateOrder => "/api/orders",
        }
    }

    /// Looks a route up by its display form, `"GET /api/auth/me"`.
    pub fn from_pattern(pattern: &str) -> Option<Route> {
        let (method, path) = pattern.trim().split_once(' ')?;
        Self::ALL
            .into_iter()
            .find(|r| r.method().eq_ignore_ascii_case(method) && r.path() == path.trim())
    }

    /// The route a request belongs to, from its method and the pattern
    /// the router matched.
    pub(crate) fn matched(method: &Method, pattern: &str) -> Option<Route> {
        Self::ALL
            .into_iter()
            .find(|r| r.path() == pattern && r.method() == method.as_str())
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_follow_all() {
        for (i, route) in Route::ALL.into_iter().enumerate() {
            assert_eq!(route.index(), i);
        }
    }

    #[test]
    fn display_form_round_trips() {
        for route in Route::ALL {
            assert_eq!(Route::from_pattern(&route.to_string()), Some(route));
        }
    }
}
