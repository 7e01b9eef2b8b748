//! Scenario files: the cluster shape, workload, timed fault schedule and expectations of
//! one simulation, parsed from TOML (format in docs/scenarios.md).
//!
//! Invariant: a parsed `Scenario` has been validated (nodes named by faults exist, ranges
//! are ordered, durations parse), so the engine never has to reject one half-way.

use serde::{Deserialize, Serialize};

/// The built-in scenario, identical to scenarios/default.toml.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/default.toml");

/// The seed stream `snapshot_slice_nodes` is drawn from (engine streams are 1..=5, random
/// scenarios 100 and up).
const STREAM_SNAPSHOT_SLICE: u64 = 6;

/// One simulation's description.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default = "one")]
    pub nodes: u64,
    #[serde(default = "default_tick")]
    pub tick_ms: u64,
    #[serde(default = "default_session")]
    pub session_timeout_ms: i32,
    /// zoo.cfg's snapCount for every node (a snapshot after snapCount/2 + random(snapCount/2)
    /// txns); unset keeps ZooKeeper's 100000, i.e. no snapshots in a short run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap_count: Option<u64>,
    /// Nodes a snapshot writes per handled input (the core's `snapshot_slice_nodes`); unset
    /// draws it from the run seed: half the runs 1 to 8 (so snapshots stay under way across
    /// many inputs and the tree's copy-on-write path runs under faults), the rest the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_slice_nodes: Option<u64>,
    /// Known bugs every node runs with, by name (e.g. "reply-before-persist"); only in
    /// builds with the `planted-bugs` feature, to prove the checkers catch them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planted: Vec<String>,
    /// Simulated run length, e.g. "10s" or "1500ms".
    pub duration: String,
    /// Per-node tick-rate factor (node i uses entry i-1; missing entries are 1.0): 1.01
    /// means that node's ticks come 1% further apart, as a slow clock would make them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clock_drift: Vec<f64>,
    /// Which of the nodes are observers (non-voting learners); the rest are participants.
    /// With `nodes = 1` the node runs standalone, otherwise as an ensemble.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observers: Vec<u64>,
    /// zoo.cfg's initLimit and syncLimit, in ticks.
    #[serde(default = "default_init_limit")]
    pub init_limit: u64,
    #[serde(default = "default_sync_limit")]
    pub sync_limit: u64,
    /// The ensemble's members at the start (unset: every node). A node outside starts as a
    /// joining server would, its own configuration naming the members and itself, and votes
    /// or serves as a member only once a `reconfig` fault adds it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initial_members: Vec<u64>,
    #[serde(default)]
    pub workload: Workload,
    #[serde(default)]
    pub disk: Disk,
    #[serde(default)]
    pub network: Network,
    #[serde(default, rename = "fault", skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub expect: Expect,
}

/// Client sessions and what they send.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub clients: u32,
    pub ops_per_sec: u32,
    #[serde(default)]
    pub mix: Mix,
}

/// Relative weights of each operation kind.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub create: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub create_seq: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub create_eph: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub set: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delete: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub multi: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub get: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub children: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exists: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sync: u32,
}

/// Disk model: fsync latency range in ms, and whether a crash tears the last record.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    pub fsync_ms: [u64; 2],
    #[serde(default)]
    pub torn_tail: bool,
}

/// Client-to-node one-way latency range in ms.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub latency_ms: [u64; 2],
    /// Probability that a message between two servers is lost. As on TCP, a loss breaks
    /// the connection: nothing after it on that connection arrives, and both ends learn
    /// of the break when the connection is made again.
    #[serde(default)]
    pub loss: f64,
}

