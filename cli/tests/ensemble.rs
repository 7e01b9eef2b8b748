//! A replicated ensemble of real `keeper server` processes on loopback.
//!
//! Three members, each with its own zoo.cfg (`server.1..3` lines with free quorum and
//! election ports) and `myid`, form an ensemble: exactly one reports `Mode: leader`. A
//! write through a follower is read back (after `sync`) from every member. The leader is
//! killed with SIGKILL; a new leader must serve a write within [`FAILOVER_BOUND`] (the
//! measured time is printed). The old leader is restarted on its dataDir and must catch up:
//! it rejoins as a follower and reads the write made while it was down. Every wait polls
//! with a deadline.

mod ops_common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use keeper_core::proto::Acl;
use keeper_net::client::connect;
use ops_common::{client_until, formed, four_letter, free_port, read_until, spawn_server};

/// How long the ensemble may take to elect its first leader.
const FORM_WITHIN: Duration = Duration::from_secs(20);
/// From SIGKILL of the leader to a write acknowledged by the new leader's ensemble.
const FAILOVER_BOUND: Duration = Duration::from_secs(15);
/// tickTime of the test ensemble (election resends and limits are counted in ticks).
const TICK_MS: u64 = 500;
const MEMBERS: u64 = 3;

struct Member {
    id: u64,
    dir: PathBuf,
    client_port: u16,
    child: Option<Child>,
}

impl Member {
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }
    fn start(&mut self, tag: &str) {
        let log = self.dir.join(format!("server-{tag}.log"));
        let level = std::env::var("KEEPER_ENSEMBLE_LOG").unwrap_or_else(|_| "info".into());
        let bin = Path::new(env!("CARGO_BIN_EXE_keeper"));
        self.child = Some(spawn_server(bin, &self.dir.join("zoo.cfg"), &log, &level));
    }
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
    }
    fn mode(&self) -> Option<String> {
        let text = four_letter(self.client_port, "srvr")?;
        text.lines().find_map(|l| l.strip_prefix("Mode: ")).map(|m| m.trim().to_string())
    }
    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                out += &format!(
                    "--- {}\n{}\n",
                    p.display(),
                    lines[lines.len().saturating_sub(30)..].join("\n")
                );
            }
        }
        out
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

struct Ensemble {
    root: PathBuf,
    members: Vec<Member>,
    /// The `server.N=host:quorum:election` lines every zoo.cfg holds.
    servers: String,
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill9();
        }
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

impl Ensemble {
    fn dump(&self) -> String {
        self.members.iter().map(Member::logs).collect()
    }
    /// Polls srvr until exactly one of `among` is leader and the rest follow.
    fn wait_formed(&self, among: &[usize], within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let modes: Vec<Option<String>> =
                among.iter().map(|i| self.members[*i].mode()).collect();
            if let Some(leader) = formed(among, &modes) {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "no ensemble formed: modes {modes:?}\n{}",
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn setup(root: &Path) -> Ensemble {
    let ports: Vec<(u16, u16, u16)> =
        (0..MEMBERS).map(|_| (free_port(), free_port(), free_port())).collect();
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, (_, q, e))| format!("server.{}=127.0.0.1:{q}:{e}\n", i + 1))
        .collect();
    let mut members = Vec::new();
    for (i, (client, _, _)) in ports.iter().enumerate() {
        let id = i as u64 + 1;
        let dir = root.join(format!("m{id}"));
        let data = dir.join("data");
        std::fs::create_dir_all(&data).expect("create dataDir");
        std::fs::write(data.join("myid"), format!("{id}\n")).expect("write myid");
        let cfg = format!(
            "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n\
             maxSessionTimeout=60000\n{servers}",
            data.display()
        );
        std::fs::write(dir.join("zoo.cfg"), cfg).expect("write zoo.cfg");
        members.push(Member { id, dir, client_port: *client, child: None });
    }
    Ensemble { root: root.to_path_buf(), members, servers }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_replicate_fail_over_and_catch_up() {
    let root = std::env::temp_dir().join(format!("keeper-ensemble-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut ens = setup(&root);
    for m in &mut ens.members {
        m.start("1");
    }
    let all: Vec<usize> = (0..ens.members.len()).collect();
    let leader = tokio::task::block_in_place(|| ens.wait_formed(&all, FORM_WITHIN));
    let follower = all.iter().copied().find(|i| *i != leader).expect("a follower");
    println!("formed: leader is server {}", ens.members[leader].id);

    // A write through a follower is forwarded, committed and visible everywhere.
    let deadline = Instant::now() + Duration::from_secs(20);
    let c = client_until(&ens.members[follower].addr(), deadline).await;
    c.create("/e", b"root", Acl::open_unsafe(), 0, None).await.expect("create through follower");
    c.create("/e/first", b"one", Acl::open_unsafe(), 0, None).await.expect("create");
    let _ = c.close().await;
    for m in &ens.members {
        assert_eq!(read_until(&m.addr(), "/e/first", deadline).await, b"one", "server {}", m.id);
    }
    let mntr = four_letter(ens.members[leader].client_port, "mntr").unwrap_or_default();
    assert!(mntr.contains("zk_synced_followers\t2"), "leader mntr:\n{mntr}");
    // /zookeeper/config shows the members as zoo.cfg gives them (ZooKeeper's format).
    let config = read_until(&ens.members[follower].addr(), "/zookeeper/config", deadline).await;
    let config = String::from_utf8_lossy(&config).into_owned();
    for line in ens.servers.lines() {
        assert!(config.contains(&format!("{line}:participant\n")), "{line} in:\n{config}");
    }

    // Kill the leader; a new leader among the survivors serves a write within the bound.
    ens.members[leader].kill9();
    let killed = Instant::now();
    let survivors: Vec<usize> = all.iter().copied().filter(|i| *i != leader).collect();
    let bound = killed + FAILOVER_BOUND;
    let mut written = None;
    while written.is_none() {
        for i in &survivors {
            let addr = ens.members[*i].addr();
            let attempt = async {
                let (client, _w) =
                    connect(std::slice::from_ref(&addr), Duration::from_secs(30)).await.ok()?;
                let r = client.create("/e/after", b"two", Acl::open_unsafe(), 0, None).await;
                let _ = client.close().await;
                r.ok()
            };
            if let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(2), attempt).await {
                written = Some(killed.elapsed());
                break;
            }
        }
        assert!(
            Instant::now() < bound,
            "no write served within {FAILOVER_BOUND:?} of the kill\n{}",
            ens.dump()
        );
        if written.is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let failover = written.expect("written");
    println!("failover: a write was acknowledged {} ms after SIGKILL of the leader (tickTime {TICK_MS} ms, bound {} ms)",
        failover.as_millis(), FAILOVER_BOUND.as_millis());
    let new_leader = tokio::task::block_in_place(|| ens.wait_formed(&survivors, FORM_WITHIN));
    assert_ne!(new_leader, leader);

    // The old leader restarts on its dataDir, rejoins as a follower and catches up.
    ens.members[leader].start("2");
    let rejoined = tokio::task::block_in_place(|| ens.wait_formed(&all, FORM_WITHIN));
    assert_eq!(rejoined, new_leader, "the restarted member follows the new leader");
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = ens.members[leader].addr();
    assert_eq!(read_until(&addr, "/e/after", deadline).await, b"two");
    assert_eq!(read_until(&addr, "/e/first", deadline).await, b"one");
}
