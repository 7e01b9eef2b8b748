//! The words the trace hashes for the hot events (peer messages, persists, client inputs
//! and outputs): each event's kind, ids, zxids, epochs and transaction kind as fixed-size
//! arrays of `u64`, so that hashing an event formats no text.
//!
//! Invariant: every word is computed from the event alone (never an address, a capacity
//! or an iteration order), and distinct variants start with distinct tags, so two events
//! that differ in kind or in any listed field hash differently.

use keeper_core::output::{DurableWrite, ProtocolEvent};
use keeper_core::peer::{Forward, PeerMsg};
use keeper_core::proto::{Request, Response};
use keeper_core::txn::Txn;
use keeper_core::{Input, Output};

/// Words per message, output or input (unused trailing words are zero).
pub(super) const N: usize = 7;

/// A transaction's kind as a number (the order of `Trigger::TXNS`).
fn txn_tag(txn: &Txn) -> u64 {
    match txn {
        Txn::CreateSession { .. } => 1,
        Txn::CloseSession => 2,
        Txn::Create { .. } => 3,
        Txn::Delete { .. } => 4,
        Txn::SetData { .. } => 5,
        Txn::SetAcl { .. } => 6,
        Txn::Check { .. } => 7,
        Txn::Error { .. } => 8,
        Txn::Multi(_) => 9,
    }
}

/// The words of a message between servers.
pub(super) fn msg(m: &PeerMsg) -> [u64; N] {
    match m {
        PeerMsg::Vote(n) => [
            1,
            n.state as u64,
            n.vote.leader.0,
            n.vote.zxid.0,
            u64::from(n.vote.peer_epoch),
            n.election_epoch,
            0,
        ],
        PeerMsg::LearnerInfo { accepted_epoch, last_zxid, observer } => {
            [2, u64::from(*accepted_epoch), last_zxid.0, u64::from(*observer), 0, 0, 0]
        }
        PeerMsg::LeaderInfo { epoch } => [3, u64::from(*epoch), 0, 0, 0, 0, 0],
        PeerMsg::AckEpoch { current_epoch, last_zxid } => {
            [4, u64::from(*current_epoch), last_zxid.0, 0, 0, 0, 0]
        }
        PeerMsg::Diff { after } => [5, after.0, 0, 0, 0, 0, 0],
        PeerMsg::Snap { zxid, image } => [6, zxid.0, image.len() as u64, 0, 0, 0, 0],
        PeerMsg::Proposal(r) | PeerMsg::Inform(r) => {
            let tag = if matches!(m, PeerMsg::Proposal(_)) { 7 } else { 8 };
            let h = &r.header;
            [tag, h.zxid.0, h.session.0 as u64, h.cxid as u64, txn_tag(&r.txn), 0, 0]
        }
        PeerMsg::Commit(z) => [9, z.0, 0, 0, 0, 0, 0],
        PeerMsg::NewLeader { epoch } => [10, u64::from(*epoch), 0, 0, 0, 0, 0],
        PeerMsg::Ack { zxid } => [11, zxid.0, 0, 0, 0, 0, 0],
        PeerMsg::UpToDate { committed } => [12, committed.0, 0, 0, 0, 0, 0],
        PeerMsg::Ping => [13, 0, 0, 0, 0, 0, 0],
        PeerMsg::Pong { touched } => {
            let sum = touched.iter().fold(0u64, |a, s| a.rotate_left(7) ^ s.0 as u64);
            [14, touched.len() as u64, sum, 0, 0, 0, 0]
        }
        PeerMsg::Forward(f) => match f {
            Forward::Write { session, cxid, req, wall_ms, .. } => {
                [15, session.0 as u64, *cxid as u64, req.op_code() as u64, *wall_ms, 0, 0]
            }
            Forward::CreateSession { session, timeout_ms } => {
                [16, session.0 as u64, *timeout_ms as u64, 0, 0, 0, 0]
            }
            Forward::CloseSession { session, cxid } => {
                [17, session.0 as u64, *cxid as u64, 0, 0, 0, 0]
            }
            Forward::Sync { session, cxid } => [18, session.0 as u64, *cxid as u64, 0, 0, 0, 0],
        },
        PeerMsg::Synced { session, cxid } => [19, session.0 as u64, *cxid as u64, 0, 0, 0, 0],
    }
}

