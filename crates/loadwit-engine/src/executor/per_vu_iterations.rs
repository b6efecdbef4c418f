//! `per-vu-iterations`: every VU runs exactly the same number of
//! iterations, unless `maxDuration` runs out first.

use super::{Budget, ClosedLoop};

pub(super) fn plan(iterations: u64) -> ClosedLoop {
    ClosedLoop {
        budget: Budget::PerVu(iterations),
    }
}
