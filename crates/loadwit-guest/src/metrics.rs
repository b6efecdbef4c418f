//! Custom metrics: counters, gauges, rates and trends of your own, as
//! k6's `Counter`, `Gauge`, `Rate` and `Trend`.
//!
//! Declare each metric once, as a `static`; it is declared to the host on
//! its first use. Values may carry extra tags beside the VU's own
//! (`scenario`, `group`, ...), and thresholds work on them like on
//! built-in metrics (`orders_placed: count>100`).
//!
//! ```no_run
//! use loadwit_guest::metrics::{Counter, Rate, Trend};
//!
//! static ORDERS: Counter = Counter::new("orders_placed");
//! static CART_TIME: Trend = Trend::time("cart_latency");
//! static IN_STOCK: Rate = Rate::new("in_stock");
//!
//! ORDERS.add(1.0);
//! CART_TIME.add(12.5); // milliseconds
//! IN_STOCK.add_with_tags(true, &[("sku", "42")]);
//! ```

use std::sync::OnceLock;
use std::time::Duration;

use crate::host::metrics::{self as host, MetricKind};

/// A metric declared to the host on first use.
struct Declared {
    name: &'static str,
    kind: MetricKind,
    is_time: bool,
    handle: OnceLock<u32>,
}

impl Declared {
    const fn new(name: &'static str, kind: MetricKind, is_time: bool) -> Self {
        Declared {
            name,
            kind,
            is_time,
            handle: OnceLock::new(),
        }
    }

    /// # Panics
    ///
    /// When the host refuses the declaration (a bad or built-in name);
    /// the panic traps the iteration with the host's message.
    fn add(&self, value: f64, tags: &[(&str, &str)]) {
        let handle = *self.handle.get_or_init(|| {
            host::declare(self.name, self.kind, self.is_time)
                .unwrap_or_else(|message| panic!("{message}"))
        });
        let tags: Vec<(String, String)> = tags
            .iter()
            .map(|&(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        host::add(handle, value, &tags);
    }
}

/// A running sum, such as orders placed.
pub struct Counter(Declared);

impl Counter {
    /// A counter called `name`.
    pub const fn new(name: &'static str) -> Self {
        Counter(Declared::new(name, MetricKind::Counter, false))
    }

    /// Adds `value`.
    pub fn add(&self, value: f64) {
        self.0.add(value, &[]);
    }

    /// Adds `value` with extra tags.
    pub fn add_with_tags(&self, value: f64, tags: &[(&str, &str)]) {
        self.0.add(value, tags);
    }
}

/// The latest value with its minimum and maximum, such as a queue depth.
pub struct Gauge(Declared);

impl Gauge {
    /// A gauge called `name`.
    pub const fn new(name: &'static str) -> Self {
        Gauge(Declared::new(name, MetricKind::Gauge, false))
    }

    /// Records `value` as the current reading.
    pub fn set(&self, value: f64) {
        self.0.add(value, &[]);
    }

    /// Records `value` with extra tags.
    pub fn set_with_tags(&self, value: f64, tags: &[(&str, &str)]) {
        self.0.add(value, tags);
    }
}

/// The share of true outcomes, such as items found in stock.
pub struct Rate(Declared);

impl Rate {
    /// A rate called `name`.
    pub const fn new(name: &'static str) -> Self {
        Rate(Declared::new(name, MetricKind::Rate, false))
    }

    /// Records one outcome.
    pub fn add(&self, passed: bool) {
        self.0.add(f64::from(u8::from(passed)), &[]);
    }

    /// Records one outcome with extra tags.
    pub fn add_with_tags(&self, passed: bool, tags: &[(&str, &str)]) {
        self.0.add(f64::from(u8::from(passed)), tags);
    }
}

/// A distribution summarised by average, median and percentiles.
pub struct Trend(Declared);

impl Trend {
    /// A trend of plain numbers called `name`, such as basket sizes.
    pub const fn new(name: &'static str) -> Self {
        Trend(Declared::new(name, MetricKind::Trend, false))
    }

    /// A trend of durations called `name`; values are milliseconds and
    /// show as durations.
    pub const fn time(name: &'static str) -> Self {
        Trend(Declared::new(name, MetricKind::Trend, true))
    }

    /// Records one value (milliseconds for a time trend).
    pub fn add(&self, value: f64) {
        self.0.add(value, &[]);
    }

    /// Records one value with extra tags.
    pub fn add_with_tags(&self, value: f64, tags: &[(&str, &str)]) {
        self.0.add(value, tags);
    }

    /// Records a duration, in milliseconds.
    pub fn add_duration(&self, value: Duration) {
        self.0.add(value.as_secs_f64() * 1e3, &[]);
    }
}
