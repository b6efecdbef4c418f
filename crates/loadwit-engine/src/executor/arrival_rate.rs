//! The open loop behind `constant-arrival-rate` and
//! `ramping-arrival-rate`: iterations start when the schedule says, not
//! when a VU is done with the last one.
//!
//! One scheduler task owns the idle VUs. At each due time it hands the
//! iteration to an idle VU; with none idle and fewer than `maxVUs` alive,
//! a new VU is made in a task of its own (so instantiation never delays
//! the schedule) and runs the iteration once made; with none to be had,
//! the iteration waits for a VU for up to `maxLateness` (zero by default,
//! as k6) and is otherwise counted in `dropped_iterations`.
//!
//! Every iteration records how late it started against its schedule
//! (`iteration_lateness`), and its HTTP samples are also measured from
//! their intended start (`http_req_duration_corrected`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadwit_metrics::{Builtin, Sample, TagSet};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use super::{Timing, hard_cut, iterate_once, sleep_until_some};
use crate::options::{ScenarioPlan, VuBudget};
use crate::recorder::Recorder;
use crate::run::{ActiveVu, Shared};
use crate::vu::{Vu, VuFactory};

/// How often dropped iterations are handed to the aggregator.
const FLUSH_DROPS_EVERY: Duration = Duration::from_secs(1);

/// Due times of iterations, as offsets from the scenario's start, in
/// order.
pub(super) type DueTimes = Box<dyn Iterator<Item = Duration> + Send>;

/// An arrival-rate scenario's schedule and VU limits.
pub(super) struct OpenLoop {
    schedule: DueTimes,
    vus: VuBudget,
    max_lateness: Duration,
}

/// A VU of the scenario's pool; it counts as active while it exists.
struct PoolVu {
    vu: Vu,
    _active: ActiveVu,
}

/// What an iteration task hands back: the VU, or `None` when it was lost
/// (interrupted, or could not be made or replaced).
type Returned = Option<PoolVu>;

/// What every iteration task of the scenario needs.
struct Context {
    scenario: Arc<ScenarioPlan>,
    shared: Arc<Shared>,
    factory: VuFactory,
    hard_end: Instant,
    returned: mpsc::UnboundedSender<Returned>,
}

impl OpenLoop {
    pub(super) fn new(schedule: DueTimes, vus: VuBudget, max_lateness: Duration) -> Self {
        Self {
            schedule,
            vus,
            max_lateness,
        }
    }

    pub(super) async fn run(
        self,
        scenario: &Arc<ScenarioPlan>,
        vus: Vec<Vu>,
        factory: VuFactory,
        shared: &Arc<Shared>,
        timing: Timing,
    ) {
        let (returned, from_tasks) = mpsc::unbounded_channel();
        let drops = Drops::new(factory.recorder(), factory.tags.clone());
        let idle: Vec<PoolVu> = vus
            .into_iter()
            .map(|vu| PoolVu {
                vu,
                _active: shared.vus.activate(),
            })
            .collect();
        let context = Arc::new(Context {
            scenario: scenario.clone(),
            shared: shared.clone(),
            factory,
            hard_end: timing.hard_end,
            returned,
        });
        let mut scheduler = Scheduler {
            alive: idle.len() as u64,
            idle,
            queue: VecDeque::new(),
            tasks: JoinSet::new(),
            drops,
            max_vus: self.vus.max,
            max_lateness: self.max_lateness,
            context,
        };
        scheduler.run(self.schedule, timing, from_tasks).await;
    }
}

/// The scheduler's state; owned by its one task, so no locks.
struct Scheduler {
    idle: Vec<PoolVu>,
    /// VUs idle, busy or being made.
    alive: u64,
    /// Due times of iterations waiting for a VU, oldest first.
    queue: VecDeque<Instant>,
    tasks: JoinSet<()>,
    drops: Drops,
    max_vus: u64,
    max_lateness: Duration,
    context: Arc<Context>,
}

