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
//! Redirects are followed (10 by default) and each hop is a request of its
//! own. A status of 400 or more is still a [`Response`]; an [`HttpError`]
//! means no response came at all.
//!
//! [`batch`] sends several requests in parallel; [`crate::cookies`] reads
//! and changes the VU's cookie jar.

use std::borrow::Cow;
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host::http as host;
use crate::host::types;
use crate::host::types::Body;

pub use types::{BodyMode, ErrorKind, Timings};

/// Starts a `GET` request to `url`, an absolute `http://` or `https://`
/// URL.
pub fn get(url: impl Into<String>) -> RequestBuilder {
    request("GET", url)
}

/// Starts a `POST` request to `url`.
pub fn post(url: impl Into<String>) -> RequestBuilder {
    request("POST", url)
}

/// Starts a `PUT` request to `url`.
pub fn put(url: impl Into<String>) -> RequestBuilder {
    request("PUT", url)
}

/// Starts a `PATCH` request to `url`.
pub fn patch(url: impl Into<String>) -> RequestBuilder {
    request("PATCH", url)
}

/// Starts a `DELETE` request to `url`.
pub fn delete(url: impl Into<String>) -> RequestBuilder {
    request("DELETE", url)
}

/// Starts a `HEAD` request to `url`.
pub fn head(url: impl Into<String>) -> RequestBuilder {
    request("HEAD", url)
}

/// Starts a request with any method, e.g. `request("PURGE", url)`; the
/// host upper-cases it.
pub fn request(method: impl Into<String>, url: impl Into<String>) -> RequestBuilder {
    RequestBuilder {
        request: types::Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            tags: Vec::new(),
            name: None,
            timeout_ms: None,
            max_redirects: None,
            expected_statuses: None,
            body_mode: None,
        },
    }
}

