//! The discrete-event engine: one thread, virtual time in ms, one event queue ordered by
//! (time, sequence), N nodes driven only through `Input`/`Output`, one disk per node,
//! simulated clients and a fault schedule.
//!
//! Invariants: nothing here reads a clock or iterates a HashMap; every random draw comes
//! from a ChaCha stream derived from the run seed and a fixed concern label, so adding a
//! client or a fault leaves every other stream's draws unchanged. Events at the same time
//! run in the order they were scheduled.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use keeper_core::config::Config;
use keeper_core::output::{DurableWrite, Mode};
use keeper_core::peer::PeerMsg;
use keeper_core::persist::Recovered;
use keeper_core::{ConnId, Input, Node, Output, PersistSeq, ServerId, Zxid};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::check::{self, Op, Recovery, Verdict};
use crate::client::Client;

mod faults;
mod members;
mod peers;
mod sessions;
mod triggers;
mod words;
use crate::disk::Disk;
use crate::history::Histories;
use crate::scenario::{parse_duration_ms, Action, Scenario};
use crate::trace::Trace;
use triggers::Step;

/// Virtual wall-clock epoch handed to nodes as `wall_ms` (2026-01-01T00:00:00Z).
pub const VIRTUAL_EPOCH_MS: u64 = 1_767_225_600_000;
/// How long a client waits before reconnecting after losing its connection.
const RECONNECT_MS: u64 = 100;

/// Events at one virtual instant beyond which a run is judged a livelock: far more than
/// any real burst (a 5-node cluster's election is a few hundred messages).
const LIVELOCK_EVENTS: u64 = 1_000_000;

/// A short description of an event for a livelock report (never a payload).
fn event_kind(ev: &Event) -> String {
    match ev {
        Event::ToPeer { from, to, msg, .. } => format!("{} from {from} to {to}", msg.kind()),
        Event::ToNode { node, .. } => format!("client input to node {node}"),
        Event::ToClient { client, .. } => format!("output to client {client}"),
        Event::Tick { node, .. } => format!("tick of node {node}"),
        Event::PeerDown { node, peer } => format!("peer {peer} down at node {node}"),
        _ => "a client or fault event".to_string(),
    }
}

/// What happens at one instant.
#[derive(Debug)]
enum Event {
    /// One tick of a node's clock; a tick of an earlier incarnation is dropped, so a
    /// restart at the instant of a crash does not leave two tick chains running.
    Tick {
        node: u64,
        incarnation: u64,
    },
    /// A client's message arriving at a node (dropped if the node incarnation changed).
    ToNode {
        node: u64,
        incarnation: u64,
        input: Input,
    },
    ToClient {
        client: u32,
        conn: u64,
        out: Output,
    },
    FsyncDone {
        node: u64,
        incarnation: u64,
        up_to: PersistSeq,
    },
    ClientOp {
        client: u32,
    },
    ClientReconnect {
        client: u32,
    },
    /// The client gives up on a handshake that has not completed on `conn`.
    ConnectTimeout {
        client: u32,
        conn: u64,
    },
    /// The client pings on `conn` so that an idle session does not expire.
    ClientPing {
        client: u32,
        conn: u64,
    },
    Fault {
        index: usize,
    },
    Unpause {
        node: u64,
    },
    SlowFsyncEnd {
        node: u64,
    },
    /// A message between servers, on connection `generation` of their pair.
    ToPeer {
        from: u64,
        to: u64,
        generation: u64,
        msg: PeerMsg,
    },
    /// `node` learns that its connection to `peer` broke.
    PeerDown {
        node: u64,
        peer: u64,
    },
    DiskFullEnd {
        node: u64,
    },
    /// A node taken down by a write that failed for lack of space starts again from its
    /// disk (see `storage_full`).
    Rebuild {
        node: u64,
    },
}

