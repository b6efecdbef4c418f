//! Seed users, login and bearer tokens.
//!
//! Tokens are `tok-<username>-<16 hex digits>`, the digits a keyed hash of
//! the username. They are computed once per user, so logging in a
//! million times stores nothing, and checking one is a map lookup and a
//! string comparison. They never expire and are the same in every run:
//! this is a load-test target, not a security boundary.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::reply;

/// Mixed into every token hash so tokens are not just hashes of names.
const TOKEN_KEY: &str = "loadwit-shop token key";

/// How many `userN` accounts exist besides `demo`.
pub const SEED_USERS: usize = 100;

/// A user as the API shows it.
#[derive(Debug, Serialize)]
struct User {
    id: u32,
    username: String,
    name: String,
    email: String,
}

#[derive(Serialize)]
struct LoginReply<'a> {
    token: &'a str,
    user: &'a User,
}

struct Account {
    user: User,
    password: &'static str,
    token: String,
    /// `GET /api/auth/me` body.
    me: Bytes,
    /// `POST /api/auth/login` success body.
    login: Bytes,
}

/// The seed accounts; an account's index is its user id minus one.
struct Accounts {
    list: Vec<Account>,
    by_name: HashMap<String, usize>,
}

fn accounts() -> &'static Accounts {
    static ACCOUNTS: OnceLock<Accounts> = OnceLock::new();
    ACCOUNTS.get_or_init(Accounts::build)
}

/// How many accounts exist; per-user tables are this long.
pub(crate) fn account_count() -> usize {
    accounts().list.len()
}

impl Accounts {
    fn build() -> Self {
        let demo = account(1, "demo", "Demo Shopper", "demo");
        let users = (1..=SEED_USERS).map(|n| {
            let username = format!("user{n}");
            account(n as u32 + 1, &username, &format!("User {n}"), "password")
        });
        let list: Vec<Account> = std::iter::once(demo).chain(users).collect();
        let by_name = list
            .iter()
            .enumerate()
            .map(|(i, a)| (a.user.username.clone(), i))
            .collect();
        Self { list, by_name }
    }

    fn find(&self, username: &str) -> Option<(usize, &Account)> {
        let &i = self.by_name.get(username)?;
        Some((i, &self.list[i]))
    }
}

fn account(id: u32, username: &str, name: &str, password: &'static str) -> Account {
    let user = User {
        id,
        username: username.to_owned(),
        name: name.to_owned(),
        email: format!("{username}@shop.example"),
    };
    let token = token_for(username);
    let me = serde_json::to_vec(&user).expect("users serialize");
    let login = LoginReply {
        token: &token,
        user: &user,
    };
    Account {
        login: serde_json::to_vec(&login).expect("users serialize").into(),
        me: me.into(),
        user,
        password,
        token,
    }
}

fn token_for(username: &str) -> String {
    let mut hasher = DefaultHasher::new();
    TOKEN_KEY.hash(&mut hasher);
    username.hash(&mut hasher);
    format!("tok-{username}-{:016x}", hasher.finish())
}

/// The account index a request's bearer token belongs to, if valid.
fn authenticate(headers: &HeaderMap) -> Option<usize> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    let username = token.strip_prefix("tok-")?.rsplit_once('-')?.0;
    let (i, account) = accounts().find(username)?;
    (account.token == token).then_some(i)
}

/// Extractor for a signed-in user: the account index, or a 401.
pub(crate) struct SignedIn(pub usize);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        authenticate(&parts.headers)
            .map(SignedIn)
            .ok_or_else(unauthorized)
    }
}

fn unauthorized() -> Response {
    let message = "missing or invalid bearer token; log in at `/api/auth/login`";
    let mut response = reply::error(StatusCode::UNAUTHORIZED, message);
    let challenge = header::HeaderValue::from_static("Bearer");
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge);
    response
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// `POST /api/auth/login`. The body is parsed by hand so every malformed
/// body is a 400, whatever its content type.
pub(crate) async fn login(body: Bytes) -> Response {
    let Ok(credentials) = serde_json::from_slice::<Credentials>(&body) else {
        let message = "body must be JSON `{\"username\": ..., \"password\": ...}`";
        return reply::error(StatusCode::BAD_REQUEST, message);
    };
    match accounts().find(&credentials.username) {
        Some((_, account)) if account.password == credentials.password => {
            reply::raw(StatusCode::OK, account.login.clone())
        }
        _ => {
            tracing::debug!(username = %credentials.username, "login refused");
            reply::error(StatusCode::UNAUTHORIZED, "wrong username or password")
        }
    }
}

/// `GET /api/auth/me`
pub(crate) async fn me(SignedIn(i): SignedIn) -> impl IntoResponse {
    reply::raw(StatusCode::OK, accounts().list[i].me.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn own_tokens_authenticate() {
        assert_eq!(authenticate(&bearer(&token_for("demo"))), Some(0));
        assert_eq!(authenticate(&bearer(&token_for("user100"))), Some(100));
    }

    #[test]
    fn forged_tokens_do_not() {
        assert_eq!(authenticate(&bearer("tok-demo-0000000000000000")), None);
        assert_eq!(authenticate(&bearer(&token_for("nobody"))), None);
        assert_eq!(authenticate(&HeaderMap::new()), None);
    }
}
