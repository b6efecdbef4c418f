//! Lines for the host's log, tagged with the VU.
//!
//! Each level is both a function taking a message and a `format!`-style
//! macro:
//!
//! ```no_run
//! use loadwit_guest::log;
//!
//! log::info("starting");
//! log::warn!("user {} has no orders", 42);
//! ```

pub use crate::host::types::LogLevel as Level;

/// Writes `message` to the host's log at `level`.
pub fn log(level: Level, message: &str) {
    crate::host::runtime::log(level, message);
}

/// Writes a debug line.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

/// Writes an info line.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}

/// Writes a warning line.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}

/// Writes an error line.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_debug {
    ($($arg:tt)+) => { $crate::log::debug(::std::format!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_info {
    ($($arg:tt)+) => { $crate::log::info(::std::format!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_warn {
    ($($arg:tt)+) => { $crate::log::warn(::std::format!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_error {
    ($($arg:tt)+) => { $crate::log::error(::std::format!($($arg)+)) };
}

/// Writes a debug line, formatted like `format!`.
#[doc(inline)]
pub use crate::__log_debug as debug;
/// Writes an error line, formatted like `format!`.
#[doc(inline)]
pub use crate::__log_error as error;
/// Writes an info line, formatted like `format!`.
#[doc(inline)]
pub use crate::__log_info as info;
/// Writes a warning line, formatted like `format!`.
#[doc(inline)]
pub use crate::__log_warn as warn;
