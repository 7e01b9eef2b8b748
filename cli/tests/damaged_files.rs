//! Damaged snapshot and log files on the real binary: a server stopped with many
//! snapshots and log files has one file damaged (bytes flipped, cut short, or removed),
//! and a restart must either serve exactly the data that was acknowledged or refuse to
//! start with a message naming the damage, as docs/operations.md says. Never anything in
//! between: each started server is compared node by node with the acknowledged tree.

mod ops_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keeper_core::proto::Acl;
use keeper_net::client::{connect, Client};
use ops_common::{four_letter, runtime, Server, TempDir};

/// Nodes written before the damage; with snapCount=10 that makes about a dozen
/// snapshots and log files.
const NODES: usize = 120;
const CFG: &str = "snapCount=10\npreAllocSize=4";

type Tree = BTreeMap<String, Vec<u8>>;

/// Every child of /n with its data.
async fn tree(c: &Client) -> Tree {
    let mut out = Tree::new();
    for name in c.get_children("/n", false).await.unwrap().0 {
        let path = format!("/n/{name}");
        let (data, _) = c.get_data(&path, false).await.unwrap();
        out.insert(path, data.map(|d| d.to_vec()).unwrap_or_default());
    }
    out
}

/// Files of `version-2` starting with `prefix`, oldest zxid first.
fn files(data: &Path, prefix: &str) -> Vec<PathBuf> {
    let dir = data.join("version-2");
    let mut named: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
            Some((u64::from_str_radix(hex, 16).ok()?, e.path()))
        })
        .collect();
    named.sort();
    named.into_iter().map(|(_, p)| p).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    assert!(at < bytes.len(), "{} has {} bytes", path.display(), bytes.len());
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

fn cut(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

/// Starts a server on `data`: Ok once it answers `ruok`, Err(its output) if it exits.
fn start(dir: &Path, data: &Path) -> Result<Server, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = dir.join("probe.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=ruok\n{CFG}\n",
            data.display()
        ),
    )
    .unwrap();
    let log = dir.join("probe.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keeper"))
        .arg("server")
        .arg(&cfg)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(!status.success(), "a refusing server exits non-zero");
            return Err(text);
        }
        if four_letter(port, "ruok").as_deref() == Some("imok") {
            let _ = child.kill();
            let _ = child.wait();
            // Started: start it again through the shared helper, which owns its lifetime.
            return Ok(Server::start(dir, data, CFG));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server neither started nor refused:\n{}", std::fs::read_to_string(&log).unwrap());
}

