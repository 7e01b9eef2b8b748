//! Shared by the operator-command tests: temp directories, a `keeper server` child process
//! on a free loopback port (ready once `ruok` and `srvr` answer, within a deadline), the
//! `keeper` binary run as a command, and a blocking client session on a tokio runtime.
#![allow(dead_code)] // each test file uses a different part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A temp directory removed on drop unless the test failed (then kept for a look).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("keeper-ops-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs `keeper ARGS` and returns its output.
pub fn keeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keeper")).args(args).output().expect("run keeper")
}

/// stdout and stderr of a run, for assertion messages.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Spawns `BIN server CFG` with stdout and stderr going to a new file `log`, at the
/// tracing level `rust_log` (plain text, no colours).
pub fn spawn_server(bin: &Path, cfg: &Path, log: &Path, rust_log: &str) -> Child {
    let out = std::fs::File::create(log).expect("create server log");
    let err = out.try_clone().expect("clone log handle");
    Command::new(bin)
        .arg("server")
        .arg(cfg)
        .env("RUST_LOG", rust_log)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn keeper server")
}

/// A running `keeper server`, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts a server on `data_dir` with `extra` zoo.cfg lines (config and log in `dir`).
    /// Unless `extra` sets it, the whitelist is `ruok,srvr,kbak`.
    pub fn start(dir: &Path, data_dir: &Path, extra: &str) -> Server {
        let mut last = String::new();
        for attempt in 0..5 {
            match try_start(dir, data_dir, extra, attempt) {
                Ok(s) => return s,
                Err(e) => last = e,
            }
        }
        panic!("could not start keeper server: {last}");
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL; every acknowledged write is already durable).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn four_letter(&self, word: &str) -> String {
        four_letter(self.port, word).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn try_start(dir: &Path, data_dir: &Path, extra: &str, attempt: usize) -> Result<Server, String> {
    let port = free_port();
    let cfg = dir.join(format!("zoo-{port}.cfg"));
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n\
             {}{extra}\n",
            data_dir.display(),
            if extra.contains("4lw.commands.whitelist") {
                ""
            } else {
                "4lw.commands.whitelist=ruok,srvr,kbak\n"
            }
        ),
    )
    .unwrap();
    let log = dir.join(format!("server-{port}-{attempt}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_keeper"))
        .arg("server")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn keeper server");
    let mut server = Server { child, port, log };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            return Err(format!("server exited with {status}: {log}"));
        }
        if four_letter(port, "ruok").as_deref() == Some("imok")
            && four_letter(port, "srvr").is_some_and(|s| s.contains("Mode:"))
        {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("server did not answer ruok within 20 s".into())
}

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Sends a four-letter word and returns the whole answer.
pub fn four_letter(port: u16, word: &str) -> Option<String> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// The `Zxid: 0x..` line of `srvr`, parsed.
pub fn srvr_zxid(server: &Server) -> u64 {
    let text = server.four_letter("srvr");
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .unwrap_or_else(|| panic!("no Zxid in {text:?}"));
    u64::from_str_radix(hex, 16).unwrap()
}

/// A tokio runtime for the async client, for tests that are otherwise blocking.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Connects to `addr`, retrying until `deadline` (a member that is not serving yet
/// refuses clients).
pub async fn client_until(addr: &str, deadline: Instant) -> keeper_net::client::Client {
    loop {
        let addrs = [addr.to_string()];
        let attempt = keeper_net::client::connect(&addrs, Duration::from_secs(30));
        if let Ok(Ok((client, _watches))) =
            tokio::time::timeout(Duration::from_secs(3), attempt).await
        {
            return client;
        }
        assert!(Instant::now() < deadline, "could not connect to {addr} in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads `path` through `addr` after a sync, retrying until `deadline`.
pub async fn read_until(addr: &str, path: &str, deadline: Instant) -> Vec<u8> {
    loop {
        let client = client_until(addr, deadline).await;
        let read = async {
            client.sync(path).await.ok()?;
            client.get_data(path, false).await.ok()
        };
        if let Ok(Some((data, _))) = tokio::time::timeout(Duration::from_secs(3), read).await {
            let _ = client.close().await;
            return data.map(|b| b.to_vec()).unwrap_or_default();
        }
        assert!(Instant::now() < deadline, "could not read {path} from {addr} in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The member of `among` that leads when exactly one of them is `leader` and all the others
/// `follower` (`modes[k]` is the srvr Mode of `among[k]`, `None` when it did not answer).
pub fn formed(among: &[usize], modes: &[Option<String>]) -> Option<usize> {
    let leaders: Vec<usize> = among
        .iter()
        .zip(modes)
        .filter(|(_, m)| m.as_deref() == Some("leader"))
        .map(|(i, _)| *i)
        .collect();
    let following = modes.iter().filter(|m| m.as_deref() == Some("follower")).count();
    (leaders.len() == 1 && following == among.len() - 1).then(|| leaders[0])
}
