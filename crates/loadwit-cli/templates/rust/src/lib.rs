//! A loadwit scenario: browses the demo shop's catalog.
//!
//! Build it with `loadwit build .`, run it with
//! `loadwit run {{crate}}.wasm -e BASE_URL=http://127.0.0.1:3000`.

use loadwit_guest::{Scenario, check, env_or, http, sleep_secs};

struct Browse;

impl Scenario for Browse {
    fn options() -> String {
        r#"{"vus": 5, "duration": "10s",
            "thresholds": {"http_req_failed": ["rate<0.01"]}}"#
            .into()
    }

    fn run(_exec: &str) -> Result<(), String> {
        let base = env_or("BASE_URL", "http://127.0.0.1:3000");
        let res = http::get(format!("{base}/api/catalog/products"))
            .query("limit", 20)
            .name("/api/catalog/products")
            .send();
        check::status(&res, "products ok", 200);

        let res = http::get(format!("{base}/api/catalog/categories"))
            .name("/api/catalog/categories")
            .send();
        check::status(&res, "categories ok", 200);

        sleep_secs(0.5);
        Ok(())
    }
}

loadwit_guest::export!(Browse);
