//! The `control` import: the scenario ending the whole test.

use super::VuState;
use super::loadwit::scenario::control::Host;

impl Host for VuState {
    fn abort(&mut self, reason: String) -> wasmtime::Result<()> {
        tracing::info!(vu = self.context.id, %reason, "the scenario aborted the test");
        self.context.recorder.abort(reason.clone());
        // Trapping ends the guest's iteration here, as k6's abort throws.
        wasmtime::bail!("test aborted: {reason}")
    }
}
