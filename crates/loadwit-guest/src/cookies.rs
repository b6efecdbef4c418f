//! The VU's cookie jar.
//!
//! Responses' `Set-Cookie` headers fill the jar and requests carry its
//! cookies as a browser would, so a login usually needs nothing from this
//! module. It is for reading a cookie, planting one, or logging out. As in
//! k6, the jar is emptied when the VU starts a new iteration.
//!
//! ```no_run
//! use loadwit_guest::cookies::{self, Cookie};
//!
//! let base = "http://127.0.0.1:3000";
//! cookies::set(base, Cookie::new("theme", "dark").path("/")).unwrap();
//! assert_eq!(cookies::get(base, "theme").as_deref(), Some("dark"));
//! cookies::clear_all();
//! ```

use crate::host::cookies as host;

/// A cookie to put in the jar, with `Set-Cookie`'s attributes.
#[derive(Clone, Debug)]
#[must_use]
pub struct Cookie {
    inner: host::Cookie,
}

impl Cookie {
    /// A session cookie for the URL's host and directory.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            inner: host::Cookie {
                name: name.into(),
                value: value.into(),
                domain: None,
                path: None,
                max_age: None,
                secure: false,
                http_only: false,
            },
        }
    }

    /// Sends it to `domain` and its subdomains.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.inner.domain = Some(domain.into());
        self
    }

    /// Sends it for `path` and below.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.inner.path = Some(path.into());
        self
    }

    /// Keeps it `seconds` seconds.
    pub fn max_age(mut self, seconds: u32) -> Self {
        self.inner.max_age = Some(seconds);
        self
    }

    /// Sends it only over `https://`.
    pub fn secure(mut self) -> Self {
        self.inner.secure = true;
        self
    }

    /// Marks it `HttpOnly`.
    pub fn http_only(mut self) -> Self {
        self.inner.http_only = true;
        self
    }
}

/// The cookies a request to `url` would carry, as name/value pairs.
pub fn for_url(url: &str) -> Vec<(String, String)> {
    host::cookies_for_url(url)
}

/// The value of cookie `name` a request to `url` would carry.
pub fn get(url: &str, name: &str) -> Option<String> {
    for_url(url)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// Puts `cookie` in the jar as if `url` had sent it.
///
/// # Errors
///
/// Fails when `url` does not parse or the cookie does not fit it, e.g. a
/// `domain` the URL's host is not part of.
pub fn set(url: &str, cookie: Cookie) -> Result<(), String> {
    host::set_cookie(url, &cookie.inner)
}

/// Removes cookie `name` as a request to `url` would see it.
pub fn delete(url: &str, name: &str) {
    host::delete_cookie(url, name);
}

/// Removes every cookie a request to `url` would carry.
pub fn clear(url: &str) {
    host::clear_cookies(url);
}

/// Empties the jar.
pub fn clear_all() {
    host::clear_all();
}
