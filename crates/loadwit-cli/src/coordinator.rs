//! The coordinator's side of a distributed run, phase by phase: assign
//! shares, wait for agents to load, run `setup` once, wait for VUs,
//! start everyone at one instant, fold their deltas while evaluating
//! thresholds and drawing progress, then run `teardown` once.
//!
//! The fleet's [`Stop`] is the one decision point: an `abortOnFail`
//! threshold, a scenario's `abort`, Ctrl-C or an agent lost under
//! `--on-agent-loss abort` raise it, and every raise is sent to every
//! agent still running.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use clap::ValueEnum;
use loadwit_dist::protocol::agent_message::Kind as FromAgent;
use loadwit_dist::protocol::coordinator_message::Kind as ToAgent;
use loadwit_dist::protocol::{self, Delta};
use loadwit_engine::{Observer, Plan, RunError, SegmentSequence, Stop, StopLevel, Test, TestError};
use loadwit_metrics::{Aggregate, Sample};

use crate::fleet::{AgentState, Event, Fleet};
use crate::live::{LiveOutcome, Watch};
use crate::progress::Footer;

/// How far in the future the shared start is set, once every agent is
/// ready: room for the message to reach them all.
const START_MARGIN: Duration = Duration::from_secs(1);

/// How often the loop looks at the clock, the stop and silent agents
/// between agents' messages.
const POLL: Duration = Duration::from_millis(100);

/// How long agents stopped before the start get to hang up, so the stop
/// reaches them before this process exits and ends their sessions.
const DISMISS_WAIT: Duration = Duration::from_secs(5);

/// What the run does when an agent is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LossPolicy {
    /// Report it and go on with the other agents.
    Continue,
    /// Stop every agent and exit non-zero.
    Abort,
}

/// What every agent is handed: the component and the resolved test.
pub struct Assignment {
    pub wasm: Vec<u8>,
    pub hash: String,
    pub name: String,
    pub options_json: String,
    pub env: BTreeMap<String, String>,
    pub interval: Duration,
    /// Every threshold, as `METRIC: EXPRESSION`.
    pub thresholds: Vec<String>,
}

/// How the coordinator behaves.
pub struct Policy {
    pub on_loss: LossPolicy,
    /// A running agent silent this long is lost.
    pub agent_timeout: Duration,
    /// How long loading and making VUs may take on the agents.
    pub phase_timeout: Duration,
}

/// Why the coordinated run ended without running scenarios.
pub enum Halt {
    /// `setup` failed; what it recorded.
    Setup {
        error: RunError,
        aggregate: Box<Aggregate>,
    },
    /// Every agent was lost before the start.
    NoAgents,
    /// Another error of the coordinator's test.
    Test(TestError),
}

/// What the run leaves for the summary.
pub struct Ran {
    pub total: Aggregate,
    pub elapsed: Duration,
    pub vus_max: u64,
    pub teardown: Option<RunError>,
}

/// The coordinator of one run and its fleet.
pub struct Coordinator {
    pub fleet: Fleet,
    pub stop: Stop,
    policy: Policy,
    watch: Watch,
    outcome: Arc<Mutex<LiveOutcome>>,
    footer: Footer,
    total: Aggregate,
    current: Aggregate,
    /// The stop level last sent to the agents.
    sent: StopLevel,
    /// An agent was lost under `--on-agent-loss abort`.
    pub loss_abort: bool,
}

impl Coordinator {
    pub fn new(
        fleet: Fleet,
        stop: Stop,
        policy: Policy,
        (watch, outcome): (Watch, Arc<Mutex<LiveOutcome>>),
        footer: Footer,
    ) -> Self {
        Self {
            fleet,
            stop,
            policy,
            watch,
            outcome,
            footer,
            total: Aggregate::default(),
            current: Aggregate::default(),
            sent: StopLevel::Running,
            loss_abort: false,
        }
    }

