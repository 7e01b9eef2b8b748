//! Read-only mode in a scripted three-node ensemble: two nodes go away, the third serves
//! read-only clients after ZooKeeper's 2 s, and drops them when a quorum is back.

use super::*;

fn ro_cluster() -> Cluster {
    let mut c = Cluster::new(&[]);
    c.tweak = |cfg| {
        cfg.read_only_mode_enabled = true;
        cfg.four_letter_whitelist = vec!["isro".into()];
    };
    for id in 1..=3 {
        c.start(id);
    }
    c.ticks(20);
    assert_eq!(c.mode(3), Some(Mode::Leader));
    c
}

/// Sends a ConnectRequest and returns what the node answered (None: closed unanswered).
fn connect(
    c: &mut Cluster,
    id: u64,
    conn: u64,
    read_only: Option<bool>,
    session: SessionId,
) -> Option<crate::proto::ConnectResponse> {
    let k = ConnId(conn);
    c.input(id, Input::ClientOpen { conn: k, addr: "10.0.0.9:1".into() });
    let passwd = if session == SessionId::NONE {
        Bytes::from_static(&[0; 16])
    } else {
        Bytes::copy_from_slice(&crate::session::password(session))
    };
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: crate::ids::Zxid::ZERO,
        timeout_ms: 4000,
        session_id: session,
        passwd,
        read_only,
    };
    c.input(id, Input::ClientConnect { conn: k, req });
    c.pump();
    c.seen[id as usize - 1].iter().find_map(|o| match o {
        Output::Connected { conn, resp } if *conn == k => Some(resp.clone()),
        _ => None,
    })
}

fn closed(c: &Cluster, id: u64, conn: u64) -> bool {
    c.seen[id as usize - 1].iter().any(|o| matches!(o, Output::Close { conn: k } if k.0 == conn))
}

/// The result of request `xid` on `conn` (the last one seen).
fn result(c: &Cluster, id: u64, conn: u64, xid: i32) -> Option<crate::proto::ReplyResult> {
    c.seen[id as usize - 1].iter().rev().find_map(|o| match o {
        Output::Reply { conn: k, xid: x, result, .. } if k.0 == conn && x.0 == xid => {
            Some(result.clone())
        }
        _ => None,
    })
}

fn isro(c: &mut Cluster, id: u64, conn: u64) -> String {
    c.input(id, Input::ClientOpen { conn: ConnId(conn), addr: "10.0.0.9:2".into() });
    c.input(id, Input::ClientFourLetter { conn: ConnId(conn), cmd: "isro".into() });
    c.seen[id as usize - 1]
        .iter()
        .find_map(|o| match o {
            Output::Text { conn: k, text } if k.0 == conn => Some(text.clone()),
            _ => None,
        })
        .expect("isro answered")
}

