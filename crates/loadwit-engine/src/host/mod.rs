//! What a virtual user's component sees: the `loadwit:scenario` imports.
//!
//! Each VU's [`wasmtime::Store`] holds one [`VuState`]. The generated
//! bindings call into it for HTTP, checks and run context; WASI p2 is
//! linked with a context that grants nothing but clocks, randomness and
//! stdout/stderr, which go to the host's log.

mod checks;
pub(crate) mod control;
mod groups;
mod guest_log;
mod http;
mod metrics;
mod runtime;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadwit_metrics::{CustomMetric, TagSet};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::recorder::Recorder;
use crate::trace::VuTrace;

pub(crate) use http::{HttpClient, HttpRun, TlsConfigs};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "scenario",
    imports: {
        "loadwit:scenario/http.send": async,
        "loadwit:scenario/http.batch": async,
        "loadwit:scenario/runtime.sleep": async,
        default: trappable,
    },
    exports: { default: async },
});

pub(crate) use exports_types::*;

/// Re-exported names the rest of the engine uses for the generated types.
mod exports_types {
    pub use super::Scenario as Bindings;
    pub use super::ScenarioPre as BindingsPre;
}

/// The WIT package and version this host implements.
pub const WIT_PACKAGE: &str = "loadwit:scenario";
pub const WIT_VERSION: &str = "0.2.0";

/// How long a guest may compute without a host call before it yields its
/// thread to other VUs.
const GUEST_SLICE: Duration = Duration::from_millis(10);

/// Everything one VU's store owns.
///
/// A VU keeps its state across iterations: its HTTP connections, its
/// iteration counter and its sample buffer. When an iteration traps, the
/// instance is replaced but this context moves to the new store, so the
/// VU's identity and connections survive.
pub(crate) struct VuState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) context: VuContext,
    /// What this instance declared and entered; a new instance starts
    /// afresh, as its guest memory does.
    guest: GuestState,
    /// When the guest last got control back from the host; the epoch
    /// callback measures guest compute time from here.
    pub(crate) guest_since: Instant,
}

/// A VU's identity and tools, independent of its instance.
pub(crate) struct VuContext {
    pub(crate) id: u32,
    pub(crate) scenario: Arc<str>,
    pub(crate) iteration: u64,
    pub(crate) env: Arc<BTreeMap<String, String>>,
    /// Tags on every sample this VU records (`scenario` and the scenario's
    /// own tags).
    pub(crate) tags: TagSet,
    pub(crate) http: HttpClient,
    pub(crate) recorder: Recorder,
    /// The running iteration's trace; off unless the run is traced.
    pub(crate) trace: VuTrace,
    /// How late the running iteration started against its schedule; set
    /// only by arrival-rate executors, so HTTP samples can also be
    /// measured from their intended start.
    pub(crate) lateness: Option<Duration>,
    /// What `setup` returned; empty until it has run.
    pub(crate) setup_data: Arc<str>,
}

impl VuState {
    pub(crate) fn new(context: VuContext) -> Self {
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(guest_log::GuestLog::stdout(context.id))
            .stderr(guest_log::GuestLog::stderr(context.id))
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            context,
            guest: GuestState::default(),
            guest_since: Instant::now(),
        }
    }

    /// The context for the VU's next instance, outside any group.
    pub(crate) fn into_context(mut self) -> VuContext {
        if let Some(outermost) = self.guest.groups.drain(..).next() {
            self.context.tags = outermost.outer;
        }
        self.context
    }

    /// Decides, at an epoch tick, whether the guest has run long enough
    /// without a host call to give its thread to other VUs.
    pub(crate) fn should_yield(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.guest_since) < GUEST_SLICE {
            return false;
        }
        self.guest_since = now;
        true
    }
}

/// Per-instance state of the guest API: declared metrics by handle, and
/// the groups the guest is inside, innermost last.
#[derive(Default)]
struct GuestState {
    metrics: Vec<Arc<CustomMetric>>,
    groups: Vec<groups::OpenGroup>,
}

/// The VU's tags with the guest's extra `tags` over them.
fn with_tags(base: &TagSet, tags: Vec<(String, String)>) -> TagSet {
    if tags.is_empty() {
        return base.clone();
    }
    let pairs = base.iter().map(|(k, v)| (k.to_owned(), v.to_owned()));
    TagSet::new(pairs.chain(tags))
}

impl WasiView for VuState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Adds the loadwit imports and a deny-all WASI p2 to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<VuState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    Bindings::add_to_linker::<VuState, HasSelf<VuState>>(linker, |state| state)
}

impl loadwit::scenario::types::Host for VuState {}
