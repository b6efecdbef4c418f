//! The coordinator's view of its agents: who joined, where each one is
//! in the run, how healthy it looks, and what it sends, as events.
//!
//! Each agent's session gets a task that forwards what the agent sends
//! to one channel, so the coordinator's loop reads every agent from one
//! place and never blocks on a slow one.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use loadwit_dist::Session;
use loadwit_dist::protocol::agent_message::Kind as FromAgent;
use loadwit_dist::protocol::coordinator_message::Kind as ToAgent;
use loadwit_dist::protocol::{CoordinatorMessage, Delta, Done};
use loadwit_metrics::{Aggregate, Builtin, MetricValue, Sample, TagSet, format};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tonic::Status;

/// CPU use at or above which an agent is flagged as saturated: its own
/// slowness then shows up as the target's latency.
pub const SATURATED_CPU: f64 = 0.9;

/// Where one agent is in the run.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentState {
    Joined,
    Loaded,
    Ready,
    Running,
    Done,
    /// Its stream broke, it went silent or it failed; why.
    Lost(String),
}

/// What the coordinator knows of one agent's health.
#[derive(Debug, Default)]
pub struct Health {
    /// When its last delta arrived.
    pub last_delta: Option<Instant>,
    pub iterations: u64,
    pub dropped: u64,
    /// Its process's CPU use over its last interval, of all its cores.
    pub cpu: Option<f64>,
    /// How long its last delta took from the agent's clock to ours
    /// (transport and queueing, plus any clock offset).
    pub lag: Option<Duration>,
    pub vus_max: u64,
    pub elapsed: Duration,
    /// Its latest VU gauge readings (`vus`, `vus_max`) per tag set.
    pub vu_readings: HashMap<(Builtin, TagSet), f64>,
}

/// One agent of the fleet; its index is its segment's.
pub struct Agent {
    pub name: String,
    pub peer: String,
    outbound: Option<mpsc::Sender<Result<CoordinatorMessage, Status>>>,
    pub state: AgentState,
    /// When it last sent anything.
    pub last_heard: Instant,
    pub health: Health,
}

impl Agent {
    pub fn is_lost(&self) -> bool {
        matches!(self.state, AgentState::Lost(_))
    }

    /// Still part of the run: neither done nor lost.
    pub fn is_active(&self) -> bool {
        !self.is_lost() && self.state != AgentState::Done
    }
}

/// What arrives from one session.
enum Inbound {
    Message(FromAgent),
    Closed(String),
}

/// An event of the fleet, for the coordinator's loop.
pub enum Event {
    /// Agent `index` sent this.
    Message(usize, FromAgent),
    /// Agent `index`'s stream ended before it was done; why.
    Closed(usize, String),
}

/// Every agent of the run and the channels they speak through.
pub struct Fleet {
    pub agents: Vec<Agent>,
    sessions: mpsc::Receiver<Session>,
    inbound: mpsc::UnboundedReceiver<(usize, Inbound)>,
    inbound_tx: mpsc::UnboundedSender<(usize, Inbound)>,
    /// Sessions that said nothing yet: their outbound and peer.
    pending: HashMap<usize, (mpsc::Sender<Result<CoordinatorMessage, Status>>, String)>,
    /// Session id to agent index.
    joined: HashMap<usize, usize>,
    next_session: usize,
    wanted: usize,
}

/// Fewer agents joined than the run wants.
pub struct TooFew {
    pub joined: usize,
}

