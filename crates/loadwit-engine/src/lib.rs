//! The loadwit engine: runs WebAssembly scenario components as virtual
//! users against real HTTP targets.
//!
//! A run goes through these stages, each in its own module:
//!
//! - [`options`]: k6-shaped options, layered and resolved into a [`Plan`].
//! - `sandbox`: wasmtime settings, the compiled (and disk-cached)
//!   component, and instances made from a pooling allocator.
//! - `host`: the `loadwit:scenario` imports every VU's component calls.
//! - `executor`: how each scenario schedules iterations on its VUs.
//! - `recorder`: per-VU sample buffers feeding one aggregator thread.
//! - [`Test`]: setup, scenarios and teardown, ending in a [`Report`].
//!
//! The engine never prints; it logs through `tracing` and hands results
//! back to the caller.

mod cache;
mod error;
mod executor;
mod footprint;
mod host;
pub mod options;
mod recorder;
mod run;
mod sandbox;
mod stop;
mod trace;
mod vu;

pub use error::{LoadError, RunError};
pub use host::{WIT_PACKAGE, WIT_VERSION};
pub use options::{
    ExecutionSegment, Executor, HttpOptions, Options, OptionsError, Plan, ScenarioPlan,
    SegmentError, SegmentSequence, Stage,
};
pub use recorder::{Live, Observer};
pub use run::{Report, Setup, Share, Teardown, Test, TestError};
pub use sandbox::ComponentFile;
pub use stop::{Stop, StopLevel, StopReason};
