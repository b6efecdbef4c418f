//! The scenario behind the HTTP client's end-to-end tests.
//!
//! Each run exercises one case against the test server of
//! `tests/e2e/http_server.rs`, picked by `-e CASE=...`; `BASE_URL` is the
//! server. Outcomes are checks, so the tests read them from the summary;
//! a failed check logs what it saw.

use std::time::{Duration, Instant};

use loadwit_guest::cookies::{self, Cookie};
use loadwit_guest::http::{self, ErrorKind, HttpError, Multipart, Response};
use loadwit_guest::{Scenario, check, env, env_or, env_parse, log};

struct HttpSuite;

impl Scenario for HttpSuite {
    fn run(_exec: &str) -> Result<(), String> {
        let base = env_or("BASE_URL", "http://127.0.0.1:3000");
        match env("CASE").as_deref() {
            Some("cookies") => cookies_case(&base),
            Some("redirects") => redirects(&base),
            Some("timeout") => timeout(&base),
            Some("tls") => tls(&base),
            Some("batch") => batch(&base),
            Some("timings") => timings(&base),
            Some("download") => download(&base)?,
            Some("distinct-urls") => distinct_urls(&base),
            Some("bodies") => bodies(&base),
            Some("errors") => errors(&base),
            other => return Err(format!("unknown CASE {other:?}")),
        }
        Ok(())
    }
}

loadwit_guest::export!(HttpSuite);

/// Records check `name`, logging `detail` when it fails.
fn expect(name: &str, passed: bool, detail: impl std::fmt::Debug) {
    if !check(name, passed) {
        log::warn(format!("check `{name}` failed: {detail:?}"));
    }
}

fn status(res: &Result<Response, HttpError>) -> Option<u16> {
    res.as_ref().ok().map(|r| r.status)
}

fn kind(res: &Result<Response, HttpError>) -> Option<ErrorKind> {
    res.as_ref().err().map(|e| e.kind)
}

/// Log in, use the session cookie, then lose it.
fn cookies_case(base: &str) {
    let login = http::post(format!("{base}/login")).name("login").send();
    expect("login ok", status(&login) == Some(200), &login);
    let session = cookies::get(base, "session");
    expect(
        "jar holds the session",
        session.as_deref() == Some("s3cret"),
        session,
    );

    let private = http::get(format!("{base}/private")).name("private").send();
    expect(
        "private ok with the cookie",
        status(&private) == Some(200),
        &private,
    );

    cookies::set(base, Cookie::new("theme", "dark").path("/")).expect("a cookie for the base URL");
    let echoed = http::get(format!("{base}/echo-cookies"))
        .name("echo")
        .send();
    let text = echoed
        .as_ref()
        .map(|r| r.text().into_owned())
        .unwrap_or_default();
    expect("planted cookie is sent", text.contains("theme=dark"), &text);

    cookies::delete(base, "theme");
    expect(
        "deleted cookie is gone",
        cookies::get(base, "theme").is_none(),
        cookies::for_url(base),
    );

    cookies::clear_all();
    let denied = http::get(format!("{base}/private"))
        .name("private")
        .expect_statuses(401..=401)
        .send();
    expect(
        "private refused after clearing",
        status(&denied) == Some(401),
        &denied,
    );
}

/// A 3-hop chain, then a loop that must stop at the limit.
fn redirects(base: &str) {
    let chain = http::get(format!("{base}/redirect/3")).name("chain").send();
    expect("chain ends at 200", status(&chain) == Some(200), &chain);
    let url = chain.as_ref().map(|r| r.url.clone()).unwrap_or_default();
    expect(
        "chain reports the final URL",
        url.ends_with("/redirect/0"),
        url,
    );

    let looped = http::get(format!("{base}/loop")).name("loop").send();
    expect(
        "loop stops with too many redirects",
        kind(&looped) == Some(ErrorKind::TooManyRedirects),
        &looped,
    );

    let unfollowed = http::get(format!("{base}/redirect/1"))
        .name("unfollowed")
        .max_redirects(0)
        .send();
    expect(
        "max_redirects 0 returns the 302",
        status(&unfollowed) == Some(302),
        &unfollowed,
    );
}

