//! Durability proof against the real binary: kill -9 the server during a write load,
//! restart it on the same dataDir, and every acknowledged write is still there.
//!
//! The test runs `keeper server <zoo.cfg>` with a temp dataDir on a free loopback port,
//! drives concurrent creates (and a versioned set_data chain) through the async client,
//! sends SIGKILL after a seeded-random delay, restarts, and checks: every create whose
//! reply arrived exists with its data; an unacknowledged create is absent or has its
//! intended data; no unknown node appears; the set_data chain's version never goes back
//! past an acknowledged one; a node written before the first kill keeps its data and
//! version; new writes work. It repeats for several rounds, accumulating acknowledged
//! writes. A small snapCount makes snapshots happen under load too, so recovery is tested
//! from snapshot plus log, not only from the log, and autopurge deletes old files under the
//! same kills. Set `KEEPER_KILL9_SEED` to replay a run.
//!
//! Loop mode (`.ci/run`'s `kill9 loop` step, on the release binary named by
//! `KEEPER_KILL9_BIN`): `KEEPER_KILL9_ROUNDS=N` runs up to N rounds
//! and `KEEPER_KILL9_SECONDS=S` stops starting new rounds after S seconds; with
//! `KEEPER_KILL9_MIN_ROUNDS=M` the test fails if fewer than M rounds fit. Verification reads
//! every acknowledged node back through multiRead batches, so a round stays cheap as the
//! ledger grows to thousands of nodes.

mod ops_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keeper_core::error::KeeperError;
use keeper_core::proto::{Acl, OpResult, Request, Response};
use keeper_net::client::{connect, Client, ClientError};
use ops_common::{four_letter, free_port, spawn_server};

/// Kill/restart cycles in one run unless `KEEPER_KILL9_ROUNDS` says otherwise.
const DEFAULT_ROUNDS: usize = 5;
/// getData sub-ops per multiRead when verifying (replies stay far below jute.maxbuffer:
/// payloads are under 100 bytes).
const VERIFY_BATCH: usize = 500;
/// Concurrent create loops per round.
const WRITERS: usize = 4;
/// How long a server gets to answer `ruok` and `srvr` after it is spawned.
const READY_WITHIN: Duration = Duration::from_secs(20);
/// Session timeout asked for by every client.
const SESSION: Duration = Duration::from_secs(30);

/// splitmix64: a tiny seeded generator, so the kill timing of a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// A temp directory removed on drop unless the test failed (then it is kept for a look).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// One running `keeper server`; killed (SIGKILL) on drop so a failing test leaves no process.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap.
    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// snapCount for the server: small by default so snapshots happen under load; override
/// with `KEEPER_KILL9_SNAPCOUNT` to tell log-only recovery bugs from snapshot ones.
fn snap_count() -> u64 {
    std::env::var("KEEPER_KILL9_SNAPCOUNT").ok().and_then(|s| s.parse().ok()).unwrap_or(200)
}

/// The binary under test: this build's, or `KEEPER_KILL9_BIN` (CI's loop runs the release
/// binary, whose recovery is not slowed by debug assertions over the whole tree).
fn keeper_bin() -> PathBuf {
    std::env::var_os("KEEPER_KILL9_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_keeper")))
}

/// preAllocSize (KB) for the server: ZooKeeper's 64 MiB default unless
/// `KEEPER_KILL9_PREALLOC_KB` says otherwise. Recovery reads whole log files, which a debug
/// build does slowly at 64 MiB a file, so the CI loop uses a small size (which also makes
/// the log cross preallocation boundaries under load).
fn prealloc_kb() -> u64 {
    env_number("KEEPER_KILL9_PREALLOC_KB").unwrap_or(65536)
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|s| s.parse().unwrap_or_else(|_| panic!("{name}={s:?} is not a non-negative integer")))
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Spawns the server on `port` and waits (bounded) until it answers `ruok` with `imok`
/// and `srvr` with a `Mode:` line. Err carries the log tail when it exits or never answers.
fn try_start(dir: &Path, port: u16, tag: &str) -> Result<Server, String> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("create dataDir");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n\
             snapCount={}\npreAllocSize={}\nautopurge.purgeInterval=1\n\
             autopurge.snapRetainCount=3\n",
            data.display(),
            snap_count(),
            prealloc_kb()
        ),
    )
    .expect("write zoo.cfg");
    let log = dir.join(format!("server-{tag}.log"));
    let child = spawn_server(&keeper_bin(), &cfg, &log, "info");
    let mut server = Server { child, port, log };
    let deadline = Instant::now() + READY_WITHIN;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("server exited with {status}:\n{}", log_tail(&server.log)));
        }
        let ok = four_letter(port, "ruok").as_deref() == Some("imok")
            && four_letter(port, "srvr").is_some_and(|s| s.contains("Mode:"));
        if ok {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("server did not become ready in {READY_WITHIN:?}:\n{}", log_tail(&server.log)))
}

