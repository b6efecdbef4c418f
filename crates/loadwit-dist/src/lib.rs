//! What a distributed loadwit run speaks between its coordinator and its
//! agents.
//!
//! `loadwit coordinate` listens; each `loadwit agent` dials out to it (so
//! agents work behind NAT, as Kubernetes Job pods) and holds one
//! bidirectional gRPC stream for the whole test. The coordinator hands
//! each agent the component (agents cache it by content hash), its
//! execution segment, the resolved options and `setup`'s data, agrees
//! on a start instant, and folds the aggregates agents send every
//! interval into the fleet's totals.
//!
//! - [`protocol`]: the protobuf messages and the order they flow in.
//! - [`serve`], [`connect`], [`open_session`]: the `Fleet` service over
//!   tonic, plaintext or TLS ([`tls`]).
//! - [`cpu`]: an agent's CPU use, so saturated agents are flagged.
//!
//! This crate moves bytes; the CLI decides what they mean.

pub mod cpu;
pub mod protocol;
mod service;
pub mod tls;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

pub use service::{MAX_MESSAGE, SERVICE, Session, connect, open_session, serve};

/// The hex SHA-256 of a component, the key agents cache it under.
pub fn component_hash(wasm: &[u8]) -> String {
    Sha256::digest(wasm)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Microseconds since the Unix epoch, as the protocol's instants are
/// written; 0 for a clock set before 1970.
pub fn unix_micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as u64)
}

/// The instant [`unix_micros`] wrote.
pub fn from_unix_micros(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros)
}
