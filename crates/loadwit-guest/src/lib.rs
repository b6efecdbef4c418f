//! Write [loadwit] scenarios in Rust.
//!
//! A loadwit scenario is a WebAssembly component that targets the
//! `loadwit:scenario` world. This crate generates the bindings for that
//! world and wraps them in a small, plain-Rust API, so a scenario reads
//! as a list of requests and checks:
//!
//! - [`http`] builds and sends requests: [`http::get`], [`http::post`],
//!   then `.name(..)`, `.json(..)`, `.bearer(..)`, ..., `.send()`.
//! - [`check()`] records a named pass/fail assertion; [`check::status`]
//!   is the usual one for a response.
//! - [`sleep`], [`vu_id`], [`iteration`], [`scenario()`], [`env()`],
//!   [`env_all`] and [`log`] talk to the runtime; [`setup_data`] reads
//!   what `setup` returned.
//! - [`metrics`] declares custom counters, gauges, rates and trends.
//! - [`group()`] names a part of an iteration; [`abort`] ends the test.
//! - [`random`] picks think times, users and search terms.
//! - [`Scenario`] and [`export!`] declare the component's lifecycle.
//!
//! # Example
//!
//! ```no_run
//! use loadwit_guest::{Scenario, check, env_or, http, random, sleep_secs};
//!
//! struct Browse;
//!
//! impl Scenario for Browse {
//!     fn options() -> String {
//!         r#"{"vus": 10, "duration": "30s"}"#.to_string()
//!     }
//!
//!     fn run(_exec: &str) -> Result<(), String> {
//!         let base = env_or("BASE_URL", "http://127.0.0.1:3000");
//!         let res = http::get(format!("{base}/api/catalog/products"))
//!             .query("limit", "20")
//!             .name("/api/catalog/products")
//!             .send();
//!         check::status(&res, "products ok", 200);
//!
//!         sleep_secs(random::range(0.5..=1.5));
//!         Ok(())
//!     }
//! }
//!
//! loadwit_guest::export!(Browse);
//! ```
//!
//! Build it as a `cdylib` for the `wasm32-wasip2` target:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2
//! ```
//!
//! The crate also compiles for native targets, so `cargo check`, clippy
//! and unit tests of pure code work; calling into the host there panics.
//!
//! [loadwit]: https://github.com/loadwit/loadwit

pub mod check;
pub mod cookies;
pub mod group;
pub mod http;
pub mod log;
pub mod metrics;
pub mod random;
mod runtime;
mod scenario;

pub use check::check;
pub use group::{abort, group};
pub use runtime::{env, env_all, env_or, env_parse, iteration, scenario, sleep, sleep_secs, vu_id};
pub use scenario::{Scenario, data_json, setup_data, setup_json};

/// The raw bindings generated from the `loadwit:scenario` WIT world.
///
/// The rest of this crate is built on them; reach for them only for what
/// the wrappers do not offer.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "scenario",
        pub_export_macro: true,
        default_bindings_module: "loadwit_guest::bindings",
    });
}

pub(crate) use bindings::loadwit::scenario as host;
