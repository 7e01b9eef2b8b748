//! The node: one keeper server's state machine (standalone today; the replicated roles
//! build on the same pipeline).
//!
//! Drive it like this: deliver one [`Input`] with [`Node::handle`], then call
//! [`Node::poll`] until it returns `None`, carrying out each [`Output`] in order. Persist
//! outputs must reach the disk in `seq` order; report durability with `Input::Persisted`.
//!
//! **Persist before promise.** A write is validated and applied to the in-memory tree at
//! once (so the next request validates against it, as ZooKeeper's outstanding-changes list
//! allows), and its log record leaves as `Persist { seq }`. Every client-visible output
//! emitted after that point (the write's reply, the watch events it fired, a later
//! session's connect response) is *held* until `Persisted` covers `seq` (and, in an
//! ensemble, the txn is committed). Held outputs are released strictly in the order they
//! were emitted, so no client ever observes state a crash could take back. A read is
//! answered at once, with the newest durable and committed zxid in its header, when its
//! connection has nothing held (per-connection FIFO) and no applied-but-not-yet-visible
//! txn touched a path its answer depends on (`visible.rs`); otherwise it is held like the
//! rest. Invariants checked after every input: `durable_seq <= last_seq`,
//! `last_append_seq <= last_seq`, held outputs are ordered by the seq they wait for, each
//! connection's held count matches the held queue, the visibility index is in zxid order
//! and ends at the tree's zxid, and every ephemeral's owner is a live session.

mod admin;
mod client;
mod disk_full;
mod four_letter;
mod leader;
mod learner;
mod quorum;
mod read_only;
mod reconfig;
mod visible;
mod writes;

pub use admin::{ConnectionView, ExpiryBucket, ServerView, WatchSummary, NO_ZXID};

use std::collections::{BTreeMap, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::acl::AuthContext;
use crate::config::Config;
use crate::ids::{ConnId, PersistSeq, SessionId, Zxid};
use crate::input::Input;
use crate::output::{DurableWrite, Mode, Output};
use crate::persist::Recovered;
use crate::session::SessionTable;
use crate::tree::DataTree;
use crate::txn::{Txn, TxnRecord};
use crate::watch::WatchManager;

/// Counters behind `srvr`, `stat` and `mntr` (ZooKeeper's `ServerStats`).
#[derive(Clone, Debug, Default)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    pub latency_total_ms: u64,
    pub latency_count: u64,
}

impl ServerStats {
    fn record_latency(&mut self, ms: u64) {
        if self.latency_count == 0 || ms < self.latency_min_ms {
            self.latency_min_ms = ms;
        }
        self.latency_max_ms = self.latency_max_ms.max(ms);
        self.latency_total_ms += ms;
        self.latency_count += 1;
    }
    /// Average latency in ms (0 when nothing was measured).
    pub fn latency_avg_ms(&self) -> f64 {
        if self.latency_count == 0 {
            0.0
        } else {
            self.latency_total_ms as f64 / self.latency_count as f64
        }
    }
}

/// Where a client connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Accepted; the ConnectRequest has not arrived.
    AwaitConnect,
    /// Handshake done (possibly still held behind the disk).
    Open,
    /// A Close was emitted; further input from it is ignored.
    Closing,
}

/// Per-connection state and counters (for `cons`).
#[derive(Clone, Debug)]
struct Conn {
    addr: String,
    phase: Phase,
    session: Option<SessionId>,
    auth: AuthContext,
    timeout_ms: i32,
    received: u64,
    sent: u64,
    last_op: &'static str,
    last_cxid: i32,
    last_zxid: Zxid,
    established_ms: u64,
    last_response_ms: u64,
    latency_min_ms: u64,
    latency_max_ms: u64,
    latency_total_ms: u64,
    latency_count: u64,
    /// The SASL exchange under way on this connection, if any.
    sasl: Option<Box<crate::sasl::DigestMd5Server>>,
    /// On a learner: requests of this connection with the leader.
    with_leader: usize,
    /// On a learner: `sync`s of this connection with the leader. A sync is a barrier:
    /// the leader answers it only after later proposals may already have committed, so
    /// nothing of the connection may be forwarded past it.
    syncs_with_leader: usize,
    /// On a learner: requests waiting behind those, in arrival order.
    queued: VecDeque<(crate::ids::Xid, crate::proto::Request, u64)>,
    /// Outputs for this connection in `held`: while any are, its reads wait behind them.
    held: usize,
}

