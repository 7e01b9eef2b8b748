//! Dynamic reconfiguration of real `keeper server` processes on loopback, the ZooKeeper
//! way: three members (`reconfigEnabled=true`) form an ensemble; a fourth starts with a
//! zoo.cfg that lists the three and itself, and `reconfig -add` (incremental) makes it a
//! voting member that serves reads and writes; `reconfig -remove` takes a member out; and
//! a member restarted from the zoo.cfg its reconfigurations rewrote (server lines and
//! clientPort gone, `dynamicConfigFile=zoo.cfg.dynamic.<version>`) rejoins with the newest
//! membership and catches up. Also member faults: a member that cannot write its epoch
//! file stops, and a follower whose disk is full loses nothing and catches up. Ports come
//! from 42000-42999. Every wait polls with a deadline.

mod ops_common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keeper_core::proto::{Acl, Request, Response};
use keeper_net::client::Client;
use ops_common::{client_until, formed, four_letter, read_until, spawn_server, TempDir};

const TICK_MS: u64 = 300;
const WITHIN: Duration = Duration::from_secs(30);

/// A port in 42000-42999 that is free now (the range this test suite keeps to).
fn port_in_range() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 42000 + (std::process::id() % 50) as u16 * 20;
    for _ in 0..1000 {
        let p = 42000 + (base - 42000 + NEXT.fetch_add(1, Ordering::Relaxed)) % 1000;
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free port in 42000-42999");
}

struct Member {
    id: u64,
    dir: PathBuf,
    client: u16,
    quorum: u16,
    election: u16,
    child: Option<Child>,
}

impl Member {
    fn new(root: &Path, id: u64) -> Member {
        let dir = root.join(format!("m{id}"));
        std::fs::create_dir_all(dir.join("data")).expect("dataDir");
        std::fs::write(dir.join("data/myid"), format!("{id}\n")).expect("myid");
        let (client, quorum, election) = (port_in_range(), port_in_range(), port_in_range());
        Member { id, dir, client, quorum, election, child: None }
    }
    fn spec(&self) -> String {
        format!("127.0.0.1:{}:{}:participant;127.0.0.1:{}", self.quorum, self.election, self.client)
    }
    fn line(&self) -> String {
        format!("server.{}={}", self.id, self.spec())
    }
    fn cfg_path(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }
    fn write_cfg(&self, servers: &[&Member]) {
        let lines: String = servers.iter().map(|m| m.line() + "\n").collect();
        let cfg = format!(
            "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n\
             reconfigEnabled=true\nskipACL=yes\n{lines}",
            self.dir.join("data").display(),
            self.client
        );
        std::fs::write(self.cfg_path(), cfg).expect("zoo.cfg");
    }
    fn start(&mut self, tag: &str) {
        let bin = Path::new(env!("CARGO_BIN_EXE_keeper"));
        let log = self.dir.join(format!("server-{tag}.log"));
        self.child = Some(spawn_server(bin, &self.cfg_path(), &log, "info"));
    }
    /// Starts the server with SIGXFSZ ignored and its output piped into the log, so that
    /// `prlimit --fsize` can make its writes fail as a full disk does (cli/tests/disk_full.rs).
    fn start_limitable(&mut self, tag: &str) {
        let log = self.dir.join(format!("server-{tag}.log"));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("trap '' XFSZ; exec \"$0\" server \"$1\"")
            .arg(env!("CARGO_BIN_EXE_keeper"))
            .arg(self.cfg_path())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keeper server");
        for mut pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
                let mut buf = [0u8; 4096];
                loop {
                    let n = pipe.read(&mut buf)?;
                    if n == 0 {
                        return Ok::<(), std::io::Error>(());
                    }
                    f.write_all(&buf[..n])?;
                }
            });
        }
        self.child = Some(child);
    }
    /// Sets the server's soft RLIMIT_FSIZE (hard stays unlimited).
    fn file_size_limit(&self, soft: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("prlimit")
            .arg(format!("--pid={pid}"))
            .arg(format!("--fsize={soft}:unlimited"))
            .status()
            .expect("run prlimit (util-linux)");
        assert!(status.success(), "prlimit --fsize={soft} failed");
    }
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn mode(&self) -> Option<String> {
        let text = four_letter(self.client, "srvr")?;
        text.lines().find_map(|l| l.strip_prefix("Mode: ")).map(|m| m.trim().to_string())
    }
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Writes every member's zoo.cfg naming all of `ms`.
fn write_cfgs(ms: &[Member]) {
    let all: Vec<&Member> = ms.iter().collect();
    for m in &all {
        m.write_cfg(&all);
    }
}

