//! Scripted tests of the node's client pipeline: each drives a real Node with inputs and
//! asserts on the outputs, the way a driver sees them.

use bytes::Bytes;

use super::Node;
use crate::config::Config;
use crate::error::KeeperError;
use crate::ids::{ConnId, PersistSeq, SessionId, Xid, Zxid};
use crate::input::Input;
use crate::output::{DurableWrite, Output};
use crate::persist::Recovered;
use crate::proto::{Acl, ConnectRequest, CreateOp, CreateRequest, EventType, Request, Response};
use crate::txn::TxnRecord;

/// A node plus the durable log a perfect disk would hold.
struct Harness {
    node: Node,
    log: Vec<TxnRecord>,
    /// The newest snapshot image written, with the number of log records before it.
    snapshot: Option<(Bytes, usize)>,
    last_seq: u64,
    wall_ms: u64,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(Config::standalone(2000), Recovered::default())
    }
    fn with(config: Config, recovered: Recovered) -> Harness {
        let mut h = Harness {
            node: Node::new(config, recovered, 7),
            log: Vec::new(),
            snapshot: None,
            last_seq: 0,
            wall_ms: 1_000,
        };
        h.drain();
        h
    }
    /// Delivers an input and returns the client-visible outputs it released at once.
    fn input(&mut self, input: Input) -> Vec<Output> {
        self.node.handle(input);
        self.drain()
    }
    fn drain(&mut self) -> Vec<Output> {
        let mut visible = Vec::new();
        while let Some(o) = self.node.poll() {
            match o {
                Output::Persist { seq, write } => {
                    assert_eq!(seq.0, self.last_seq + 1, "persist seqs have no gaps");
                    self.last_seq = seq.0;
                    match write {
                        DurableWrite::Append(rec) => self.log.push(rec),
                        DurableWrite::Snapshot { image, .. } => {
                            self.snapshot = Some((image, self.log.len()))
                        }
                        other => panic!("a standalone node asked for {other:?}"),
                    }
                }
                Output::Role(_) | Output::Event(_) => {}
                other => visible.push(other),
            }
        }
        visible
    }
    /// The disk catches up: everything held is released.
    fn sync(&mut self) -> Vec<Output> {
        let up_to = PersistSeq(self.last_seq);
        self.input(Input::Persisted { up_to })
    }
    fn open(&mut self, conn: u64) {
        assert!(self
            .input(Input::ClientOpen { conn: ConnId(conn), addr: "127.0.0.1".into() })
            .is_empty());
    }
    fn connect(&mut self, conn: u64, session: SessionId, passwd: [u8; 16]) -> Vec<Output> {
        self.open(conn);
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid::ZERO,
            timeout_ms: 10_000,
            session_id: session,
            passwd: Bytes::copy_from_slice(&passwd),
            read_only: Some(false),
        };
        let mut out = self.input(Input::ClientConnect { conn: ConnId(conn), req });
        out.extend(self.sync());
        out
    }
    /// Opens a connection with a new session and returns the session id.
    fn session(&mut self, conn: u64) -> SessionId {
        let out = self.connect(conn, SessionId::NONE, [0; 16]);
        match &out[..] {
            [Output::Connected { resp, .. }] => resp.session_id,
            other => panic!("expected a connect response, got {other:?}"),
        }
    }
    /// Sends a request and lets the disk catch up; returns everything released.
    fn request(&mut self, conn: u64, xid: i32, req: Request) -> Vec<Output> {
        let wall_ms = self.wall_ms;
        let mut out =
            self.input(Input::ClientRequest { conn: ConnId(conn), xid: Xid(xid), req, wall_ms });
        out.extend(self.sync());
        out
    }
}

fn create(path: &str, data: &str, flags: i32) -> Request {
    Request::Create(CreateRequest {
        op: CreateOp::Create,
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data.as_bytes())),
        acl: Acl::open_unsafe(),
        flags,
        ttl: None,
    })
}