/// A hanging endpoint with a 200 ms timeout.
fn timeout(base: &str) {
    let started = Instant::now();
    let res = http::get(format!("{base}/hang"))
        .name("hang")
        .timeout(Duration::from_millis(200))
        .send();
    let elapsed = started.elapsed();
    expect(
        "hang times out",
        kind(&res) == Some(ErrorKind::Timeout),
        &res,
    );
    expect(
        "timeout comes after about 200 ms",
        (Duration::from_millis(190)..Duration::from_millis(700)).contains(&elapsed),
        elapsed,
    );
}

/// `EXPECT=fail`: the handshake must fail; else it must pass on HTTP/2.
fn tls(base: &str) {
    let res = http::get(format!("{base}/hello")).name("tls").send();
    if env("EXPECT").as_deref() == Some("fail") {
        expect(
            "untrusted certificate fails",
            kind(&res) == Some(ErrorKind::Tls),
            &res,
        );
        return;
    }
    expect("tls ok", status(&res) == Some(200), &res);
    let (proto, version) = res
        .as_ref()
        .map(|r| (r.proto.clone(), r.tls_version.clone()))
        .unwrap_or_default();
    expect("http2 negotiated", proto == "HTTP/2.0", &proto);
    expect(
        "tls version reported",
        version.as_deref().is_some_and(|v| v.starts_with("tls1.")),
        version,
    );
}

/// Five 300 ms requests at once.
fn batch(base: &str) {
    let requests: Vec<_> = (0..5)
        .map(|i| http::get(format!("{base}/slow?ms=300&id={i}")).name("slow"))
        .collect();
    let started = Instant::now();
    let results = http::batch(&requests);
    let elapsed = started.elapsed();
    let ids: Vec<String> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|r| r.text().into_owned())
                .unwrap_or_default()
        })
        .collect();
    expect(
        "batch answers in order",
        ids == ["0", "1", "2", "3", "4"],
        &ids,
    );
    expect(
        "batch runs in parallel",
        elapsed < Duration::from_millis(900),
        elapsed,
    );
}

/// Two requests on one connection: the phases add up, and only the first
/// connects.
fn timings(base: &str) {
    let first = http::get(format!("{base}/slow?ms=20&id=a"))
        .name("timed")
        .send();
    let second = http::get(format!("{base}/slow?ms=20&id=b"))
        .name("timed")
        .send();
    for (label, res) in [("first", &first), ("second", &second)] {
        let Ok(res) = res else {
            expect("timed requests ok", false, res);
            continue;
        };
        let t = &res.timings;
        let sum = t.sending + t.waiting + t.receiving;
        expect(
            "duration is the sum of its parts",
            (sum - t.duration).abs() < 0.01,
            (label, t),
        );
        expect(
            "waiting holds the server's 20 ms",
            t.waiting >= 19.0,
            (label, t),
        );
    }
    if let (Ok(first), Ok(second)) = (&first, &second) {
        // `FIRST_CONNECTS=always`: every iteration starts on a new
        // connection; otherwise only the VU's first iteration does.
        let reuse = !env_parse("NO_REUSE", false).unwrap_or(false);
        let first_connects = !reuse
            || loadwit_guest::iteration() == 0
            || env("FIRST_CONNECTS").as_deref() == Some("always");
        expect(
            "first request connects when it should",
            (first.timings.connecting > 0.0) == first_connects,
            first.timings,
        );
        expect(
            "second request connects only without reuse",
            (second.timings.connecting > 0.0) != reuse,
            second.timings,
        );
    }
}

/// One large response, discarded (by option or per request).
fn download(base: &str) -> Result<(), String> {
    let mb: u32 = env_parse("SIZE_MB", 100)?;
    let mut req = http::get(format!("{base}/big?mb={mb}")).name("big");
    if env("PER_REQUEST").is_some() {
        req = req.discard_body();
    }
    let res = req.send();
    expect(
        "download ok",
        status(&res) == Some(200),
        res.as_ref().map(|r| r.status),
    );
    let len = res.as_ref().map_or(usize::MAX, |r| r.body.len());
    expect("discarded body is empty", len == 0, len);
    Ok(())
}

/// One request to a URL no other iteration uses, with no `name`.
fn distinct_urls(base: &str) {
    let i = loadwit_guest::iteration();
    let vu = loadwit_guest::vu_id();
    let res = http::get(format!("{base}/item/{vu}-{i}")).send();
    expect("item ok", status(&res) == Some(200), &res);
}

