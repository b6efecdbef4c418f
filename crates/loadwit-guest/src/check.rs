//! Named pass/fail assertions, counted in the `checks` metric.
//!
//! A failed check never stops the iteration; it is counted and shown in
//! the summary. Every function returns whether the check passed, so a
//! scenario may branch on it.
//!
//! ```no_run
//! use loadwit_guest::{check, http};
//!
//! let res = http::get("http://127.0.0.1:3000/health").name("GET /health").send();
//! check::status(&res, "health ok", 200);
//! check::response(&res, "health says ok", |r| r.text().contains("ok"));
//! check("saw a response", res.is_ok());
//! ```

use crate::host::checks as host;
use crate::http::{HttpError, Response};

/// Records one outcome of the check `name`.
pub fn check(name: &str, passed: bool) -> bool {
    host::check(name, passed, &[])
}

/// Records one outcome of the check `name`, with extra tags on its
/// sample.
pub fn with_tags(name: &str, passed: bool, tags: &[(&str, &str)]) -> bool {
    let tags: Vec<(String, String)> = tags
        .iter()
        .map(|&(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    host::check(name, passed, &tags)
}

/// Checks that a response came with status `expected`.
///
/// A request that got no response fails the check.
pub fn status(res: &impl AsResponse, name: &str, expected: u16) -> bool {
    check(name, res.response().is_some_and(|r| r.status == expected))
}

/// Checks a response with any predicate.
///
/// A request that got no response fails the check without calling
/// `passes`.
pub fn response(res: &impl AsResponse, name: &str, passes: impl FnOnce(&Response) -> bool) -> bool {
    check(name, res.response().is_some_and(passes))
}

/// What the response checks accept: a [`Response`], or the result of
/// [`send`](crate::http::RequestBuilder::send).
pub trait AsResponse {
    /// The response, if one came.
    fn response(&self) -> Option<&Response>;
}

impl AsResponse for Response {
    fn response(&self) -> Option<&Response> {
        Some(self)
    }
}

impl AsResponse for Result<Response, HttpError> {
    fn response(&self) -> Option<&Response> {
        self.as_ref().ok()
    }
}

impl AsResponse for Option<Response> {
    fn response(&self) -> Option<&Response> {
        self.as_ref()
    }
}