/// An output waiting for the disk.
#[derive(Debug)]
struct Held {
    /// Released once `durable_seq >= wait_for` and `committed >= zxid`.
    wait_for: u64,
    zxid: Zxid,
    output: Output,
    /// When the request that caused it arrived, for latency statistics.
    arrived_ms: Option<u64>,
}

/// One keeper server, driven by inputs. See the module documentation.
pub struct Node {
    config: Config,
    rng: ChaCha8Rng,
    tree: DataTree,
    sessions: SessionTable,
    watches: WatchManager,
    conns: BTreeMap<ConnId, Conn>,
    now_tick: u64,
    wall_ms: u64,
    /// The zxid of the last transaction created (== the tree's last applied zxid).
    last_zxid: Zxid,
    /// Highest Persist seq emitted, highest emitted for a log append, highest durable.
    last_seq: u64,
    last_append_seq: u64,
    durable_seq: u64,
    held: VecDeque<Held>,
    /// Watch events held back behind the next reply (planted bug `watch-after-data`).
    late_watches: Vec<Output>,
    ready: VecDeque<Output>,
    txns_since_snapshot: u64,
    snapshot_after: u64,
    /// A snapshot began during the input being handled (which then wrote its first slice).
    snapshot_begun: bool,
    /// Whether an input other than a tick arrived since the last tick: a tick after a
    /// quiet interval writes more of a snapshot under way.
    busy_since_tick: bool,
    next_container_check_tick: u64,
    stats: ServerStats,
    mode: Mode,
    /// Everything up to this zxid is committed (a standalone node commits on apply).
    committed: Zxid,
    /// Election and Zab state; `None` when standalone.
    quorum: Option<quorum::Quorum>,
    /// The disk is full (`Input::DiskFull`): no transactions until it has room again.
    disk_full: bool,
    /// Applied transactions not yet durable and committed, and the paths they touched.
    visibility: visible::Visibility,
}

impl Node {
    /// Builds a node from its configuration and the state recovered from its disk (empty on
    /// a first start). `seed` feeds the node's own RNG (session-id entropy, snapshot jitter).
    pub fn new(config: Config, recovered: Recovered, seed: u64) -> Node {
        assert!(config.tick_ms > 0, "tickTime must be positive (zoo.cfg validation)");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let entropy = rand::Rng::next_u64(&mut rng);
        let mut sessions = SessionTable::new(config.server_id, entropy);
        let (mut tree, snap_zxid) = match recovered.snapshot {
            Some(s) => {
                for (id, timeout_ms) in &s.sessions {
                    sessions.add(*id, *timeout_ms, 0);
                }
                (s.tree, s.zxid)
            }
            None => (DataTree::new(), Zxid::ZERO),
        };
        let mut last_zxid = tree.last_zxid().max(snap_zxid);
        let mut window = VecDeque::new();
        for rec in &recovered.log {
            if rec.header.zxid <= last_zxid {
                continue; // already in the snapshot
            }
            tree.apply(rec);
            match &rec.txn {
                Txn::CreateSession { timeout_ms } => {
                    sessions.add(rec.header.session, *timeout_ms, 0)
                }
                Txn::CloseSession => {
                    sessions.remove(rec.header.session);
                }
                _ => {}
            }
            last_zxid = rec.header.zxid;
            if config.ensemble.is_some() {
                window.push_back(rec.clone());
            }
        }
        let quorum = config.ensemble.clone().map(|ens| {
            let accepted = recovered.epochs.accepted.unwrap_or(last_zxid.epoch());
            let current = recovered.epochs.current.unwrap_or(last_zxid.epoch());
            let mut q = quorum::Quorum::new(ens, config.server_id, accepted, current);
            q.last_logged = last_zxid;
            while window.len() > quorum::WINDOW {
                window.pop_front();
            }
            q.window_start = window.front().map_or(last_zxid, |r: &TxnRecord| {
                Zxid(r.header.zxid.0.saturating_sub(1)).max(snap_zxid)
            });
            q.window = window;
            q
        });
        let watches = WatchManager::with_limit(config.max_watch_bytes_per_session);
        let mut node = Node {
            config,
            rng,
            tree,
            sessions,
            watches,
            conns: BTreeMap::new(),
            now_tick: 0,
            wall_ms: 0,
            last_zxid,
            last_seq: 0,
            last_append_seq: 0,
            durable_seq: 0,
            held: VecDeque::new(),
            late_watches: Vec::new(),
            ready: VecDeque::new(),
            txns_since_snapshot: 0,
            snapshot_after: 0,
            snapshot_begun: false,
            busy_since_tick: false,
            next_container_check_tick: 0,
            stats: ServerStats::default(),
            mode: Mode::Standalone,
            committed: last_zxid,
            quorum,
            disk_full: false,
            visibility: visible::Visibility::new(last_zxid),
        };
        // Recovered sessions get a full timeout from now, as ZooKeeper restarts their clocks.
        let restored: Vec<(SessionId, i32)> = node.sessions.to_snapshot();
        for (id, timeout_ms) in restored {
            let deadline = node.deadline_for(timeout_ms);
            node.sessions.touch(id, deadline);
        }
        node.snapshot_after = node.draw_snapshot_threshold();
        node.next_container_check_tick = node.container_check_ticks();
        let digest = node.tree.digest();
        node.event(crate::output::ProtocolEvent::Recovered { zxid: last_zxid, digest });
        node.adopt_config_from_tree();
        if node.quorum.is_some() {
            node.start_looking();
        } else {
            node.ready.push_back(Output::Role(Mode::Standalone));
        }
        node.check_invariants();
        node
    }