/// Bodies and queries every way the SDK builds them, and responses that
/// come chunked, gzipped or not as UTF-8.
fn bodies(base: &str) {
    let json = http::post(format!("{base}/echo"))
        .json(&serde_json::json!({"a": 1}))
        .send();
    expect(
        "json echoed",
        echoed(&json, "application/json", br#"{"a":1}"#),
        &json,
    );

    let form = http::post(format!("{base}/echo"))
        .form(&[("q", "a b")])
        .send();
    expect(
        "form echoed",
        echoed(&form, "application/x-www-form-urlencoded", b"q=a+b"),
        &form,
    );

    let text = http::put(format!("{base}/echo")).text("héllo").send();
    expect(
        "text echoed",
        echoed(&text, "text/plain", "héllo".as_bytes()),
        &text,
    );

    let upload = Multipart::new().file("f", "x.bin", "application/octet-stream", vec![0, 159, 255]);
    let multipart = http::post(format!("{base}/echo"))
        .multipart(upload)
        .binary_body()
        .send();
    let ok = multipart.as_ref().is_ok_and(|r| {
        r.header("x-content-type")
            .is_some_and(|t| t.starts_with("multipart/form-data"))
            && r.body.windows(3).any(|w| w == [0, 159, 255])
    });
    expect(
        "multipart echoed",
        ok,
        multipart.as_ref().map(|r| r.headers.clone()),
    );

    let query = http::get(format!("{base}/query"))
        .query("q", "red shoe")
        .send();
    let text = query
        .as_ref()
        .map(|r| r.text().into_owned())
        .unwrap_or_default();
    expect("query sent", text == "q=red%20shoe", text);

    let bytes = http::get(format!("{base}/bytes")).binary_body().send();
    let all: Vec<u8> = (0..=255).collect();
    expect(
        "non-utf8 bytes intact",
        bytes.as_ref().is_ok_and(|r| r.body == all),
        bytes.as_ref().map(|r| r.body.len()),
    );

    let gzip = http::get(format!("{base}/gzip")).send();
    let text = gzip
        .as_ref()
        .map(|r| r.text().into_owned())
        .unwrap_or_default();
    expect("gzip decoded", text == "gzip ".repeat(1000), text.len());

    let chunked = http::get(format!("{base}/chunked")).send();
    let text = chunked
        .as_ref()
        .map(|r| r.text().into_owned())
        .unwrap_or_default();
    expect(
        "chunked joined",
        text == "chunk 0\nchunk 1\nchunk 2\n",
        text,
    );

    let head = http::head(format!("{base}/hello")).send();
    expect(
        "head has no body",
        head.as_ref()
            .is_ok_and(|r| r.status == 200 && r.body.is_empty()),
        &head,
    );

    let agent = http::get(format!("{base}/agent")).send();
    let text = agent
        .as_ref()
        .map(|r| r.text().into_owned())
        .unwrap_or_default();
    let agent_ok = match env("AGENT") {
        Some(agent) => text == agent,
        None => text.starts_with("loadwit/"),
    };
    expect("user agent sent", agent_ok, text);
}

fn echoed(res: &Result<Response, HttpError>, content_type: &str, body: &[u8]) -> bool {
    res.as_ref().is_ok_and(|r| {
        r.header("x-content-type")
            .is_some_and(|t| t.starts_with(content_type))
            && r.body == body
    })
}

/// Failures of each kind the suite can provoke on 127.0.0.1.
fn errors(base: &str) {
    let refused = http::get("http://127.0.0.1:1/").name("refused").send();
    expect(
        "refused",
        kind(&refused) == Some(ErrorKind::ConnectionRefused),
        &refused,
    );

    let invalid = http::get("not a url").name("invalid").send();
    expect(
        "invalid url",
        kind(&invalid) == Some(ErrorKind::InvalidUrl),
        &invalid,
    );

    let scheme = http::get("ftp://127.0.0.1/").name("scheme").send();
    expect(
        "ftp is an invalid url",
        kind(&scheme) == Some(ErrorKind::InvalidUrl),
        &scheme,
    );

    let reset = http::get(env_or("RESET_URL", format!("{base}/reset")))
        .name("reset")
        .send();
    expect(
        "reset",
        kind(&reset) == Some(ErrorKind::ConnectionReset),
        &reset,
    );

    let large = http::get(format!("{base}/big?mb=65")).name("large").send();
    expect(
        "kept body too large",
        kind(&large) == Some(ErrorKind::BodyTooLarge),
        &large,
    );
}