/// One simulated server.
struct SimNode {
    node: Option<Node>,
    incarnation: u64,
    paused: bool,
    /// Inputs that arrived while paused, delivered in order on unpause.
    stalled: Vec<Input>,
    disk: Disk,
    /// Tick rate multiplier for clock drift (1.0 = exact).
    drift: f64,
    /// Zxids appended in the current incarnation, less any a truncation removed (for the
    /// zxid checker).
    appended: Vec<Zxid>,
    crashed_at: Option<u64>,
    /// Writes not yet durable that `durable` triggers watch for, by persist seq.
    marks: Vec<(PersistSeq, Step)>,
    /// The highest zxid appended in this incarnation (or recovered at its start).
    high: Zxid,
}

/// The result of one run.
pub struct Summary {
    pub seed: u64,
    pub scenario: String,
    pub sim_ms: u64,
    pub events: u64,
    pub ops_completed: u64,
    pub ops_total: u64,
    pub verdicts: Vec<Verdict>,
    pub trace_hash: u64,
    /// Times from losing a leader (or the start) to the next established leader, in ms.
    pub elections_ms: Vec<u64>,
    /// Appends that re-grew a log over a suffix a truncation (TRUNC or SNAP) removed: the
    /// same incarnation appended a zxid at or below one it had appended before.
    pub regrown_appends: u64,
}

impl Summary {
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.failure.is_none())
    }
}

/// Bits of a queue key that hold the slot (below them, the sequence number).
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

/// The heap key of an event: time, then sequence (unique, so ties never reach the slot).
/// Sequences fit 40 bits (10^12 events) and slots 24 (16 million events pending at once).
fn queue_key(at: u64, seq: u64, slot: u32) -> u128 {
    assert!(seq < 1 << (64 - SLOT_BITS) && u64::from(slot) <= SLOT_MASK, "queue key overflow");
    (u128::from(at) << 64) | u128::from(seq << SLOT_BITS | u64::from(slot))
}

/// A simulation in progress.
pub struct Sim {
    sc: Scenario,
    seed: u64,
    now: u64,
    seq: u64,
    /// (time, sequence, slot) packed into one integer (`queue_key`): the order events run
    /// in, compared in one step; the event itself waits in `slots`.
    queue: BinaryHeap<Reverse<u128>>,
    /// Scheduled events by slot, so the heap moves three words, not an event; freed slots
    /// are reused (`free`), so a long run allocates no more than its busiest instant.
    slots: Vec<Option<Event>>,
    free: Vec<u32>,
    nodes: Vec<SimNode>,
    clients: Vec<Client>,
    net_rng: ChaCha8Rng,
    /// Last delivery time per (direction, conn): TCP keeps each connection FIFO.
    link_last: BTreeMap<(bool, u64), u64>,
    /// conn -> client.
    conns: BTreeMap<u64, u32>,
    next_conn: u64,
    history: Vec<Op>,
    logs: Vec<(u64, Vec<Zxid>)>,
    recoveries: Vec<Recovery>,
    latency_max_ms: u64,
    trace: Trace,
    processed: u64,
    /// Set when virtual time stopped advancing (see [`LIVELOCK_EVENTS`]): the run ends there.
    livelock: Option<String>,
    /// Events allowed at one instant before the run is judged a livelock.
    livelock_events: u64,
    peer_rng: ChaCha8Rng,
    links: BTreeMap<(u64, u64), peers::PeerLink>,
    /// Directed (from, to) pairs a partition cuts.
    cuts: std::collections::BTreeSet<(u64, u64)>,
    /// Last delivery time per directed server pair.
    peer_last: BTreeMap<(u64, u64), u64>,
    /// Each node's role as it last reported it.
    modes: Vec<Mode>,
    hist: Histories,
    leader_lost_at: Option<u64>,
    elections_ms: Vec<u64>,
    /// The current loss rate between servers (network.loss, changed by `loss` faults).
    loss: f64,
    /// What each session received, in order, for the watch-order checker.
    seen: Vec<check::Seen>,
    /// The first reply whose stats were newer than its header zxid (reads-within-header).
    ahead: Option<String>,
    /// Event-triggered faults and how far each has got.
    armed: Vec<triggers::Armed>,
    /// Triggered faults to run right after the current step: (fault index, emitting node).
    fire_queue: Vec<(usize, u64)>,
    /// The outputs of the input being delivered (kept to reuse its allocation).
    outs: Vec<Output>,
    /// Sessions whose clients walked away (`abandon` faults).
    abandoned: Vec<members::Abandoned>,
    /// Every closeSession transaction when first logged anywhere: zxid -> (ms, session).
    closes: BTreeMap<Zxid, (u64, i64)>,
    /// Every configuration a node activated: version -> its participants (some may never
    /// commit: a server going LOOKING adopts the newest one it logged).
    configs: BTreeMap<Zxid, Vec<u64>>,
    /// (node, from, to): while the node knew its disk was full (`to` is MAX while it lasts).
    full_windows: Vec<(u64, u64, u64)>,
    /// Appends of a zxid at or below one the same incarnation appended before.
    regrown: u64,
}