    /// Delivers one input. Never blocks; problems become outputs.
    pub fn handle(&mut self, input: Input) {
        let tick = matches!(input, Input::Tick { .. });
        match input {
            Input::Tick { wall_ms } => self.on_tick(wall_ms),
            Input::ClientOpen { conn, addr } => self.on_client_open(conn, addr),
            Input::ClientConnect { conn, req } => self.on_client_connect(conn, req),
            Input::ClientRequest { conn, xid, req, wall_ms } => {
                self.wall_ms = self.wall_ms.max(wall_ms);
                self.on_client_request(conn, xid, req, wall_ms)
            }
            Input::ClientBadRequest { conn, xid, op } => self.on_bad_request(conn, xid, op),
            Input::ClientFourLetter { conn, cmd } => self.on_four_letter(conn, &cmd),
            Input::ClientClosed { conn } => self.on_client_closed(conn),
            Input::Persisted { up_to } => self.on_persisted(up_to),
            Input::Peer { from, msg } => self.on_peer(from, *msg),
            Input::PeerDown { id } => self.on_peer_down(id),
            Input::DiskFull { full } => self.on_disk_full(full),
        }
        // Every input writes one slice of a snapshot under way, a tick several, and a tick
        // after a quiet interval many: on an idle server ticks are all that arrive, and a
        // big tree would otherwise hold its half-built image for minutes.
        let busy = if tick {
            std::mem::take(&mut self.busy_since_tick)
        } else {
            self.busy_since_tick = true;
            true
        };
        if !std::mem::take(&mut self.snapshot_begun) {
            let slices = match (tick, busy) {
                (false, _) => 1,
                (true, true) => crate::config::SNAPSHOT_SLICES_PER_TICK,
                (true, false) => crate::config::SNAPSHOT_SLICES_PER_IDLE_TICK,
            };
            for _ in 0..slices {
                if self.tree.snapshot_in_progress().is_none() {
                    break;
                }
                self.snapshot_slice();
            }
        }
        self.check_invariants();
    }

    /// Drains one output; call until `None` after every `handle`.
    #[must_use]
    pub fn poll(&mut self) -> Option<Output> {
        self.ready.pop_front()
    }

