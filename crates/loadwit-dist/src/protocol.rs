//! The messages of a distributed run, as protobuf.
//!
//! One bidirectional stream per agent, opened by the agent
//! (`loadwit.dist.v1.Fleet/Session`), carries the whole exchange:
//!
//! ```text
//! agent                          coordinator
//!   Hello{name}            ──▶
//!                          ◀──   Assign{hash, segment, options, env}
//!   NeedComponent          ──▶   (only when the hash is not cached)
//!                          ◀──   Component{wasm}
//!   Loaded                 ──▶   (every agent; then setup runs once)
//!                          ◀──   SetupData{data}
//!   Ready                  ──▶   (VUs made; every agent)
//!                          ◀──   Start{at}
//!   Delta{aggregate} ...   ──▶   (every interval)
//!                          ◀──   Stop{hard}   (abort, Ctrl-C, agent loss)
//!   Delta, Done            ──▶   (the last interval, then totals)
//! ```
//!
//! `Failed` ends an agent's part at any step with a reason; `Aborted`
//! says the scenario called `abort` on that agent. Aggregates travel
//! in `loadwit-metrics`' own encoding, opaque here.

/// What an agent sends.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AgentMessage {
    #[prost(oneof = "agent_message::Kind", tags = "1, 2, 3, 4, 5, 6, 7, 8")]
    pub kind: Option<agent_message::Kind>,
}

/// The kinds of [`AgentMessage`].
pub mod agent_message {
    /// One step of the agent's side of the exchange.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "1")]
        Hello(super::Hello),
        #[prost(message, tag = "2")]
        NeedComponent(super::NeedComponent),
        #[prost(message, tag = "3")]
        Loaded(super::Loaded),
        #[prost(message, tag = "4")]
        Ready(super::Ready),
        #[prost(message, tag = "5")]
        Delta(super::Delta),
        #[prost(message, tag = "6")]
        Aborted(super::Aborted),
        #[prost(message, tag = "7")]
        Done(super::Done),
        #[prost(message, tag = "8")]
        Failed(super::Failed),
    }
}

/// What the coordinator sends.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CoordinatorMessage {
    #[prost(oneof = "coordinator_message::Kind", tags = "1, 2, 3, 4, 5")]
    pub kind: Option<coordinator_message::Kind>,
}

/// The kinds of [`CoordinatorMessage`].
pub mod coordinator_message {
    /// One step of the coordinator's side of the exchange.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "1")]
        Assign(super::Assign),
        #[prost(message, tag = "2")]
        Component(super::Component),
        #[prost(message, tag = "3")]
        SetupData(super::SetupData),
        #[prost(message, tag = "4")]
        Start(super::Start),
        #[prost(message, tag = "5")]
        Stop(super::Stop),
    }
}

/// The agent's first message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Hello {
    /// How the agent is named in progress and the summary.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The agent's loadwit version; the coordinator refuses another.
    #[prost(string, tag = "2")]
    pub version: String,
}

/// The agent's share of the test.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Assign {
    /// The component's SHA-256, hex: agents cache components by it.
    #[prost(string, tag = "1")]
    pub component_hash: String,
    /// The component's file name, for messages.
    #[prost(string, tag = "2")]
    pub component_name: String,
    /// This agent's execution segment, as `--segment` takes it.
    #[prost(string, tag = "3")]
    pub segment: String,
    /// Every segment of the run, as `--segment-sequence` takes it.
    #[prost(string, tag = "4")]
    pub sequence: String,
    /// The resolved options, k6's JSON: the agent plans from them alone.
    #[prost(string, tag = "5")]
    pub options_json: String,
    /// What the scenario's env lookups see (`-e KEY=VALUE`).
    #[prost(map = "string, string", tag = "6")]
    pub env: std::collections::HashMap<String, String>,
    /// How often the agent sends a delta, in milliseconds.
    #[prost(uint64, tag = "7")]
    pub interval_ms: u64,
    /// Every threshold of the run, as `METRIC: EXPRESSION`. The
    /// coordinator judges them; an agent only records them in its result
    /// file, so `loadwit merge` of the agents' files judges the same.
    #[prost(string, repeated, tag = "8")]
    pub thresholds: Vec<String>,
}

