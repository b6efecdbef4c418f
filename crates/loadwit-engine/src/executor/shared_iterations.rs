//! `shared-iterations`: VUs take iterations from one shared count, so fast
//! VUs run more of them; the total is exact unless `maxDuration` runs out.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use super::{Budget, ClosedLoop};

pub(super) fn plan(vus: u64, iterations: u64, max_duration: Duration) -> ClosedLoop {
    let budget = Budget::Shared(Arc::new(AtomicU64::new(iterations)));
    ClosedLoop {
        vus: vus.min(iterations),
        duration: max_duration,
        budget,
    }
}
