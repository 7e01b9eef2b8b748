//! `keeper import-zk`, `purge`, `inspect` and autopurge on real files: ZooKeeper 3.8's own
//! files from core/tests/fixtures/zk38 (written by Debian's ZooKeeper after: create /a
//! hello; create /a/b; create -s /a/seq- x; create -e /eph e; set /a world; setAcl /a/b
//! digest+world; create -c /cont; create /cont/x; delete /cont/x), and dataDirs written
//! by a running keeper server.

mod ops_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keeper_core::persist::decode_snapshot;
use keeper_core::proto::Acl;
use keeper_net::client::connect;
use ops_common::{keeper, runtime, srvr_zxid, text, Server, TempDir};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures/zk38");

/// A ZooKeeper dataDir holding the named fixture files, each passed through `edit`.
fn zk_dir(dir: &Path, files: &[(&str, &str)], edit: impl Fn(&str, &mut Vec<u8>)) -> PathBuf {
    let zk = dir.join("zk");
    std::fs::create_dir_all(zk.join("version-2")).unwrap();
    for (fixture, name) in files {
        let mut bytes = std::fs::read(Path::new(FIXTURES).join(fixture)).unwrap();
        edit(name, &mut bytes);
        std::fs::write(zk.join("version-2").join(name), bytes).unwrap();
    }
    zk
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn snapshots(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("version-2"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| n.starts_with("snapshot.") && !n.ends_with(".tmp"));
    names.sort_by_key(|n| u64::from_str_radix(&n["snapshot.".len()..], 16).unwrap());
    names
}

#[test]
fn import_serves_zookeepers_tree() {
    let dir = TempDir::new("import");
    let zk = zk_dir(dir.path(), &[("snapshot.12", "snapshot.12"), ("log.1", "log.1")], |_, _| {});
    let data = dir.path().join("data");
    let r = keeper(&["import-zk", s(&zk), s(&data)]);
    assert!(r.status.success(), "{}", text(&r));
    let snap = std::fs::read(data.join("version-2/snapshot.12")).unwrap();
    let state = decode_snapshot(&snap).unwrap();
    assert_eq!(state.zxid.0, 0x12);
    let server = Server::start(dir.path(), &data, "");
    assert_eq!(srvr_zxid(&server), 0x12, "keeper goes on from ZooKeeper's last zxid");
    let rt = runtime();
    let addrs = vec![server.addr()];
    rt.block_on(async {
        let (c, _) = connect(&addrs, Duration::from_secs(10)).await.unwrap();
        let (data, stat) = c.get_data("/a", false).await.unwrap();
        assert_eq!(data.as_deref(), Some(&b"world"[..]));
        assert_eq!((stat.version, stat.czxid, stat.mzxid, stat.num_children), (1, 0x2, 0xa, 2));
        let (acl, stat) = c.get_acl("/a/b").await.unwrap();
        assert_eq!(acl.len(), 2);
        assert_eq!(acl[0].id.scheme, "digest");
        assert_eq!(stat.aversion, 1);
        let (_, stat) = c.create("/new", b"", Acl::open_unsafe(), 0, None).await.unwrap();
        assert_eq!(stat.czxid, 0x14, "createSession took 0x13, the create 0x14");
        // world:anyone may only read /a/b; writing needs the digest user.
        assert!(c.get_data("/a/b", false).await.is_ok());
        assert!(c.set_data("/a/b", b"no", -1).await.is_err(), "the digest ACL guards /a/b");
    });
}

#[test]
fn import_refuses_what_it_cannot_do_right() {
    let dir = TempDir::new("import-refusals");
    let both = [("snapshot.12", "snapshot.12"), ("log.1", "log.1")];
    let run = |zk: &Path, target: &str| keeper(&["import-zk", s(zk), s(&dir.path().join(target))]);

    let zk = zk_dir(dir.path(), &both, |_, _| {});
    std::fs::create_dir_all(dir.path().join("busy")).unwrap();
    std::fs::write(dir.path().join("busy/notes.txt"), "x").unwrap();
    let r = run(&zk, "busy");
    assert!(!r.status.success() && text(&r).contains("not empty"), "{}", text(&r));

    // A damaged entry with entries after it: corruption, named by file and offset.
    let flip = |name: &str, b: &mut Vec<u8>| {
        if name.starts_with("log") {
            b[100] ^= 1;
        }
    };
    std::fs::remove_dir_all(&zk).unwrap();
    let zk = zk_dir(dir.path(), &both, flip);
    let r = run(&zk, "t1");
    assert!(!r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("log.1 is corrupt at offset"), "{}", text(&r));
    assert!(!dir.path().join("t1").exists(), "nothing is written on failure");

    // An unknown log format version.
    std::fs::remove_dir_all(&zk).unwrap();
    let zk = zk_dir(dir.path(), &both, |name, b| {
        if name.starts_with("log") {
            b[7] = 9;
        }
    });
    let r = run(&zk, "t2");
    assert!(text(&r).contains("unsupported ZooKeeper log format version 9"), "{}", text(&r));

    // An unknown snapshot version, with no log to rebuild from instead.
    std::fs::remove_dir_all(&zk).unwrap();
    let zk = zk_dir(dir.path(), &[("snapshot.12", "snapshot.12")], |_, b| b[7] = 9);
    let r = run(&zk, "t3");
    assert!(!r.status.success());
    assert!(text(&r).contains("snapshot format version 9"), "{}", text(&r));

    // Compressed snapshots are named, not misread.
    std::fs::remove_dir_all(&zk).unwrap();
    let zk = zk_dir(dir.path(), &[("snapshot.12", "snapshot.12.gz")], |_, _| {});
    let r = run(&zk, "t4");
    assert!(text(&r).contains("compressed (gz)"), "{}", text(&r));

    // A torn tail (the last entry cut short, zeros after) is dropped as ZooKeeper does.
    std::fs::remove_dir_all(&zk).unwrap();
    let zk = zk_dir(dir.path(), &[("log.1", "log.1")], |_, b| {
        let n = b.len();
        b[n - 20..].fill(0);
    });
    let r = run(&zk, "t5");
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("unfinished entry"), "{}", text(&r));
    assert!(text(&r).contains("last zxid 0x11"), "{}", text(&r));
}