fn logs(ms: &[Member]) -> String {
    let mut out = String::new();
    for m in ms {
        for e in std::fs::read_dir(&m.dir).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(25)..].join("\n");
                out += &format!("--- {}\n{tail}\n", e.path().display());
            }
        }
    }
    out
}

/// Polls srvr until exactly one of `among` leads and the others follow.
fn wait_formed(ms: &[Member], among: &[usize]) -> usize {
    let deadline = Instant::now() + WITHIN;
    loop {
        let modes: Vec<Option<String>> = among.iter().map(|i| ms[*i].mode()).collect();
        if let Some(leader) = formed(among, &modes) {
            return leader;
        }
        assert!(Instant::now() < deadline, "not formed: {modes:?}\n{}", logs(ms));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A session on `addr`, retrying until the test's deadline.
async fn client(addr: &str) -> Client {
    client_until(addr, Instant::now() + WITHIN).await
}

/// Reads `path` through `addr` after a sync, retrying until the test's deadline.
async fn read(addr: &str, path: &str) -> Vec<u8> {
    read_until(addr, path, Instant::now() + WITHIN).await
}

/// Sends an incremental reconfig through `addr` until it succeeds (a joiner must first
/// sync with the leader: until then the answer is NEWCONFIGNOQUORUM); returns the new
/// `/zookeeper/config` text.
async fn reconfig(addr: &str, joining: Option<String>, leaving: Option<&str>) -> String {
    let deadline = Instant::now() + WITHIN;
    loop {
        let c = client(addr).await;
        let req = Request::Reconfig {
            joining: joining.clone(),
            leaving: leaving.map(str::to_string),
            new_members: None,
            cur_config_id: -1,
        };
        let answer = tokio::time::timeout(Duration::from_secs(5), c.request(req)).await;
        let _ = c.close().await;
        match answer {
            Ok(Ok(Response::GetData { data: Some(d), .. })) => {
                return String::from_utf8_lossy(&d).into_owned()
            }
            other => {
                assert!(Instant::now() < deadline, "reconfig never succeeded: {other:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The `version=` of a configuration text.
fn version_of(config: &str) -> u64 {
    let v = config.lines().find_map(|l| l.strip_prefix("version=")).expect("a version line");
    u64::from_str_radix(v, 16).expect("hex version")
}

/// Waits until `m`'s zoo.cfg names `zoo.cfg.dynamic.<version>` and that file lists
/// exactly `ids`; returns the rewritten zoo.cfg.
fn wait_files(m: &Member, version: u64, ids: &[u64]) -> String {
    let dynamic =
        format!("{}.dynamic.{version:x}", std::path::absolute(m.cfg_path()).unwrap().display());
    let deadline = Instant::now() + WITHIN;
    loop {
        let cfg = std::fs::read_to_string(m.cfg_path()).unwrap_or_default();
        let dyn_text = std::fs::read_to_string(&dynamic).unwrap_or_default();
        let listed: Vec<u64> = dyn_text
            .lines()
            .filter_map(|l| l.strip_prefix("server.")?.split('=').next()?.parse().ok())
            .collect();
        if cfg.contains(&format!("dynamicConfigFile={dynamic}\n")) && listed == ids {
            assert!(!cfg.contains("server."), "server lines left in zoo.cfg:\n{cfg}");
            assert!(!dyn_text.contains("version"), "no version inside the file:\n{dyn_text}");
            assert!(m.cfg_path().with_extension("cfg.bak").exists(), "zoo.cfg.bak kept");
            return cfg;
        }
        assert!(
            Instant::now() < deadline,
            "server {}: zoo.cfg / {dynamic} not written for {ids:?}:\n{cfg}\n{dyn_text}",
            m.id
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_leave_and_restart_from_their_dynamic_files() {
    let root = TempDir::new("reconfig");
    let mut ms: Vec<Member> = (1..=4).map(|id| Member::new(root.path(), id)).collect();
    {
        let first: Vec<&Member> = ms[..3].iter().collect();
        for m in &first {
            m.write_cfg(&first);
        }
        // The joiner's zoo.cfg lists the ensemble and itself, as ZooKeeper's guide says.
        let all: Vec<&Member> = ms.iter().collect();
        ms[3].write_cfg(&all);
    }
    for m in &mut ms[..3] {
        m.start("1");
    }
    let three = [0, 1, 2];
    let leader = tokio::task::block_in_place(|| wait_formed(&ms, &three));
    // Never reconfigured: /zookeeper/config shows zoo.cfg's members and version=0.
    let config = String::from_utf8(read(&ms[0].addr(), "/zookeeper/config").await).unwrap();
    assert!(config.ends_with("version=0"), "{config}");
    let c = client(&ms[leader].addr()).await;
    c.create("/r", b"before", Acl::open_unsafe(), 0, None).await.expect("create");
    let _ = c.close().await;

    // Server 4 starts, syncs as a non-voting follower, and `reconfig -add` makes it vote.
    ms[3].start("1");
    let added = reconfig(&ms[0].addr(), Some(ms[3].line()), None).await;
    assert!(added.contains(&ms[3].line()), "{added}");
    let v_add = version_of(&added);
    assert_ne!(v_add, 0);
    println!("server 4 added: configuration version {v_add:x}");
    let four = [0, 1, 2, 3];
    let leader = tokio::task::block_in_place(|| wait_formed(&ms, &four));
    assert_eq!(read(&ms[3].addr(), "/r").await, b"before", "server 4 caught up");
    let c = client(&ms[3].addr()).await;
    c.create("/r/via4", b"four", Acl::open_unsafe(), 0, None).await.expect("write via 4");
    let _ = c.close().await;
    for m in &ms {
        assert_eq!(read(&m.addr(), "/r/via4").await, b"four", "server {}", m.id);
        let shown = String::from_utf8(read(&m.addr(), "/zookeeper/config").await).unwrap();
        assert_eq!(version_of(&shown), v_add, "server {}:\n{shown}", m.id);
        tokio::task::block_in_place(|| wait_files(m, v_add, &[1, 2, 3, 4]));
    }

    // Remove a follower other than server 4 (kept for the restart below).
    let gone = [0, 1, 2].into_iter().find(|i| *i != leader).expect("a follower");
    let gone_id = ms[gone].id.to_string();
    let removed = reconfig(&ms[leader].addr(), None, Some(&gone_id)).await;
    assert!(!removed.contains(&ms[gone].line()), "{removed}");
    let v_remove = version_of(&removed);
    assert!(v_remove > v_add);
    println!("server {gone_id} removed: configuration version {v_remove:x}");
    let rest: Vec<usize> = four.iter().copied().filter(|i| *i != gone).collect();
    let ids: Vec<u64> = rest.iter().map(|i| ms[*i].id).collect();
    for i in &rest {
        tokio::task::block_in_place(|| wait_files(&ms[*i], v_remove, &ids));
    }
    ms[gone].kill9();
    let c = client(&ms[3].addr()).await;
    c.create("/r/after-remove", b"three", Acl::open_unsafe(), 0, None).await.expect("write");
    let _ = c.close().await;

    // Server 4 restarts from its rewritten zoo.cfg: no server lines and no clientPort there
    // any more; membership, version and client port come from zoo.cfg.dynamic.<version>.
    ms[3].kill9();
    let c = client(&ms[leader].addr()).await;
    c.create("/r/while-down", b"x", Acl::open_unsafe(), 0, None).await.expect("write");
    let _ = c.close().await;
    let cfg = std::fs::read_to_string(ms[3].cfg_path()).unwrap();
    assert!(!cfg.contains("clientPort"), "clientPort gave way to the dynamic file:\n{cfg}");
    ms[3].start("2");
    tokio::task::block_in_place(|| wait_formed(&ms, &rest));
    assert_eq!(read(&ms[3].addr(), "/r/while-down").await, b"x");
    let shown = String::from_utf8(read(&ms[3].addr(), "/zookeeper/config").await).unwrap();
    assert_eq!(version_of(&shown), v_remove, "{shown}");
    assert!(!shown.contains(&format!("server.{gone_id}=")), "{shown}");
    println!("server 4 restarted from its dynamic file and serves:\n{shown}");
}

/// ZooKeeper treats a failed write of `acceptedEpoch`/`currentEpoch` as fatal, and so does
/// keeper: a member that cannot record the epoch it is about to acknowledge stops with a
/// clear error instead of acknowledging, and the other two form the ensemble without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_cannot_write_its_epoch_stops_instead_of_acknowledging() {
    let root = TempDir::new("epochfail");
    let mut ms: Vec<Member> = (1..=3).map(|id| Member::new(root.path(), id)).collect();
    write_cfgs(&ms);
    // The epoch files are written through `<name>.tmp`: a directory there makes the write
    // fail (as a read-only or broken disk would) while everything else works.
    let version2 = ms[2].dir.join("data/version-2");
    std::fs::create_dir_all(version2.join("acceptedEpoch.tmp")).expect("block acceptedEpoch");
    for m in &mut ms {
        m.start("1");
    }
    let deadline = Instant::now() + WITHIN;
    let status = loop {
        if let Some(s) = ms[2].child.as_mut().and_then(|c| c.try_wait().expect("wait")) {
            break s;
        }
        assert!(Instant::now() < deadline, "server 3 kept running\n{}", logs(&ms));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "server 3 must fail, not exit cleanly: {status:?}");
    let log = std::fs::read_to_string(ms[2].dir.join("server-1.log")).unwrap_or_default();
    assert!(
        log.contains("fatal storage error: write") && log.contains("acceptedEpoch"),
        "a clear error names the file:\n{log}"
    );
    assert!(!version2.join("acceptedEpoch").exists(), "no epoch was recorded");
    tokio::task::block_in_place(|| wait_formed(&ms, &[0, 1]));
    let c = client(&ms[0].addr()).await;
    c.create("/still", b"ok", Acl::open_unsafe(), 0, None).await.expect("two of three serve");
    let _ = c.close().await;
}

/// A follower whose disk is full cannot log proposals, so it must not acknowledge them:
/// the leader and the other follower go on committing writes, the full follower loses
/// nothing it acknowledged, and once there is room again it catches up by itself and holds
/// every write, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_with_a_full_disk_loses_nothing_and_catches_up() {
    let root = TempDir::new("fullfollower");
    let mut ms: Vec<Member> = (1..=3).map(|id| Member::new(root.path(), id)).collect();
    write_cfgs(&ms);
    for m in &mut ms {
        m.start_limitable("1");
    }
    let leader = tokio::task::block_in_place(|| wait_formed(&ms, &[0, 1, 2]));
    let full = [0, 1, 2].into_iter().find(|i| *i != leader).expect("a follower");
    let c = client(&ms[leader].addr()).await;
    c.create("/f", b"", Acl::open_unsafe(), 0, None).await.expect("create");
    assert_eq!(read(&ms[full].addr(), "/f").await, b"");
    ms[full].file_size_limit("1");
    // Writes go on with the leader and the other follower as the quorum.
    for i in 0..50u32 {
        let path = format!("/f/n{i:03}");
        c.create(&path, &i.to_be_bytes(), Acl::open_unsafe(), 0, None).await.expect("write");
    }
    let _ = c.close().await;
    // The full follower fails each sync it tries (its log cannot grow), reloads from disk
    // and tries again; let it fail at least three times before room returns.
    let rebuilds = || {
        let log = std::fs::read_to_string(ms[full].dir.join("server-1.log")).unwrap_or_default();
        log.matches("reloaded from disk after a full disk").count()
    };
    let deadline = Instant::now() + WITHIN;
    while rebuilds() < 3 {
        assert!(Instant::now() < deadline, "the follower did not hit its full disk\n{}", logs(&ms));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = rebuilds();
    tokio::time::sleep(Duration::from_secs(2)).await; // keeps the disk full a while
    println!("{} reloads in 2 s while full (each one a failed sync)", rebuilds() - before);
    ms[full].file_size_limit("unlimited");
    // Room again: the follower catches up and shows every acknowledged write.
    let deadline = Instant::now() + WITHIN;
    loop {
        let got = async {
            let c = client(&ms[full].addr()).await;
            c.sync("/f").await.ok()?;
            let (kids, _) = c.get_children("/f", false).await.ok()?;
            let _ = c.close().await;
            Some(kids)
        };
        let kids = tokio::time::timeout(Duration::from_secs(5), got).await.ok().flatten();
        if kids.as_ref().is_some_and(|k| k.len() == 50) {
            break;
        }
        assert!(Instant::now() < deadline, "follower never caught up: {kids:?}\n{}", logs(&ms));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in [0u32, 17, 49] {
        let got = read(&ms[full].addr(), &format!("/f/n{i:03}")).await;
        assert_eq!(got, i.to_be_bytes(), "/f/n{i:03} on the recovered follower");
    }
}
