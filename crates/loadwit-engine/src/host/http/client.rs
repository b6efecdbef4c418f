//! A VU's HTTP client: its connections, its cookie jar, and the redirect
//! loop that makes each hop a request of its own.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use http::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, USER_AGENT,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method as HttpMethod, Request as HttpRequest};
use loadwit_metrics::HttpTimings;
use loadwit_otel::{ClosedSpan, IterationTrace, RequestSpan};
use url::Url;

use super::connect::{Origin, Pool, Proto};
use super::cookies::Jar;
use super::error::{error, error_code};
use super::exchange::{BodyPolicy, Marks, Received, body, exchange};
use super::names::{NameCache, NameGuard};
use crate::host::loadwit::scenario::types::{
    Body as WitBody, BodyMode, ErrorKind, HttpError, Request, Response, Timings,
};
use crate::options::HttpSettings;
use crate::trace;

/// How long a request may take when the scenario sets no timeout, as k6.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the VUs of one run share: resolved options and the name guard.
#[derive(Debug, Default)]
pub(crate) struct HttpRun {
    pub(crate) settings: HttpSettings,
    pub(crate) names: NameGuard,
    /// Whether samples carry the full `url` tag. Only when `systemTags`
    /// asks for it: a tag per distinct URL costs a series each, and the
    /// `name` tag already groups requests.
    pub(crate) tag_url: bool,
}

impl HttpRun {
    pub(crate) fn new(settings: HttpSettings, tag_url: bool) -> Self {
        Self {
            settings,
            names: NameGuard::default(),
            tag_url,
        }
    }
}

/// A VU's HTTP client: its own connections and cookies, never shared with
/// other VUs, kept across iterations as k6 keeps them (unless
/// `noVUConnectionReuse`); the jar is emptied at each new iteration.
///
/// The pool and jar sit behind mutexes only because the requests of one
/// `batch` run concurrently; no other VU ever touches them.
pub(crate) struct HttpClient {
    pub(crate) run: std::sync::Arc<HttpRun>,
    pool: Mutex<Pool>,
    jar: Mutex<Jar>,
    pub(crate) names: NameCache,
    iteration: Option<u64>,
}

/// The parts of a client that requests in flight borrow.
pub(crate) struct Shared<'a> {
    pub(crate) settings: &'a HttpSettings,
    pool: &'a Mutex<Pool>,
}

impl Shared<'_> {
    pub(crate) fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool
            .lock()
            .expect("a VU's pool lock is never poisoned")
    }
}

/// One hop of a request: one sample in the metrics.
pub(crate) struct Hop {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) outcome: Result<u16, ErrorKind>,
    pub(crate) failed: bool,
    pub(crate) timings: HttpTimings,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) proto: Option<Proto>,
    pub(crate) tls_version: Option<&'static str>,
    /// The hop's client span, when the iteration is traced.
    pub(crate) span: Option<ClosedSpan>,
}

/// A request's hops and what the guest gets back.
pub(crate) struct Fetched {
    pub(crate) hops: Vec<Hop>,
    pub(crate) name: Option<String>,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) result: Result<Response, HttpError>,
}

impl HttpClient {
    pub(crate) fn new(run: std::sync::Arc<HttpRun>) -> Self {
        Self {
            run,
            pool: Mutex::default(),
            jar: Mutex::default(),
            names: NameCache::default(),
            iteration: None,
        }
    }

    /// Starts iteration `iteration` if it is new: the jar empties, as in
    /// k6, and with `noVUConnectionReuse` the connections close.
    pub(crate) fn enter_iteration(&mut self, iteration: u64) {
        if self.iteration == Some(iteration) {
            return;
        }
        if self.iteration.is_some() {
            self.jar().clear();
            if self.run.settings.no_vu_connection_reuse {
                self.pool.get_mut().expect("never poisoned").clear();
            }
        }
        self.iteration = Some(iteration);
    }

    pub(crate) fn jar(&mut self) -> &mut Jar {
        self.jar
            .get_mut()
            .expect("a VU's jar lock is never poisoned")
    }

    /// Sends `request`, following redirects, within its timeout. With a
    /// `trace`, each hop gets a client span and carries its trace context.
    pub(crate) async fn fetch(&self, request: Request, trace: Option<&IterationTrace>) -> Fetched {
        let mut fetched = Fetched {
            hops: Vec::new(),
            name: request.name.clone(),
            tags: request.tags.clone(),
            result: Err(error(ErrorKind::Other, "")),
        };
        let prepared = match Prepared::new(&self.run.settings, request) {
            Ok(prepared) => prepared,
            Err((method, url, error)) => {
                fetched
                    .hops
                    .push(Hop::failed_early(method, url, error.kind, trace));
                fetched.result = Err(error);
                return fetched;
            }
        };
        fetched.result = self.follow(prepared, &mut fetched.hops, trace).await;
        fetched
    }

