//! The scenario the metrics end-to-end suite runs: every `exec` records
//! values whose totals the tests know in advance.
//!
//! - `default`: per iteration, `items_sold` +3, `basket_size` the values
//!   1 to 20, `cart_time` 100 ms, `queue_depth` set to
//!   `vu * 10 + iteration`, `in_stock` three passes and one failure, and
//!   two checks, one in the groups `outer` then `inner`.
//! - `http`: one request named `fast` (`/health`) and one named `slow`
//!   (`/api/catalog/categories`) against `BASE_URL`.
//! - `abort`: aborts the test on VU 1's third iteration.
//! - `pace`: sleeps 100 ms.
//!
//! With `ABORT_IN_SETUP` set, `setup` aborts the test before any
//! iteration runs.

use loadwit_guest::metrics::{Counter, Gauge, Rate, Trend};
use loadwit_guest::{
    Scenario, abort, check, env, env_or, group, http, iteration, sleep_secs, vu_id,
};

static ITEMS_SOLD: Counter = Counter::new("items_sold");
static BASKET_SIZE: Trend = Trend::new("basket_size");
static CART_TIME: Trend = Trend::time("cart_time");
static QUEUE_DEPTH: Gauge = Gauge::new("queue_depth");
static IN_STOCK: Rate = Rate::new("in_stock");

struct Suite;

impl Scenario for Suite {
    fn options() -> String {
        r#"{"scenarios": {"suite": {"executor": "per-vu-iterations",
            "vus": 2, "iterations": 5}}}"#
            .into()
    }

    fn setup() -> Result<String, String> {
        if env("ABORT_IN_SETUP").is_some() {
            abort("the target is not ready");
        }
        Ok(String::new())
    }

    fn run(exec: &str) -> Result<(), String> {
        match exec {
            "http" => requests(),
            "abort" => maybe_abort(),
            "pace" => sleep_secs(0.1),
            _ => known_totals(),
        }
        Ok(())
    }
}

fn known_totals() {
    ITEMS_SOLD.add(3.0);
    for size in 1..=20 {
        BASKET_SIZE.add_with_tags(f64::from(size), &[("kind", "basket")]);
    }
    CART_TIME.add(100.0);
    QUEUE_DEPTH.set(f64::from(vu_id() * 10) + iteration() as f64);
    for in_stock in [true, true, true, false] {
        IN_STOCK.add(in_stock);
    }
    check("root ok", true);
    group("outer", || {
        group("inner", || check("inner ok", true));
    });
}

fn requests() {
    let base = env_or("BASE_URL", "http://127.0.0.1:3000");
    let _ = http::get(format!("{base}/health")).name("fast").send();
    let _ = http::get(format!("{base}/api/catalog/categories"))
        .name("slow")
        .send();
}

fn maybe_abort() {
    if vu_id() == 1 && iteration() == 2 {
        abort("enough");
    }
    sleep_secs(0.05);
}

loadwit_guest::export!(Suite);
