//! A virtual user: one store and one component instance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use loadwit_metrics::{Builtin, IterationOutcome, Sample, TagSet};
use wasmtime::Store;

use crate::error::RunError;
use crate::host::control::Aborted;
use crate::host::{Bindings, HttpClient, HttpRun, VuContext, VuState};
use crate::recorder::Recorder;
use crate::sandbox::Sandbox;
use crate::trace::VuTrace;

/// What every VU of one scenario is made from, before the start or (for
/// arrival-rate executors) during the run.
pub(crate) struct VuFactory {
    pub(crate) scenario: Arc<str>,
    pub(crate) env: Arc<BTreeMap<String, String>>,
    pub(crate) tags: TagSet,
    /// Ids are unique across the run's scenarios.
    pub(crate) next_id: Arc<AtomicU32>,
    /// Never records; VUs get siblings of it.
    pub(crate) recorder: Recorder,
    /// The run's HTTP settings and TLS configurations, shared by its VUs.
    pub(crate) http: Arc<HttpRun>,
    /// The run's tracer, cloned into every VU; `None` when off.
    pub(crate) tracing: Option<loadwit_otel::Tracing>,
    /// What `setup` returned, shared by every VU of the run.
    pub(crate) setup_data: Arc<str>,
}

impl VuFactory {
    pub(crate) async fn make(&self, sandbox: &Sandbox) -> Result<Vu, RunError> {
        let context = VuContext {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            scenario: self.scenario.clone(),
            iteration: 0,
            env: self.env.clone(),
            tags: self.tags.clone(),
            http: HttpClient::new(self.http.clone()),
            recorder: self.recorder.sibling(),
            trace: VuTrace::new(self.tracing.clone()),
            lateness: None,
            setup_data: self.setup_data.clone(),
        };
        Vu::new(sandbox, context).await
    }

    /// A recorder for the scenario's own samples (`dropped_iterations`).
    pub(crate) fn recorder(&self) -> Recorder {
        self.recorder.sibling()
    }
}

/// One VU. Its [`VuContext`] (identity, connections, samples) outlives any
/// one instance: after a trap the instance is replaced, the context kept.
pub(crate) struct Vu {
    store: Store<VuState>,
    bindings: Bindings,
}

/// How one iteration ended, as far as the VU's future is concerned.
pub(crate) enum Ended {
    /// The instance can run another iteration.
    Reusable,
    /// The guest trapped; the instance must be replaced.
    Trapped,
}

impl Vu {
    pub(crate) async fn new(sandbox: &Sandbox, context: VuContext) -> Result<Self, RunError> {
        let (store, bindings) = sandbox
            .instantiate(VuState::new(context))
            .await
            .map_err(|e| RunError::Instantiate(format!("{e:#}")))?;
        Ok(Self { store, bindings })
    }

    /// A fresh instance for this VU, keeping its context. The old instance
    /// is freed first so a full pool has room for the new one.
    pub(crate) async fn replace(self, sandbox: &Sandbox) -> Result<Self, RunError> {
        let context = self.store.into_data().into_context();
        Self::new(sandbox, context).await
    }

    pub(crate) fn context(&mut self) -> &mut VuContext {
        &mut self.store.data_mut().context
    }

