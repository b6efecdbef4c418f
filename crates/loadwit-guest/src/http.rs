//! HTTP requests to the system under test.
//!
//! Build a request with [`get`], [`post`] or another method function,
//! refine it with the builder methods and [`send`](RequestBuilder::send)
//! it:
//!
//! ```no_run
//! use loadwit_guest::http;
//!
//! # fn run() -> Result<(), String> {
//! # let token = "t";
//! let res = http::post("http://127.0.0.1:3000/api/orders")
//!     .name("POST /api/orders")
//!     .bearer(token)
//!     .json(&serde_json::json!({ "items": [{ "sku": "lamp-01", "qty": 1 }] }))
//!     .send();
//! # Ok(()) }
//! ```
//!
//! Every request the host sends records `http_reqs`, `http_req_duration`,
//! `http_req_failed` and their siblings, tagged with the request's `name`.
//! A status of 400 or more is still a [`Response`]; an [`HttpError`] means
//! no response came at all.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host::http as host;
use crate::host::types;

pub use types::{ErrorKind, Method, Timings};

/// Starts a `GET` request to `url`, an absolute `http://` URL.
pub fn get(url: impl Into<String>) -> RequestBuilder {
    request(Method::Get, url)
}

/// Starts a `POST` request to `url`.
pub fn post(url: impl Into<String>) -> RequestBuilder {
    request(Method::Post, url)
}

/// Starts a `PUT` request to `url`.
pub fn put(url: impl Into<String>) -> RequestBuilder {
    request(Method::Put, url)
}

/// Starts a `PATCH` request to `url`.
pub fn patch(url: impl Into<String>) -> RequestBuilder {
    request(Method::Patch, url)
}

/// Starts a `DELETE` request to `url`.
pub fn delete(url: impl Into<String>) -> RequestBuilder {
    request(Method::Delete, url)
}

/// Starts a `HEAD` request to `url`.
pub fn head(url: impl Into<String>) -> RequestBuilder {
    request(Method::Head, url)
}

/// Starts a request with any method, e.g. `Method::Other("PURGE".into())`.
pub fn request(method: Method, url: impl Into<String>) -> RequestBuilder {
    RequestBuilder {
        request: types::Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            tags: Vec::new(),
            name: None,
            timeout_ms: None,
        },
    }
}

/// A request being put together; nothing is sent until
/// [`send`](Self::send).
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until `send` is called"]
pub struct RequestBuilder {
    request: types::Request,
}

impl RequestBuilder {
    /// Adds a header field; a name may repeat.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.headers.push((name.into(), value.into()));
        self
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn bearer(self, token: impl fmt::Display) -> Self {
        self.replace_header("authorization", format!("Bearer {token}"))
    }

    /// Sets the body to `value` as JSON, and `Content-Type` to
    /// `application/json`.
    ///
    /// # Panics
    ///
    /// Panics if `value` cannot be represented as JSON (a map with
    /// non-string keys, a failing `Serialize` impl): a bug in the
    /// scenario, not a load-test outcome.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.request.body = match serde_json::to_vec(value) {
            Ok(body) => body,
            Err(err) => panic!("request body is not JSON: {err}"),
        };
        self.replace_header("content-type", "application/json".into())
    }

    /// Sets the raw body; set a `Content-Type` with [`header`](Self::header).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request.body = body.into();
        self
    }

    /// Appends `key=value` to the URL's query, percent-encoding both.
    pub fn query(mut self, key: &str, value: impl fmt::Display) -> Self {
        let url = &mut self.request.url;
        let fragment = url.find('#').map(|at| url.split_off(at));
        url.push(if url.contains('?') { '&' } else { '?' });
        percent_encode(url, key);
        url.push('=');
        percent_encode(url, &value.to_string());
        url.push_str(fragment.as_deref().unwrap_or(""));
        self
    }

    /// Sets the `name` tag that groups this request in the summary, e.g.
    /// `"GET /api/catalog/products/{slug}"`.
    ///
    /// Without it the URL is the name, which makes one series per
    /// distinct URL: set it whenever the URL carries ids or a query.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.request.name = Some(name.into());
        self
    }

    /// Adds a tag to every sample this request records.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.tags.push((key.into(), value.into()));
        self
    }

    /// Gives up when no complete response came within `timeout`
    /// (millisecond precision, at most ~49 days); the host's default
    /// otherwise.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        self.request.timeout_ms = Some(ms);
        self
    }

    /// Sends the request and waits for the whole response.
    ///
    /// The builder is left as it was, so a request can be sent again.
    ///
    /// # Errors
    ///
    /// Fails only when no response came: bad URL, DNS, refused or reset
    /// connection, timeout. Any status, 500 included, is a `Response`.
    pub fn send(&self) -> Result<Response, HttpError> {
        host::send(&self.request)
            .map(Response::from)
            .map_err(HttpError::from)
    }

    fn replace_header(mut self, name: &str, value: String) -> Self {
        let headers = &mut self.request.headers;
        headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        headers.push((name.to_owned(), value));
        self
    }
}