/// The agent has no component with the assigned hash.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NeedComponent {}

/// The component's bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Component {
    #[prost(bytes = "vec", tag = "1")]
    pub wasm: Vec<u8>,
}

/// The agent loaded and compiled the component and planned its share.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Loaded {}

/// What the test's one `setup` returned.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetupData {
    #[prost(string, tag = "1")]
    pub data: String,
}

/// The agent made its VUs and waits for the start.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ready {}

/// When every agent starts, on the wall clock.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Start {
    /// Microseconds since the Unix epoch.
    #[prost(uint64, tag = "1")]
    pub unix_micros: u64,
}

/// Stop the share: gracefully (running iterations may finish) or now.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Stop {
    #[prost(bool, tag = "1")]
    pub hard: bool,
}

/// One interval of the agent's samples, folded.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Delta {
    /// The interval's aggregate, in `loadwit-metrics`' encoding.
    #[prost(bytes = "vec", tag = "1")]
    pub aggregate: Vec<u8>,
    /// The agent's process CPU use over the interval, as a fraction of
    /// all its cores (1.0 = every core busy); negative when unknown.
    #[prost(double, tag = "2")]
    pub cpu: f64,
    /// Time since the agent's run began, in milliseconds.
    #[prost(uint64, tag = "3")]
    pub elapsed_ms: u64,
    /// When the agent sent it, microseconds since the Unix epoch: the
    /// coordinator shows how far behind each agent's numbers arrive.
    #[prost(uint64, tag = "4")]
    pub sent_unix_micros: u64,
}

/// The scenario called `abort` on this agent.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Aborted {
    #[prost(string, tag = "1")]
    pub reason: String,
}

/// The agent's share ended; every delta has been sent before this.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Done {
    /// VUs the agent made.
    #[prost(uint64, tag = "1")]
    pub vus_max: u64,
    /// From the agent's start to its last iteration's end, milliseconds.
    #[prost(uint64, tag = "2")]
    pub elapsed_ms: u64,
}

/// The agent cannot go on.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Failed {
    #[prost(string, tag = "1")]
    pub message: String,
}

impl AgentMessage {
    /// Wraps one kind.
    pub fn new(kind: agent_message::Kind) -> Self {
        Self { kind: Some(kind) }
    }
}

impl CoordinatorMessage {
    /// Wraps one kind.
    pub fn new(kind: coordinator_message::Kind) -> Self {
        Self { kind: Some(kind) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn messages_survive_the_wire() {
        let sent = CoordinatorMessage::new(coordinator_message::Kind::Assign(Assign {
            component_hash: "ab".repeat(32),
            component_name: "shop.wasm".into(),
            segment: "1/3".into(),
            sequence: "0,1/3,2/3,1".into(),
            options_json: r#"{"vus":3}"#.into(),
            env: [("BASE_URL".to_string(), "http://127.0.0.1:1".to_string())].into(),
            interval_ms: 1000,
            thresholds: vec!["http_reqs: count>1".into()],
        }));
        let bytes = sent.encode_to_vec();
        assert_eq!(CoordinatorMessage::decode(bytes.as_slice()).unwrap(), sent);

        let sent = AgentMessage::new(agent_message::Kind::Delta(Delta {
            aggregate: vec![1, 2, 3],
            cpu: 0.5,
            elapsed_ms: 2_000,
            sent_unix_micros: 1_700_000_000_000_000,
        }));
        let bytes = sent.encode_to_vec();
        assert_eq!(AgentMessage::decode(bytes.as_slice()).unwrap(), sent);
    }
}