/// Sends `requests` in parallel and waits for all of them; results come
/// in the order of `requests`.
///
/// ```no_run
/// use loadwit_guest::http;
///
/// let pages = ["/a", "/b", "/c"].map(|p| http::get(format!("http://127.0.0.1:3000{p}")));
/// for res in http::batch(&pages) {
///     assert!(res.is_ok_and(|r| r.is_success()));
/// }
/// ```
pub fn batch(requests: &[RequestBuilder]) -> Vec<Result<Response, HttpError>> {
    let wire: Vec<types::Request> = requests.iter().map(|r| r.request.clone()).collect();
    host::batch(&wire)
        .into_iter()
        .map(|result| result.map(Response::from).map_err(HttpError::from))
        .collect()
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
        self.request.body = match serde_json::to_string(value) {
            Ok(body) => Some(Body::Text(body)),
            Err(err) => panic!("request body is not JSON: {err}"),
        };
        self.replace_header("content-type", "application/json".into())
    }

    /// Sets the raw body; set a `Content-Type` with [`header`](Self::header).
    /// Bytes need not be UTF-8.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request.body = Some(Body::Binary(body.into()));
        self
    }

    /// Sets the body to `text`, and `Content-Type` to `text/plain`.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.request.body = Some(Body::Text(text.into()));
        self.replace_header("content-type", "text/plain; charset=utf-8".into())
    }

    /// Sets the body to `fields` URL-encoded, as an HTML form posts them,
    /// and `Content-Type` to `application/x-www-form-urlencoded`.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, fields: &[(K, V)]) -> Self {
        let mut body = String::new();
        for (key, value) in fields {
            if !body.is_empty() {
                body.push('&');
            }
            form_encode(&mut body, key.as_ref());
            body.push('=');
            form_encode(&mut body, value.as_ref());
        }
        self.request.body = Some(Body::Text(body));
        self.replace_header("content-type", "application/x-www-form-urlencoded".into())
    }

    /// Sets the body to `form` as `multipart/form-data`, for file uploads.
    pub fn multipart(mut self, form: Multipart) -> Self {
        let content_type = format!("multipart/form-data; boundary={}", form.boundary);
        self.request.body = Some(Body::Binary(form.finish()));
        self.replace_header("content-type", content_type)
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

    /// Follows at most `max` redirects (0: none, the 3xx is the response);
    /// the `maxRedirects` option, 10 by default, otherwise.
    pub fn max_redirects(mut self, max: u32) -> Self {
        self.request.max_redirects = Some(max);
        self
    }

    /// Counts these statuses as success in `http_req_failed`, instead of
    /// 200 to 399; call it again to add ranges.
    pub fn expect_statuses(mut self, statuses: RangeInclusive<u16>) -> Self {
        let range = (*statuses.start(), *statuses.end());
        self.request
            .expected_statuses
            .get_or_insert_with(Vec::new)
            .push(range);
        self
    }

    /// Reads the response body without keeping it: it still counts in
    /// `data_received`, but the response's `body` is empty and the host
    /// never holds it whole. The `discardResponseBodies` option sets this
    /// for every request.
    pub fn discard_body(mut self) -> Self {
        self.request.body_mode = Some(BodyMode::Discard);
        self
    }

    /// Keeps the response body as text (the default), even when
    /// `discardResponseBodies` is set; bytes that are not UTF-8 become
    /// U+FFFD.
    pub fn text_body(mut self) -> Self {
        self.request.body_mode = Some(BodyMode::Text);
        self
    }

    /// Keeps the response body as raw bytes, untouched, even when
    /// `discardResponseBodies` is set: for images, protobuf and other
    /// bodies that are not text.
    pub fn binary_body(mut self) -> Self {
        self.request.body_mode = Some(BodyMode::Binary);
        self
    }

    /// Sends the request and waits for the whole response.
    ///
    /// The builder is left as it was, so a request can be sent again.
    ///
    /// # Errors
    ///
    /// Fails only when no response came: bad URL, DNS, refused or reset
    /// connection, TLS, timeout, too many redirects, a kept body over the
    /// host's limit. Any status, 500 included, is a `Response`.
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

/// Appends `text` to `out` as HTML forms encode it: spaces as `+`.
fn form_encode(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte == b' ' {
            out.push('+');
        } else if byte.is_ascii_alphanumeric() || b"-._*".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// A `multipart/form-data` body: text fields and files.
///
/// ```no_run
/// use loadwit_guest::http::{self, Multipart};
///
/// let form = Multipart::new()
///     .text("title", "holiday")
///     .file("photo", "beach.jpg", "image/jpeg", vec![0xff, 0xd8]);
/// let res = http::post("http://127.0.0.1:3000/upload").multipart(form).send();
/// ```
#[derive(Clone, Debug)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// An empty form with a random boundary.
    pub fn new() -> Self {
        let boundary = format!("loadwit-{:016x}", crate::random::u64());
        Self {
            boundary,
            body: Vec::new(),
        }
    }

    /// Adds a text field.
    pub fn text(self, name: &str, value: &str) -> Self {
        self.part(name, None, None, value.as_bytes())
    }

    /// Adds a file field with its file name, content type and bytes.
    pub fn file(self, name: &str, file_name: &str, content_type: &str, bytes: Vec<u8>) -> Self {
        self.part(name, Some(file_name), Some(content_type), &bytes)
    }

    fn part(
        mut self,
        name: &str,
        file_name: Option<&str>,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> Self {
        let quote = |text: &str| text.replace('"', "%22");
        let mut head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
            self.boundary,
            quote(name)
        );
        if let Some(file_name) = file_name {
            head.push_str(&format!("; filename=\"{}\"", quote(file_name)));
        }
        if let Some(content_type) = content_type {
            head.push_str(&format!("\r\nContent-Type: {content_type}"));
        }
        head.push_str("\r\n\r\n");
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    fn finish(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        self.body
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
    /// The whole body, decompressed if it came gzipped; empty when
    /// discarded. Text unless the request asked for
    /// [`binary_body`](RequestBuilder::binary_body): then the bytes are
    /// exactly those sent.
    pub body: Vec<u8>,
    /// Where the request's time went, in milliseconds.
    pub timings: Timings,
    /// The URL that answered, after redirects.
    pub url: String,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub proto: String,
    /// `tls1.2` or `tls1.3`; `None` for plain HTTP.
    pub tls_version: Option<String>,
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
            body: match res.body {
                Some(Body::Text(text)) => text.into_bytes(),
                Some(Body::Binary(bytes)) => bytes,
                None => Vec::new(),
            },
            timings: res.timings,
            url: res.url,
            proto: res.proto,
            tls_version: res.tls_version,
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
            ErrorKind::Tls => "TLS handshake failed",
            ErrorKind::TooManyRedirects => "too many redirects",
            ErrorKind::BodyTooLarge => "response body too large",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::Other => "transport error",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(req: &RequestBuilder) -> &[u8] {
        match &req.request.body {
            Some(Body::Text(text)) => text.as_bytes(),
            Some(Body::Binary(bytes)) => bytes,
            None => &[],
        }
    }

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
        assert_eq!(body(&req), br#"{"username":"demo"}"#);
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
    fn form_encodes_like_a_browser() {
        let req = post("http://shop/login").form(&[("user", "a b"), ("pass", "x&y=z")]);
        assert_eq!(body(&req), b"user=a+b&pass=x%26y%3Dz");
        assert_eq!(
            header(&req, "content-type"),
            ["application/x-www-form-urlencoded"]
        );
    }

    #[test]
    fn multipart_frames_fields_and_files() {
        let form = Multipart::new().text("title", "hi").file(
            "doc",
            "a.bin",
            "application/octet-stream",
            vec![0, 255],
        );
        let boundary = form.boundary.clone();
        let req = post("http://shop/upload").multipart(form);
        let body = body(&req).to_vec();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")), "{text}");
        assert!(text.contains("name=\"doc\"; filename=\"a.bin\""), "{text}");
        assert!(body.windows(2).any(|w| w == [0, 255]));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")), "{text}");
        assert_eq!(
            header(&req, "content-type"),
            [format!("multipart/form-data; boundary={boundary}").as_str()]
        );
    }

    #[test]
    fn statuses_and_body_mode_reach_the_request() {
        let req = get("http://shop/")
            .expect_statuses(200..=299)
            .expect_statuses(404..=404)
            .max_redirects(0)
            .discard_body();
        assert_eq!(
            req.request.expected_statuses,
            Some(vec![(200, 299), (404, 404)])
        );
        assert_eq!(req.request.max_redirects, Some(0));
        assert!(matches!(req.request.body_mode, Some(BodyMode::Discard)));
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
                tls_handshaking: 0.0,
                sending: 0.0,
                waiting: 0.0,
                receiving: 0.0,
                duration: 0.0,
            },
            url: "http://shop/login".into(),
            proto: "HTTP/1.1".into(),
            tls_version: None,
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