    /// The node's role.
    pub fn mode(&self) -> Mode {
        self.mode
    }
    /// The zxid of the last transaction applied.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }
    /// The tree (read-only), for checkers and status.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }
    /// The session table (read-only), for checkers and status.
    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }
    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// Number of open client connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
    /// Outputs waiting for the disk (ZooKeeper's "outstanding requests").
    pub fn outstanding(&self) -> usize {
        self.held.len()
    }

    // ---- time ----

    fn on_tick(&mut self, wall_ms: u64) {
        self.now_tick += 1;
        self.wall_ms = self.wall_ms.max(wall_ms);
        if self.quorum.is_some() {
            self.quorum_tick();
        }
        // Only the node that makes transactions expires sessions and reaps containers, and
        // not while its disk is full (sessions outlive their timeout until it has room).
        if !self.makes_txns() || self.disk_full {
            return;
        }
        for id in self.sessions.take_expired(self.now_tick) {
            if self.can_propose() {
                self.expire_session(id);
            }
        }
        if self.now_tick >= self.next_container_check_tick && self.can_propose() {
            self.next_container_check_tick = self.now_tick + self.container_check_ticks();
            self.reap_containers();
        }
    }

    /// The tick by which a session with this timeout expires if not touched: the timeout
    /// in ticks, rounded up, plus the current partial tick (ZooKeeper's ExpiryQueue rounds
    /// deadlines up to the next tick boundary the same way).
    fn deadline_for(&self, timeout_ms: i32) -> u64 {
        let ticks = (timeout_ms.max(0) as u64).div_ceil(self.config.tick_ms);
        self.now_tick + ticks.max(1) + 1
    }

    fn container_check_ticks(&self) -> u64 {
        self.config.container_check_interval_ms.div_ceil(self.config.tick_ms).max(1)
    }

    fn draw_snapshot_threshold(&mut self) -> u64 {
        let half = (self.config.snap_count / 2).max(1);
        half + rand::Rng::next_u64(&mut self.rng) % half
    }

    // ---- persistence and the held queue ----

    fn next_zxid(&mut self) -> Zxid {
        let epoch = self.quorum.as_ref().map_or(0, |q| q.current_epoch);
        self.last_zxid = if self.last_zxid.epoch() < epoch {
            Zxid::new(epoch, 1) // a new epoch's first transaction
        } else {
            assert!(self.last_zxid.counter() < u32::MAX, "zxid counter exhausted");
            Zxid(self.last_zxid.0 + 1)
        };
        self.last_zxid
    }

    /// Emits a durable write that is not a log append (epochs, snapshots, truncation) and
    /// returns its seq.
    fn persist_other(&mut self, write: DurableWrite) -> u64 {
        self.last_seq += 1;
        self.ready.push_back(Output::Persist { seq: PersistSeq(self.last_seq), write });
        self.last_seq
    }

    /// Emits a log append and returns its seq.
    fn persist_append(&mut self, rec: TxnRecord) -> u64 {
        self.last_seq += 1;
        self.last_append_seq = self.last_seq;
        self.ready.push_back(Output::Persist {
            seq: PersistSeq(self.last_seq),
            write: DurableWrite::Append(rec),
        });
        self.txns_since_snapshot += 1;
        self.last_append_seq
    }

    /// Releases held outputs whose writes are durable and committed, in order.
    fn release_ready(&mut self) {
        self.settle();
        while self
            .held
            .front()
            .is_some_and(|h| h.wait_for <= self.durable_seq && h.zxid <= self.committed)
        {
            let h = self.held.pop_front().expect("front exists");
            if let Some(c) = h.output.client_conn().and_then(|id| self.conns.get_mut(&id)) {
                c.held = c.held.saturating_sub(1);
            }
            self.release(h.output, h.arrived_ms);
        }
    }

    /// Drops every held output (the node left its role; its connections are closing).
    fn clear_held(&mut self) {
        self.held.clear();
        for c in self.conns.values_mut() {
            c.held = 0;
        }
    }

    /// Starts a snapshot of the state as of `last_zxid` and writes its first slice; the rest
    /// follow one slice per handled input (`snapshot_slice`), while the tree saves what the
    /// snapshot still needs before any change (`tree::cow`), so the image is exactly the
    /// state at the label. Called only after the txn with that zxid is applied: recovery
    /// skips every logged record up to the label, so a snapshot taken before applying its
    /// own label's txn would lose that txn (found by the kill -9 restart test). While one is
    /// under way a second is not started: the counter keeps counting, so the next apply
    /// after it is done starts another if one is due by then.
    pub(super) fn take_snapshot(&mut self) {
        assert_eq!(
            self.tree.last_zxid(),
            self.last_zxid,
            "a snapshot holds the state it is labelled with"
        );
        if self.tree.snapshot_in_progress().is_some() || self.disk_full {
            return;
        }
        self.txns_since_snapshot = 0;
        self.snapshot_after = self.draw_snapshot_threshold();
        let sessions = self.sessions.to_snapshot();
        crate::persist::begin_snapshot(&mut self.tree, &sessions);
        self.snapshot_begun = true;
        self.snapshot_slice();
    }

    /// Writes the next slice of the snapshot under way, if any, and emits it once done
    /// (a Persist after the appends of every txn applied meanwhile, which recovery replays
    /// over it as it would over a one-shot snapshot at the label).
    fn snapshot_slice(&mut self) {
        if self.disk_full {
            return;
        }
        let nodes = self.config.snapshot_slice_nodes;
        let bytes = crate::config::SNAPSHOT_SLICE_BYTES;
        if let Some((zxid, image)) = crate::persist::advance_snapshot(&mut self.tree, nodes, bytes)
        {
            self.persist_other(DurableWrite::Snapshot { zxid, image: image.into() });
        }
    }

    /// Drops the snapshot under way, if any (the node leaves its role: a snapshot is only an
    /// optimisation of recovery, the log holds everything).
    pub(super) fn abandon_snapshot(&mut self) {
        self.tree.abandon_snapshot();
    }

    /// Queues a client-visible output behind every log append emitted so far.
    fn emit(&mut self, output: Output, arrived_ms: Option<u64>) {
        if self.config.planted.watches_after_data() {
            match output {
                Output::Watch { .. } => return self.late_watches.push(output),
                Output::Reply { .. } => {
                    self.emit_now(output, arrived_ms);
                    for w in std::mem::take(&mut self.late_watches) {
                        self.emit_now(w, None);
                    }
                    return;
                }
                _ => {}
            }
        }
        self.emit_now(output, arrived_ms)
    }

    fn emit_now(&mut self, output: Output, arrived_ms: Option<u64>) {
        let skip = self.config.planted.replies_skip_disk();
        let durable = self.durable_seq >= self.last_append_seq || skip;
        let zxid = if skip { Zxid::ZERO } else { self.last_zxid };
        if self.held.is_empty() && durable && self.committed >= zxid {
            self.release(output, arrived_ms);
        } else {
            let wait_for = if skip { 0 } else { self.last_append_seq };
            if let Some(c) = output.client_conn().and_then(|id| self.conns.get_mut(&id)) {
                c.held += 1;
            }
            self.held.push_back(Held { wait_for, zxid, output, arrived_ms });
        }
    }

    fn on_persisted(&mut self, up_to: PersistSeq) {
        assert!(
            up_to.0 <= self.last_seq,
            "Persisted {up_to} beyond the last write {}",
            self.last_seq
        );
        if up_to.0 <= self.durable_seq {
            return;
        }
        self.durable_seq = up_to.0;
        let role = self.quorum.as_ref().map(|q| match q.role {
            quorum::Role::Leading(_) => 1,
            quorum::Role::Learning(_) => 2,
            quorum::Role::Looking => 0,
        });
        match role {
            Some(1) => self.leader_on_persisted(),
            Some(2) => self.learner_on_persisted(),
            _ => {}
        }
        self.release_ready();
    }

    /// Hands an output to the driver, counting it.
    fn release(&mut self, output: Output, arrived_ms: Option<u64>) {
        let now = self.wall_ms;
        match &output {
            Output::Reply { conn, xid, zxid, .. } => {
                self.stats.packets_sent += 1;
                let latency_ms = arrived_ms.map(|arrived| now.saturating_sub(arrived));
                if let Some(ms) = latency_ms {
                    self.stats.record_latency(ms);
                }
                // One lookup of the connection per reply.
                if let Some(c) = self.conns.get_mut(conn) {
                    if let Some(ms) = latency_ms {
                        c.latency_min_ms =
                            if c.latency_count == 0 { ms } else { c.latency_min_ms.min(ms) };
                        c.latency_max_ms = c.latency_max_ms.max(ms);
                        c.latency_total_ms += ms;
                        c.latency_count += 1;
                    }
                    c.sent += 1;
                    c.last_response_ms = now;
                    if xid.0 >= 0 {
                        c.last_zxid = *zxid;
                    }
                }
            }
            Output::Watch { conn, .. } | Output::Connected { conn, .. } => {
                self.stats.packets_sent += 1;
                if let Some(c) = self.conns.get_mut(conn) {
                    c.sent += 1;
                }
            }
            _ => {}
        }
        self.ready.push_back(output);
    }

    fn check_invariants(&self) {
        assert!(self.durable_seq <= self.last_seq);
        assert!(self.last_append_seq <= self.last_seq);
        assert!(self.last_zxid >= self.tree.last_zxid());
        debug_assert!(self
            .held
            .iter()
            .zip(self.held.iter().skip(1))
            .all(|(a, b)| a.wait_for <= b.wait_for));
        debug_assert!(
            {
                // Both in id order: one pass over each, not a lookup per owner (the lookups
                // were a third of a debug-assertion simulation's instructions).
                let mut live = self.sessions.iter().map(|s| s.id).peekable();
                self.tree.ephemeral_owners().all(|owner| {
                    while live.next_if(|id| *id < owner).is_some() {}
                    live.peek() == Some(&owner)
                })
            },
            "every ephemeral's owner is a live session"
        );
        if cfg!(debug_assertions) {
            self.visibility.check(self.last_zxid);
            let mut per_conn = BTreeMap::<ConnId, usize>::new();
            for h in &self.held {
                if let Some(conn) = h.output.client_conn() {
                    *per_conn.entry(conn).or_default() += 1;
                }
            }
            for (id, c) in &self.conns {
                let n = per_conn.get(id).copied().unwrap_or(0);
                debug_assert_eq!(c.held, n, "{id}'s held count matches the held queue");
            }
        }
    }
}

#[cfg(test)]
mod ensemble_tests;
#[cfg(test)]
mod tests;
