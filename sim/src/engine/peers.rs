//! The network between servers: one TCP-like connection per pair, partitions, loss, and
//! the protocol events the nodes report.
//!
//! A connection delivers in order. A message that a partition cuts or that is lost
//! breaks the connection silently (as a dead link does): everything still in flight on
//! it is dropped, and when either end next sends across a working path, a new connection
//! is made and both ends first see `PeerDown` for the old one, so a server never sees a
//! gap inside one connection. A crash breaks every connection of the crashed server and
//! its peers see `PeerDown` after one latency (the kernel closes its sockets). Loss draws
//! come from the peer network's own stream. Invariant: a message delivered to a server
//! was sent on the connection generation it is delivered on.

use keeper_core::output::{Mode, ProtocolEvent};
use keeper_core::peer::PeerMsg;
use keeper_core::{Input, ServerId};
use rand_chacha::rand_core::Rng;

use super::{between, idx, Event, Sim};
use crate::scenario::{Action, Fault};

/// One connection between two servers.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PeerLink {
    pub(super) generation: u64,
    pub(super) up: bool,
}

fn key(a: u64, b: u64) -> (u64, u64) {
    (a.min(b), a.max(b))
}

impl Sim {
    pub(super) fn send_peer(&mut self, from: u64, to: u64, msg: PeerMsg) {
        if to == 0 || to > self.sc.nodes {
            return;
        }
        let k = key(from, to);
        let target_up = self.nodes[idx(to)].node.is_some();
        let cut = self.cuts.contains(&(from, to));
        let lost =
            self.loss > 0.0 && (self.peer_rng.next_u64() as f64 / u64::MAX as f64) < self.loss;
        let link = self.links.entry(k).or_insert(PeerLink { generation: 0, up: true });
        if cut || lost || !target_up {
            if link.up {
                link.up = false;
                link.generation += 1;
            }
            return;
        }
        if !link.up {
            // A new connection: both ends learn the old one is gone before anything new.
            link.up = true;
            let at = self.peer_time(from, to);
            self.schedule(self.now, Event::PeerDown { node: from, peer: to });
            self.schedule(at, Event::PeerDown { node: to, peer: from });
        }
        let generation = self.links[&k].generation;
        let at = self.peer_time(from, to);
        self.schedule(at, Event::ToPeer { from, to, generation, msg });
    }

    pub(super) fn peer_arrive(&mut self, from: u64, to: u64, generation: u64, msg: PeerMsg) {
        let current = self.links.get(&key(from, to)).map(|l| l.generation);
        if current != Some(generation) || self.nodes[idx(to)].node.is_none() {
            return;
        }
        if !self.armed.is_empty()
            && self.observed(super::triggers::Step::message("receive", to, from, &msg))
        {
            self.trace.event_args(
                self.now,
                "drop",
                format_args!("from={from} to={to} {}", msg.kind()),
            );
            self.break_link(from, to);
            return;
        }
        self.deliver(to, Input::Peer { from: ServerId(from), msg: Box::new(msg) });
    }

    pub(super) fn peer_down(&mut self, node: u64, peer: u64) {
        if self.nodes[idx(node)].node.is_some() {
            self.deliver(node, Input::PeerDown { id: ServerId(peer) });
        }
    }

    /// Delivery time on the directed path, never before the previous message (TCP order).
    fn peer_time(&mut self, from: u64, to: u64) -> u64 {
        let [lo, _] = self.sc.network.latency_ms;
        let lat = between(&mut self.peer_rng, lo, self.latency_max_ms.max(lo));
        let last = self.peer_last.entry((from, to)).or_insert(0);
        let at = (self.now + lat).max(*last);
        *last = at;
        at
    }

    /// A crashed server's connections break; its peers hear of it after one latency.
    pub(super) fn break_links_of(&mut self, node: u64) {
        for other in 1..=self.sc.nodes {
            if other == node {
                continue;
            }
            let link = self.links.entry(key(node, other)).or_default();
            if link.up {
                link.up = false;
                link.generation += 1;
                let at = self.now + self.sc.network.latency_ms[1];
                self.schedule(at, Event::PeerDown { node: other, peer: node });
            }
        }
    }

    /// Applies a partition, one-way cut or heal.
    pub(super) fn network_fault(&mut self, f: &Fault) {
        match f.action {
            Action::Partition => {
                for (i, a) in f.groups.iter().enumerate() {
                    for (j, b) in f.groups.iter().enumerate() {
                        if i == j {
                            continue;
                        }
                        for x in a {
                            for y in b {
                                self.cuts.insert((*x, *y));
                            }
                        }
                    }
                }
            }
            Action::OneWay => {
                for x in &f.from {
                    for y in &f.to {
                        if x != y {
                            self.cuts.insert((*x, *y));
                        }
                    }
                }
            }
            Action::Isolate => {
                for other in (1..=self.sc.nodes).filter(|o| *o != f.node) {
                    self.cuts.insert((f.node, other));
                    self.cuts.insert((other, f.node));
                }
            }
            Action::Heal => self.cuts.clear(),
            _ => {}
        }
    }

    /// The node a role names right now, if any (lowest id first).
    pub(super) fn resolve_role(&self, role: &str) -> Option<u64> {
        let want = match role {
            "leader" => Mode::Leader,
            "follower" => Mode::Follower,
            _ => Mode::Looking,
        };
        (1..=self.sc.nodes)
            .find(|n| self.nodes[idx(*n)].node.is_some() && self.modes[idx(*n)] == want)
    }

    /// Feeds a node's protocol event to the checkers and the election timer.
    pub(super) fn observe(&mut self, node: u64, e: ProtocolEvent) {
        let now = self.now;
        match e {
            ProtocolEvent::Applied { zxid, digest } => self.hist.applied(node, zxid, digest, now),
            ProtocolEvent::Snapped { zxid, digest } | ProtocolEvent::Recovered { zxid, digest } => {
                self.hist.reset(node, zxid, digest, now)
            }
            ProtocolEvent::Established { epoch } => {
                self.hist.established(node, epoch, now);
                if let Some(lost) = self.leader_lost_at.take() {
                    self.elections_ms.push(now - lost);
                }
            }
            ProtocolEvent::Committed { zxid } => self.hist.committed(zxid),
            ProtocolEvent::Reconfigured { .. } => {}
            ProtocolEvent::Looking { .. } => {
                if self.modes[idx(node)] == Mode::Leader && self.leader_lost_at.is_none() {
                    self.leader_lost_at = Some(now);
                }
            }
        }
    }
}
