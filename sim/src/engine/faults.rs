//! Disk faults beyond crash and slow fsync: a damaged log record (`corrupt`) and a full
//! disk (`disk_full`), and what the node does about them: refuse to start on damage its
//! checksum catches, and on a failed write refuse writes until space returns, as the
//! shell does.
//!
//! Invariant: a node whose recovery was refused stays down for the rest of the run (the
//! damage is permanent); when that leaves no majority of participants up, the run judges
//! no liveness (the fault never healed).

use keeper_core::output::Mode;
use keeper_core::{ConnId, Output, Zxid};

use super::{idx, Event, Sim};
use crate::check::Recovery;
use crate::check_faults::FullWindow;
use crate::client::ConnState;

/// How long rebuilding a node from its disk takes after a write failed for lack of space.
/// Never zero: a follower whose disk is full is rebuilt, rejoins, is sent a write and
/// fails again, and with zero network and fsync latency (seed 19609 of the random
/// swarm) that loop ran a million events without virtual time advancing.
const REBUILD_MS: u64 = 1;

impl Sim {
    /// Damages one durable log record of `node` (see `Disk::corrupt`).
    pub(super) fn corrupt(&mut self, node: u64, back: Option<u64>) {
        let hit = self.nodes[node as usize - 1].disk.corrupt(back);
        let what = hit.map_or("no such record".to_string(), |z| format!("record {z}"));
        self.trace.event_args(self.now, "damage", format_args!("node={node} {what}"));
    }

    /// Fills `node`'s disk for `for_ms`: its writes fail from now on (see `storage_full`).
    pub(super) fn disk_full(&mut self, node: u64, for_ms: u64) {
        self.nodes[node as usize - 1].disk.full = true;
        self.schedule(self.now + for_ms, Event::DiskFullEnd { node });
    }

    /// A write failed for lack of space. As the shell does (net-tokio/src/disk_full.rs): the
    /// writes that failed are cut off (never applied, never acknowledged: nothing unsynced
    /// survives, no torn tail), every client connection closes, the node is rebuilt from
    /// what is durable (`REBUILD_MS` later: reading its disk takes time) and told
    /// `DiskFull { full: true }` before any client input; it then refuses writes
    /// (NOTREADONLY) and serves reads until space returns.
    pub(super) fn storage_full(&mut self, node: u64) {
        let lost = self.nodes[node as usize - 1].disk.pending_len();
        self.trace.event_args(
            self.now,
            "full",
            format_args!("node={node} failed_writes={lost} rebuilt from disk"),
        );
        self.crash_as(node, false);
        self.schedule(self.now + REBUILD_MS, Event::Rebuild { node });
    }

    /// The second half of `storage_full`: unless a fault restarted it meanwhile, the node
    /// starts from its disk, and is told the disk is full if it still is.
    pub(super) fn rebuild(&mut self, node: u64) {
        if self.nodes[node as usize - 1].node.is_none() {
            self.restart(node);
        }
        let n = &self.nodes[node as usize - 1];
        if n.node.is_some() && n.disk.full {
            self.deliver(node, keeper_core::Input::DiskFull { full: true });
            self.full_windows.push((node, self.now, u64::MAX));
        }
    }

    /// Space is back on `node`'s disk: a node that was told it was full is told otherwise
    /// (the shell's probe; the simulator tells it at once).
    pub(super) fn space_back(&mut self, node: u64) {
        self.nodes[node as usize - 1].disk.full = false;
        let now = self.now;
        let open = self.full_windows.iter_mut().rev().find(|w| w.0 == node && w.2 == u64::MAX);
        if let Some(w) = open {
            w.2 = now;
            self.deliver(node, keeper_core::Input::DiskFull { full: false });
        }
    }

    /// The `disk-full-refuses-writes` check over this run.
    pub(super) fn full_refuses_writes(&self) -> crate::check::Verdict {
        let windows: Vec<FullWindow> = self
            .full_windows
            .iter()
            .map(|&(node, from_ms, to_ms)| FullWindow { node, from_ms, to_ms })
            .collect();
        crate::check_faults::full_refuses_writes(&self.history, &windows)
    }

    /// Recovery refused the node's disk: it stays down, as the real server does not start.
    pub(super) fn refuse(&mut self, node: u64, why: &str) {
        self.trace.event_args(self.now, "refuse", format_args!("node={node} {why}"));
        self.nodes[node as usize - 1].disk.refused = Some(why.to_string());
    }