/// One scheduled fault.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// When the fault fires; for an event-triggered fault, when its trigger is armed.
    #[serde(default = "zero_ms")]
    pub at: String,
    pub action: Action,
    #[serde(default = "one")]
    pub node: u64,
    /// Instead of `node`, a role resolved when the fault fires: "leader" (the established
    /// leader), "follower" (a follower, the lowest id), "looking" (a node without a role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// For `partition`: groups of node ids that can reach only their own group. A node
    /// in no group still reaches every node (a bridge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Vec<u64>>,
    /// For `one_way`: messages from these nodes ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<u64>,
    /// ... to these nodes are lost (the other direction still works).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<u64>,
    /// For `loss`: the new probability that a message between servers is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// For `pause`: how long; for `slow_fsync` and `disk_full`: how long the condition lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// For `slow_fsync`: extra ms added to every fsync; for `latency`: the new range max.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// For `corrupt`: which durable log record to damage, counted back from the newest
    /// (1 = the newest); unset draws one from the disk's stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// For `reconfig`: nodes to add as participants ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<u64>,
    /// ... and nodes to remove from the ensemble.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<u64>,
    /// For `abandon`: which client (numbered from 0) walks away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<u32>,
    /// Fire on a protocol event instead of at a time: the first matching event at or after
    /// `at` (or its `count`-th) fires the fault right after the step that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Trigger>,
}

/// A protocol event that fires a fault (docs/scenarios.md, "Event-triggered faults").
/// Every key but `event` narrows the match; unset keys match anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// One of `Trigger::EVENTS`.
    pub event: String,
    /// The server the event happens on (any server if unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    /// For `send` / `receive`: the peer message kind (`proposal`, `commit`, `ack`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// For `send`: the recipient; for `receive`: the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<u64>,
    /// For a `proposal` or `inform` sent or received, or an `append` made durable: the
    /// transaction's kind (`Trigger::TXNS`), e.g. `close_session`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<String>,
    /// For `durable`: which write became durable (`append`, `snapshot`, `truncate`,
    /// `accepted_epoch`, `current_epoch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<String>,
    /// The zxid the event carries, as `"EPOCH:COUNTER"` (e.g. `"1:3"`) or hex `"0x100000003"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zxid: Option<String>,
    /// The epoch the event carries (established, accepted/current epoch, LEADERINFO,
    /// NEWLEADER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Fire on this many-th match (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Disarm the trigger after this instant (a duration like `at`); unset: to the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl Trigger {
    /// The events a trigger can name.
    pub const EVENTS: [&'static str; 9] = [
        "send",
        "receive",
        "durable",
        "established",
        "committed",
        "applied",
        "snapped",
        "recovered",
        "looking",
    ];
    /// The message kinds `msg` can name (`PeerMsg::kind`).
    pub const MSGS: [&'static str; 16] = [
        "vote",
        "learnerinfo",
        "leaderinfo",
        "ackepoch",
        "diff",
        "snap",
        "proposal",
        "commit",
        "inform",
        "newleader",
        "ack",
        "uptodate",
        "ping",
        "pong",
        "forward",
        "synced",
    ];
    /// The transaction kinds `txn` can name.
    pub const TXNS: [&'static str; 9] = [
        "create_session",
        "close_session",
        "create",
        "delete",
        "set_data",
        "set_acl",
        "check",
        "error",
        "multi",
    ];
    /// The writes `write` can name.
    pub const WRITES: [&'static str; 5] =
        ["append", "snapshot", "truncate", "accepted_epoch", "current_epoch"];

    /// When the trigger is disarmed, in ms (`u64::MAX` when it never is).
    pub fn until_ms(&self) -> u64 {
        self.until.as_deref().map_or(u64::MAX, |u| parse_duration_ms(u).expect("validated"))
    }
    /// The zxid to match, parsed.
    pub fn zxid_value(&self) -> Option<keeper_core::Zxid> {
        self.zxid.as_deref().map(|z| parse_zxid(z).expect("validated"))
    }

    fn validate(&self, nodes: u64) -> Result<(), String> {
        if !Self::EVENTS.contains(&self.event.as_str()) {
            return Err(format!(
                "unknown event {:?} (known: {})",
                self.event,
                Self::EVENTS.join(", ")
            ));
        }
        let is_msg = matches!(self.event.as_str(), "send" | "receive");
        if let Some(m) = &self.msg {
            if !is_msg || !Self::MSGS.contains(&m.as_str()) {
                return Err(format!(
                    "msg {m:?}: needs event send or receive and one of {}",
                    Self::MSGS.join(", ")
                ));
            }
        }
        if let Some(t) = &self.txn {
            if !matches!(self.event.as_str(), "send" | "receive" | "durable")
                || !Self::TXNS.contains(&t.as_str())
            {
                return Err(format!(
                    "txn {t:?}: needs event send, receive or durable and one of {}",
                    Self::TXNS.join(", ")
                ));
            }
        }
        if self.peer.is_some() && !is_msg {
            return Err("peer: only for event send or receive".into());
        }
        if let Some(w) = &self.write {
            if self.event != "durable" || !Self::WRITES.contains(&w.as_str()) {
                return Err(format!(
                    "write {w:?}: needs event durable and one of {}",
                    Self::WRITES.join(", ")
                ));
            }
        }
        for n in self.node.iter().chain(&self.peer) {
            if *n == 0 || *n > nodes {
                return Err(format!("no node {n}"));
            }
        }
        if let Some(z) = &self.zxid {
            parse_zxid(z)?;
        }
        if self.count == Some(0) {
            return Err("count counts from 1".into());
        }
        if let Some(u) = &self.until {
            parse_duration_ms(u)?;
        }
        Ok(())
    }
}