impl Fleet {
    /// Waits until `wanted` agents said hello on `sessions`, or `within`
    /// has passed.
    ///
    /// # Errors
    ///
    /// [`TooFew`] when time ran out first.
    pub async fn gather(
        sessions: mpsc::Receiver<Session>,
        wanted: usize,
        within: Duration,
    ) -> Result<Fleet, TooFew> {
        let (inbound_tx, inbound) = mpsc::unbounded_channel();
        let mut fleet = Fleet {
            agents: Vec::with_capacity(wanted),
            sessions,
            inbound,
            inbound_tx,
            pending: HashMap::new(),
            joined: HashMap::new(),
            next_session: 0,
            wanted,
        };
        let deadline = tokio::time::Instant::now() + within;
        while fleet.agents.len() < wanted {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(TooFew { joined: fleet.agents.len() });
                }
                Some(session) = fleet.sessions.recv() => fleet.accept(session),
                Some((session, inbound)) = fleet.inbound.recv() => fleet.admit(session, inbound),
            }
        }
        Ok(fleet)
    }

    /// Starts forwarding a new session's messages.
    fn accept(&mut self, session: Session) {
        let id = self.next_session;
        self.next_session += 1;
        let peer = session
            .peer
            .map_or_else(|| "unknown".to_string(), |p| p.to_string());
        tracing::debug!(%peer, "an agent connected");
        self.pending.insert(id, (session.outbound, peer));
        let forward = self.inbound_tx.clone();
        let mut stream = session.inbound;
        tokio::spawn(async move {
            loop {
                let inbound = match stream.message().await {
                    Ok(Some(message)) => match message.kind {
                        Some(kind) => Inbound::Message(kind),
                        None => continue,
                    },
                    Ok(None) => Inbound::Closed("its stream ended".into()),
                    Err(status) => {
                        Inbound::Closed(format!("its stream broke: {}", status.message()))
                    }
                };
                let closed = matches!(inbound, Inbound::Closed(_));
                if forward.send((id, inbound)).is_err() || closed {
                    return;
                }
            }
        });
    }

    /// Takes a pending session's hello: a new agent while the fleet
    /// wants more, a refusal otherwise.
    fn admit(&mut self, session: usize, inbound: Inbound) {
        let Some((outbound, peer)) = self.pending.remove(&session) else {
            return;
        };
        let Inbound::Message(FromAgent::Hello(hello)) = inbound else {
            return;
        };
        let ours = env!("CARGO_PKG_VERSION");
        let refusal = if hello.version != ours {
            Some(Status::failed_precondition(format!(
                "this coordinator is loadwit {ours} and the agent {}; run the same version on both",
                hello.version
            )))
        } else if self.agents.len() >= self.wanted {
            Some(Status::resource_exhausted(format!(
                "the run already has its {} agents",
                self.wanted
            )))
        } else {
            None
        };
        if let Some(status) = refusal {
            tracing::warn!(agent = %hello.name, %peer, reason = status.message(), "refused an agent");
            let _ = outbound.try_send(Err(status));
            return;
        }
        let index = self.agents.len();
        let name = if hello.name.is_empty() {
            format!("agent-{}", index + 1)
        } else {
            hello.name
        };
        eprintln!(
            "agent {name} joined from {peer} ({} of {})",
            index + 1,
            self.wanted
        );
        self.joined.insert(session, index);
        self.agents.push(Agent {
            name,
            peer,
            outbound: Some(outbound),
            state: AgentState::Joined,
            last_heard: Instant::now(),
            health: Health::default(),
        });
    }

    /// The next event from any agent; sessions opened now are refused.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is taken from a channel unless returned.
    pub async fn next(&mut self) -> Event {
        loop {
            tokio::select! {
                Some(session) = self.sessions.recv() => self.accept(session),
                Some((session, inbound)) = self.inbound.recv() => {
                    let Some(&index) = self.joined.get(&session) else {
                        self.admit(session, inbound);
                        continue;
                    };
                    self.agents[index].last_heard = Instant::now();
                    return match inbound {
                        Inbound::Message(kind) => Event::Message(index, kind),
                        Inbound::Closed(why) => Event::Closed(index, why),
                    };
                }
            }
        }
    }

    /// Sends `kind` to agent `index`; a failed send shows up as its
    /// stream closing.
    pub async fn send(&self, index: usize, kind: ToAgent) {
        if let Some(outbound) = &self.agents[index].outbound {
            let _ = outbound.send(Ok(CoordinatorMessage::new(kind))).await;
        }
    }

    /// Sends `kind` to every active agent.
    pub async fn broadcast(&self, kind: ToAgent) {
        for (index, agent) in self.agents.iter().enumerate() {
            if agent.is_active() {
                self.send(index, kind.clone()).await;
            }
        }
    }

    /// Ends the session of every agent still in one, each after what was
    /// already sent to it; returns how many there were.
    pub fn hang_up(&mut self) -> usize {
        self.agents
            .iter_mut()
            .filter_map(|agent| agent.outbound.take())
            .count()
    }

    /// Marks agent `index` lost; `false` if it already was, or was done.
    pub fn lose(&mut self, index: usize, why: String) -> bool {
        let agent = &mut self.agents[index];
        if !agent.is_active() {
            return false;
        }
        agent.state = AgentState::Lost(why);
        agent.outbound = None;
        true
    }

    /// Notes agent `index`'s latest VU gauge readings and returns the
    /// fleet's readings of the series they touched.
    pub fn note_vus(&mut self, index: usize, readings: Vec<(Builtin, TagSet, f64)>) -> Vec<Sample> {
        let latest = &mut self.agents[index].health.vu_readings;
        let mut touched = Vec::with_capacity(readings.len());
        for (metric, tags, value) in readings {
            latest.insert((metric, tags.clone()), value);
            touched.push((metric, tags));
        }
        self.vu_sums(touched)
    }

    /// Drops agent `index`'s VU readings, as its VUs are gone with it, and
    /// returns the fleet's readings without them.
    pub fn forget_vus(&mut self, index: usize) -> Vec<Sample> {
        let gone = std::mem::take(&mut self.agents[index].health.vu_readings);
        self.vu_sums(gone.into_keys().collect())
    }

    /// The fleet's reading of each VU gauge series: the sum of every
    /// agent's latest, so it does not depend on which agent spoke last.
    fn vu_sums(&self, series: Vec<(Builtin, TagSet)>) -> Vec<Sample> {
        series
            .into_iter()
            .map(|(metric, tags)| {
                let key = (metric, tags);
                let value = self
                    .agents
                    .iter()
                    .filter_map(|agent| agent.health.vu_readings.get(&key))
                    .sum();
                let (metric, tags) = key;
                Sample::Gauge {
                    metric,
                    tags,
                    value,
                }
            })
            .collect()
    }

    /// Records a delta's counts and the agent's CPU.
    pub fn note_delta(&mut self, index: usize, delta: &Delta, aggregate: &Aggregate) {
        let count = |metric| match aggregate.metric(metric) {
            Some(MetricValue::Counter { sum }) => sum as u64,
            _ => 0,
        };
        let health = &mut self.agents[index].health;
        health.last_delta = Some(Instant::now());
        health.iterations += count(Builtin::Iterations);
        health.dropped += count(Builtin::DroppedIterations);
        health.cpu = (delta.cpu >= 0.0).then_some(delta.cpu);
        health.lag = (delta.sent_unix_micros > 0).then(|| {
            let sent = loadwit_dist::from_unix_micros(delta.sent_unix_micros);
            SystemTime::now().duration_since(sent).unwrap_or_default()
        });
    }

    /// Marks agent `index` done; its session may close from now on.
    pub fn finish(&mut self, index: usize, done: &Done) {
        let agent = &mut self.agents[index];
        agent.state = AgentState::Done;
        agent.outbound = None;
        agent.health.vus_max = done.vus_max;
        agent.health.elapsed = Duration::from_millis(done.elapsed_ms);
    }

    /// How many agents are neither done nor lost.
    pub fn active(&self) -> usize {
        self.agents.iter().filter(|a| a.is_active()).count()
    }

    /// How many agents are lost.
    pub fn lost(&self) -> usize {
        self.agents.iter().filter(|a| a.is_lost()).count()
    }

    /// Whether every agent not lost has reached `state`.
    pub fn all_reached(&self, state: &AgentState) -> bool {
        self.agents
            .iter()
            .filter(|a| !a.is_lost())
            .all(|a| &a.state == state)
    }

    /// One line per agent for the live display.
    pub fn health_lines(&self) -> Vec<String> {
        let count = self.agents.len();
        let width = self.agents.iter().map(|a| a.name.len()).max().unwrap_or(0);
        self.agents
            .iter()
            .enumerate()
            .map(|(index, agent)| {
                let segment = format!("{}/{count}", index + 1);
                format!(
                    "  agent {:<width$} {segment:>5}  {}",
                    agent.name,
                    health_text(agent)
                )
            })
            .collect()
    }

    /// The `agents` key of the JSON summary.
    pub fn to_json(&self) -> Value {
        let count = self.agents.len();
        let agents: Vec<Value> = self
            .agents
            .iter()
            .enumerate()
            .map(|(index, agent)| {
                let (state, lost) = match &agent.state {
                    AgentState::Lost(why) => ("lost", Some(why.clone())),
                    AgentState::Done => ("done", None),
                    _ => ("unfinished", None),
                };
                json!({
                    "name": agent.name,
                    "peer": agent.peer,
                    "segment": format!("{}/{count}", index + 1),
                    "state": state,
                    "lost_reason": lost,
                    "iterations": agent.health.iterations,
                    "dropped_iterations": agent.health.dropped,
                    "vus_max": agent.health.vus_max,
                    "elapsed_ms": agent.health.elapsed.as_millis() as u64,
                    "cpu": agent.health.cpu,
                    "lag_ms": agent.health.lag.map(|lag| lag.as_secs_f64() * 1e3),
                })
            })
            .collect();
        Value::Array(agents)
    }
}

