//! Requests `URL` in a loop with no think time, checking nothing: the
//! same work a plain HTTP benchmarking tool does, so the two compare.
//!
//! Variables: `URL` (default `http://127.0.0.1:3000/health`).

use loadwit_guest::{Scenario, env_or, http};

struct Hammer;

impl Scenario for Hammer {
    fn run(_exec: &str) -> Result<(), String> {
        let url = env_or("URL", "http://127.0.0.1:3000/health");
        http::get(url)
            .name("hammer")
            .send()
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

loadwit_guest::export!(Hammer);