#[test]
fn a_node_cut_off_from_its_quorum_serves_read_only_clients_until_the_quorum_returns() {
    use crate::error::KeeperError;
    let mut c = ro_cluster();
    assert_eq!(isro(&mut c, 1, 50), "rw");
    // A read-only-capable client on a serving node gets a read-write session.
    let rw = connect(&mut c, 1, 7, Some(true), SessionId::NONE).expect("connected");
    assert_eq!(rw.read_only, Some(false));
    c.create(1, ConnId(7), 1, "/a");
    c.pump();
    assert!(c.has(1, "/a"));

    c.crash(2);
    c.crash(3);
    assert!(closed(&c, 1, 7), "losing the leader drops node 1's clients");
    assert_eq!(c.mode(1), Some(Mode::Looking));
    // ZooKeeper waits max(2000 ms, tickTime) = 40 ticks of 50 ms before going read-only.
    c.ticks(39);
    assert_eq!(c.mode(1), Some(Mode::Looking), "not before 2 s");
    assert!(connect(&mut c, 1, 8, Some(true), SessionId::NONE).is_none(), "not serving yet");
    c.ticks(1);
    assert_eq!(c.mode(1), Some(Mode::ReadOnly));
    assert_eq!(isro(&mut c, 1, 51), "ro");

    // A read-only client: a local session, reads work, writes and sync say NOTREADONLY.
    let ro = connect(&mut c, 1, 9, Some(true), SessionId::NONE).expect("a read-only client");
    assert_eq!(ro.read_only, Some(true));
    assert_ne!(ro.session_id, SessionId::NONE);
    let get = Request::GetData { path: "/a".into(), watch: false };
    c.input(1, Input::ClientRequest { conn: ConnId(9), xid: Xid(1), req: get, wall_ms: 0 });
    assert!(matches!(result(&c, 1, 9, 1), Some(Ok(Response::GetData { .. }))));
    c.create(1, ConnId(9), 2, "/b");
    assert_eq!(result(&c, 1, 9, 2), Some(Err(KeeperError::NotReadOnly)));
    let sync = Request::Sync { path: "/".into() };
    c.input(1, Input::ClientRequest { conn: ConnId(9), xid: Xid(3), req: sync, wall_ms: 0 });
    assert_eq!(result(&c, 1, 9, 3), Some(Err(KeeperError::NotReadOnly)));
    assert!(!c.has(1, "/b"));

    // Clients without the flag (or old clients without the byte) are refused unanswered.
    assert!(connect(&mut c, 1, 10, Some(false), SessionId::NONE).is_none());
    assert!(closed(&c, 1, 10));
    assert!(connect(&mut c, 1, 11, None, SessionId::NONE).is_none());
    // The earlier read-write session comes back read-only, keeping its id.
    let back = connect(&mut c, 1, 12, Some(true), rw.session_id).expect("reattached");
    assert_eq!((back.session_id, back.read_only), (rw.session_id, Some(true)));
    let get = Request::GetChildren { path: "/".into(), watch: false };
    c.input(1, Input::ClientRequest { conn: ConnId(12), xid: Xid(1), req: get, wall_ms: 0 });
    assert!(matches!(result(&c, 1, 12, 1), Some(Ok(_))));
    // Closing a replicated session needs a quorum.
    let close = Request::CloseSession;
    c.input(1, Input::ClientRequest { conn: ConnId(12), xid: Xid(2), req: close, wall_ms: 0 });
    assert_eq!(result(&c, 1, 12, 2), Some(Err(KeeperError::NotReadOnly)));

    // The quorum returns: node 1 leaves read-only mode and drops its read-only clients.
    assert!(!closed(&c, 1, 9) && !closed(&c, 1, 12));
    c.start(2);
    c.ticks(20);
    assert!(matches!(c.mode(1), Some(Mode::Leader | Mode::Follower)), "{:?}", c.mode(1));
    assert!(closed(&c, 1, 9) && closed(&c, 1, 12), "read-only clients are dropped");
    assert!(c.node(1).sessions().get(ro.session_id).is_none(), "the local session is gone");
    assert!(c.node(1).sessions().get(rw.session_id).is_some(), "the replicated one stays");
    assert_eq!(isro(&mut c, 1, 52), "rw");
    assert_eq!(c.node(1).tree().digest(), c.node(2).tree().digest());
}

#[test]
fn a_local_read_only_session_expires_and_closes_on_its_own_node() {
    let mut c = ro_cluster();
    c.crash(2);
    c.crash(3);
    c.ticks(41);
    assert_eq!(c.mode(1), Some(Mode::ReadOnly));
    let ro = connect(&mut c, 1, 9, Some(true), SessionId::NONE).expect("connected");
    // 4000 ms at 50 ms a tick: gone within 82 ticks without pings.
    c.ticks(82);
    assert!(closed(&c, 1, 9), "the expired session's connection closes");
    assert!(c.node(1).sessions().get(ro.session_id).is_none());
    // A second one closes itself.
    let ro2 = connect(&mut c, 1, 10, Some(true), SessionId::NONE).expect("connected");
    let close = Request::CloseSession;
    c.input(1, Input::ClientRequest { conn: ConnId(10), xid: Xid(1), req: close, wall_ms: 0 });
    assert!(matches!(result(&c, 1, 10, 1), Some(Ok(Response::Empty))));
    assert!(closed(&c, 1, 10));
    assert!(c.node(1).sessions().get(ro2.session_id).is_none());
}

#[test]
fn without_readonlymode_a_cut_off_node_refuses_every_client() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.ticks(20);
    c.crash(2);
    c.crash(3);
    c.ticks(100);
    assert_eq!(c.mode(1), Some(Mode::Looking));
    assert!(connect(&mut c, 1, 9, Some(true), SessionId::NONE).is_none());
    assert!(closed(&c, 1, 9));
}

#[test]
fn a_leader_that_loses_its_followers_steps_down_at_once_and_goes_read_only_after_2_s() {
    let mut c = ro_cluster();
    c.crash(1);
    assert_eq!(c.mode(3), Some(Mode::Leader), "3 of {{2, 3}} is still a quorum");
    c.crash(2);
    assert_eq!(c.mode(3), Some(Mode::Looking), "no quorum left: it steps down on the spot");
    c.ticks(39);
    assert_eq!(c.mode(3), Some(Mode::Looking));
    c.ticks(1);
    assert_eq!(c.mode(3), Some(Mode::ReadOnly));
    let ro = connect(&mut c, 3, 9, Some(true), SessionId::NONE).expect("read-only client");
    assert_eq!(ro.read_only, Some(true));
}
