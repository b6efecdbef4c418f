//! A scenario whose lifecycle the target can count: `setup` sends one
//! `GET /health` and returns a token, every iteration checks it got that
//! token and sends one `GET /api/catalog/categories`, and `teardown`
//! checks the token and sends one `GET /api/auth/me`. Nothing else
//! touches `/health` or `/api/auth/me`, so the shop's counts of those
//! routes say how many times `setup` and `teardown` ran.
//!
//! Variables: `BASE_URL` (default `http://127.0.0.1:3000`), `PAUSE`
//! (seconds slept after each iteration, default 0), `ABORT_IN_SETUP`
//! (when set, `setup` aborts the test after its request), `FAIL_IN_SETUP`
//! (when set, `setup` returns an error after its request).

use loadwit_guest::{
    Scenario, abort, check, env, env_or, env_parse, http, setup_data, setup_json, sleep_secs,
};

/// What `setup` hands every iteration and `teardown`.
const TOKEN: &str = "lifecycle-token";

/// The token as every VU and `teardown` read it.
fn token() -> Result<String, String> {
    setup_data::<String>().map(|token| token.as_str().to_owned())
}

struct Lifecycle;

impl Scenario for Lifecycle {
    fn setup() -> Result<String, String> {
        let res = http::get(url("/health")).name("/health").send();
        check::status(&res, "setup reached the target", 200);
        if env("ABORT_IN_SETUP").is_some() {
            abort("the target is not ready");
        }
        if env("FAIL_IN_SETUP").is_some() {
            return Err("the target refused the setup".into());
        }
        setup_json(TOKEN)
    }

    fn run(_exec: &str) -> Result<(), String> {
        check::check("setup data arrived", token()? == TOKEN);
        let res = http::get(url("/api/catalog/categories"))
            .name("/api/catalog/categories")
            .send();
        check::status(&res, "categories ok", 200);
        let pause: f64 = env_parse("PAUSE", 0.0)?;
        if pause > 0.0 {
            sleep_secs(pause);
        }
        Ok(())
    }

    fn teardown() -> Result<(), String> {
        if token()? != TOKEN {
            return Err("teardown did not get setup's data".into());
        }
        http::get(url("/api/auth/me"))
            .name("/api/auth/me")
            .send()
            .map_err(|e| format!("teardown could not reach the target: {e}"))?;
        Ok(())
    }
}

loadwit_guest::export!(Lifecycle);

fn url(path: &str) -> String {
    let base = env_or("BASE_URL", "http://127.0.0.1:3000");
    format!("{}{path}", base.trim_end_matches('/'))
}