/// Parses a zxid written as `"EPOCH:COUNTER"` or as hex `"0x..."`.
pub fn parse_zxid(text: &str) -> Result<keeper_core::Zxid, String> {
    let bad = || format!("bad zxid {text:?} (write \"1:3\" or \"0x100000003\")");
    if let Some((e, c)) = text.split_once(':') {
        let e: u32 = e.trim().parse().map_err(|_| bad())?;
        let c: u32 = c.trim().parse().map_err(|_| bad())?;
        return Ok(keeper_core::Zxid::new(e, c));
    }
    let hex = text.trim().strip_prefix("0x").ok_or_else(bad)?;
    u64::from_str_radix(hex, 16).map(keeper_core::Zxid).map_err(|_| bad())
}

/// What a fault does. `Action::ALL` lists every kind, so that tools which draw or shrink
/// faults (sim/src/random.rs) cover a new kind as soon as it is added here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Crash,
    Restart,
    Pause,
    SlowFsync,
    Latency,
    /// Cut the network between `groups` (both directions).
    Partition,
    /// Cut messages `from` → `to` only.
    OneWay,
    /// Cut `node` (or the node `role` names) off from every other server, both ways.
    Isolate,
    /// Remove every cut.
    Heal,
    /// Set the loss rate between servers to `rate` from now on.
    Loss,
    /// Flip a byte inside one durable log record: recovery must catch it by checksum.
    Corrupt,
    /// The node's disk refuses writes for `duration`: its next fsync fails and, as the
    /// shell does, the node is rebuilt from its disk and told `DiskFull` until space returns.
    DiskFull,
    /// Lose the message a `send` or `receive` trigger matched; as any loss, it breaks that
    /// connection (TCP has no gaps).
    Drop,
    /// A client session sends a reconfig (`add` and `remove`) through the server it is
    /// connected to, as `zkCli.sh reconfig -add/-remove` would.
    Reconfig,
    /// Client `client` walks away without closing its session: it stops sending (no
    /// pings, no requests, no reconnects), so its session must expire.
    Abandon,
}

impl Action {
    /// Every fault kind, in declaration order.
    pub const ALL: [Action; 15] = [
        Action::Crash,
        Action::Restart,
        Action::Pause,
        Action::SlowFsync,
        Action::Latency,
        Action::Partition,
        Action::OneWay,
        Action::Isolate,
        Action::Heal,
        Action::Loss,
        Action::Corrupt,
        Action::DiskFull,
        Action::Drop,
        Action::Reconfig,
        Action::Abandon,
    ];
    /// True for kinds that last for the fault's `duration` (which is then required).
    pub fn has_duration(self) -> bool {
        match self {
            Action::Pause | Action::SlowFsync | Action::DiskFull => true,
            Action::Crash
            | Action::Restart
            | Action::Latency
            | Action::Partition
            | Action::OneWay
            | Action::Isolate
            | Action::Heal
            | Action::Loss
            | Action::Corrupt
            | Action::Drop
            | Action::Reconfig
            | Action::Abandon => false,
        }
    }
}

/// Expectations checked after the run.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// After the last fault, every pending op must complete within this many ms.
    pub liveness_ms: u64,
}

