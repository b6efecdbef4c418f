//! `shared-iterations`: VUs take iterations from one shared count, so fast
//! VUs run more of them; the total is exact unless `maxDuration` runs out.
//! The plan makes no more VUs than iterations.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::{Budget, ClosedLoop};

pub(super) fn plan(iterations: u64) -> ClosedLoop {
    ClosedLoop {
        budget: Budget::Shared(Arc::new(AtomicU64::new(iterations))),
    }
}