/// `1,234 iterations, 0 dropped, cpu 45%, lag 3ms, last delta 0.4s ago`,
/// or why the agent is lost.
fn health_text(agent: &Agent) -> String {
    let health = &agent.health;
    let state = match &agent.state {
        AgentState::Lost(why) => return format!("LOST: {why}"),
        AgentState::Done => "done".to_string(),
        AgentState::Running => match health.last_delta {
            Some(at) => format!(
                "last delta {} ago",
                format::format_duration(round_tenth(at.elapsed()))
            ),
            None => "no delta yet".to_string(),
        },
        other => format!("{other:?}").to_lowercase(),
    };
    let cpu = match health.cpu {
        Some(cpu) if cpu >= SATURATED_CPU => format!("cpu {:.0}% SATURATED", cpu * 100.0),
        Some(cpu) => format!("cpu {:.0}%", cpu * 100.0),
        None => "cpu -".to_string(),
    };
    let lag = match health.lag {
        Some(lag) => format!(", lag {}", format::format_duration(round_ms(lag))),
        None => String::new(),
    };
    format!(
        "{} iterations, {} dropped, {cpu}{lag}, {state}",
        format::format_count(health.iterations),
        format::format_count(health.dropped),
    )
}

/// To whole milliseconds, which is all a lag line needs.
fn round_ms(duration: Duration) -> Duration {
    Duration::from_millis(duration.as_millis() as u64)
}