/// Derives an independent stream for one concern (`label`, `index`) from the run seed.
pub fn stream(seed: u64, label: u64, index: u64) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&label.to_le_bytes());
    s[16..24].copy_from_slice(&index.to_le_bytes());
    ChaCha8Rng::from_seed(s)
}
const STREAM_NETWORK: u64 = 1;
const STREAM_NODE: u64 = 2;
const STREAM_DISK: u64 = 3;
const STREAM_CLIENT: u64 = 4;
const STREAM_PEER: u64 = 5;

/// Draws uniformly from the inclusive range `[lo, hi]`.
pub fn between(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    lo + rng.next_u64() % (hi - lo + 1)
}

impl Sim {
    /// Builds a simulation of `sc` from `seed`; `trace` receives the JSON lines.
    pub fn new(sc: Scenario, seed: u64, trace: Trace) -> Sim {
        let nodes = (1..=sc.nodes)
            .map(|i| SimNode {
                node: None,
                incarnation: 0,
                paused: false,
                stalled: Vec::new(),
                disk: Disk::new(stream(seed, STREAM_DISK, i), sc.disk.fsync_ms, sc.disk.torn_tail),
                drift: sc.clock_drift.get(idx(i)).copied().unwrap_or(1.0),
                appended: Vec::new(),
                crashed_at: None,
                marks: Vec::new(),
                high: Zxid::ZERO,
            })
            .collect();
        let clients = (0..sc.workload.clients)
            .map(|c| Client::new(c, stream(seed, STREAM_CLIENT, u64::from(c))))
            .collect();
        let latency_max_ms = sc.network.latency_ms[1];
        let sc_nodes = sc.nodes;
        let sc_loss = sc.network.loss;
        Sim {
            net_rng: stream(seed, STREAM_NETWORK, 0),
            sc,
            seed,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            nodes,
            clients,
            link_last: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            history: Vec::new(),
            logs: Vec::new(),
            recoveries: Vec::new(),
            latency_max_ms,
            trace,
            processed: 0,
            livelock: None,
            livelock_events: LIVELOCK_EVENTS,
            peer_rng: stream(seed, STREAM_PEER, 0),
            links: BTreeMap::new(),
            cuts: Default::default(),
            peer_last: BTreeMap::new(),
            modes: vec![Mode::Standalone; sc_nodes as usize],
            hist: Histories::default(),
            leader_lost_at: (sc_nodes > 1).then_some(0),
            elections_ms: Vec::new(),
            loss: sc_loss,
            seen: Vec::new(),
            ahead: None,
            armed: Vec::new(),
            fire_queue: Vec::new(),
            outs: Vec::new(),
            abandoned: Vec::new(),
            closes: BTreeMap::new(),
            configs: BTreeMap::new(),
            full_windows: Vec::new(),
            regrown: 0,
        }
    }

    /// Lowers the livelock bound (tests show with it that the `time-advances` check fires).
    pub fn with_livelock_events(mut self, events: u64) -> Sim {
        self.livelock_events = events;
        self
    }

