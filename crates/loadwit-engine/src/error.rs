//! The engine's typed errors, one enum per stage of a run.

use std::path::PathBuf;

/// Why a component could not become a runnable scenario.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{path}`")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{path}` is not WebAssembly; pass a component built for `wasm32-wasip2`")]
    NotWasm { path: PathBuf },

    #[error(
        "`{path}` is a core WebAssembly module, not a component; build it for \
         `wasm32-wasip2` or wrap it with `wasm-tools component new`"
    )]
    CoreModule { path: PathBuf },

    #[error(
        "`{path}` was built for {found}, but this loadwit runs loadwit:scenario@{expected}; \
         rebuild it with this loadwit's SDK (`loadwit build`)"
    )]
    WrongVersion {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },

    #[error(
        "`{path}` is not a loadwit scenario: {detail}; build it for the `loadwit:scenario` world"
    )]
    WrongWorld { path: PathBuf, detail: String },

    #[error("`{path}` does not compile: {message}")]
    Compile { path: PathBuf, message: String },

    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
}

/// Why a run could not start or finish normally.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the component's `{export}` failed: {message}")]
    Guest {
        export: &'static str,
        message: String,
    },

    /// The scenario called `abort` in `export`: its own verdict on the
    /// test, not a failure of the component.
    #[error("the component's `{export}` aborted the test: {reason}")]
    Aborted {
        export: &'static str,
        reason: String,
    },

    #[error("cannot create a virtual user: {0}")]
    Instantiate(String),
}