/// Down to tenths of a second, so the line does not flicker.
fn round_tenth(duration: Duration) -> Duration {
    Duration::from_millis(duration.as_millis() as u64 / 100 * 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(state: AgentState, cpu: Option<f64>) -> Agent {
        Agent {
            name: "a1".into(),
            peer: "127.0.0.1:1".into(),
            outbound: None,
            state,
            last_heard: Instant::now(),
            health: Health {
                iterations: 1_234,
                dropped: 5,
                cpu,
                ..Health::default()
            },
        }
    }

    #[test]
    fn a_saturated_agent_is_flagged() {
        let busy = health_text(&agent(AgentState::Done, Some(0.95)));
        assert_eq!(busy, "1,234 iterations, 5 dropped, cpu 95% SATURATED, done");
        let mut late = agent(AgentState::Done, Some(0.5));
        late.health.lag = Some(Duration::from_micros(12_400));
        let late = health_text(&late);
        assert!(late.contains("cpu 50%, lag 12"), "{late}");
        let calm = health_text(&agent(AgentState::Done, Some(0.4)));
        assert_eq!(calm, "1,234 iterations, 5 dropped, cpu 40%, done");
    }

    #[test]
    fn a_lost_agent_says_why() {
        let lost = health_text(&agent(AgentState::Lost("its stream broke".into()), None));
        assert_eq!(lost, "LOST: its stream broke");
    }
}
