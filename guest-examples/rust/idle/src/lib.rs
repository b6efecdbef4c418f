//! The trivial scenario `scripts/bench-languages` measures the host's
//! cost with: an iteration sleeps `PAUSE` seconds (default 0) and does
//! nothing else. Its Python and JavaScript twins do the same.

use loadwit_guest::{Scenario, env_parse, sleep_secs};

struct Idle;

impl Scenario for Idle {
    fn run(_exec: &str) -> Result<(), String> {
        let pause: f64 = env_parse("PAUSE", 0.0)?;
        if pause > 0.0 {
            sleep_secs(pause);
        }
        Ok(())
    }
}

loadwit_guest::export!(Idle);