    async fn follow(
        &self,
        mut req: Prepared,
        hops: &mut Vec<Hop>,
        trace: Option<&IterationTrace>,
    ) -> Result<Response, HttpError> {
        let deadline = tokio::time::Instant::now() + req.timeout;
        let shared = Shared {
            settings: &self.run.settings,
            pool: &self.pool,
        };
        let mut redirects = 0;
        loop {
            let origin = Origin::of(&req.url).inspect_err(|e| {
                hops.push(Hop::failed_early(
                    req.method.to_string(),
                    req.url.to_string(),
                    e.kind,
                    trace,
                ));
            })?;
            let span = trace::request_span(trace, req.method.as_str(), req.url.as_str());
            let request = self.http_request(&req, span.as_ref());
            let mut marks = Marks::new();
            let result = tokio::time::timeout_at(
                deadline,
                exchange(&shared, &origin, request, req.policy, &mut marks),
            )
            .await
            .unwrap_or_else(|_| Err(timed_out(req.timeout)));

            if let Ok(received) = &result {
                self.jar
                    .lock()
                    .expect("never poisoned")
                    .store(&req.url, &received.headers);
            }
            let next = match &result {
                Ok(received) => redirect_target(&req.url, received),
                Err(_) => None,
            };
            let result = match (next, result) {
                (Some(_), Ok(_)) if redirects >= req.max_redirects && req.max_redirects > 0 => {
                    Err(error(
                        ErrorKind::TooManyRedirects,
                        format!("stopped after {} redirects", req.max_redirects),
                    ))
                }
                (Some(next), Ok(received)) if req.max_redirects > 0 => {
                    hops.push(req.hop(&marks, Ok(received.status), span));
                    req.redirect(next, received.status);
                    redirects += 1;
                    continue;
                }
                (_, result) => result,
            };
            hops.push(req.hop(
                &marks,
                result.as_ref().map(|r| r.status).map_err(|e| e.kind),
                span,
            ));
            return result.map(|received| req.response(received, &marks));
        }
    }

