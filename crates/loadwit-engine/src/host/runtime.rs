//! The `runtime` import: sleep, identity, env and log.

use std::time::{Duration, Instant};

use super::VuState;
use super::loadwit::scenario::runtime::Host;
use super::loadwit::scenario::types::LogLevel;

/// The longest sleep a guest may ask for; longer requests are clamped so a
/// bad argument cannot park a VU past any sensible test length.
const MAX_SLEEP: Duration = Duration::from_secs(24 * 3600);

impl Host for VuState {
    async fn sleep(&mut self, seconds: f64) {
        let duration = if seconds.is_finite() && seconds > 0.0 {
            Duration::from_secs_f64(seconds).min(MAX_SLEEP)
        } else {
            Duration::ZERO
        };
        tokio::time::sleep(duration).await;
        self.guest_since = Instant::now();
    }

    fn vu_id(&mut self) -> wasmtime::Result<u32> {
        Ok(self.context.id)
    }

    fn scenario(&mut self) -> wasmtime::Result<String> {
        Ok(self.context.scenario.to_string())
    }

    fn iteration(&mut self) -> wasmtime::Result<u32> {
        // The WIT promises a u32 that wraps, so JavaScript gets a number.
        Ok(self.context.iteration as u32)
    }

    fn env(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.context.env.get(&key).cloned())
    }

    fn env_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        let pairs = self.context.env.iter();
        Ok(pairs.map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn setup_data(&mut self) -> wasmtime::Result<String> {
        Ok(self.context.setup_data.to_string())
    }

    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        let vu = self.context.id;
        match level {
            LogLevel::Debug => tracing::debug!(target: "guest", vu, "{message}"),
            LogLevel::Info => tracing::info!(target: "guest", vu, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "guest", vu, "{message}"),
            LogLevel::Error => tracing::error!(target: "guest", vu, "{message}"),
        }
        Ok(())
    }
}