/// The words of a reply's result: the error code, or what identifies a success.
fn result(r: &Result<Response, keeper_core::error::KeeperError>) -> [u64; 3] {
    let stat = |s: &keeper_core::proto::Stat| (s.mzxid as u64, s.version as u64);
    match r {
        Err(e) => [1, e.code() as u64, 0],
        Ok(Response::Stat(s)) | Ok(Response::Create2 { stat: s, .. }) => {
            let (z, v) = stat(s);
            [2, z, v]
        }
        Ok(Response::GetData { data, stat: s }) => {
            let len = data.as_ref().map_or(u64::MAX, |d| d.len() as u64);
            [3, s.mzxid as u64, len]
        }
        Ok(Response::Create { path }) | Ok(Response::Sync { path }) => {
            [4, crate::trace::mix_bytes(0, path.as_bytes()), 0]
        }
        Ok(Response::GetChildren { children }) => [5, children.len() as u64, 0],
        Ok(Response::Multi(rs)) => [6, rs.len() as u64, 0],
        Ok(_) => [7, 0, 0],
    }
}

/// The words of an output (for `Send`, the message's words after the recipient).
pub(super) fn output(o: &Output) -> [u64; N + 2] {
    let mut w = [0u64; N + 2];
    match o {
        Output::Send { to, msg: m } => {
            w[0] = 1;
            w[1] = to.0;
            w[2..].copy_from_slice(&msg(m));
        }
        Output::Persist { seq, write } => {
            w[0] = 2;
            w[1] = seq.0;
            let rest: [u64; 3] = match write {
                DurableWrite::Append(r) => [1, r.header.zxid.0, txn_tag(&r.txn)],
                DurableWrite::Snapshot { zxid, image } => [2, zxid.0, image.len() as u64],
                DurableWrite::Truncate { to } => [3, to.0, 0],
                DurableWrite::AcceptedEpoch(e) => [4, u64::from(*e), 0],
                DurableWrite::CurrentEpoch(e) => [5, u64::from(*e), 0],
            };
            w[2..5].copy_from_slice(&rest);
        }
        Output::Connected { conn, resp } => {
            w[..4].copy_from_slice(&[3, conn.0, resp.session_id.0 as u64, resp.timeout_ms as u64]);
        }
        Output::Reply { conn, xid, zxid, result: r } => {
            w[..4].copy_from_slice(&[4, conn.0, xid.0 as u64, zxid.0]);
            w[4..7].copy_from_slice(&result(r));
        }
        Output::Watch { conn, zxid, event } => {
            let path = crate::trace::mix_bytes(0, event.path.as_bytes());
            w[..5].copy_from_slice(&[5, conn.0, zxid.0, event.event_type as i32 as u64, path]);
        }
        Output::Text { conn, text } => w[..3].copy_from_slice(&[6, conn.0, text.len() as u64]),
        Output::Close { conn } => w[..2].copy_from_slice(&[7, conn.0]),
        Output::Role(m) => w[..2].copy_from_slice(&[8, *m as u64]),
        Output::Event(e) => {
            let ev: [u64; 3] = match e {
                ProtocolEvent::Applied { zxid, digest } => [1, zxid.0, *digest],
                ProtocolEvent::Snapped { zxid, digest } => [2, zxid.0, *digest],
                ProtocolEvent::Recovered { zxid, digest } => [3, zxid.0, *digest],
                ProtocolEvent::Established { epoch } => [4, u64::from(*epoch), 0],
                ProtocolEvent::Committed { zxid } => [5, zxid.0, 0],
                ProtocolEvent::Looking { last_zxid } => [6, last_zxid.0, 0],
                ProtocolEvent::Reconfigured { version } => [7, version.0, 0],
            };
            w[0] = 9;
            w[1..4].copy_from_slice(&ev);
        }
    }
    w
}