    /// The wire request for the current hop: the scenario's headers, then
    /// the defaults and trace context it did not set, then the jar's
    /// cookies.
    fn http_request(
        &self,
        req: &Prepared,
        span: Option<&RequestSpan>,
    ) -> HttpRequest<super::connect::Body> {
        let mut headers = req.headers.clone();
        if let Some(span) = span {
            inject(&mut headers, span);
        }
        if !headers.contains_key(USER_AGENT)
            && let Ok(agent) = HeaderValue::from_str(&self.run.settings.user_agent)
        {
            headers.insert(USER_AGENT, agent);
        }
        if req.policy.gunzip {
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let jar = self.jar.lock().expect("never poisoned").header(&req.url);
        if let Some(cookies) = jar {
            let value = match headers.get(COOKIE).and_then(|v| v.to_str().ok()) {
                Some(own) => format!("{own}; {cookies}"),
                None => cookies,
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(COOKIE, value);
            }
        }
        let mut request = HttpRequest::new(body(req.body.clone()));
        *request.method_mut() = req.method.clone();
        *request.uri_mut() = req
            .url
            .as_str()
            .parse()
            .expect("a parsed URL is a valid URI");
        *request.headers_mut() = headers;
        request
    }
}

/// A request checked and parsed, as it goes through its hops.
struct Prepared {
    method: HttpMethod,
    url: Url,
    headers: HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
    max_redirects: u32,
    expected: Option<Vec<(u16, u16)>>,
    policy: BodyPolicy,
    /// How the body goes back to the guest.
    mode: BodyMode,
}

impl Prepared {
    fn new(settings: &HttpSettings, request: Request) -> Result<Self, (String, String, HttpError)> {
        let method_text = request.method.to_ascii_uppercase();
        let fail = |e: HttpError| (method_text.clone(), request.url.clone(), e);
        let method = HttpMethod::from_bytes(method_text.as_bytes()).map_err(|_| {
            fail(error(
                ErrorKind::InvalidRequest,
                format!("`{method_text}` is not a valid HTTP method"),
            ))
        })?;
        let url = Url::parse(&request.url).map_err(|e| {
            fail(error(
                ErrorKind::InvalidUrl,
                format!("`{}` is not a valid URL: {e}", request.url),
            ))
        })?;
        Origin::of(&url).map_err(fail)?;
        let mut headers = HeaderMap::with_capacity(request.headers.len() + 4);
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes());
            let value = HeaderValue::from_str(value);
            let (Ok(name), Ok(value)) = (name, value) else {
                return Err(fail(error(
                    ErrorKind::InvalidRequest,
                    "a request header has an invalid name or value",
                )));
            };
            headers.append(name, value);
        }
        let mode = match request.body_mode {
            Some(mode) => mode,
            None if settings.discard_response_bodies => BodyMode::Discard,
            None => BodyMode::Text,
        };
        let keep = mode != BodyMode::Discard;
        let gunzip = !headers.contains_key(ACCEPT_ENCODING);
        Ok(Self {
            method,
            url,
            headers,
            body: match request.body {
                Some(WitBody::Text(text)) => text.into_bytes(),
                Some(WitBody::Binary(bytes)) => bytes,
                None => Vec::new(),
            },
            timeout: request
                .timeout_ms
                .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(u64::from(ms))),
            max_redirects: request.max_redirects.unwrap_or(settings.max_redirects),
            expected: request.expected_statuses,
            policy: BodyPolicy { keep, gunzip },
            mode,
        })
    }

    /// Moves to the redirect target, changing the method as browsers do:
    /// 303 (and 301/302 after a `POST`) becomes a body-less `GET`.
    fn redirect(&mut self, next: Url, status: u16) {
        let to_get = status == 303 && self.method != HttpMethod::HEAD
            || matches!(status, 301 | 302) && self.method == HttpMethod::POST;
        if to_get {
            self.method = HttpMethod::GET;
            self.body.clear();
            self.headers.remove(CONTENT_TYPE);
            self.headers.remove(CONTENT_LENGTH);
        }
        if Origin::of(&next).ok() != Origin::of(&self.url).ok() {
            self.headers.remove(AUTHORIZATION);
            self.headers.remove(COOKIE);
        }
        self.url = next;
    }

    fn expected(&self, status: u16) -> bool {
        match &self.expected {
            Some(ranges) => ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status)),
            None => (200..400).contains(&status),
        }
    }

    fn hop(
        &self,
        marks: &Marks,
        outcome: Result<u16, ErrorKind>,
        span: Option<RequestSpan>,
    ) -> Hop {
        let (sent, received) = marks.bytes();
        let failed = outcome.map_or(true, |status| !self.expected(status));
        Hop {
            method: self.method.to_string(),
            url: self.url.to_string(),
            span: trace::close(span, outcome.map_err(error_code), failed),
            failed,
            outcome,
            timings: marks.timings(),
            sent,
            received,
            proto: marks.proto(),
            tls_version: marks.tls_version,
        }
    }

    fn response(&self, received: Received, marks: &Marks) -> Response {
        Response {
            status: received.status,
            headers: header_pairs(&received.headers),
            body: match self.mode {
                BodyMode::Text => Some(WitBody::Text(text(received.body))),
                BodyMode::Binary => Some(WitBody::Binary(received.body)),
                BodyMode::Discard => None,
            },
            timings: wit_timings(&marks.timings()),
            url: self.url.to_string(),
            proto: marks.proto().map_or("", Proto::tag).to_owned(),
            tls_version: marks.tls_version.map(str::to_owned),
        }
    }
}

impl Hop {
    /// A request that failed before it could be sent; traced like any
    /// other, so every sample has its span.
    fn failed_early(
        method: String,
        url: String,
        kind: ErrorKind,
        trace: Option<&IterationTrace>,
    ) -> Self {
        let span = trace::request_span(trace, &method, &url);
        Hop {
            span: trace::close(span, Err(error_code(kind)), true),
            method,
            url,
            outcome: Err(kind),
            failed: true,
            timings: HttpTimings::default(),
            sent: 0,
            received: 0,
            proto: None,
            tls_version: None,
        }
    }
}

/// Adds the span's trace-context headers, unless the scenario set a header
/// of the same name itself: its own propagation wins.
fn inject(headers: &mut HeaderMap, span: &RequestSpan) {
    for (name, value) in span.headers() {
        let name = HeaderName::from_static(name);
        if headers.contains_key(&name) {
            continue;
        }
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    }
}

/// Where a redirect response points, if it is one.
fn redirect_target(url: &Url, received: &Received) -> Option<Url> {
    if !matches!(received.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = received.headers.get(LOCATION)?.to_str().ok()?;
    url.join(location).ok()
}

fn timed_out(timeout: Duration) -> HttpError {
    error(
        ErrorKind::Timeout,
        format!("no complete response within {} ms", timeout.as_millis()),
    )
}

/// A body as text, replacing what is not UTF-8 with U+FFFD without
/// copying a body that is valid.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn wit_timings(t: &HttpTimings) -> Timings {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Timings {
        blocked: ms(t.blocked),
        connecting: ms(t.connecting),
        tls_handshaking: ms(t.tls_handshaking),
        sending: ms(t.sending),
        waiting: ms(t.waiting),
        receiving: ms(t.receiving),
        duration: ms(t.duration),
    }
}