impl Default for Workload {
    fn default() -> Workload {
        Workload { clients: 1, ops_per_sec: 10, mix: Mix { create: 1, get: 1, ..Mix::default() } }
    }
}
impl Default for Disk {
    fn default() -> Disk {
        Disk { fsync_ms: [1, 5], torn_tail: false }
    }
}
impl Default for Network {
    fn default() -> Network {
        Network { latency_ms: [1, 3], loss: 0.0 }
    }
}
impl Default for Expect {
    fn default() -> Expect {
        Expect { liveness_ms: 10_000 }
    }
}

fn zero_ms() -> String {
    "0ms".into()
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn one() -> u64 {
    1
}
fn default_init_limit() -> u64 {
    10
}
fn default_sync_limit() -> u64 {
    5
}
fn default_tick() -> u64 {
    50
}
fn default_session() -> i32 {
    4000
}

impl Scenario {
    /// Parses and validates a scenario's TOML text.
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        s.validate()?;
        Ok(s)
    }
    /// The built-in default scenario.
    pub fn default_scenario() -> Scenario {
        Scenario::parse(DEFAULT_SCENARIO).expect("the built-in scenario is tested to parse")
    }
    /// The run length in ms.
    pub fn duration_ms(&self) -> u64 {
        parse_duration_ms(&self.duration).expect("validated")
    }
    /// The scenario as TOML text that `parse` reads back to an equal scenario.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario is plain data that TOML can hold")
    }
    /// When the last fault ends (its `at` plus any duration), in ms; 0 with no faults.
    pub fn last_fault_end_ms(&self) -> u64 {
        self.faults.iter().map(Fault::end_ms).max().unwrap_or(0)
    }
    /// `snapshot_slice_nodes`, or when unset one drawn from `seed` (its own stream, so no
    /// other draw moves): 1 to 8 in half the runs, the core's default in the rest.
    pub fn snapshot_slice_nodes_for(&self, seed: u64) -> usize {
        if let Some(n) = self.snapshot_slice_nodes {
            return n as usize;
        }
        let r = rand::Rng::next_u64(&mut crate::engine::stream(seed, STREAM_SNAPSHOT_SLICE, 0));
        if r.is_multiple_of(2) {
            1 + (r >> 1) as usize % 8
        } else {
            keeper_core::config::DEFAULT_SNAPSHOT_SLICE_NODES
        }
    }

    fn validate(&self) -> Result<(), String> {
        let mut planted = keeper_core::planted::PlantedBugs::default();
        for name in &self.planted {
            planted.enable(name)?;
        }
        if self.nodes == 0 {
            return Err("nodes must be at least 1".into());
        }
        if self.tick_ms == 0 {
            return Err("tick_ms must be positive".into());
        }
        if self.snapshot_slice_nodes == Some(0) {
            return Err("snapshot_slice_nodes must be at least 1".into());
        }
        parse_duration_ms(&self.duration)?;
        if self.clock_drift.len() as u64 > self.nodes {
            return Err("clock_drift has more entries than nodes".into());
        }
        if let Some(d) = self.clock_drift.iter().find(|d| !(**d > 0.0 && d.is_finite())) {
            return Err(format!("clock_drift {d} must be a positive factor"));
        }
        for (name, r) in
            [("disk.fsync_ms", self.disk.fsync_ms), ("network.latency_ms", self.network.latency_ms)]
        {
            if r[0] > r[1] {
                return Err(format!("{name}: min {} > max {}", r[0], r[1]));
            }
        }
        let total = self.workload.mix.weights().iter().sum::<u32>();
        if self.workload.clients > 0 && total == 0 {
            return Err("workload.mix: all weights are zero".into());
        }
        let exists = |n: &u64| *n >= 1 && *n <= self.nodes;
        if let Some(o) = self.observers.iter().find(|o| !exists(o)) {
            return Err(format!("observers: no node {o}"));
        }
        if self.nodes > 1 && self.observers.len() as u64 >= self.nodes {
            return Err("observers: an ensemble needs a participant".into());
        }
        if let Some(m) = self.initial_members.iter().find(|m| !exists(m)) {
            return Err(format!("initial_members: no node {m}"));
        }
        if !self.initial_members.is_empty() && self.nodes == 1 {
            return Err("initial_members: only for an ensemble (nodes > 1)".into());
        }
        if !(0.0..1.0).contains(&self.network.loss) {
            return Err(format!("network.loss {} must be in [0, 1)", self.network.loss));
        }
        for f in &self.faults {
            parse_duration_ms(&f.at)?;
            let named = f
                .groups
                .iter()
                .flatten()
                .chain(&f.from)
                .chain(&f.to)
                .chain(&f.add)
                .chain(&f.remove);
            if let Some(n) = named.clone().find(|n| !exists(n)) {
                return Err(format!("fault at {}: no node {n}", f.at));
            }
            if f.action == Action::Loss && !f.rate.is_some_and(|r| (0.0..1.0).contains(&r)) {
                return Err(format!("fault at {}: loss needs a rate in [0, 1)", f.at));
            }
            if let Some(r) = &f.role {
                if !matches!(r.as_str(), "leader" | "follower" | "looking" | "trigger") {
                    return Err(format!("fault at {}: unknown role {r:?}", f.at));
                }
            }
            if let Some(d) = &f.duration {
                parse_duration_ms(d)?;
            }
            if f.node == 0 || f.node > self.nodes {
                return Err(format!("fault at {}: no node {}", f.at, f.node));
            }
            if f.action.has_duration() && f.duration.is_none() {
                return Err(format!("fault at {}: {:?} needs a duration", f.at, f.action));
            }
            if f.action == Action::Reconfig
                && (self.nodes == 1 || f.add.is_empty() && f.remove.is_empty())
            {
                return Err(format!(
                    "fault at {}: reconfig needs an ensemble and nodes to add or remove",
                    f.at
                ));
            }
            if f.action == Action::Abandon && f.client.is_none_or(|c| c >= self.workload.clients) {
                return Err(format!("fault at {}: abandon needs an existing client", f.at));
            }
            if f.record == Some(0) {
                return Err(format!("fault at {}: record counts from 1 (the newest)", f.at));
            }
            if let Some(t) = &f.on {
                t.validate(self.nodes).map_err(|e| format!("fault at {}: on: {e}", f.at))?;
            }
            let drops_message =
                f.on.as_ref().is_some_and(|t| matches!(t.event.as_str(), "send" | "receive"));
            if f.action == Action::Drop && !drops_message {
                return Err(format!(
                    "fault at {}: drop needs on = {{ event = \"send\" or \"receive\", .. }}",
                    f.at
                ));
            }
            if f.role.as_deref() == Some("trigger") && f.on.is_none() {
                return Err(format!("fault at {}: role \"trigger\" needs an `on` event", f.at));
            }
        }
        Ok(())
    }
}

