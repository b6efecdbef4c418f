//! `constant-vus`: a fixed number of VUs loop for a fixed time.

use super::{Budget, ClosedLoop};

pub(super) fn plan() -> ClosedLoop {
    ClosedLoop {
        budget: Budget::Unlimited,
    }
}