/// First start: a fresh free port, retried if another process grabbed it meanwhile.
fn start_fresh(dir: &Path) -> Server {
    let mut last = String::new();
    for attempt in 0..5 {
        match try_start(dir, free_port(), &format!("start-{attempt}")) {
            Ok(s) => return s,
            Err(e) => last = e,
        }
    }
    panic!("could not start the server on any free port; last failure: {last}");
}

/// Restart on the same dataDir and port (a few tries, in case the port is briefly held).
fn restart(dir: &Path, port: u16, round: usize) -> Server {
    let mut last = String::new();
    for attempt in 0..3 {
        match try_start(dir, port, &format!("restart-{round}-{attempt}")) {
            Ok(s) => return s,
            Err(e) => last = e,
        }
    }
    panic!("server failed to restart after kill -9 in round {round}: {last}");
}

/// What the create loops learned: replies that arrived, and requests whose fate is unknown.
#[derive(Default)]
struct Ledger {
    /// path -> data of every create whose success reply arrived.
    acked: BTreeMap<String, Vec<u8>>,
    /// path -> data of creates sent whose reply never came (may or may not be applied).
    in_doubt: BTreeMap<String, Vec<u8>>,
    /// path -> czxid the server reported in the acknowledgement (for failure messages).
    acked_zxid: BTreeMap<String, i64>,
    /// Errors other than connection loss: each one is a test failure.
    unexpected: Vec<String>,
}

fn payload(round: usize, task: usize, n: usize, salt: u64) -> Vec<u8> {
    format!("r{round}-t{task}-n{n}-{salt:016x}-{}", "x".repeat(n % 37)).into_bytes()
}