/// Appends `text` to `out`, percent-encoding all but RFC 3986's
/// unreserved characters.
fn percent_encode(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// A response the target sent, whatever its status.
#[derive(Clone, Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header fields, in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
    /// Where the request's time went, in milliseconds.
    pub timings: Timings,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name`, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text; invalid UTF-8 becomes U+FFFD.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body decoded from JSON.
    ///
    /// # Errors
    ///
    /// Fails if the body is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl From<types::Response> for Response {
    fn from(res: types::Response) -> Self {
        Response {
            status: res.status,
            headers: res.headers,
            body: res.body,
            timings: res.timings,
        }
    }
}

/// A request that got no response.
#[derive(Clone, Debug)]
pub struct HttpError {
    /// Why no response came.
    pub kind: ErrorKind,
    /// What the transport said.
    pub message: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

impl std::error::Error for HttpError {}

impl From<types::HttpError> for HttpError {
    fn from(err: types::HttpError) -> Self {
        HttpError {
            kind: err.kind,
            message: err.message,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidUrl => "invalid URL",
            ErrorKind::Dns => "DNS lookup failed",
            ErrorKind::ConnectionRefused => "connection refused",
            ErrorKind::ConnectionReset => "connection reset",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Other => "transport error",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(req: &'a RequestBuilder, name: &str) -> Vec<&'a str> {
        req.request
            .headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    #[test]
    fn json_sets_body_and_one_content_type() {
        let req = post("http://shop/login")
            .header("Content-Type", "text/plain")
            .json(&serde_json::json!({ "username": "demo" }));
        assert_eq!(req.request.body, br#"{"username":"demo"}"#);
        assert_eq!(header(&req, "content-type"), ["application/json"]);
    }

    #[test]
    fn bearer_replaces_an_earlier_token() {
        let req = get("http://shop/me").bearer("a").bearer("b");
        assert_eq!(header(&req, "authorization"), ["Bearer b"]);
    }

    #[test]
    fn query_encodes_and_joins_pairs() {
        let req = get("http://shop/search#top")
            .query("q", "red shoe&co")
            .query("limit", 20);
        assert_eq!(
            req.request.url,
            "http://shop/search?q=red%20shoe%26co&limit=20#top"
        );
    }

    #[test]
    fn timeout_saturates_at_u32_millis() {
        let req = get("http://shop/").timeout(Duration::from_secs(u64::MAX));
        assert_eq!(req.request.timeout_ms, Some(u32::MAX));
        let req = get("http://shop/").timeout(Duration::from_millis(1500));
        assert_eq!(req.request.timeout_ms, Some(1500));
    }

    #[test]
    fn response_helpers_read_headers_text_and_json() {
        let res = Response {
            status: 201,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: br#"{"token":"abc"}"#.to_vec(),
            timings: Timings {
                blocked: 0.0,
                connecting: 0.0,
                sending: 0.0,
                waiting: 0.0,
                receiving: 0.0,
                duration: 0.0,
            },
        };
        assert!(res.is_success());
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.text(), r#"{"token":"abc"}"#);
        let body: serde_json::Value = res.json().unwrap();
        assert_eq!(body["token"], "abc");
    }

    #[test]
    fn http_error_reads_as_kind_then_message() {
        let err = HttpError {
            kind: ErrorKind::ConnectionRefused,
            message: "127.0.0.1:1".into(),
        };
        assert_eq!(err.to_string(), "connection refused: 127.0.0.1:1");
    }
}