/// Writes `n` znodes through a server with a small snapCount; returns its dataDir.
fn write_through(server: &Server, n: usize) {
    let rt = runtime();
    let addrs = vec![server.addr()];
    rt.block_on(async {
        let (c, _) = connect(&addrs, Duration::from_secs(10)).await.unwrap();
        for i in 0..n {
            c.create(&format!("/n{i:04}"), b"d", Acl::open_unsafe(), 0, None).await.unwrap();
        }
        c.close().await.unwrap();
    });
}

/// Polls (bounded) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn purge_keeps_the_newest_and_refuses_a_live_server() {
    let dir = TempDir::new("purge");
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, "snapCount=4");
    write_through(&server, 40);
    eventually("several snapshots", || snapshots(&data).len() > 5);
    let r = keeper(&["purge", s(&data)]);
    assert!(!r.status.success() && text(&r).contains("in use"), "{}", text(&r));
    server.stop();
    let before = snapshots(&data);
    let r = keeper(&["purge", s(&data), "-n", "2"]);
    assert!(!r.status.success() && text(&r).contains("at least 3"), "{}", text(&r));
    let r = keeper(&["purge", s(&data), "-n", "3"]);
    assert!(r.status.success(), "{}", text(&r));
    assert_eq!(snapshots(&data), before[before.len() - 3..].to_vec(), "the newest 3 are kept");
    let server = Server::start(dir.path(), &data, "snapCount=4");
    let zxid = srvr_zxid(&server);
    assert!(zxid >= 41, "every write survives the purge (zxid {zxid:#x})");
    let log = keeper(&["inspect", s(&data.join("version-2").join(&snapshots(&data)[2]))]);
    assert!(text(&log).contains("/n0000"), "{}", text(&log));
}

/// zoo.cfg's autopurge.purgeInterval (on when > 0) and autopurge.snapRetainCount reach the
/// server: it purges after each snapshot down to the retain count; with the interval at 0
/// nothing is purged.
#[test]
fn autopurge_settings_are_honoured() {
    let dir = TempDir::new("autopurge");
    let on = dir.path().join("on");
    let cfg = "snapCount=4\nautopurge.purgeInterval=1\nautopurge.snapRetainCount=4";
    let server = Server::start(dir.path(), &on, cfg);
    write_through(&server, 40);
    eventually("purged down to 4 snapshots", || snapshots(&on).len() == 4);
    let off = dir.path().join("off");
    let cfg = "snapCount=4\nautopurge.purgeInterval=0\nautopurge.snapRetainCount=4";
    let server_off = Server::start(dir.path(), &off, cfg);
    write_through(&server_off, 40);
    eventually("snapshots kept without autopurge", || snapshots(&off).len() > 4);
    assert_eq!(snapshots(&on).len(), 4, "still 4 after the other server's writes");
    drop(server);
}

#[test]
fn inspect_prints_logs_and_names_damage() {
    let dir = TempDir::new("inspect");
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, "");
    write_through(&server, 3);
    server.stop();
    let log = std::fs::read_dir(data.join("version-2"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("log."))
        .expect("a log file");
    let r = keeper(&["inspect", s(&log)]);
    assert!(r.status.success(), "{}", text(&r));
    let out = String::from_utf8_lossy(&r.stdout).to_string();
    assert!(out.lines().any(|l| l.contains(" create /n0002 ")), "{out}");
    assert!(out.lines().last().unwrap().starts_with("end=clean records=5"), "{out}");
    let r = keeper(&["inspect", "--json", s(&log)]);
    for line in String::from_utf8_lossy(&r.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
        assert!(v.get("kind").is_some(), "{line}");
    }
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[30] ^= 0x40;
    let bad = dir.path().join("bad.log");
    std::fs::write(&bad, &bytes).unwrap();
    let r = keeper(&["inspect", s(&bad)]);
    assert!(!r.status.success());
    assert!(text(&r).contains("corrupt at offset 20"), "{}", text(&r));
    let r = keeper(&["inspect", s(&dir.path().join("zoo-none"))]);
    assert!(!r.status.success() && text(&r).contains("cannot read"));
}

/// docs/examples/zoo.cfg is a configuration `keeper server` accepts as it stands.
#[test]
fn the_example_zoo_cfg_is_accepted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let path = root.join("docs/examples/zoo.cfg");
    let cfg = keeper_net::startup::load_config(&path).expect("docs/examples/zoo.cfg parses");
    assert_eq!(cfg.client_port, Some(2181));
    assert!(!cfg.is_distributed(), "the example is a standalone server");
    assert!(
        cfg.unknown.is_empty(),
        "every key in the example is one keeper reads: {:?}",
        cfg.unknown
    );
    assert!(cfg.config.four_letter_whitelist.iter().any(|w| w == "kbak"));
    let unit = std::fs::read_to_string(root.join("docs/examples/keeper.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/keeper server /etc/keeper/zoo.cfg"));
}
