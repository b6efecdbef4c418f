//! `constant-vus`: a fixed number of VUs loop for a fixed time.

use std::time::Duration;

use super::{Budget, ClosedLoop};

pub(super) fn plan(vus: u64, duration: Duration) -> ClosedLoop {
    ClosedLoop {
        vus,
        duration,
        budget: Budget::Unlimited,
    }
}