/// The words of an input other than a peer message (those are `msg` after the sender).
pub(super) fn input(i: &Input) -> [u64; 5] {
    match i {
        Input::Tick { wall_ms } => [1, *wall_ms, 0, 0, 0],
        Input::ClientOpen { conn, addr } => {
            [2, conn.0, crate::trace::mix_bytes(0, addr.as_bytes()), 0, 0]
        }
        Input::ClientConnect { conn, req } => {
            [3, conn.0, req.session_id.0 as u64, req.last_zxid_seen.0, req.timeout_ms as u64]
        }
        Input::ClientRequest { conn, xid, req, wall_ms } => {
            [4, conn.0, xid.0 as u64, req.op_code() as u64, request_path(req) ^ *wall_ms]
        }
        Input::ClientBadRequest { conn, xid, op } => [5, conn.0, xid.0 as u64, *op as u64, 0],
        Input::ClientFourLetter { conn, cmd } => {
            [6, conn.0, crate::trace::mix_bytes(0, cmd.as_bytes()), 0, 0]
        }
        Input::ClientClosed { conn } => [7, conn.0, 0, 0, 0],
        Input::Persisted { up_to } => [8, up_to.0, 0, 0, 0],
        Input::DiskFull { full } => [9, u64::from(*full), 0, 0, 0],
        Input::Peer { from, .. } => [10, from.0, 0, 0, 0],
        Input::PeerDown { id } => [11, id.0, 0, 0, 0],
    }
}

/// A hash of the path a simple request names (0 for others).
fn request_path(req: &Request) -> u64 {
    let path = match req {
        Request::Create(c) => c.path.as_str(),
        Request::Delete { path, .. }
        | Request::Exists { path, .. }
        | Request::GetData { path, .. }
        | Request::SetData { path, .. }
        | Request::GetChildren { path, .. }
        | Request::Sync { path } => path.as_str(),
        _ => return 0,
    };
    crate::trace::mix_bytes(0, path.as_bytes())
}

impl super::Sim {
    /// Traces one input to `node` (the caller skips ticks).
    pub(super) fn trace_in(&mut self, node: u64, input: &Input) {
        match input {
            Input::Peer { from, msg: m } => {
                let mut w = [0u64; N + 2];
                w[0] = node;
                w[1] = from.0;
                w[2..].copy_from_slice(&msg(m));
                let brief = super::triggers::Brief(m);
                let text = format_args!("node={node} peer from={from} {brief}");
                self.trace.record(self.now, "in", &w, text)
            }
            _ => {
                let i = self::input(input);
                let w = [node, i[0], i[1], i[2], i[3], i[4]];
                self.trace.record(self.now, "in", &w, format_args!("node={node} {input:?}"))
            }
        }
    }

    /// Traces one output of `node`.
    pub(super) fn trace_out(&mut self, node: u64, out: &Output) {
        let mut w = [0u64; N + 3];
        w[0] = node;
        w[1..].copy_from_slice(&output(out));
        let now = self.now;
        match out {
            Output::Send { to, msg: m } => {
                let brief = super::triggers::Brief(m);
                self.trace.record(now, "out", &w, format_args!("node={node} send to={to} {brief}"))
            }
            Output::Persist { seq, write: DurableWrite::Append(r) } => {
                let (zxid, kind) = (r.header.zxid, super::triggers::txn_kind(&r.txn));
                let text = format_args!("node={node} persist seq={seq} append {zxid} {kind}");
                self.trace.record(now, "out", &w, text)
            }
            _ => self.trace.record(now, "out", &w, format_args!("node={node} {out}")),
        }
    }
}
