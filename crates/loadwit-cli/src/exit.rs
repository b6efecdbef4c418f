//! Exit codes, as k6 numbers them, so CI scripts written for k6 work.

/// One exit code per class of outcome. Usage errors exit with 2, from
/// clap, before any of these apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Success = 0,
    /// At least one threshold failed.
    ThresholdsFailed = 99,
    /// Options, flags or thresholds are invalid.
    InvalidConfig = 104,
    /// The run was stopped from outside (Ctrl-C, SIGTERM).
    Stopped = 105,
    /// The component failed to load, or its setup or teardown failed.
    ScenarioFailed = 107,
    /// The scenario aborted the test.
    ScenarioAborted = 108,
}
