//! A VU's cookie jar (RFC 6265 rules from `cookie_store`) and the
//! `cookies` import that lets a scenario read and change it.

use cookie_store::CookieStore;
use http::HeaderMap;
use http::header::SET_COOKIE;
use url::Url;

use crate::host::VuState;
use crate::host::loadwit::scenario::cookies::{Cookie, Host};

/// Cookies a VU has been sent, applied to its requests as a browser would:
/// by domain, path, expiry and `Secure`.
#[derive(Default)]
pub(crate) struct Jar {
    store: CookieStore,
}

impl Jar {
    /// The `Cookie` header value a request to `url` carries, if any.
    pub(crate) fn header(&self, url: &Url) -> Option<String> {
        let mut pairs = self.store.get_request_values(url).peekable();
        pairs.peek()?;
        let parts: Vec<String> = pairs
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        Some(parts.join("; "))
    }

    /// Keeps the cookies a response from `url` sets; malformed or
    /// misplaced ones are dropped, as a browser drops them.
    pub(crate) fn store(&mut self, url: &Url, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            if let Err(error) = self.store.parse(text, url) {
                tracing::debug!(%error, cookie = text, "a Set-Cookie was rejected");
            }
        }
    }

    fn pairs(&self, url: &Url) -> Vec<(String, String)> {
        self.store
            .get_request_values(url)
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    fn set(&mut self, url: &Url, cookie: &Cookie) -> Result<(), String> {
        let mut text = format!("{}={}", cookie.name, cookie.value);
        if let Some(domain) = &cookie.domain {
            text.push_str(&format!("; Domain={domain}"));
        }
        if let Some(path) = &cookie.path {
            text.push_str(&format!("; Path={path}"));
        }
        if let Some(max_age) = cookie.max_age {
            text.push_str(&format!("; Max-Age={max_age}"));
        }
        if cookie.secure {
            text.push_str("; Secure");
        }
        if cookie.http_only {
            text.push_str("; HttpOnly");
        }
        self.store
            .parse(&text, url)
            .map(drop)
            .map_err(|e| format!("cookie `{}` does not fit `{url}`: {e}", cookie.name))
    }

    /// Removes the cookies a request to `url` would carry, all of them or
    /// only those called `name`.
    fn remove(&mut self, url: &Url, name: Option<&str>) {
        let doomed: Vec<(String, String, String)> = self
            .store
            .matches(url)
            .into_iter()
            .filter(|c| name.is_none_or(|name| c.name() == name))
            .map(|c| {
                (
                    String::from(&c.domain),
                    String::from(&c.path),
                    c.name().to_owned(),
                )
            })
            .collect();
        for (domain, path, name) in doomed {
            self.store.remove(&domain, &path, &name);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.store.clear();
    }
}

fn parse_url(url: &str) -> Option<Url> {
    Url::parse(url).ok()
}

impl Host for VuState {
    fn cookies_for_url(&mut self, url: String) -> wasmtime::Result<Vec<(String, String)>> {
        let http = self.context.http_now();
        Ok(parse_url(&url).map_or_else(Vec::new, |url| http.jar().pairs(&url)))
    }

    fn set_cookie(&mut self, url: String, cookie: Cookie) -> wasmtime::Result<Result<(), String>> {
        let http = self.context.http_now();
        let Some(parsed) = parse_url(&url) else {
            return Ok(Err(format!("`{url}` is not a valid URL")));
        };
        Ok(http.jar().set(&parsed, &cookie))
    }

    fn delete_cookie(&mut self, url: String, name: String) -> wasmtime::Result<()> {
        let http = self.context.http_now();
        if let Some(url) = parse_url(&url) {
            http.jar().remove(&url, Some(&name));
        }
        Ok(())
    }

    fn clear_cookies(&mut self, url: String) -> wasmtime::Result<()> {
        let http = self.context.http_now();
        if let Some(url) = parse_url(&url) {
            http.jar().remove(&url, None);
        }
        Ok(())
    }

    fn clear_all(&mut self) -> wasmtime::Result<()> {
        self.context.http_now().jar().clear();
        Ok(())
    }
}
