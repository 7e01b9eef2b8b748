//! Disk faults beyond crash and slow fsync: a damaged log record (`corrupt`) and a full
//! disk (`disk_full`), and what the node does about them: refuse to start on damage its
//! checksum catches, abort on a failed write, as the real storage does.
//!
//! Invariant: a node whose recovery was refused stays down for the rest of the run (the
//! damage is permanent); when that leaves no majority of participants up, the run judges
//! no liveness (the fault never healed).

use super::{Event, Sim};

impl Sim {
    /// Damages one durable log record of `node` (see `Disk::corrupt`).
    pub(super) fn corrupt(&mut self, node: u64, back: Option<u64>) {
        let hit = self.nodes[node as usize - 1].disk.corrupt(back);
        let what = hit.map_or("no such record".to_string(), |z| format!("record {z}"));
        self.trace.event(self.now, "damage", &format!("node={node} {what}"));
    }

    /// Fills `node`'s disk for `for_ms`: its next fsync in that time fails.
    pub(super) fn disk_full(&mut self, node: u64, for_ms: u64) {
        self.nodes[node as usize - 1].disk.full = true;
        self.schedule(self.now + for_ms, Event::DiskFullEnd { node });
    }

    /// A write failed: the node's process aborts, which the disk sees as a crash.
    pub(super) fn abort(&mut self, node: u64, why: &str) {
        self.trace.event(self.now, "abort", &format!("node={node} {why}"));
        self.crash(node);
    }

    /// Recovery refused the node's disk: it stays down, as the real server does not start.
    pub(super) fn refuse(&mut self, node: u64, why: &str) {
        self.trace.event(self.now, "refuse", &format!("node={node} {why}"));
        self.nodes[node as usize - 1].disk.refused = Some(why.to_string());
    }

    /// True when so many participants end the run down because their recovery was refused
    /// that no majority of participants is left (for a standalone node: that one):
    /// liveness cannot be asked for. Observers do not count towards a quorum. (A crash the
    /// scenario never restarts is not excused: liveness reports it.)
    pub(super) fn refused_quorum(&self) -> bool {
        let voters: Vec<u64> =
            (1..=self.sc.nodes).filter(|n| !self.sc.observers.contains(n)).collect();
        let refused = voters
            .iter()
            .filter(|n| {
                let s = &self.nodes[**n as usize - 1];
                s.node.is_none() && s.disk.refused.is_some()
            })
            .count();
        refused > 0 && voters.len() - refused <= voters.len() / 2
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
        let voters = (1..=self.sc.nodes).filter(|n| !self.sc.observers.contains(n)).count();
        let voters_down = down.iter().filter(|n| !self.sc.observers.contains(n)).count();
        if voters - voters_down > voters / 2 {
            down
        } else {
            Default::default()
        }
    }
}
