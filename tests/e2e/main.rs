//! End-to-end tests: real components, a real demo shop on 127.0.0.1, and
//! the `loadwit` binary as a real process.

mod bad_input;
mod distributed;
mod executors;
mod flagship;
mod http_client;
mod http_server;
mod languages;
mod metrics;
mod support;
