//! The backup word `kbak`: a running node hands out a snapshot image of its state, only
//! once everything that image holds is durable, and only when `kbak` itself is whitelisted.

use bytes::Bytes;
use keeper_core::config::Config;
use keeper_core::ids::{ConnId, PersistSeq, SessionId, Xid, Zxid};
use keeper_core::output::Output;
use keeper_core::persist::backup::decode_backup_text;
use keeper_core::persist::{decode_snapshot, Recovered};
use keeper_core::proto::{Acl, ConnectRequest, CreateOp, CreateRequest, Request};
use keeper_core::{Input, Node};

/// Delivers one input; returns every output except persists, and the highest persist seq.
fn step(node: &mut Node, input: Input, last_seq: &mut u64) -> Vec<Output> {
    node.handle(input);
    let mut out = Vec::new();
    while let Some(o) = node.poll() {
        match o {
            Output::Persist { seq, .. } => *last_seq = seq.0,
            Output::Role(_) => {}
            other => out.push(other),
        }
    }
    out
}

fn node_with(whitelist: &[&str]) -> (Node, u64) {
    let mut cfg = Config::standalone(2000);
    cfg.four_letter_whitelist = whitelist.iter().map(|w| w.to_string()).collect();
    let mut node = Node::new(cfg, Recovered::default(), 1);
    let mut seq = 0;
    step(&mut node, Input::Tick { wall_ms: 1 }, &mut seq);
    (node, seq)
}

fn text_of(out: &[Output]) -> Option<&str> {
    out.iter().find_map(|o| match o {
        Output::Text { text, .. } => Some(text.as_str()),
        _ => None,
    })
}

/// The answer waits for the disk (persist before promise), then decodes to a snapshot
/// holding the write that was pending when it was asked for.
#[test]
fn backup_is_held_until_durable_and_holds_the_state() {
    let (mut node, mut seq) = node_with(&["kbak"]);
    step(&mut node, Input::ClientOpen { conn: ConnId(1), addr: "127.0.0.1".into() }, &mut seq);
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid::ZERO,
        timeout_ms: 10_000,
        session_id: SessionId::NONE,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
    };
    step(&mut node, Input::ClientConnect { conn: ConnId(1), req }, &mut seq);
    step(&mut node, Input::Persisted { up_to: PersistSeq(seq) }, &mut seq);
    let create = Request::Create(CreateRequest {
        op: CreateOp::Create,
        path: "/a".into(),
        data: Some(Bytes::from_static(b"x")),
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl: None,
    });
    let input = Input::ClientRequest { conn: ConnId(1), xid: Xid(1), req: create, wall_ms: 5 };
    step(&mut node, input, &mut seq);
    step(&mut node, Input::ClientOpen { conn: ConnId(2), addr: "127.0.0.1".into() }, &mut seq);
    let out =
        step(&mut node, Input::ClientFourLetter { conn: ConnId(2), cmd: "kbak".into() }, &mut seq);
    assert_eq!(text_of(&out), None, "nothing leaves before the create is durable: {out:?}");
    let out = step(&mut node, Input::Persisted { up_to: PersistSeq(seq) }, &mut seq);
    let text = text_of(&out).expect("released once durable");
    let image = decode_backup_text(text.as_bytes()).unwrap();
    let snap = decode_snapshot(&image).unwrap();
    assert_eq!(snap.zxid, node.last_zxid());
    assert_eq!(snap.tree.get("/a").unwrap().data.unwrap().as_ref(), b"x");
    assert_eq!(snap.sessions.len(), 1);
    assert_eq!(snap.tree.digest(), node.tree().digest());
}

/// `*` enables every ZooKeeper word but not the backup, which bypasses ACLs.
#[test]
fn star_does_not_enable_the_backup() {
    let (mut node, mut seq) = node_with(&["*"]);
    step(&mut node, Input::ClientOpen { conn: ConnId(1), addr: "127.0.0.1".into() }, &mut seq);
    let out =
        step(&mut node, Input::ClientFourLetter { conn: ConnId(1), cmd: "kbak".into() }, &mut seq);
    let err = decode_backup_text(text_of(&out).unwrap().as_bytes()).unwrap_err();
    assert!(err.contains("whitelist"), "{err}");
}