/// The dataDir after the workload, and the acknowledged tree.
fn written(dir: &Path) -> (PathBuf, Tree) {
    let data = dir.join("pristine");
    let server = Server::start(dir, &data, CFG);
    let rt = runtime();
    let expected = rt.block_on(async {
        let (c, _) = connect(&[server.addr()], Duration::from_secs(10)).await.unwrap();
        c.create("/n", b"", Acl::open_unsafe(), 0, None).await.unwrap();
        for i in 0..NODES {
            let path = format!("/n/{i:03}");
            c.create(&path, format!("v{i}").as_bytes(), Acl::open_unsafe(), 0, None).await.unwrap();
            if i % 7 == 0 {
                c.set_data(&path, format!("w{i}").as_bytes(), -1).await.unwrap();
            }
        }
        tree(&c).await
    });
    // Snapshots are written off the request path, and each one rolls the log: wait
    // (bounded) until every snapshot asked for is on disk (one fewer than the logs).
    let deadline = Instant::now() + Duration::from_secs(20);
    while files(&data, "snapshot").len() + 1 < files(&data, "log").len()
        || files(&data, "snapshot").len() < 5
    {
        assert!(Instant::now() < deadline, "snapshots did not appear");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.stop();
    (data, expected)
}

/// Applies `damage` to a copy of the pristine dataDir and restarts on it.
fn restart_after(
    dir: &Path,
    pristine: &Path,
    name: &str,
    damage: impl FnOnce(&Path),
) -> Result<Tree, String> {
    let case = dir.join(name);
    let data = case.join("data");
    copy_dir(pristine, &data);
    damage(&data);
    let server = start(&case, &data)?;
    let rt = runtime();
    Ok(rt.block_on(async {
        let (c, _) = connect(&[server.addr()], Duration::from_secs(10)).await.unwrap();
        tree(&c).await
    }))
}

#[test]
fn damaged_files_are_refused_or_repaired_never_served() {
    let dir = TempDir::new("damaged");
    let (pristine, expected) = written(dir.path());
    assert_eq!(expected.len(), NODES);
    let snaps = files(&pristine, "snapshot");
    let logs = files(&pristine, "log");
    assert!(logs.len() >= 4, "want several log files, got {logs:?}");
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let newest_snap = name(snaps.last().unwrap());
    let middle_log = name(&logs[logs.len() / 2]);
    let at = |data: &Path, file: &str| data.join("version-2").join(file);

    // Repaired: a damaged newest snapshot is skipped for an older one plus the logs.
    let flipped = restart_after(dir.path(), &pristine, "snap-flip", |d| {
        let p = at(d, &newest_snap);
        let len = std::fs::metadata(&p).unwrap().len() as usize;
        flip(&p, len / 2);
    });
    assert_eq!(flipped.as_ref(), Ok(&expected), "newest snapshot with a flipped byte");
    let halved = restart_after(dir.path(), &pristine, "snap-cut", |d| {
        let p = at(d, &newest_snap);
        cut(&p, std::fs::metadata(&p).unwrap().len() / 2);
    });
    assert_eq!(halved.as_ref(), Ok(&expected), "newest snapshot cut in half");

    // Refused, naming the damage: every snapshot unreadable.
    let none = restart_after(dir.path(), &pristine, "snap-all", |d| {
        for s in files(d, "snapshot") {
            flip(&s, 30);
        }
    });
    let why = none.expect_err("no readable snapshot must refuse to start");
    assert!(why.contains("no snapshot in") && why.contains("can be read"), "{why}");

    // A damaged log file that the newest snapshot covers is not read at all (as in
    // ZooKeeper): the server starts and serves the acknowledged tree.
    let covered =
        restart_after(dir.path(), &pristine, "log-covered", |d| flip(&at(d, &middle_log), 30));
    assert_eq!(covered.as_ref(), Ok(&expected), "a flipped byte in a log the snapshot covers");

    // Refused: a log file that recovery needs (the two newest snapshots are unreadable, so
    // the third is used, and the logs after it are read) with a flipped byte, or cut short.
    let second = name(&snaps[snaps.len() - 2]);
    let older = snaps[snaps.len() - 3].clone();
    let older_zxid = u64::from_str_radix(&name(&older)["snapshot.".len()..], 16).unwrap();
    let needed = logs
        .iter()
        .rev()
        .find(|l| u64::from_str_radix(&name(l)["log.".len()..], 16).unwrap() <= older_zxid + 1)
        .map(|l| name(l))
        .expect("a log holding the records after the older snapshot");
    assert_ne!(Some(&needed), logs.last().map(|l| name(l)).as_ref(), "later logs follow it");
    let log_flip = restart_after(dir.path(), &pristine, "log-flip", |d| {
        flip(&at(d, &newest_snap), 30);
        flip(&at(d, &second), 30);
        flip(&at(d, &needed), 30);
    });
    let why = log_flip.expect_err("a damaged record with records after it must refuse");
    assert!(why.contains(&needed) && why.contains("corrupt at offset"), "{why}");
    let log_cut = restart_after(dir.path(), &pristine, "log-cut", |d| {
        flip(&at(d, &newest_snap), 30);
        flip(&at(d, &second), 30);
        cut(&at(d, &needed), 40);
    });
    let why = log_cut.expect_err("a torn log that later logs follow must refuse");
    assert!(why.contains(&needed) && why.contains("corrupt"), "{why}");

    // The newest snapshots unreadable and a log the older one needs gone: the records in
    // it are a hole in the history (or, when it was the last log, the history now ends
    // before the unreadable snapshot's zxid), which must refuse, not serve a tree without
    // them.
    let after_needed = logs.iter().position(|l| name(l) == needed).unwrap() + 1;
    let gone = name(&logs[after_needed]);
    let hole = restart_after(dir.path(), &pristine, "hole", |d| {
        flip(&at(d, &newest_snap), 30);
        flip(&at(d, &second), 30);
        std::fs::remove_file(at(d, &gone)).unwrap();
    });
    let why = hole.expect_err("a hole in the log must refuse (it served a tree without it)");
    assert!(why.contains("missing"), "{why}");
}