    /// Runs to the scenario's end and judges the run. A run whose virtual time stops
    /// advancing (more than [`LIVELOCK_EVENTS`] events at one instant, e.g. two servers
    /// answering each other's messages forever at zero latency) ends there and fails the
    /// `time-advances` check instead of hanging the swarm.
    pub fn run(mut self) -> Summary {
        let end = self.sc.duration_ms();
        let (seed, nodes, name) = (self.seed, self.sc.nodes, &self.sc.name);
        let run = format!("seed={seed} nodes={nodes} duration_ms={end} scenario={name}");
        self.trace.event(0, "run", &run);
        for i in 1..=self.sc.nodes {
            self.start_node(i, Recovered::default());
        }
        for (index, f) in self.sc.faults.clone().iter().enumerate() {
            if f.on.is_none() {
                let at = parse_duration_ms(&f.at).expect("validated");
                self.schedule(at, Event::Fault { index });
            }
        }
        self.arm_triggers();
        for c in 0..self.sc.workload.clients {
            self.schedule(0, Event::ClientReconnect { client: c });
        }
        let mut at_this_time = 0u64;
        while let Some(Reverse(key)) = self.queue.pop() {
            let (t, slot) = ((key >> 64) as u64, (key as u64 & SLOT_MASK) as u32);
            if t > end {
                break;
            }
            at_this_time = if t == self.now { at_this_time + 1 } else { 0 };
            if at_this_time > self.livelock_events {
                self.livelock = Some(format!(
                    "virtual time stopped at {t} ms: over {} events without time advancing \
                     (a message loop between servers?); last event {:?}",
                    self.livelock_events,
                    self.slots[slot as usize].as_ref().map(event_kind)
                ));
                break;
            }
            self.now = t;
            let ev = self.slots[slot as usize].take().expect("every queued slot has an event");
            self.free.push(slot);
            self.processed += 1;
            self.dispatch(ev);
            self.fire_triggered();
        }
        if self.livelock.is_none() {
            self.now = end;
        }
        self.finish()
    }