    /// Runs the test across the fleet, from assignment to teardown.
    ///
    /// # Errors
    ///
    /// A [`Halt`] when nothing could run.
    pub async fn drive(
        &mut self,
        test: &Test,
        plan: &Plan,
        assignment: &Assignment,
    ) -> Result<Ran, Halt> {
        self.assign(assignment).await;
        self.await_state(AgentState::Loaded, "loaded the component", assignment)
            .await;
        self.ensure_agents()?;
        let setup = match test.setup(plan, &assignment.env).await {
            Ok(setup) => setup,
            Err(TestError::Setup { error, aggregate }) => {
                let why = match &error {
                    RunError::Aborted { reason, .. } => {
                        format!("the scenario aborted the test in `setup`: {reason}")
                    }
                    _ => "`setup` failed".to_owned(),
                };
                self.stop_all(&why).await;
                self.dismiss().await;
                return Err(Halt::Setup { error, aggregate });
            }
            Err(error) => {
                self.stop_all("the coordinator could not run `setup`").await;
                self.dismiss().await;
                return Err(Halt::Test(error));
            }
        };
        self.total.merge(&setup.aggregate);
        self.current.merge(&setup.aggregate);

        let data = protocol::SetupData {
            data: setup.data.clone(),
        };
        self.fleet.broadcast(ToAgent::SetupData(data)).await;
        self.await_state(AgentState::Ready, "made its VUs", assignment)
            .await;
        self.ensure_agents()?;

        let elapsed = self.run(assignment).await;
        let teardown = self.teardown(test, plan, assignment, &setup.data).await;
        // The watch ends after `teardown`, as a single run's does, so its
        // requests reach the outputs and the OTLP export too.
        self.footer.set(self.fleet.health_lines());
        self.watch.finish(&self.total, &self.current, elapsed);
        let vus_max = self.fleet.agents.iter().map(|a| a.health.vus_max).sum();
        Ok(Ran {
            total: std::mem::take(&mut self.total),
            elapsed,
            vus_max,
            teardown,
        })
    }

    /// Hands every agent its share: agent `i` of `N` runs the `i`-th of
    /// `N` equal segments.
    async fn assign(&self, assignment: &Assignment) {
        let count = self.fleet.agents.len();
        let sequence = SegmentSequence::even(count as u64);
        for (index, segment) in sequence.segments().enumerate() {
            let assign = protocol::Assign {
                component_hash: assignment.hash.clone(),
                component_name: assignment.name.clone(),
                segment: segment.to_string(),
                sequence: sequence.to_string(),
                options_json: assignment.options_json.clone(),
                env: assignment.env.clone().into_iter().collect(),
                interval_ms: assignment.interval.as_millis() as u64,
                thresholds: assignment.thresholds.clone(),
            };
            self.fleet.send(index, ToAgent::Assign(assign)).await;
        }
    }

    /// Waits until every agent not lost reached `state`; those that do
    /// not within the phase timeout are lost.
    async fn await_state(&mut self, state: AgentState, doing: &str, assignment: &Assignment) {
        let deadline = tokio::time::Instant::now() + self.policy.phase_timeout;
        let mut poll = tokio::time::interval(POLL);
        while !self.fleet.all_reached(&state) && self.stop.level() == StopLevel::Running {
            tokio::select! {
                event = self.fleet.next() => self.handle(event, assignment).await,
                _ = poll.tick() => self.sync_stop().await,
                _ = tokio::time::sleep_until(deadline) => {
                    let late: Vec<usize> = (0..self.fleet.agents.len())
                        .filter(|&i| {
                            let agent = &self.fleet.agents[i];
                            !agent.is_lost() && agent.state != state
                        })
                        .collect();
                    let why = format!(
                        "it had not {doing} after {}",
                        humantime::format_duration(self.policy.phase_timeout)
                    );
                    for index in late {
                        self.lose(index, why.clone()).await;
                    }
                }
            }
        }
        self.sync_stop().await;
    }