impl Scheduler {
    async fn run(
        &mut self,
        schedule: DueTimes,
        timing: Timing,
        mut from_tasks: mpsc::UnboundedReceiver<Returned>,
    ) {
        let mut stop = self.context.shared.stop.subscribe();
        let mut due_times = schedule
            .map(|offset| timing.start + offset)
            .take_while(|due| *due < timing.end);
        let mut next = due_times.next();
        loop {
            tokio::select! {
                biased;
                () = stop.stopping() => break,
                Some(returned) = from_tasks.recv() => self.take_back(returned),
                () = sleep_until_some(next) => {
                    if let Some(due) = next {
                        self.start(due);
                    }
                    next = due_times.next();
                }
                () = sleep_until(timing.end.into()), if next.is_none() => break,
            }
            if next.is_none() && self.queue.is_empty() {
                break;
            }
        }

        self.drops.add(self.queue.len() as u64);
        self.queue.clear();
        self.drops.flush();
        self.idle.clear();
        // Iterations still running finish (or are cut at the hard end);
        // what they hand back is simply dropped.
        drop(from_tasks);
        while self.tasks.join_next().await.is_some() {}
    }

    /// An iteration is due now.
    fn start(&mut self, due: Instant) {
        if let Some(vu) = self.idle.pop() {
            self.spawn_iteration(vu, due);
        } else if self.alive < self.max_vus {
            self.alive += 1;
            self.spawn_new_vu(due);
        } else if !self.max_lateness.is_zero() {
            self.expire_queue(Instant::now());
            self.queue.push_back(due);
        } else {
            self.drops.add(1);
        }
    }

    /// A task is done with its VU.
    fn take_back(&mut self, returned: Returned) {
        let Some(vu) = returned else {
            self.alive -= 1;
            return;
        };
        self.expire_queue(Instant::now());
        match self.queue.pop_front() {
            Some(due) => self.spawn_iteration(vu, due),
            None => self.idle.push(vu),
        }
    }

    /// Drops queued iterations that have waited longer than allowed.
    fn expire_queue(&mut self, now: Instant) {
        while let Some(&due) = self.queue.front() {
            if now.saturating_duration_since(due) <= self.max_lateness {
                break;
            }
            self.queue.pop_front();
            self.drops.add(1);
        }
    }

    fn spawn_iteration(&mut self, vu: PoolVu, due: Instant) {
        let context = self.context.clone();
        self.tasks.spawn(async move {
            let returned = iterate(&context, vu, due).await;
            let _ = context.returned.send(returned);
        });
    }

    fn spawn_new_vu(&mut self, due: Instant) {
        let context = self.context.clone();
        self.tasks.spawn(async move {
            let returned = match context.factory.make(&context.shared.sandbox).await {
                Ok(vu) => {
                    context.shared.vus.made();
                    let vu = PoolVu {
                        vu,
                        _active: context.shared.vus.activate(),
                    };
                    iterate(&context, vu, due).await
                }
                Err(error) => {
                    tracing::error!(%error, "cannot make a VU on demand");
                    None
                }
            };
            let _ = context.returned.send(returned);
        });
    }
}

async fn iterate(context: &Context, vu: PoolVu, due: Instant) -> Returned {
    let PoolVu { vu, _active } = vu;
    let mut stop = context.shared.stop.subscribe();
    let cut = hard_cut(context.hard_end, &mut stop);
    let vu = iterate_once(vu, &context.scenario, &context.shared, Some(due), cut).await?;
    Some(PoolVu { vu, _active })
}

/// `dropped_iterations`, counted by the scheduler and handed to the
/// aggregator about once a second.
struct Drops {
    recorder: Recorder,
    tags: TagSet,
    pending: u64,
    flushed_at: Instant,
}

impl Drops {
    fn new(recorder: Recorder, tags: TagSet) -> Self {
        Self {
            recorder,
            tags,
            pending: 0,
            flushed_at: Instant::now(),
        }
    }

    fn add(&mut self, count: u64) {
        self.pending += count;
        if self.flushed_at.elapsed() >= FLUSH_DROPS_EVERY {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.flushed_at = Instant::now();
        if self.pending == 0 {
            return;
        }
        self.recorder.record(Sample::Counter {
            metric: Builtin::DroppedIterations,
            tags: self.tags.clone(),
            value: self.pending as f64,
        });
        self.pending = 0;
        self.recorder.flush();
    }
}
