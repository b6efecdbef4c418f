//! The `control` import: the scenario ending the whole test.

use super::VuState;
use super::loadwit::scenario::control::Host;

/// The trap `abort` raises, typed so that a caller of `setup` or
/// `teardown` can tell the scenario's own verdict from a failure.
#[derive(Debug, thiserror::Error)]
#[error("test aborted: {0}")]
pub(crate) struct Aborted(pub String);

impl Host for VuState {
    fn abort(&mut self, reason: String) -> wasmtime::Result<()> {
        tracing::info!(vu = self.context.id, %reason, "the scenario aborted the test");
        self.context.recorder.abort(reason.clone());
        // Trapping ends the guest's iteration here, as k6's abort throws.
        Err(wasmtime::Error::new(Aborted(reason)))
    }
}