/// Creates /w/r<round>/t<task>-<n> in a loop until the connection goes; records each fate.
/// (One parent per round keeps every getChildren reply of the verification far below the
/// client's 1 MiB frame limit however many rounds run.)
async fn create_loop(
    client: Client,
    round: usize,
    task: usize,
    salt: u64,
    ledger: Arc<Mutex<Ledger>>,
    acks: Arc<AtomicUsize>,
) {
    for n in 0.. {
        let path = format!("/w/r{round}/t{task}-{n}");
        let data = payload(round, task, n, salt);
        match client.create(&path, &data, Acl::open_unsafe(), 0, None).await {
            Ok((created, stat)) => {
                let mut l = ledger.lock().unwrap();
                l.acked_zxid.insert(path.clone(), stat.czxid);
                if created != path {
                    l.unexpected.push(format!("create {path} answered path {created}"));
                }
                l.acked.insert(path, data);
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Err(ClientError::ConnectionLoss(_)) => {
                ledger.lock().unwrap().in_doubt.insert(path, data);
                return;
            }
            Err(e) => {
                let mut l = ledger.lock().unwrap();
                l.unexpected.push(format!("create {path}: {e}"));
                l.in_doubt.insert(path, data);
                return;
            }
        }
    }
}

/// Data the counter node holds at `version`; every version has exactly one value.
fn counter_value(version: i32) -> Vec<u8> {
    format!("counter-v{version}").into_bytes()
}

/// Advances /counter with conditional set_data from the version it holds now (a set_data
/// whose reply was lost in the last kill may have been applied); returns the highest
/// acknowledged version, or `floor` when none was acknowledged this round.
async fn counter_loop(client: Client, floor: i32, ledger: Arc<Mutex<Ledger>>) -> i32 {
    let mut acked = match client.exists("/counter", false).await {
        Ok(Some(stat)) => stat.version,
        Ok(None) => {
            ledger.lock().unwrap().unexpected.push("/counter vanished".to_string());
            return floor;
        }
        Err(ClientError::ConnectionLoss(_)) => return floor,
        Err(e) => {
            ledger.lock().unwrap().unexpected.push(format!("exists /counter: {e}"));
            return floor;
        }
    };
    loop {
        match client.set_data("/counter", &counter_value(acked + 1), acked).await {
            Ok(stat) => {
                if stat.version != acked + 1 {
                    ledger.lock().unwrap().unexpected.push(format!(
                        "set_data /counter at version {acked} answered version {}",
                        stat.version
                    ));
                    return acked.max(floor);
                }
                acked = stat.version;
            }
            Err(ClientError::ConnectionLoss(_)) => return acked.max(floor),
            Err(e) => {
                ledger.lock().unwrap().unexpected.push(format!("set_data /counter: {e}"));
                return acked.max(floor);
            }
        }
    }
}

async fn connect_to(server: &Server) -> Client {
    let (client, _watches) =
        connect(&[server.addr()], SESSION).await.expect("connect to the running server");
    client
}

/// Checks the restarted server against everything acknowledged so far; returns failures.
async fn verify(
    client: &Client,
    ledger: &Ledger,
    extra: &BTreeMap<String, Vec<u8>>,
    counter_acked: i32,
    pinned: &(Vec<u8>, i32, i64),
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut lost = Vec::new();
    let acked: Vec<(&String, &Vec<u8>)> = ledger.acked.iter().chain(extra.iter()).collect();
    let acked_found = read_all(client, &acked, &mut problems).await;
    for ((path, data), got) in acked.iter().zip(acked_found) {
        match got {
            Some(got) if got.as_deref() == Some(&data[..]) => {}
            Some(got) => problems.push(format!(
                "{path}: acknowledged data {:?}, found {:?}",
                String::from_utf8_lossy(data),
                got.map(|g| String::from_utf8_lossy(&g).into_owned())
            )),
            None => lost.push((*path).clone()),
        }
    }
    if !lost.is_empty() {
        problems.push(format!(
            "{} acknowledged create(s) LOST after kill -9 (path, czxid acknowledged): {:?}; \
             highest acknowledged czxid {:#x}",
            lost.len(),
            lost.iter()
                .map(|p| format!("{p} {:#x}", ledger.acked_zxid.get(p).copied().unwrap_or(-1)))
                .collect::<Vec<_>>(),
            ledger.acked_zxid.values().max().copied().unwrap_or(-1)
        ));
    }
    let doubtful: Vec<(&String, &Vec<u8>)> = ledger.in_doubt.iter().collect();
    let doubtful_found = read_all(client, &doubtful, &mut problems).await;
    for ((path, data), got) in doubtful.iter().zip(doubtful_found) {
        if let Some(got) = got {
            if got.as_deref() != Some(&data[..]) {
                problems.push(format!(
                    "{path} (unacknowledged) exists with wrong data {:?}",
                    got.map(|g| String::from_utf8_lossy(&g).into_owned())
                ));
            }
        }
    }
    // Nothing nobody created: every child of /w and of each round's parent is known.
    let known: BTreeSet<&String> =
        ledger.acked.keys().chain(ledger.in_doubt.keys()).chain(extra.keys()).collect();
    let mut parents = vec!["/w".to_string()];
    let mut unknown = Vec::new();
    while let Some(parent) = parents.pop() {
        match client.get_children(&parent, false).await {
            Ok((children, _)) => {
                for child in children {
                    let path = format!("{parent}/{child}");
                    if parent == "/w" && child.starts_with('r') && known.contains(&path) {
                        parents.push(path);
                    } else if !known.contains(&path) {
                        unknown.push(path);
                    }
                }
            }
            Err(e) => problems.push(format!("get_children {parent} failed: {e}")),
        }
    }
    if !unknown.is_empty() {
        problems.push(format!("nodes nobody created appeared under /w: {unknown:?}"));
    }
    match client.get_data("/counter", false).await {
        Ok((data, stat)) => {
            if stat.version < counter_acked {
                problems.push(format!(
                    "/counter went back to version {} though version {counter_acked} was \
                     acknowledged",
                    stat.version
                ));
            }
            if data.as_deref() != Some(&counter_value(stat.version)[..]) {
                problems.push(format!(
                    "/counter at version {} holds {:?}",
                    stat.version,
                    data.map(|d| String::from_utf8_lossy(&d).into_owned())
                ));
            }
        }
        Err(e) => problems.push(format!("/counter unreadable: {e}")),
    }
    let (pinned_data, pinned_version, pinned_mzxid) = pinned;
    match client.get_data("/pinned", false).await {
        Ok((data, stat)) => {
            if data.as_deref() != Some(&pinned_data[..])
                || stat.version != *pinned_version
                || stat.mzxid != *pinned_mzxid
            {
                problems.push(format!(
                    "/pinned changed: expected data {:?} version {pinned_version} mzxid \
                     {pinned_mzxid:#x}, found {:?} version {} mzxid {:#x}",
                    String::from_utf8_lossy(pinned_data),
                    data.map(|d| String::from_utf8_lossy(&d).into_owned()),
                    stat.version,
                    stat.mzxid
                ));
            }
        }
        Err(e) => problems.push(format!("/pinned unreadable: {e}")),
    }
    problems
}

/// Reads every path's data with multiRead batches: `Some(data)` when the node exists,
/// `None` when it does not. Any other answer is recorded as a problem (and read as `None`).
async fn read_all(
    client: &Client,
    entries: &[(&String, &Vec<u8>)],
    problems: &mut Vec<String>,
) -> Vec<Option<Option<Vec<u8>>>> {
    let mut found = Vec::with_capacity(entries.len());
    for batch in entries.chunks(VERIFY_BATCH) {
        let ops = batch
            .iter()
            .map(|(p, _)| Request::GetData { path: (*p).clone(), watch: false })
            .collect();
        let results = match client.request(Request::MultiRead(ops)).await {
            Ok(Response::Multi(results)) if results.len() == batch.len() => results,
            other => {
                problems.push(format!("multiRead of {} paths answered {other:?}", batch.len()));
                found.extend(batch.iter().map(|_| None));
                continue;
            }
        };
        for ((path, _), result) in batch.iter().zip(results) {
            found.push(match result {
                OpResult::GetData { data, .. } => Some(data.map(|d| d.to_vec())),
                OpResult::Error { err } if err == KeeperError::NoNode.code() => None,
                other => {
                    problems.push(format!("{path}: getData answered {other:?}"));
                    None
                }
            });
        }
    }
    found
}

/// Warning/error lines a restarted server logged (e.g. a torn log tail it truncated).
fn notable_log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panicked"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let seed =
        std::env::var("KEEPER_KILL9_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("kill9_restart seed: {seed} (replay with KEEPER_KILL9_SEED={seed})");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let rounds = env_number("KEEPER_KILL9_ROUNDS").map_or(DEFAULT_ROUNDS, |n| n as usize);
    let budget = env_number("KEEPER_KILL9_SECONDS").map(Duration::from_secs);
    let min_rounds = env_number("KEEPER_KILL9_MIN_ROUNDS").unwrap_or(0) as usize;
    let mut rounds_done = 0;

    let dir =
        TempDir(std::env::temp_dir().join(format!("keeper-kill9-{}-{seed:x}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("create temp dir");

    let mut server = tokio::task::block_in_place(|| start_fresh(&dir.0));
    let port = server.port;

    // Setup, acknowledged before the first kill: /pinned must keep data and version forever.
    let client = connect_to(&server).await;
    let open = Acl::open_unsafe;
    client.create("/w", b"", open(), 0, None).await.expect("create /w");
    client.create("/counter", &counter_value(0), open(), 0, None).await.expect("create /counter");
    client.create("/pinned", b"p0", open(), 0, None).await.expect("create /pinned");
    client.set_data("/pinned", b"p1", 0).await.expect("set /pinned v1");
    let stat = client.set_data("/pinned", b"pinned-final", 1).await.expect("set /pinned v2");
    assert_eq!(stat.version, 2, "/pinned version after two set_data");
    let pinned = (b"pinned-final".to_vec(), stat.version, stat.mzxid);
    drop(client);

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut after_restart: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut counter_acked = 0;
    let mut notable = Vec::new();

    for round in 0..rounds {
        if budget.is_some_and(|b| started.elapsed() >= b) {
            break;
        }
        let round_started = Instant::now();
        let parent = format!("/w/r{round}");
        {
            let c = connect_to(&server).await;
            c.create(&parent, b"", Acl::open_unsafe(), 0, None).await.expect("create round parent");
            let _ = c.close().await;
        }
        after_restart.insert(parent, Vec::new());
        let acks = Arc::new(AtomicUsize::new(0));
        let salt = rng.next();
        let mut writers = Vec::new();
        for task in 0..WRITERS {
            let c = connect_to(&server).await;
            writers.push(tokio::spawn(create_loop(
                c,
                round,
                task,
                salt,
                ledger.clone(),
                acks.clone(),
            )));
        }
        let counter =
            tokio::spawn(counter_loop(connect_to(&server).await, counter_acked, ledger.clone()));

        // Kill only once the load is really flowing, then after a seeded-random delay.
        let deadline = Instant::now() + Duration::from_secs(10);
        while acks.load(Ordering::SeqCst) < 20 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let acked_before = acks.load(Ordering::SeqCst);
        assert!(acked_before >= 20, "round {round}: the load got only {acked_before} acks in 10s");
        let delay = rng.between(20, 400);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        tokio::task::block_in_place(|| server.kill9());

        for w in writers {
            tokio::time::timeout(Duration::from_secs(10), w)
                .await
                .expect("a writer did not notice the kill within 10s")
                .expect("writer task panicked");
        }
        counter_acked = tokio::time::timeout(Duration::from_secs(10), counter)
            .await
            .expect("the counter loop did not notice the kill within 10s")
            .expect("counter task panicked");

        let restart_started = Instant::now();
        server = tokio::task::block_in_place(|| restart(&dir.0, port, round));
        let restart_took = restart_started.elapsed();
        for line in notable_log_lines(&server.log) {
            notable.push(format!("round {round}: {line}"));
        }

        let client = connect_to(&server).await;
        let snapshot = {
            let l = ledger.lock().unwrap();
            assert!(l.unexpected.is_empty(), "unexpected errors under load: {:?}", l.unexpected);
            // Clone out of the lock so it is not held across awaits.
            Ledger {
                acked: l.acked.clone(),
                in_doubt: l.in_doubt.clone(),
                acked_zxid: l.acked_zxid.clone(),
                unexpected: Vec::new(),
            }
        };
        let problems = verify(&client, &snapshot, &after_restart, counter_acked, &pinned).await;
        let total_acked = ledger.lock().unwrap().acked.len();
        assert!(
            problems.is_empty(),
            "round {round} (seed {seed}, killed {delay}ms after {acked_before} acks, \
             {total_acked} acked so far):\n{}\nrestart log:\n{}",
            problems.join("\n"),
            log_tail(&server.log)
        );
        eprintln!(
            "round {round}: killed {delay}ms after the 20th ack; {total_acked} acknowledged \
             creates and /counter v{counter_acked} all survived (round {:?}, restart {:?})",
            round_started.elapsed(),
            restart_took
        );

        // New writes work after the restart, and are themselves checked in later rounds.
        let path = format!("/w/after-r{round}");
        let data = format!("after restart {round}").into_bytes();
        client
            .create(&path, &data, Acl::open_unsafe(), 0, None)
            .await
            .expect("create after restart");
        let (got, stat) = client.get_data(&path, false).await.expect("read back after restart");
        assert_eq!(got.as_deref(), Some(&data[..]), "{path} read back");
        assert_eq!(stat.version, 0);
        after_restart.insert(path, data);
        let _ = client.close().await;
        rounds_done += 1;
    }

    if !notable.is_empty() {
        eprintln!("warnings/errors the restarted servers logged:\n{}", notable.join("\n"));
    }
    let elapsed = started.elapsed();
    eprintln!("kill9_restart: {rounds_done} rounds in {elapsed:?}");
    assert!(
        rounds_done >= min_rounds.max(1),
        "only {rounds_done} kill/restart rounds fit in the budget; at least {} were asked for",
        min_rounds.max(1)
    );
    // Stop the last server before the temp dir goes.
    drop(server);
}