    /// After a stop before the start: ends every agent's session and
    /// waits, at most [`DISMISS_WAIT`], for them to hang up, so none
    /// mistakes this process's exit for the coordinator going away.
    async fn dismiss(&mut self) {
        let mut connected = self.fleet.hang_up();
        let deadline = tokio::time::Instant::now() + DISMISS_WAIT;
        while connected > 0 {
            tokio::select! {
                event = self.fleet.next() => {
                    if let Event::Closed(..) = event {
                        connected -= 1;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }

    /// Fails the run when no agent is left, or the run was stopped
    /// before it started.
    fn ensure_agents(&self) -> Result<(), Halt> {
        if self.fleet.agents.iter().all(|a| a.is_lost()) {
            return Err(Halt::NoAgents);
        }
        Ok(())
    }

    /// Starts every agent at one instant and folds their deltas until
    /// all are done or lost; returns the time since the start.
    async fn run(&mut self, assignment: &Assignment) -> Duration {
        if self.stop.level() != StopLevel::Running {
            self.dismiss().await;
            return Duration::ZERO;
        }
        let start_at = SystemTime::now() + START_MARGIN;
        let unix_micros = loadwit_dist::unix_micros(start_at);
        self.fleet
            .broadcast(ToAgent::Start(protocol::Start { unix_micros }))
            .await;
        for agent in &mut self.fleet.agents {
            if !agent.is_lost() {
                agent.state = AgentState::Running;
            }
        }
        let started = Instant::now() + START_MARGIN;
        let mut next_interval = started + assignment.interval;
        let mut poll = tokio::time::interval(POLL);
        while self.fleet.active() > 0 {
            tokio::select! {
                event = self.fleet.next() => self.handle(event, assignment).await,
                _ = poll.tick() => {
                    if Instant::now() >= next_interval {
                        next_interval += assignment.interval;
                        self.close_interval(started.elapsed());
                    }
                    self.lose_silent().await;
                    self.sync_stop().await;
                }
            }
        }
        Instant::now().saturating_duration_since(started)
    }

    /// Runs `teardown` once, unless the run was stopped hard.
    async fn teardown(
        &mut self,
        test: &Test,
        plan: &Plan,
        assignment: &Assignment,
        data: &str,
    ) -> Option<RunError> {
        if self.stop.level() == StopLevel::Hard {
            return None;
        }
        match test.teardown(plan, &assignment.env, data).await {
            Ok(teardown) => {
                self.total.merge(&teardown.aggregate);
                self.current.merge(&teardown.aggregate);
                teardown.error
            }
            Err(error) => {
                tracing::error!(%error, "the coordinator could not run `teardown`");
                None
            }
        }
    }

    /// Acts on one event from an agent.
    async fn handle(&mut self, event: Event, assignment: &Assignment) {
        let (index, kind) = match event {
            Event::Closed(index, why) => return self.lose(index, why).await,
            Event::Message(index, kind) => (index, kind),
        };
        match kind {
            FromAgent::NeedComponent(_) => {
                let component = protocol::Component {
                    wasm: assignment.wasm.clone(),
                };
                self.fleet.send(index, ToAgent::Component(component)).await;
            }
            FromAgent::Loaded(_) => self.fleet.agents[index].state = AgentState::Loaded,
            FromAgent::Ready(_) => self.fleet.agents[index].state = AgentState::Ready,
            FromAgent::Delta(delta) => self.fold(index, &delta).await,
            FromAgent::Aborted(aborted) => self.watch.aborted(&aborted.reason),
            FromAgent::Done(done) => self.fleet.finish(index, &done),
            FromAgent::Failed(failed) => self.lose(index, failed.message).await,
            FromAgent::Hello(_) => {}
        }
    }

    /// Folds one agent's interval into the fleet's totals.
    async fn fold(&mut self, index: usize, delta: &Delta) {
        match Aggregate::decode(&delta.aggregate) {
            Ok(mut aggregate) => {
                self.fleet.note_delta(index, delta, &aggregate);
                let readings = aggregate.take_vu_readings();
                self.total.merge(&aggregate);
                self.current.merge(&aggregate);
                let fleet_vus = self.fleet.note_vus(index, readings);
                self.record(&fleet_vus);
            }
            Err(error) => {
                let why = format!(
                    "it sent a delta that does not decode ({error}); \
                     run the same loadwit version everywhere"
                );
                self.lose(index, why).await;
            }
        }
    }

    /// Folds samples the coordinator made itself, such as the fleet's
    /// VU readings.
    fn record(&mut self, samples: &[Sample]) {
        for sample in samples {
            self.total.add(sample);
            self.current.add(sample);
        }
    }

    /// Closes an interval: progress and agent health drawn, thresholds
    /// evaluated on the fleet's totals.
    fn close_interval(&mut self, elapsed: Duration) {
        self.footer.set(self.fleet.health_lines());
        let current = std::mem::take(&mut self.current);
        self.watch.interval(&self.total, &current, elapsed);
    }

    /// Loses running agents that sent nothing for the agent timeout.
    async fn lose_silent(&mut self) {
        let timeout = self.policy.agent_timeout;
        let silent: Vec<usize> = (0..self.fleet.agents.len())
            .filter(|&i| {
                let agent = &self.fleet.agents[i];
                agent.state == AgentState::Running && agent.last_heard.elapsed() > timeout
            })
            .collect();
        for index in silent {
            let why = format!(
                "it sent nothing for {}",
                humantime::format_duration(timeout)
            );
            self.lose(index, why).await;
        }
    }

    /// Reports a lost agent in one line and applies the loss policy.
    async fn lose(&mut self, index: usize, why: String) {
        if !self.fleet.lose(index, why.clone()) {
            return;
        }
        let fleet_vus = self.fleet.forget_vus(index);
        self.record(&fleet_vus);
        let count = self.fleet.agents.len();
        let name = &self.fleet.agents[index].name;
        let next = match self.policy.on_loss {
            LossPolicy::Continue => format!(
                "continuing with {} of {count} agents",
                count - self.fleet.lost()
            ),
            LossPolicy::Abort => "stopping the test (`--on-agent-loss abort`)".to_string(),
        };
        eprintln!("agent {name} ({}/{count}) lost: {why}; {next}", index + 1);
        if self.policy.on_loss == LossPolicy::Abort {
            self.loss_abort = true;
            self.stop.stop_now(loadwit_engine::StopReason::Outside);
            self.sync_stop().await;
        }
    }

    /// Stops every agent now, before the start.
    async fn stop_all(&mut self, why: &str) {
        eprintln!("stopping all agents now: {why}");
        self.stop.stop_now(loadwit_engine::StopReason::Outside);
        self.sent = StopLevel::Hard;
        self.fleet
            .broadcast(ToAgent::Stop(protocol::Stop { hard: true }))
            .await;
    }

    /// Sends the fleet's stop level to every agent when it rose.
    async fn sync_stop(&mut self) {
        let level = self.stop.level();
        if level <= self.sent {
            return;
        }
        self.sent = level;
        let hard = level == StopLevel::Hard;
        let how = if hard { "now" } else { "gracefully" };
        eprintln!("stopping all agents {how}: {}", self.stop_reason());
        self.fleet
            .broadcast(ToAgent::Stop(protocol::Stop { hard }))
            .await;
    }

    fn stop_reason(&self) -> String {
        let outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(threshold) = &outcome.threshold_abort {
            return format!("threshold `{threshold}` failed and has abortOnFail");
        }
        if let Some(reason) = &outcome.scenario_abort {
            return format!("the scenario aborted the test: {reason}");
        }
        if self.loss_abort {
            return "an agent was lost".into();
        }
        "interrupted".into()
    }
}