    fn schedule(&mut self, at: u64, ev: Event) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(ev);
                s
            }
            None => {
                self.slots.push(Some(ev));
                (self.slots.len() - 1) as u32
            }
        };
        self.queue.push(Reverse(queue_key(at, self.seq, slot)));
    }

    fn dispatch(&mut self, ev: Event) {
        match ev {
            Event::Tick { node, incarnation } => self.tick(node, incarnation),
            Event::ToNode { node, incarnation, input } => {
                let n = &self.nodes[idx(node)];
                if n.incarnation == incarnation && n.node.is_some() {
                    self.deliver(node, input);
                } else {
                    self.reset(input);
                }
            }
            Event::ToClient { client, conn, out } => self.client_recv(client, conn, out),
            Event::FsyncDone { node, incarnation, up_to } => {
                self.fsync_done(node, incarnation, up_to)
            }
            Event::ClientOp { client } => self.client_op(client),
            Event::ClientReconnect { client } => self.client_connect(client),
            Event::ConnectTimeout { client, conn } => self.connect_timeout(client, conn),
            Event::ClientPing { client, conn } => self.client_ping(client, conn),
            Event::Fault { index } => self.fault_on(index, None),
            Event::Unpause { node } => {
                let n = &mut self.nodes[idx(node)];
                n.paused = false;
                let stalled = std::mem::take(&mut n.stalled);
                self.trace.event_args(
                    self.now,
                    "unpause",
                    format_args!("node={node} inputs={}", stalled.len()),
                );
                for input in stalled {
                    self.deliver(node, input);
                }
            }
            Event::SlowFsyncEnd { node } => self.nodes[idx(node)].disk.extra_ms = 0,
            Event::ToPeer { from, to, generation, msg } => {
                self.peer_arrive(from, to, generation, msg)
            }
            Event::PeerDown { node, peer } => self.peer_down(node, peer),
            Event::DiskFullEnd { node } => self.space_back(node),
            Event::Rebuild { node } => self.rebuild(node),
        }
    }

    /// An fsync finished: the next one starts, `durable` triggers fire (before the node
    /// hears of it, so it cannot act on the write), and the node gets `Persisted`.
    fn fsync_done(&mut self, node: u64, incarnation: u64, up_to: PersistSeq) {
        let n = &mut self.nodes[idx(node)];
        if n.incarnation != incarnation || n.node.is_none() {
            return;
        }
        if n.disk.full {
            return self.storage_full(node);
        }
        if let Some((lat, seq)) = n.disk.fsync_done(up_to) {
            self.schedule(self.now + lat, Event::FsyncDone { node, incarnation, up_to: seq });
        }
        let n = &mut self.nodes[idx(node)];
        if !n.marks.is_empty() {
            let split = n.marks.partition_point(|(s, _)| *s <= up_to);
            let steps: Vec<(PersistSeq, Step)> = n.marks.drain(..split).collect();
            for (_, step) in steps {
                self.observed(step);
            }
            self.fire_triggered();
        }
        let n = &self.nodes[idx(node)];
        if n.incarnation == incarnation && n.node.is_some() {
            self.deliver(node, Input::Persisted { up_to });
        }
    }

    fn start_node(&mut self, id: u64, recovered: Recovered) {
        let mut config = Config::standalone(self.sc.tick_ms);
        config.server_id = ServerId(id);
        if let Some(n) = self.sc.snap_count {
            config.snap_count = n;
        }
        config.snapshot_slice_nodes = self.sc.snapshot_slice_nodes_for(self.seed);
        for name in &self.sc.planted {
            config.planted.enable(name).expect("validated when the scenario was loaded");
        }
        if self.sc.nodes > 1 {
            let mut ens = self.initial_ensemble(id);
            ens.init_limit_ticks = self.sc.init_limit;
            ens.sync_limit_ticks = self.sc.sync_limit;
            config.ensemble = Some(ens);
            if self.reconfigures() {
                config.reconfig_enabled = true;
                config.skip_acl = true;
            }
            config.min_session_timeout_ms =
                config.min_session_timeout_ms.min(self.sc.session_timeout_ms);
            config.max_session_timeout_ms =
                config.max_session_timeout_ms.max(self.sc.session_timeout_ms);
        }
        let seed = stream(self.seed, STREAM_NODE, id).next_u64();
        let n = &mut self.nodes[idx(id)];
        n.incarnation += 1;
        n.appended = recovered.log.iter().map(|r| r.header.zxid).collect();
        n.high = n.appended.iter().copied().max().unwrap_or(Zxid::ZERO);
        n.node = Some(Node::new(config, recovered, seed));
        n.crashed_at = None;
        self.trace.event_args(
            self.now,
            "start",
            format_args!("node={id} incarnation={}", n.incarnation),
        );
        let mut outs = Vec::new();
        if let Some(core) = self.nodes[idx(id)].node.as_mut() {
            while let Some(o) = core.poll() {
                outs.push(o);
            }
        }
        for o in outs {
            self.route(id, o);
        }
        self.schedule_tick(id);
    }

    fn schedule_tick(&mut self, node: u64) {
        let n = &self.nodes[idx(node)];
        let every = ((self.sc.tick_ms as f64) * n.drift).round().max(1.0) as u64;
        let incarnation = n.incarnation;
        self.schedule(self.now + every, Event::Tick { node, incarnation });
    }

    fn tick(&mut self, node: u64, incarnation: u64) {
        let n = &self.nodes[idx(node)];
        if n.node.is_none() || n.incarnation != incarnation {
            return; // crashed: its tick chain ends; restart starts a new one.
        }
        if !n.paused {
            self.deliver(node, Input::Tick { wall_ms: VIRTUAL_EPOCH_MS + self.now });
        }
        self.schedule_tick(node);
    }

    /// Hands one input to a node (or stalls it if paused) and routes every output.
    fn deliver(&mut self, node: u64, input: Input) {
        let n = &mut self.nodes[idx(node)];
        if n.node.is_none() {
            return;
        }
        if n.paused {
            n.stalled.push(input);
            return;
        }
        if !matches!(input, Input::Tick { .. }) {
            self.trace_in(node, &input);
        }
        // A reused buffer (a nested delivery, if any, finds it taken and starts its own).
        let mut outs = std::mem::take(&mut self.outs);
        let core = self.nodes[idx(node)].node.as_mut().expect("checked above");
        core.handle(input);
        while let Some(o) = core.poll() {
            outs.push(o);
        }
        for o in outs.drain(..) {
            self.route(node, o);
        }
        self.outs = outs;
    }

    fn route(&mut self, node: u64, out: Output) {
        self.trace_out(node, &out);
        match out {
            Output::Persist { seq, write } => {
                let n = &mut self.nodes[idx(node)];
                match &write {
                    DurableWrite::Append(r) => {
                        n.appended.push(r.header.zxid);
                        if r.header.zxid <= n.high {
                            self.regrown += 1; // appended again over a truncated suffix
                        }
                        n.high = n.high.max(r.header.zxid);
                        if matches!(r.txn, keeper_core::txn::Txn::CloseSession) {
                            let at = (self.now, r.header.session.0);
                            self.closes.entry(r.header.zxid).or_insert(at);
                        }
                    }
                    // A truncated suffix is gone: the log may grow past `to` again (seed 1749
                    // of the random swarm: a would-be leader truncated uncommitted 8:4..8:7,
                    // and the next leader, which had them, sent them back).
                    DurableWrite::Truncate { to } => n.appended.retain(|z| z <= to),
                    _ => {}
                }
                if !self.armed.is_empty() {
                    n.marks.push((seq, Step::durable(node, &write)));
                }
                if let Some(lat) = n.disk.write(seq, write) {
                    let inc = n.incarnation;
                    self.schedule(
                        self.now + lat,
                        Event::FsyncDone { node, incarnation: inc, up_to: seq },
                    );
                }
            }
            Output::Connected { conn, .. }
            | Output::Reply { conn, .. }
            | Output::Watch { conn, .. }
            | Output::Text { conn, .. }
            | Output::Close { conn } => {
                if let Some(&client) = self.conns.get(&conn.0) {
                    let at = self.link_time(false, conn.0);
                    self.schedule(at, Event::ToClient { client, conn: conn.0, out });
                }
            }
            Output::Role(m) => self.modes[idx(node)] = m,
            Output::Send { to, msg } => {
                if !self.armed.is_empty() && self.observed(Step::message("send", node, to.0, &msg))
                {
                    self.trace.event_args(
                        self.now,
                        "drop",
                        format_args!("from={node} to={to} {}", msg.kind()),
                    );
                    self.break_link(node, to.0);
                } else {
                    self.send_peer(node, to.0, msg)
                }
            }
            Output::Event(e) => {
                if !self.armed.is_empty() {
                    self.observed(Step::protocol(node, &e));
                }
                if let keeper_core::output::ProtocolEvent::Reconfigured { version } = e {
                    self.reconfigured(node, version);
                }
                self.observe(node, e)
            }
        }
    }

    /// Delivery time on one direction of a connection, never before the previous one (TCP).
    fn link_time(&mut self, to_node: bool, conn: u64) -> u64 {
        let [lo, _] = self.sc.network.latency_ms;
        let lat = between(&mut self.net_rng, lo, self.latency_max_ms.max(lo));
        let last = self.link_last.entry((to_node, conn)).or_insert(0);
        let at = (self.now + lat).max(*last);
        *last = at;
        at
    }

    fn send_to_node(&mut self, node: u64, conn: u64, input: Input) {
        if let Some(&c) = self.conns.get(&conn) {
            self.clients[c as usize].last_sent_ms = self.now;
        }
        let at = self.link_time(true, conn);
        let incarnation = self.nodes[idx(node)].incarnation;
        self.schedule(at, Event::ToNode { node, incarnation, input });
    }

    /// A client message reached a server that is down or restarted since the connection
    /// was made: as TCP answers with RST, the client sees its connection close.
    fn reset(&mut self, input: Input) {
        let conn = match input {
            Input::ClientOpen { conn, .. }
            | Input::ClientConnect { conn, .. }
            | Input::ClientRequest { conn, .. }
            | Input::ClientBadRequest { conn, .. }
            | Input::ClientFourLetter { conn, .. } => conn.0,
            Input::ClientClosed { .. }
            | Input::Tick { .. }
            | Input::Persisted { .. }
            | Input::DiskFull { .. }
            | Input::Peer { .. }
            | Input::PeerDown { .. } => return,
        };
        if let Some(&client) = self.conns.get(&conn) {
            let at = self.link_time(false, conn);
            self.schedule(
                at,
                Event::ToClient { client, conn, out: Output::Close { conn: ConnId(conn) } },
            );
        }
    }

    /// Runs fault `index`; `emitter` is the node whose event fired it, if a trigger did.
    fn fault_on(&mut self, index: usize, emitter: Option<u64>) {
        let mut f = self.sc.faults[index].clone();
        if let Some(role) = &f.role {
            let resolved = if role == "trigger" { emitter } else { self.resolve_role(role) };
            match resolved {
                Some(n) => f.node = n,
                None => {
                    self.trace.event_args(
                        self.now,
                        "fault",
                        format_args!("{:?} no {role}", f.action),
                    );
                    return;
                }
            }
        }
        self.trace.event_args(self.now, "fault", format_args!("{:?} node={}", f.action, f.node));
        let dur = f.duration.as_deref().map(|d| parse_duration_ms(d).expect("validated"));
        match f.action {
            Action::Crash => self.crash(f.node),
            Action::Restart => self.restart(f.node),
            Action::Pause => {
                self.nodes[idx(f.node)].paused = true;
                self.schedule(self.now + dur.unwrap_or(0), Event::Unpause { node: f.node });
            }
            Action::SlowFsync => {
                self.nodes[idx(f.node)].disk.extra_ms = f.ms.unwrap_or(100);
                self.schedule(self.now + dur.unwrap_or(0), Event::SlowFsyncEnd { node: f.node });
            }
            Action::Latency => self.latency_max_ms = f.ms.unwrap_or(self.sc.network.latency_ms[1]),
            Action::Loss => self.loss = f.rate.unwrap_or(0.0),
            Action::Partition | Action::OneWay | Action::Isolate | Action::Heal => {
                self.network_fault(&f)
            }
            Action::Corrupt => self.corrupt(f.node, f.record),
            Action::DiskFull => self.disk_full(f.node, dur.unwrap_or(0)),
            Action::Drop => {} // applied to the message when its trigger fired
            Action::Reconfig => self.reconfig(&f.add, &f.remove),
            Action::Abandon => self.abandon(f.client.expect("validated")),
        }
    }

    fn finish(mut self) -> Summary {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            self.logs.push((i as u64 + 1, std::mem::take(&mut n.appended)));
        }
        let last_fault = self.fault_ends().into_iter().max().unwrap_or(0);
        // A node that refused to start is a fault that never heals: nothing to judge.
        let last_fault = if self.refused_quorum() { self.now } else { last_fault };
        if self.sc.nodes > 1 {
            for op in &self.history {
                if let (true, Some(0), Some(z)) = (op.is_write, op.err, op.zxid) {
                    self.hist.committed(z);
                }
            }
        }
        let mut verdicts = vec![
            check::zxids_increase(&self.logs),
            check::acked_writes_durable(&self.history, &self.recoveries),
            check::recovery_matches_log(&self.recoveries),
            check::damage_never_applied(&self.recoveries),
            check::session_order(&self.history),
            check::watch_order(&self.seen),
            Verdict { name: "reads-within-header", failure: self.ahead.take() },
            check::liveness(
                &self.history,
                last_fault,
                self.now,
                self.sc.expect.liveness_ms,
                &self.unreliable_at_end(),
            ),
        ];
        if self.sc.nodes > 1 {
            verdicts.extend(self.hist.verdicts());
        }
        verdicts.push(self.abandoned_sessions_expire(last_fault));
        verdicts.push(self.full_refuses_writes());
        verdicts.push(Verdict { name: "time-advances", failure: self.livelock.take() });
        for v in &verdicts {
            let d = v.failure.as_deref().unwrap_or("ok");
            self.trace.event_args(self.now, "check", format_args!("{} {d}", v.name));
        }
        let ops_completed = self.history.iter().filter(|o| o.complete_ms.is_some()).count() as u64;
        Summary {
            seed: self.seed,
            scenario: self.sc.name.clone(),
            sim_ms: self.now,
            events: self.processed,
            ops_completed,
            ops_total: self.history.len() as u64,
            verdicts,
            trace_hash: self.trace.hash(),
            elections_ms: self.elections_ms,
            regrown_appends: self.regrown,
        }
    }
}

fn idx(node: u64) -> usize {
    (node - 1) as usize
}
