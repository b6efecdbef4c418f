//! Groups, and aborting the test.
//!
//! A group names a part of an iteration, as k6's `group()`: requests and
//! checks made inside it carry its path in the `group` tag, the summary
//! lists checks under their group, and `group_duration` records how long
//! each took. Groups nest.
//!
//! ```no_run
//! use loadwit_guest::{check, group, http};
//!
//! group("checkout", || {
//!     let res = http::post("http://127.0.0.1:3000/api/orders").send();
//!     check::status(&res, "order placed", 201);
//! });
//! ```

use crate::host::{control, groups};

/// Runs `body` inside the group `name` and returns what it returns.
pub fn group<T>(name: &str, body: impl FnOnce() -> T) -> T {
    groups::begin(name);
    let value = body();
    groups::end();
    value
}

/// Aborts the whole test, as k6's `test.abort()`: this iteration ends
/// here, no other starts, results are written, and loadwit exits with
/// code 108.
pub fn abort(reason: &str) -> ! {
    control::abort(reason);
    unreachable!("the host ends the iteration when the test aborts")
}