fn reply_of(out: &[Output], want_xid: i32) -> &crate::proto::ReplyResult {
    out.iter()
        .find_map(|o| match o {
            Output::Reply { xid, result, .. } if xid.0 == want_xid => Some(result),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no reply to xid {want_xid} in {out:?}"))
}

#[test]
fn a_new_session_is_answered_only_once_its_txn_is_durable() {
    let mut h = Harness::new();
    h.open(1);
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid::ZERO,
        timeout_ms: 1,
        session_id: SessionId::NONE,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: None,
    };
    assert!(
        h.input(Input::ClientConnect { conn: ConnId(1), req }).is_empty(),
        "held behind the disk"
    );
    assert_eq!(h.log.len(), 1, "createSession is logged");
    let out = h.sync();
    let Output::Connected { resp, .. } = &out[0] else { panic!("{out:?}") };
    assert_eq!(resp.timeout_ms, 4_000, "clamped up to 2 x tickTime");
    assert_eq!(resp.read_only, None, "old clients get no readOnly byte back");
    assert_eq!(resp.passwd.as_ref(), crate::session::password(resp.session_id));
}

#[test]
fn write_replies_wait_for_the_disk_and_reads_behind_them_wait_too() {
    let mut h = Harness::new();
    h.session(1);
    let wall_ms = h.wall_ms;
    let out = h.input(Input::ClientRequest {
        conn: ConnId(1),
        xid: Xid(1),
        req: create("/a", "x", 0),
        wall_ms,
    });
    assert!(out.is_empty(), "the create waits for its log record");
    let get = Request::GetData { path: "/a".into(), watch: false };
    assert!(h
        .input(Input::ClientRequest { conn: ConnId(1), xid: Xid(2), req: get, wall_ms })
        .is_empty());
    let out = h.sync();
    assert_eq!(reply_of(&out, 1), &Ok(Response::Create { path: "/a".into() }));
    match reply_of(&out, 2) {
        Ok(Response::GetData { data, stat }) => {
            assert_eq!(data.as_deref(), Some(&b"x"[..]));
            assert_eq!(stat.version, 0);
        }
        other => panic!("{other:?}"),
    }
    // With nothing in flight a read is answered at once.
    let get = Request::Exists { path: "/a".into(), watch: false };
    let out = h.input(Input::ClientRequest { conn: ConnId(1), xid: Xid(3), req: get, wall_ms });
    assert!(matches!(reply_of(&out, 3), Ok(Response::Stat(_))));
}

#[test]
fn a_watch_event_arrives_before_the_reply_that_caused_it() {
    let mut h = Harness::new();
    h.session(1);
    h.session(2);
    h.request(1, 1, create("/a", "x", 0));
    h.request(2, 1, Request::GetData { path: "/a".into(), watch: true });
    let set =
        Request::SetData { path: "/a".into(), data: Some(Bytes::from_static(b"y")), version: -1 };
    let out = h.request(2, 2, set);
    let kinds: Vec<String> = out
        .iter()
        .map(|o| match o {
            Output::Watch { conn, event, .. } => format!("watch {conn} {:?}", event.event_type),
            Output::Reply { conn, xid, .. } => format!("reply {conn} {xid}"),
            other => format!("{other}"),
        })
        .collect();
    assert_eq!(kinds, ["watch c2 NodeDataChanged", "reply c2 2"]);
}

#[test]
fn expiry_removes_ephemerals_and_tells_watchers() {
    let mut h = Harness::new();
    h.session(1);
    h.session(2);
    assert!(reply_of(&h.request(1, 1, create("/e", "", 1)), 1).is_ok());
    h.request(2, 1, Request::Exists { path: "/e".into(), watch: true });
    // Session 2 keeps pinging; session 1 goes silent.
    let mut events = Vec::new();
    for tick in 0..10 {
        h.request(2, 100 + tick, Request::Ping);
        events.extend(h.input(Input::Tick { wall_ms: 2_000 * tick as u64 }));
        events.extend(h.sync());
    }
    assert!(events.iter().any(|o| matches!(o, Output::Watch { conn: ConnId(2), event, .. }
        if event.event_type == EventType::NodeDeleted && event.path == "/e")));
    assert!(events.iter().any(|o| matches!(o, Output::Close { conn: ConnId(1) })));
    let out = h.request(2, 200, Request::Exists { path: "/e".into(), watch: false });
    assert_eq!(reply_of(&out, 200), &Err(KeeperError::NoNode));
}

#[test]
fn a_wrong_password_or_gone_session_gets_the_expired_answer() {
    let mut h = Harness::new();
    let sid = h.session(1);
    let out = h.connect(2, sid, [9; 16]);
    assert!(
        matches!(&out[0], Output::Connected { resp, .. } if resp.session_id == SessionId::NONE && resp.timeout_ms == 0)
    );
    assert!(matches!(&out[1], Output::Close { conn: ConnId(2) }));
    // The right password moves the session and closes the old connection.
    let out = h.connect(3, sid, crate::session::password(sid));
    assert!(out.iter().any(|o| matches!(o, Output::Close { conn: ConnId(1) })));
    assert!(out.iter().any(
        |o| matches!(o, Output::Connected { conn: ConnId(3), resp } if resp.session_id == sid)
    ));
}

#[test]
fn a_lone_check_is_rejected_and_the_connection_closed() {
    let mut h = Harness::new();
    h.session(1);
    let out = h.request(1, 1, Request::Check { path: "/".into(), version: 0 });
    assert_eq!(reply_of(&out, 1), &Err(KeeperError::Unimplemented));
    assert!(matches!(out.last(), Some(Output::Close { .. })));
}

#[test]
fn failed_writes_consume_a_zxid() {
    let mut h = Harness::new();
    h.session(1);
    let before = h.node.last_zxid();
    let out = h.request(1, 1, Request::Delete { path: "/missing".into(), version: -1 });
    assert_eq!(reply_of(&out, 1), &Err(KeeperError::NoNode));
    assert_eq!(h.node.last_zxid(), Zxid(before.0 + 1));
}

#[test]
fn recovery_from_the_log_restores_tree_and_sessions() {
    let mut h = Harness::new();
    let sid = h.session(1);
    h.request(1, 1, create("/p", "1", 0));
    h.request(1, 2, create("/p/e", "2", 1));
    let log = h.log.clone();
    let mut r = Harness::with(
        Config::standalone(2000),
        Recovered { snapshot: None, log, ..Default::default() },
    );
    assert_eq!(r.node.last_zxid(), h.node.last_zxid());
    assert_eq!(r.node.tree().digest(), h.node.tree().digest());
    assert!(r.node.sessions().get(sid).is_some(), "the session survives the restart");
    let out = r.connect(5, sid, crate::session::password(sid));
    assert!(matches!(&out[0], Output::Connected { resp, .. } if resp.session_id == sid));
}

#[test]
fn four_letter_words_honour_the_whitelist() {
    let mut h = Harness::new();
    h.open(1);
    let out = h.input(Input::ClientFourLetter { conn: ConnId(1), cmd: "ruok".into() });
    assert!(
        matches!(&out[0], Output::Text { text, .. } if text == "ruok is not executed because it is not in the whitelist.\n")
    );
    let mut cfg = Config::standalone(2000);
    cfg.four_letter_whitelist = vec!["*".into()];
    let mut h = Harness::with(cfg, Recovered::default());
    h.open(1);
    let out = h.input(Input::ClientFourLetter { conn: ConnId(1), cmd: "ruok".into() });
    assert!(matches!(&out[0], Output::Text { text, .. } if text == "imok"));
    assert!(matches!(&out[1], Output::Close { .. }));
    h.open(2);
    let out = h.input(Input::ClientFourLetter { conn: ConnId(2), cmd: "srvr".into() });
    let Output::Text { text, .. } = &out[0] else { panic!() };
    assert!(text.contains("Mode: standalone\nNode count: 5\n"), "{text}");
}

/// kazoo's test_create_null_data / test_set_null_data: null data reads back as null, and
/// stays apart from empty data.
#[test]
fn null_data_stays_null_and_empty_stays_empty() {
    let mut h = Harness::new();
    h.session(1);
    let mut null = create("/n", "", 0);
    if let Request::Create(c) = &mut null {
        c.data = None;
    }
    h.request(1, 1, null);
    h.request(1, 2, create("/e", "", 0));
    let get = |h: &mut Harness, xid, path: &str| match reply_of(
        &h.request(1, xid, Request::GetData { path: path.into(), watch: false }),
        xid,
    ) {
        Ok(Response::GetData { data, .. }) => data.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(get(&mut h, 3, "/n"), None);
    assert_eq!(get(&mut h, 4, "/e"), Some(Bytes::new()));
    h.request(1, 5, Request::SetData { path: "/e".into(), data: None, version: -1 });
    assert_eq!(get(&mut h, 6, "/e"), None);
}

/// Found by the kill -9 restart test: a snapshot labelled zxid Z must contain txn Z, since
/// recovery replays only the log records after the label. Recover from every snapshot the
/// node writes plus the log after it, and compare with the live node.
#[test]
fn recovery_from_a_snapshot_and_the_log_after_it_loses_nothing() {
    let mut config = Config::standalone(2000);
    config.snap_count = 4;
    let mut h = Harness::with(config.clone(), Recovered::default());
    h.session(1);
    let mut checked = 0;
    for i in 0..40 {
        h.request(1, i + 1, create(&format!("/n{i}"), "v", 0));
        let Some((image, at)) = h.snapshot.clone() else { continue };
        let snapshot =
            crate::persist::decode_snapshot(&image).expect("the node's own snapshot decodes");
        let log = h.log[at..].to_vec();
        let r = Harness::with(
            config.clone(),
            Recovered { snapshot: Some(snapshot), log, ..Default::default() },
        );
        assert_eq!(r.node.last_zxid(), h.node.last_zxid(), "after create {i}");
        assert_eq!(r.node.tree().digest(), h.node.tree().digest(), "after create {i}");
        checked += 1;
    }
    assert!(checked > 20, "snapshots were taken ({checked} checks)");
}

/// Snapshots written a node per input: each stays under way across later writes (sets and
/// deletes of nodes it has not reached, creates after its cursor), yet decodes to exactly
/// the state at its label, so the label's snapshot plus the log after the label recovers
/// the live node.
#[test]
fn sliced_snapshots_hold_the_state_at_their_label() {
    let mut config = Config::standalone(2000);
    config.snap_count = 6;
    config.snapshot_slice_nodes = 1;
    let mut h = Harness::with(config.clone(), Recovered::default());
    h.session(1);
    let (mut checked, mut spanned, mut seen) = (0, 0, None);
    for i in 0..60u64 {
        let xid = i as i32 * 2 + 1;
        h.request(1, xid, create(&format!("/n{}", i % 9), "v", 0));
        let set = Request::SetData { path: format!("/n{}", (i * 5) % 9), data: None, version: -1 };
        h.request(1, xid + 1, set);
        if i % 4 == 3 {
            h.request(1, 1000 + xid, Request::Delete { path: format!("/n{}", i % 9), version: -1 });
        }
        let Some((image, at)) = h.snapshot.clone() else { continue };
        if seen.as_ref() == Some(&image) {
            continue;
        }
        seen = Some(image.clone());
        let snapshot = crate::persist::decode_snapshot(&image).expect("decodes");
        let label = snapshot.zxid;
        if h.log[..at].iter().any(|r| r.header.zxid > label) {
            spanned += 1;
        }
        let log: Vec<TxnRecord> = h.log.iter().filter(|r| r.header.zxid > label).cloned().collect();
        let r = Harness::with(
            config.clone(),
            Recovered { snapshot: Some(snapshot), log, ..Default::default() },
        );
        assert_eq!(r.node.last_zxid(), h.node.last_zxid(), "round {i}");
        assert_eq!(r.node.tree().digest(), h.node.tree().digest(), "round {i}");
        checked += 1;
    }
    assert!(checked >= 5, "snapshots were written ({checked})");
    assert!(spanned >= 5, "snapshots spanned later writes ({spanned})");
}

/// Ticks write several slices of a snapshot under way (any other input one), and a tick
/// after a quiet interval many: a snapshot of 60 nodes written a node per slice is not done
/// after two ticks with requests between them, and is done at the next, quiet, one; it
/// holds the state at its label.
#[test]
fn ticks_finish_a_snapshot_on_an_idle_server() {
    let mut config = Config::standalone(2000);
    config.snap_count = 1_000_000;
    config.snapshot_slice_nodes = 1;
    let mut h = Harness::with(config, Recovered::default());
    h.session(1);
    for i in 0..56 {
        h.request(1, i + 1, create(&format!("/n{i}"), "v", 0));
    }
    let nodes = h.node.tree().node_count();
    let busy_ticks = crate::config::SNAPSHOT_SLICES_PER_TICK * 2;
    assert!(nodes > busy_ticks + 3, "{nodes} nodes");
    h.node.take_snapshot(); // as an apply would: the first slice is written at once
    let read = || Request::GetData { path: "/n0".into(), watch: false };
    // The input that started a snapshot writes no second slice; called from here, the next
    // input is that one.
    h.request(1, 100, read());
    h.input(Input::Tick { wall_ms: 2_000 });
    h.request(1, 101, read());
    h.input(Input::Tick { wall_ms: 4_000 });
    assert!(h.snapshot.is_none(), "busy ticks wrote only {busy_ticks} slices and two reads");
    h.input(Input::Tick { wall_ms: 6_000 });
    let (image, _) = h.snapshot.clone().expect("the quiet tick finished the snapshot");
    let snapshot = crate::persist::decode_snapshot(&image).expect("decodes");
    assert_eq!(snapshot.zxid, h.node.last_zxid());
    let r = Harness::with(
        Config::standalone(2000),
        Recovered { snapshot: Some(snapshot), log: Vec::new(), ..Default::default() },
    );
    assert_eq!(r.node.tree().digest(), h.node.tree().digest());
}

/// `DiskFull`: writes answer NOTREADONLY before anything is applied or logged, reads and
/// existing sessions go on, new sessions and expiry wait; `full: false` resumes writes.
#[test]
fn a_full_disk_refuses_writes_and_serves_reads() {
    let mut h = Harness::new();
    let session = h.session(1);
    h.request(1, 1, create("/a", "x", 0));
    let logged = h.log.len();
    h.input(Input::DiskFull { full: true });
    let out = h.request(1, 2, create("/b", "y", 0));
    assert_eq!(reply_of(&out, 2), &Err(KeeperError::NotReadOnly));
    let out = h.request(1, 3, Request::GetData { path: "/a".into(), watch: false });
    assert!(matches!(reply_of(&out, 3), Ok(Response::GetData { .. })), "{out:?}");
    let out = h.request(1, 4, Request::GetData { path: "/b".into(), watch: false });
    assert_eq!(reply_of(&out, 4), &Err(KeeperError::NoNode), "the refused create left nothing");
    // A new session needs a transaction: refused; the existing one reconnects.
    let out = h.connect(2, SessionId::NONE, [0; 16]);
    assert!(matches!(&out[..], [Output::Close { .. }]), "{out:?}");
    let passwd: [u8; 16] = crate::session::password(session);
    let out = h.connect(3, session, passwd);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Connected { resp, .. } if resp.session_id == session)),
        "{out:?}"
    );
    // Session 1's connection closed: its session would expire, but expiry is a txn.
    h.input(Input::ClientClosed { conn: ConnId(3) });
    for t in 0..20 {
        h.input(Input::Tick { wall_ms: 2_000 + t * 2_000 });
    }
    assert_eq!(h.log.len(), logged, "nothing logged while the disk is full");
    assert!(h.node.sessions().get(session).is_some(), "the session outlives its timeout");
    h.input(Input::DiskFull { full: false });
    h.input(Input::Tick { wall_ms: 50_000 });
    h.sync();
    assert!(h.node.sessions().get(session).is_none(), "expiry resumes with room");
    assert!(h.log.len() > logged);
}

mod early_reads;
