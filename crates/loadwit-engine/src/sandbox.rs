//! The wasmtime side of a run: engine settings, the compiled component,
//! and fresh VU instances on demand.
//!
//! A [`Sandbox`] compiles (or loads from cache) once and prepares an
//! `InstancePre`, so creating a VU is allocating a store and copying
//! nothing: memories start as copy-on-write images of the component's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use crate::cache;
use crate::error::LoadError;
use crate::footprint::Footprint;
use crate::host::{self, Bindings, BindingsPre, VuState, WIT_PACKAGE, WIT_VERSION};

/// How often the engine's epoch advances; a guest computing without host
/// calls is checked this often.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Address space each linear memory may use. 4 GiB per memory (the
/// default) exhausts the address space at a few thousand VUs.
const MEMORY_RESERVATION: u64 = 256 << 20;
const MEMORY_GUARD: u64 = 64 << 10;
const MAX_WASM_STACK: usize = 1 << 20;
const ASYNC_STACK: usize = 2 << 20;
const MIN_TABLE_ELEMENTS: u64 = 20_000;

/// A component read from disk and checked to be a component at all.
pub struct ComponentFile {
    pub path: PathBuf,
    pub wasm: Vec<u8>,
    footprint: Footprint,
    /// Where compiled artifacts are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

impl ComponentFile {
    /// Reads `path` and checks it holds a component, not a core module.
    ///
    /// # Errors
    ///
    /// [`LoadError::Read`], [`LoadError::NotWasm`] or
    /// [`LoadError::CoreModule`].
    pub fn read(path: &Path, cache_dir: Option<PathBuf>) -> Result<Self, LoadError> {
        let wasm = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let path = path.to_owned();
        if wasmparser::Parser::is_core_wasm(&wasm) {
            return Err(LoadError::CoreModule { path });
        }
        if !wasmparser::Parser::is_component(&wasm) {
            return Err(LoadError::NotWasm { path });
        }
        let footprint = Footprint::of(&wasm);
        Ok(Self {
            path,
            wasm,
            footprint,
            cache_dir,
        })
    }
}

/// A compiled scenario component and the engine that runs it.
pub(crate) struct Sandbox {
    engine: Engine,
    pre: BindingsPre<VuState>,
    ticker: Arc<AtomicBool>,
}

impl Sandbox {
    /// Compiles `file` for up to `instances` live instances at once.
    ///
    /// One instance uses the on-demand allocator (for `options`, `setup`
    /// and `teardown`); more use a pool sized from the component.
    pub(crate) fn new(file: &ComponentFile, instances: u32) -> Result<Self, LoadError> {
        let config = config(file.footprint, instances);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let component =
            cache::compile(&engine, &file.wasm, file.cache_dir.as_deref()).map_err(|e| {
                LoadError::Compile {
                    path: file.path.clone(),
                    message: compile_message(&e),
                }
            })?;
        check_world(&engine, &component, &file.path)?;

        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(BindingsPre::new)
            .map_err(|e| LoadError::WrongWorld {
                path: file.path.clone(),
                detail: format!("{e:#}"),
            })?;

        let ticker = Arc::new(AtomicBool::new(true));
        spawn_epoch_ticker(engine.clone(), ticker.clone());
        Ok(Self {
            engine,
            pre,
            ticker,
        })
    }

    /// A fresh instance holding `state`.
    pub(crate) async fn instantiate(
        &self,
        state: VuState,
    ) -> wasmtime::Result<(Store<VuState>, Bindings)> {
        let mut store = Store::new(&self.engine, state);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut store| {
            Ok(if store.data_mut().should_yield() {
                UpdateDeadline::Yield(1)
            } else {
                UpdateDeadline::Continue(1)
            })
        });
        let bindings = self.pre.instantiate_async(&mut store).await?;
        Ok((store, bindings))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

fn config(footprint: Footprint, instances: u32) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .concurrency_support(false)
        .epoch_interruption(true)
        .memory_reservation(MEMORY_RESERVATION)
        .memory_guard_size(MEMORY_GUARD)
        .memory_init_cow(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK);
    if instances > 1 {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(
            footprint, instances,
        )));
    }
    config
}

/// A pool with room for `instances` instances of a component shaped like
/// `footprint`, and nothing more.
fn pool(footprint: Footprint, instances: u32) -> PoolingAllocationConfig {
    let times = |per_instance: u32| per_instance.max(1).saturating_mul(instances);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(times(footprint.core_instances))
        .total_memories(times(footprint.memories))
        .total_tables(times(footprint.tables))
        .total_stacks(instances)
        .max_core_instances_per_component(footprint.core_instances.max(1))
        .max_memories_per_component(footprint.memories.max(1))
        .max_tables_per_component(footprint.tables.max(1))
        .max_memories_per_module(footprint.max_memories_per_module)
        .max_tables_per_module(footprint.max_tables_per_module)
        .table_elements(MIN_TABLE_ELEMENTS.max(footprint.max_table_elements * 2) as usize)
        .max_memory_size(MEMORY_RESERVATION as usize);
    pool
}

/// Advances the epoch so long-running guests reach their yield checks.
fn spawn_epoch_ticker(engine: Engine, running: Arc<AtomicBool>) {
    thread::Builder::new()
        .name("loadwit-epoch".into())
        .spawn(move || {
            while running.load(Ordering::Relaxed) {
                thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("the OS refused to start the epoch thread");
}

/// Checks the component imports this WIT version and exports the
/// scenario functions, with errors that say which part is off.
fn check_world(engine: &Engine, component: &Component, path: &Path) -> Result<(), LoadError> {
    let ty = component.component_type();
    let ours = format!("{WIT_PACKAGE}/");
    for (name, _) in ty.imports(engine) {
        let Some(rest) = name.strip_prefix(&ours) else {
            continue;
        };
        if let Some((_, version)) = rest.split_once('@')
            && version != WIT_VERSION
        {
            return Err(LoadError::WrongVersion {
                path: path.to_owned(),
                found: format!("{WIT_PACKAGE}@{version}"),
                expected: WIT_VERSION,
            });
        }
    }

    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    let missing: Vec<&str> = ["options", "setup", "run", "teardown"]
        .into_iter()
        .filter(|wanted| !exports.contains(wanted))
        .collect();
    if !missing.is_empty() {
        return Err(LoadError::WrongWorld {
            path: path.to_owned(),
            detail: format!("it does not export {}", missing.join(", ")),
        });
    }
    Ok(())
}

/// Compile errors about the component-model async ABI get a hint: this
/// host runs guests built with the synchronous ABI.
fn compile_message(error: &wasmtime::Error) -> String {
    let message = format!("{error:#}");
    if message.contains("async") {
        format!(
            "{message}; build the guest with the synchronous ABI (for example componentize-qjs `--sync`)"
        )
    } else {
        message
    }
}
