//! Early reads (see `visible.rs`): a read whose answer no in-flight transaction can change
//! leaves at once, labelled with the visible zxid; every other read waits as before.

use bytes::Bytes;

use super::{create, reply_of, Harness};
use crate::error::KeeperError;
use crate::ids::{ConnId, PersistSeq, Xid, Zxid};
use crate::input::Input;
use crate::output::Output;
use crate::proto::{Acl, Id, Request, Response};

/// Sends a request without letting the disk catch up; returns what left at once.
fn send(h: &mut Harness, conn: u64, xid: i32, req: Request) -> Vec<Output> {
    let wall_ms = h.wall_ms;
    h.input(Input::ClientRequest { conn: ConnId(conn), xid: Xid(xid), req, wall_ms })
}

fn get(path: &str) -> Request {
    Request::GetData { path: path.into(), watch: false }
}

fn set(path: &str, data: &'static str) -> Request {
    Request::SetData {
        path: path.into(),
        data: Some(Bytes::from_static(data.as_bytes())),
        version: -1,
    }
}

/// The header zxid of the reply to `xid`.
fn zxid_of(out: &[Output], want: i32) -> Zxid {
    out.iter()
        .find_map(|o| match o {
            Output::Reply { xid, zxid, .. } if xid.0 == want => Some(*zxid),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no reply to xid {want} in {out:?}"))
}

/// Two sessions (connections 1 and 2) and the durable nodes `paths`.
fn setup(paths: &[&str]) -> Harness {
    let mut h = Harness::new();
    h.session(1);
    h.session(2);
    for (i, p) in paths.iter().enumerate() {
        assert!(
            reply_of(&h.request(1, 1000 + i as i32, create(p, "v0", 0)), 1000 + i as i32).is_ok()
        );
    }
    h
}

#[test]
fn a_read_of_an_untouched_path_does_not_wait_for_another_sessions_write() {
    let mut h = setup(&["/a", "/b"]);
    let durable = h.node.last_zxid();
    assert!(send(&mut h, 1, 1, set("/a", "v1")).is_empty(), "the write waits for its fsync");
    let write_zxid = h.node.last_zxid();
    assert!(write_zxid > durable);

    let out = send(&mut h, 2, 1, get("/b"));
    assert!(matches!(reply_of(&out, 1), Ok(Response::GetData { .. })), "answered at once");
    assert_eq!(zxid_of(&out, 1), durable, "labelled with the durable zxid, not {write_zxid}");
    let out = send(&mut h, 2, 2, Request::Exists { path: "/missing".into(), watch: false });
    assert_eq!(reply_of(&out, 2), &Err(KeeperError::NoNode));
    let out = send(&mut h, 2, 3, Request::Ping);
    assert_eq!(zxid_of(&out, 3), durable, "a ping does not wait either");

    // The written path waits, and then shows the write.
    assert!(send(&mut h, 2, 4, get("/a")).is_empty(), "a read of the dirty path waits");
    let out = h.sync();
    match reply_of(&out, 4) {
        Ok(Response::GetData { data, .. }) => assert_eq!(data.as_deref(), Some(&b"v1"[..])),
        other => panic!("{other:?}"),
    }
    assert_eq!(zxid_of(&out, 4), write_zxid);
    // Everything durable: the whole tree is visible again.
    let out = send(&mut h, 2, 5, get("/b"));
    assert_eq!(zxid_of(&out, 5), write_zxid);
    assert_eq!(h.node.visibility.dirty_len(), 0);
}

#[test]
fn the_header_zxid_follows_the_disk_write_by_write() {
    let mut h = setup(&["/a", "/b", "/c"]);
    let start_seq = h.last_seq;
    assert!(send(&mut h, 1, 1, set("/a", "v1")).is_empty());
    let first = h.node.last_zxid();
    let first_seq = h.last_seq;
    assert!(send(&mut h, 1, 2, set("/b", "v1")).is_empty());
    assert!(h.last_seq > first_seq);
    let out = send(&mut h, 2, 1, get("/c"));
    assert_eq!(zxid_of(&out, 1), Zxid(first.0 - 1), "nothing new is durable");
    // Only the first write is durable: its path is visible, the second's is not.
    let out = h.input(Input::Persisted { up_to: PersistSeq(first_seq) });
    assert!(first_seq > start_seq);
    assert_eq!(reply_of(&out, 1), &Ok(Response::Stat(out_stat(&h, "/a"))));
    let out = send(&mut h, 2, 2, get("/c"));
    assert_eq!(zxid_of(&out, 2), first, "never above the durable zxid");
    let out = send(&mut h, 2, 3, get("/a"));
    assert_eq!(zxid_of(&out, 3), first, "the settled write's path is clean again");
    assert!(send(&mut h, 2, 4, get("/b")).is_empty(), "the second write is not durable");
}

fn out_stat(h: &Harness, path: &str) -> crate::proto::Stat {
    h.node.tree().get(path).expect("exists").stat
}

#[test]
fn reads_that_depend_on_an_unpersisted_change_wait() {
    let mut h = setup(&["/p", "/p/c", "/s", "/q"]);
    // A path under a freshly deleted parent.
    assert!(send(&mut h, 1, 1, Request::Delete { path: "/p/c".into(), version: -1 }).is_empty());
    let under = Request::Exists { path: "/p/c/d".into(), watch: false };
    assert!(send(&mut h, 2, 21, under).is_empty(), "NoNode under a dirty ancestor waits");
    h.sync();
    // An ACL changed by an unpersisted setACL.
    let acl = vec![Acl { perms: crate::proto::perms::READ, id: Id::new("digest", "u:x") }];
    assert!(send(&mut h, 1, 2, Request::SetAcl { path: "/s".into(), acl, version: -1 }).is_empty());
    assert!(send(&mut h, 2, 22, get("/s")).is_empty(), "the ACL check waits for the setACL");
    assert!(send(&mut h, 2, 23, Request::GetAcl { path: "/s".into() }).is_empty());
    let out = h.sync();
    assert_eq!(reply_of(&out, 22), &Err(KeeperError::NoAuth));
    // getChildren of a parent with an unpersisted create, and the counts below it.
    assert!(send(&mut h, 1, 3, create("/q/new", "", 0)).is_empty());
    let children = Request::GetChildren { path: "/q".into(), watch: false };
    assert!(send(&mut h, 2, 24, children).is_empty(), "the parent's children changed");
    h.sync();
    assert!(send(&mut h, 1, 4, create("/q/new/deeper", "", 0)).is_empty());
    let count = Request::GetAllChildrenNumber { path: "/q".into() };
    assert!(send(&mut h, 2, 25, count).is_empty(), "something below /q is dirty");
    let multi = Request::MultiRead(vec![get("/s"), get("/q/new/deeper")]);
    assert!(send(&mut h, 2, 26, multi).is_empty(), "a multi-read waits for its dirty op");
    let out = h.sync();
    assert_eq!(reply_of(&out, 25), &Ok(Response::AllChildrenNumber(2)));
    // With nothing dirty the same reads leave at once.
    let count = Request::GetAllChildrenNumber { path: "/q".into() };
    assert!(!send(&mut h, 2, 27, count).is_empty());
    let multi = Request::MultiRead(vec![get("/p"), get("/q/new/deeper")]);
    assert!(!send(&mut h, 2, 28, multi).is_empty());
}

#[test]
fn a_closing_session_makes_its_ephemerals_dirty() {
    let mut h = setup(&[]);
    h.session(3);
    assert!(reply_of(&h.request(3, 1, create("/e", "", 1)), 1).is_ok());
    assert!(send(&mut h, 3, 2, Request::CloseSession).is_empty());
    let exists = Request::Exists { path: "/e".into(), watch: false };
    assert!(send(&mut h, 2, 1, exists).is_empty(), "the ephemeral's delete is not durable");
    let children = Request::GetChildren { path: "/".into(), watch: false };
    assert!(send(&mut h, 2, 2, children).is_empty(), "nor is its parent's change");
    let out = h.sync();
    assert_eq!(reply_of(&out, 1), &Err(KeeperError::NoNode));
}

#[test]
fn a_held_watch_event_keeps_the_connections_later_reads_behind_it() {
    let mut h = setup(&["/w", "/other"]);
    h.session(3);
    h.request(2, 1, Request::GetData { path: "/w".into(), watch: true });
    assert!(send(&mut h, 1, 1, set("/w", "v1")).is_empty(), "the event to c2 is held");
    // c2's read of an untouched path would be clean, but its event must come first.
    assert!(send(&mut h, 2, 2, get("/other")).is_empty());
    // Another connection's read of it is not held up.
    assert!(!send(&mut h, 3, 1, get("/other")).is_empty());
    let out = h.sync();
    let order: Vec<String> = out
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::Watch { conn: ConnId(2), .. } | Output::Reply { conn: ConnId(2), .. }
            )
        })
        .map(|o| match o {
            Output::Watch { .. } => "watch".to_string(),
            Output::Reply { xid, .. } => format!("reply {}", xid.0),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(order, ["watch", "reply 2"]);
}

#[test]
fn a_watch_set_by_an_early_read_fires_for_the_next_write() {
    let mut h = setup(&["/w", "/x"]);
    assert!(send(&mut h, 1, 1, set("/x", "v1")).is_empty(), "an unrelated write in flight");
    let out = send(&mut h, 2, 1, Request::Exists { path: "/w".into(), watch: true });
    assert!(matches!(reply_of(&out, 1), Ok(Response::Stat(_))), "answered early");
    let out = send(&mut h, 2, 2, Request::Exists { path: "/new".into(), watch: true });
    assert_eq!(reply_of(&out, 2), &Err(KeeperError::NoNode), "answered early");
    assert!(send(&mut h, 1, 2, set("/w", "v2")).is_empty());
    assert!(send(&mut h, 1, 3, create("/new", "", 0)).is_empty());
    let out = h.sync();
    let events: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Watch { conn: ConnId(2), event, .. } => Some(event.path.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(events, ["/w", "/new"]);
}

#[test]
fn a_path_stays_dirty_until_its_newest_write_is_durable() {
    let mut h = setup(&["/a"]);
    assert!(send(&mut h, 1, 1, set("/a", "v1")).is_empty());
    let first_seq = h.last_seq;
    assert!(send(&mut h, 1, 2, set("/a", "v2")).is_empty());
    h.input(Input::Persisted { up_to: PersistSeq(first_seq) });
    assert!(send(&mut h, 2, 1, get("/a")).is_empty(), "v2 is not durable yet");
    let out = h.sync();
    match reply_of(&out, 1) {
        Ok(Response::GetData { data, .. }) => assert_eq!(data.as_deref(), Some(&b"v2"[..])),
        other => panic!("{other:?}"),
    }
}
