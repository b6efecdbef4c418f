//! Load-tests the demo shop like its users do: most iterations browse
//! the catalog, one in five signs in and looks at orders.
//!
//! Every iteration sends exactly three requests, on either path, so a
//! run's `http_reqs` is three times its `iterations`.
//!
//! Variables (`-e KEY=VALUE`), all optional:
//!
//! | variable | default | |
//! | --- | --- | --- |
//! | `BASE_URL` | `http://127.0.0.1:3000` | the shop |
//! | `AUTH_SHARE` | `0.2` | fraction of iterations that sign in |
//! | `THINK_MIN`, `THINK_MAX` | `0.1`, `0.3` | think time after each iteration, seconds |
//! | `PRODUCTS_PATH`, `CATEGORIES_PATH`, `SEARCH_PATH`, `LOGIN_PATH`, `ORDERS_PATH`, `ME_PATH` | the shop's routes | |
//!
//! A request's `name` tag is built from the path it used, so a wrong
//! path shows up under its own name in the summary.

use loadwit_guest::{Scenario, check, env_or, env_parse, http, random, sleep_secs};
use serde::Deserialize;
use serde_json::json;

const SEARCH_TERMS: [&str; 6] = ["shoe", "lamp", "coffee", "book", "phone", "desk"];

struct ShopStress;

impl Scenario for ShopStress {
    fn options() -> String {
        json!({
            "vus": 20,
            "duration": "30s",
            "thresholds": {
                "http_req_duration": ["p(95)<500"],
                "http_req_failed": ["rate<0.01"],
            },
        })
        .to_string()
    }

    fn run(_exec: &str) -> Result<(), String> {
        if random::chance(env_parse("AUTH_SHARE", 0.2)?) {
            sign_in_and_look_around();
        } else {
            browse();
        }

        let min: f64 = env_parse("THINK_MIN", 0.1)?;
        let max: f64 = env_parse("THINK_MAX", 0.3)?;
        sleep_secs(random::range(min..=max.max(min)));
        Ok(())
    }
}

loadwit_guest::export!(ShopStress);

fn browse() {
    let res = get("PRODUCTS_PATH", "/api/catalog/products")
        .query("limit", 20)
        .send();
    check::status(&res, "products ok", 200);

    let res = get("CATEGORIES_PATH", "/api/catalog/categories").send();
    check::status(&res, "categories ok", 200);

    let res = get("SEARCH_PATH", "/api/search")
        .query("q", random::pick(&SEARCH_TERMS))
        .send();
    check::status(&res, "search ok", 200);
}

fn sign_in_and_look_around() {
    let user = format!("user{}", random::range(1..=100));
    let login = post("LOGIN_PATH", "/api/auth/login")
        .json(&json!({ "username": user, "password": "password" }))
        .send();
    check::status(&login, "login ok", 200);

    // A failed login leaves the token empty, and the next two requests
    // still go out (and fail their checks with a 401): every iteration
    // sends three requests, whatever happens.
    let token = login
        .ok()
        .and_then(|res| res.json::<Login>().ok())
        .map(|login| login.token)
        .unwrap_or_default();

    let res = get("ORDERS_PATH", "/api/orders").bearer(&token).send();
    check::status(&res, "orders ok", 200);

    let res = get("ME_PATH", "/api/auth/me").bearer(&token).send();
    check::status(&res, "me ok", 200);
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

/// A `GET` to the path in variable `var` (else `default`), named after
/// that path.
fn get(var: &str, default: &str) -> http::RequestBuilder {
    let path = env_or(var, default);
    http::get(url(&path)).name(path)
}

/// A `POST` to the path in variable `var` (else `default`), named after
/// that path.
fn post(var: &str, default: &str) -> http::RequestBuilder {
    let path = env_or(var, default);
    http::post(url(&path)).name(path)
}

fn url(path: &str) -> String {
    let base = env_or("BASE_URL", "http://127.0.0.1:3000");
    format!("{}{path}", base.trim_end_matches('/'))
}