    /// Runs one iteration of `exec` and records how it went. When it was
    /// due at `scheduled` (arrival-rate executors), its lateness is
    /// recorded too, and its HTTP samples are also measured from their
    /// intended start.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future mid-iteration leaves the instance unusable; the
    /// caller must then record the interruption with [`Vu::interrupted`]
    /// and drop the VU.
    pub(crate) async fn iterate(&mut self, exec: &str, scheduled: Option<Instant>) -> Ended {
        let started = Instant::now();
        if let Some(scheduled) = scheduled {
            let lateness = started.saturating_duration_since(scheduled);
            let context = self.context();
            context.lateness = Some(lateness);
            let tags = context.tags.clone();
            context.recorder.record(Sample::Trend {
                metric: Builtin::IterationLateness,
                tags,
                value: lateness,
            });
        }
        let context = self.context();
        let (id, iteration) = (context.id, context.iteration);
        context.trace.start(&context.scenario, id, iteration);
        self.store.data_mut().guest_since = started;
        let result = self.bindings.call_run(&mut self.store, exec).await;
        let duration = started.elapsed();

        let (outcome, ended) = match result {
            Ok(Ok(())) => (IterationOutcome::Completed, Ended::Reusable),
            Ok(Err(message)) => (IterationOutcome::Failed(message), Ended::Reusable),
            Err(trap) => (
                IterationOutcome::Failed(trap_message(&trap)),
                Ended::Trapped,
            ),
        };
        if let IterationOutcome::Failed(message) = &outcome {
            tracing::debug!(vu = self.context().id, %message, "iteration failed");
        }
        self.finish_iteration(duration, outcome);
        ended
    }

    /// Records an iteration cut short by a hard stop.
    pub(crate) fn interrupted(&mut self, started: Instant) {
        self.finish_iteration(started.elapsed(), IterationOutcome::Interrupted);
    }

    fn finish_iteration(&mut self, duration: std::time::Duration, outcome: IterationOutcome) {
        let context = self.context();
        context.trace.end(&outcome);
        let tags = context.tags.clone();
        context.recorder.record(Sample::Iteration {
            tags,
            duration,
            outcome,
        });
        context.iteration += 1;
        context.recorder.flush_if_due();
    }

    /// Calls `options`, `setup` or `teardown`: the exports a single
    /// instance runs outside the iteration loop.
    pub(crate) async fn call_options(&mut self) -> Result<String, RunError> {
        self.bindings
            .call_options(&mut self.store)
            .await
            .map_err(|trap| guest_error("options", &trap))
    }

    pub(crate) async fn call_setup(&mut self) -> Result<String, RunError> {
        self.context().trace.start_stage("setup");
        let result = self.bindings.call_setup(&mut self.store).await;
        self.end_control_trace(result.as_ref().map(|r| r.as_ref().map(|_| ())));
        self.context().recorder.flush();
        match result {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(message)) => Err(RunError::Guest {
                export: "setup",
                message,
            }),
            Err(trap) => Err(guest_error("setup", &trap)),
        }
    }

    pub(crate) async fn call_teardown(&mut self) -> Result<(), RunError> {
        self.context().trace.start_stage("teardown");
        let result = self.bindings.call_teardown(&mut self.store).await;
        self.end_control_trace(result.as_ref().map(|r| r.as_ref().map(|_| ())));
        self.context().recorder.flush();
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(RunError::Guest {
                export: "teardown",
                message,
            }),
            Err(trap) => Err(guest_error("teardown", &trap)),
        }
    }
}

impl Vu {
    /// Ends the trace of `setup` or `teardown` with how the call went.
    fn end_control_trace(&mut self, result: Result<Result<(), &String>, &wasmtime::Error>) {
        let outcome = match result {
            Ok(Ok(())) => IterationOutcome::Completed,
            Ok(Err(message)) => IterationOutcome::Failed(message.clone()),
            Err(trap) => IterationOutcome::Failed(format!("trap: {}", trap.root_cause())),
        };
        self.context().trace.end(&outcome);
    }
}

fn guest_error(export: &'static str, trap: &wasmtime::Error) -> RunError {
    if let Some(Aborted(reason)) = trap.downcast_ref::<Aborted>() {
        return RunError::Aborted {
            export,
            reason: reason.clone(),
        };
    }
    RunError::Guest {
        export,
        message: trap_message(trap),
    }
}

/// What trapped, without the wasm backtrace (which goes to the debug log):
/// the trap code when wasmtime raised one, else the innermost cause.
fn trap_message(trap: &wasmtime::Error) -> String {
    tracing::debug!(trap = format!("{trap:?}"), "guest trapped");
    match trap.downcast_ref::<wasmtime::Trap>() {
        Some(code) => code.to_string(),
        None => format!("trap: {}", trap.root_cause()),
    }
}
