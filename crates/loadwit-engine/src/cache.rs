//! Compiled components, kept on disk between runs.
//!
//! Compiling a Python or JavaScript component takes Cranelift seconds; a
//! cached artifact loads in milliseconds. Entries are keyed by the wasm's
//! hash and the engine's compatibility hash, so a change of either misses.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiles `wasm`, or loads the artifact a previous run left.
///
/// # Errors
///
/// Returns the compiler's error when `wasm` does not compile. Cache
/// failures are logged and fall back to compiling.
pub(crate) fn compile(
    engine: &Engine,
    wasm: &[u8],
    dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        announce(wasm, "");
        return Component::new(engine, wasm);
    };
    let path = dir.join(format!("{}.cwasm", key(engine, wasm)));

    if path.exists() {
        // SAFETY: the file was written by `store` below from wasmtime's own
        // serialization, under a name that pins the engine configuration;
        // wasmtime rejects artifacts from other versions or settings.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                tracing::debug!(path = %path.display(), "compiled component loaded from cache");
                return Ok(component);
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring a stale cache entry")
            }
        }
    }

    announce(wasm, "; later runs load it from the cache");
    let started = std::time::Instant::now();
    let component = Component::new(engine, wasm)?;
    tracing::info!(elapsed = ?started.elapsed(), "component compiled");
    if let Err(error) = store(&component, dir, &path) {
        tracing::warn!(dir = %dir.display(), %error, "cannot cache the compiled component");
    }
    Ok(component)
}

/// Says a compile is starting, on the target the CLI shows by default:
/// a Python or JavaScript component takes seconds, which would otherwise
/// pass in silence.
fn announce(wasm: &[u8], then: &str) {
    let size = format!("{:.1} MiB", wasm.len() as f64 / (1024.0 * 1024.0));
    tracing::info!(target: "loadwit::progress", %size, "compiling the component{then}");
}

fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut engine_hash = DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let digest = Sha256::new()
        .chain_update(wasm)
        .chain_update(engine_hash.finish().to_le_bytes())
        .chain_update(env!("CARGO_PKG_VERSION"))
        .finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Writes atomically, so a concurrent run never reads half a file.
fn store(component: &Component, dir: &Path, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    let partial = path.with_extension(format!("{}.partial", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}