impl Fault {
    /// When the fault fires, in ms.
    pub fn at_ms(&self) -> u64 {
        parse_duration_ms(&self.at).expect("validated")
    }
    /// When the fault's effect ends: `at` plus its duration, if it has one.
    pub fn end_ms(&self) -> u64 {
        self.at_ms()
            + self.duration.as_deref().map_or(0, |d| parse_duration_ms(d).expect("validated"))
    }
}

impl Mix {
    /// The weights in a fixed order (the order `client::OpKind::ALL` uses).
    pub fn weights(&self) -> [u32; 10] {
        [
            self.create,
            self.create_seq,
            self.create_eph,
            self.set,
            self.delete,
            self.multi,
            self.get,
            self.children,
            self.exists,
            self.sync,
        ]
    }
    /// The weights in `weights` order, to change one by its index.
    pub fn weights_mut(&mut self) -> [&mut u32; 10] {
        [
            &mut self.create,
            &mut self.create_seq,
            &mut self.create_eph,
            &mut self.set,
            &mut self.delete,
            &mut self.multi,
            &mut self.get,
            &mut self.children,
            &mut self.exists,
            &mut self.sync,
        ]
    }
}

/// Parses "10s", "250ms", "2m" or a bare number of ms.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else {
        (t, 1)
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("bad duration {text:?}"))?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(format!("bad duration {text:?}"));
    }
    Ok((v * mult as f64).round() as u64)
}
