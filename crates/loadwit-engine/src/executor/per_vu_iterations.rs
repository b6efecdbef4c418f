//! `per-vu-iterations`: every VU runs exactly the same number of
//! iterations, unless `maxDuration` runs out first.

use std::time::Duration;

use super::{Budget, ClosedLoop};

pub(super) fn plan(vus: u64, iterations: u64, max_duration: Duration) -> ClosedLoop {
    ClosedLoop {
        vus,
        duration: max_duration,
        budget: Budget::PerVu(iterations),
    }
}
