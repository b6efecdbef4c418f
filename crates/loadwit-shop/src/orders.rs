//! Orders: per-user, in memory, and bounded.
//!
//! Each user has their own short lock, so order traffic from different
//! users never contends, and keeps only its [`ORDERS_KEPT`] newest orders,
//! so a long load test does not grow memory. Placing an order does not
//! change stock: catalog responses stay the same for the whole run.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::app::Shop;
use crate::auth::{self, SignedIn};
use crate::catalog::catalog;
use crate::reply::{self, push_array};

/// Orders kept per user; older ones are dropped.
pub const ORDERS_KEPT: usize = 50;

/// Line items one order may have.
pub const MAX_ITEMS: usize = 50;

/// Units of one product one line may order.
pub const MAX_QUANTITY: u32 = 100;

#[derive(Debug, Serialize)]
struct Order {
    id: u64,
    status: &'static str,
    items: Vec<OrderLine>,
    total_cents: u64,
    currency: &'static str,
}

#[derive(Debug, Serialize)]
struct OrderLine {
    slug: String,
    name: String,
    quantity: u32,
    unit_price_cents: u64,
    line_total_cents: u64,
}

/// An order kept as the JSON it was answered with.
#[derive(Debug, Clone)]
struct Placed {
    id: u64,
    json: Bytes,
}

/// Every user's recent orders.
pub(crate) struct OrderBook {
    next_id: AtomicU64,
    /// Indexed by account; newest order first.
    per_user: Box<[Mutex<VecDeque<Placed>>]>,
}

impl OrderBook {
    pub(crate) fn new() -> Self {
        let per_user = (0..auth::account_count())
            .map(|_| Mutex::default())
            .collect();
        Self {
            next_id: AtomicU64::new(1),
            per_user,
        }
    }

    fn place(&self, user: usize, items: Vec<OrderLine>) -> Placed {
        let order = Order {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            status: "placed",
            total_cents: items.iter().map(|l| l.line_total_cents).sum(),
            currency: "USD",
            items,
        };
        let json = serde_json::to_vec(&order).expect("orders serialize");
        let placed = Placed {
            id: order.id,
            json: json.into(),
        };

        let mut orders = self.lock(user);
        orders.push_front(placed.clone());
        orders.truncate(ORDERS_KEPT);
        placed
    }

    fn recent(&self, user: usize) -> Vec<Placed> {
        self.lock(user).iter().cloned().collect()
    }

    /// A panic cannot leave a half-written list behind, so a poisoned
    /// lock is still safe to use.
    fn lock(&self, user: usize) -> MutexGuard<'_, VecDeque<Placed>> {
        self.per_user[user]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Deserialize)]
struct NewOrder {
    items: Vec<NewLine>,
}

#[derive(Deserialize)]
struct NewLine {
    slug: String,
    #[serde(default = "one")]
    quantity: u32,
}

fn one() -> u32 {
    1
}

/// `GET /api/orders`: the user's recent orders, newest first.
pub(crate) async fn list(State(shop): State<Arc<Shop>>, SignedIn(user): SignedIn) -> Response {
    let orders = shop.orders.recent(user);
    let mut out = format!(r#"{{"count":{},"orders":"#, orders.len()).into_bytes();
    push_array(&mut out, orders.iter().map(|o| &o.json[..]));
    out.push(b'}');
    reply::raw(StatusCode::OK, out)
}

/// `POST /api/orders` with `{"items":[{"slug":"...","quantity":1}]}`.
pub(crate) async fn create(
    State(shop): State<Arc<Shop>>,
    SignedIn(user): SignedIn,
    body: Bytes,
) -> Response {
    let lines = match parse_order(&body) {
        Ok(lines) => lines,
        Err(message) => return reply::error(StatusCode::BAD_REQUEST, &message),
    };
    let order = shop.orders.place(user, lines);
    tracing::debug!(user, order = order.id, "order placed");
    reply::raw(StatusCode::CREATED, order.json)
}

/// Validates a new order's body and prices its lines.
fn parse_order(body: &[u8]) -> Result<Vec<OrderLine>, String> {
    let order: NewOrder = serde_json::from_slice(body)
        .map_err(|_| r#"body must be JSON `{"items":[{"slug":"...","quantity":1}]}`"#.to_owned())?;
    if order.items.is_empty() || order.items.len() > MAX_ITEMS {
        return Err(format!("`items` must hold 1 to {MAX_ITEMS} lines"));
    }
    order.items.into_iter().map(price_line).collect()
}

fn price_line(line: NewLine) -> Result<OrderLine, String> {
    let product = catalog()
        .by_slug(&line.slug)
        .ok_or_else(|| format!("no product `{}`", line.slug))?;
    if !(1..=MAX_QUANTITY).contains(&line.quantity) {
        return Err(format!("`quantity` must be 1 to {MAX_QUANTITY}"));
    }
    Ok(OrderLine {
        slug: line.slug,
        name: product.name.clone(),
        quantity: line.quantity,
        unit_price_cents: product.price_cents,
        line_total_cents: product.price_cents * u64::from(line.quantity),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> OrderLine {
        price_line(NewLine {
            slug: "classic-novel".into(),
            quantity: 2,
        })
        .unwrap()
    }

    #[test]
    fn each_user_keeps_only_recent_orders() {
        let book = OrderBook::new();
        for _ in 0..ORDERS_KEPT + 10 {
            book.place(3, vec![line()]);
        }
        let recent = book.recent(3);
        assert_eq!(recent.len(), ORDERS_KEPT);
        assert_eq!(recent[0].id, (ORDERS_KEPT + 10) as u64);
        assert!(book.recent(4).is_empty());
    }

    #[test]
    fn unknown_slug_and_empty_items_are_rejected() {
        assert!(parse_order(br#"{"items":[]}"#).is_err());
        assert!(parse_order(br#"{"items":[{"slug":"nope"}]}"#).is_err());
        assert!(parse_order(br#"{"items":[{"slug":"classic-novel"}]}"#).is_ok());
    }
}