    /// True when so many participants end the run down because their recovery was refused
    /// that no majority of participants is left (for a standalone node: that one):
    /// liveness cannot be asked for. Observers do not count towards a quorum. (A crash the
    /// scenario never restarts is not excused: liveness reports it.) A server that is up
    /// and went LOOKING with a newer configuration than the committed one (a reconfig it
    /// logged, which may have committed for all it knows) needs a majority of that one's
    /// participants too, as ZooKeeper's election asks of its last-seen configuration
    /// (seed 2771 of the random swarm: a reconfig removing the leader, logged by two of
    /// the five and never committed, left {1, 4} of its {1, 2, 3, 4} once the logs of 2
    /// and 3 were found corrupt).
    pub(super) fn refused_quorum(&self) -> bool {
        let refused_out = |voters: &[u64]| {
            let refused = voters
                .iter()
                .filter(|n| {
                    let s = &self.nodes[**n as usize - 1];
                    s.node.is_none() && s.disk.refused.is_some()
                })
                .count();
            refused > 0 && voters.len() - refused <= voters.len() / 2
        };
        refused_out(&self.voters()) || self.logged_configs().iter().any(|v| refused_out(v))
    }

    /// The servers whose clients may still lose their connection after faults end: those
    /// down when the run ends (crashed and not restarted, or refused by recovery) while a
    /// majority of participants is up to serve instead (with no majority up nothing is
    /// excused: the service is down), and all of them while messages between servers are
    /// still being lost (a loss breaks a peer connection; a follower that loses its leader
    /// closes its clients, as ZooKeeper's does). Ops must still complete within the bound.
    pub(super) fn unreliable_at_end(&self) -> std::collections::BTreeSet<u64> {
        if self.loss > 0.0 && self.sc.nodes > 1 {
            return (1..=self.sc.nodes).collect();
        }
        let down: std::collections::BTreeSet<u64> =
            (1..=self.sc.nodes).filter(|n| self.nodes[*n as usize - 1].node.is_none()).collect();
        let voters = self.voters();
        let voters_down = down.iter().filter(|n| voters.contains(n)).count();
        let voters = voters.len();
        if voters - voters_down > voters / 2 {
            down
        } else {
            Default::default()
        }
    }

    pub(super) fn crash(&mut self, id: u64) {
        self.crash_as(id, true);
    }

    /// Takes node `id` down; `torn`: a power loss (a torn tail may keep some unsynced
    /// writes), otherwise every unsynced write is lost.
    pub(super) fn crash_as(&mut self, id: u64, torn: bool) {
        let now = self.now;
        let n = &mut self.nodes[idx(id)];
        if n.node.take().is_none() {
            return;
        }
        n.paused = false;
        n.stalled.clear();
        n.crashed_at = Some(now);
        n.marks.clear();
        let lost = if torn { n.disk.crash() } else { n.disk.drop_unsynced() };
        for w in self.full_windows.iter_mut().filter(|w| w.0 == id && w.2 == u64::MAX) {
            w.2 = now; // a restarted node has not been told its disk is full
        }
        self.logs.push((id, std::mem::take(&mut n.appended)));
        self.trace.event_args(now, "crash", format_args!("node={id} unsynced_lost={lost}"));
        if self.modes[idx(id)] == Mode::Leader && self.leader_lost_at.is_none() {
            self.leader_lost_at = Some(now);
        }
        self.modes[idx(id)] = Mode::Looking;
        if self.sc.nodes > 1 {
            self.break_links_of(id);
        }
        // Every connection to the node breaks; its clients see the close after a latency.
        let dead: Vec<(u64, u32)> = self
            .clients
            .iter()
            .filter_map(|c| match c.state {
                ConnState::Up { conn, node } | ConnState::Connecting { conn, node }
                    if node == id =>
                {
                    Some((conn, c.id))
                }
                _ => None,
            })
            .collect();
        for (conn, client) in dead {
            let at = self.link_time(false, conn);
            self.schedule(
                at,
                Event::ToClient { client, conn, out: Output::Close { conn: ConnId(conn) } },
            );
        }
    }

    pub(super) fn restart(&mut self, id: u64) {
        if self.nodes[idx(id)].node.is_some() {
            return;
        }
        let recovered = match self.nodes[idx(id)].disk.try_recover() {
            Ok(r) => r,
            Err(why) => return self.refuse(id, &why),
        };
        let unfaithful = self.nodes[idx(id)].disk.unfaithful(&recovered);
        let crash_ms = self.nodes[idx(id)].crashed_at.unwrap_or(self.now);
        let zxids = recovered.log.iter().map(|r| r.header.zxid).collect();
        let snapshot_zxid = recovered.snapshot.as_ref().map_or(Zxid::ZERO, |s| s.zxid);
        let replayed = self.nodes[idx(id)].disk.all_appends().map(|recs| {
            let mut tree = keeper_core::tree::DataTree::new();
            for rec in &recs {
                tree.apply(rec);
            }
            tree
        });
        self.start_node(id, recovered);
        let recovered_digest = self.nodes[idx(id)].node.as_ref().map_or(0, |n| n.tree().digest());
        self.recoveries.push(Recovery {
            node: id,
            crash_ms,
            recovered: zxids,
            snapshot_zxid,
            recovered_digest,
            replayed_digest: replayed.map_or(recovered_digest, |t| t.digest()),
            unfaithful,
        });
    }
}
