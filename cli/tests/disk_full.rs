//! A full disk on the real binary: writes fail with a clear error, reads and sessions go
//! on, nothing half-applied survives, and the server takes writes again by itself once
//! there is room.
//!
//! "Full" is made without root: the server runs with SIGXFSZ ignored (`trap '' XFSZ`
//! before `exec`, which the exec keeps), and `prlimit --fsize=1:unlimited` on its pid then
//! makes every write past byte 1 of any file fail with EFBIG, the way ENOSPC fails it.
//! Raising the soft limit back (`--fsize=unlimited:unlimited`) is "space returns". The
//! server's output goes through a pipe (pipes know no file size limit) into a file.

mod ops_common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keeper_core::error::KeeperError;
use keeper_core::proto::Acl;
use keeper_net::client::{connect, resume, Client, ClientError};
use ops_common::{four_letter, runtime, TempDir};

/// How long each step may take before the test gives up.
const WITHIN: Duration = Duration::from_secs(20);

/// `keeper server` under `sh -c 'trap "" XFSZ; exec ...'`, output piped into `log`.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path, tag: &str) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cfg = dir.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\npreAllocSize=64\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("trap '' XFSZ; exec \"$0\" server \"$1\" 2>&1")
            .arg(env!("CARGO_BIN_EXE_keeper"))
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn keeper server");
        let log = dir.join(format!("server-{tag}.log"));
        let mut out = child.stdout.take().unwrap();
        let to = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(to).unwrap();
            let mut buf = [0u8; 8192];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || std::io::Write::write_all(&mut file, &buf[..n]).is_err() {
                    break;
                }
            }
        });
        let server = Server { child, port, log };
        let ready = poll(|| (four_letter(port, "ruok").as_deref() == Some("imok")).then_some(()));
        assert!(ready.is_some(), "server not ready:\n{}", server.log_text());
        server
    }

    fn addr(&self) -> Vec<String> {
        vec![format!("127.0.0.1:{}", self.port)]
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sets the server's soft RLIMIT_FSIZE (hard stays unlimited).
    fn file_size_limit(&self, soft: &str) {
        let status = Command::new("prlimit")
            .arg(format!("--pid={}", self.child.id()))
            .arg(format!("--fsize={soft}:unlimited"))
            .status()
            .expect("run prlimit (util-linux)");
        assert!(status.success(), "prlimit --fsize={soft} failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls `f` until it returns Some or [`WITHIN`] passes (50 ms between tries).
fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + WITHIN;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn data_of(rt: &tokio::runtime::Runtime, c: &Client, path: &str) -> Option<Vec<u8>> {
    match rt.block_on(c.get_data(path, false)) {
        Ok((data, _)) => Some(data.map(|d| d.to_vec()).unwrap_or_default()),
        Err(ClientError::Keeper(KeeperError::NoNode)) => None,
        Err(e) => panic!("getData {path}: {e}"),
    }
}

#[test]
fn a_full_disk_refuses_writes_serves_reads_and_recovers() {
    let dir = TempDir::new("disk-full");
    let rt = runtime();
    let server = Server::start(dir.path(), "first");
    let session_ms = Duration::from_secs(10);
    let (a, _) = rt.block_on(connect(&server.addr(), session_ms)).unwrap();
    let open = Acl::open_unsafe;
    rt.block_on(a.create("/a", b"one", open(), 0, None)).unwrap();
    rt.block_on(a.create("/kept", b"k", open(), 0, None)).unwrap();

    // The disk fills: the write whose record fails is neither applied nor acknowledged,
    // its connection is closed (the outcome of a lost connection is "unknown" to a client).
    server.file_size_limit("1");
    let first = rt.block_on(a.create("/b", b"lost", open(), 0, None));
    assert!(matches!(first, Err(ClientError::ConnectionLoss(_))), "{first:?}");

    // The session lives on: it reattaches and reads; the failed create left nothing.
    let session = a.session().clone();
    let b = poll(|| rt.block_on(resume(&server.addr(), &session)).ok().map(|(c, _)| c))
        .unwrap_or_else(|| panic!("session did not reattach:\n{}", server.log_text()));
    assert_eq!(data_of(&rt, &b, "/a").as_deref(), Some(&b"one"[..]));
    assert_eq!(data_of(&rt, &b, "/b"), None, "the failed create must not be applied");
    // Writes now fail at once with NOTREADONLY, the connection stays up.
    for _ in 0..3 {
        let refused = rt.block_on(b.create("/c", b"c", open(), 0, None));
        assert_eq!(refused, Err(ClientError::Keeper(KeeperError::NotReadOnly)));
        let refused = rt.block_on(b.set_data("/a", b"x", -1));
        assert_eq!(refused.unwrap_err(), ClientError::Keeper(KeeperError::NotReadOnly));
    }
    assert_eq!(data_of(&rt, &b, "/a").as_deref(), Some(&b"one"[..]));
    // A new session needs a transaction: refused for now.
    assert!(rt.block_on(connect(&server.addr(), session_ms)).is_err());
    assert!(server.log_text().contains("disk full"), "{}", server.log_text());

    // Space returns: writes resume without a restart, on the same connection.
    server.file_size_limit("unlimited");
    let created = poll(|| match rt.block_on(b.create("/c", b"after", open(), 0, None)) {
        Ok(_) => Some(()),
        Err(ClientError::Keeper(KeeperError::NotReadOnly)) => None,
        Err(e) => panic!("create /c after space returned: {e}"),
    });
    assert!(created.is_some(), "writes did not resume:\n{}", server.log_text());
    rt.block_on(b.set_data("/a", b"two", -1)).unwrap();
    let (fresh, _) = rt.block_on(connect(&server.addr(), session_ms)).unwrap();
    rt.block_on(fresh.create("/d", b"d", open(), 0, None)).unwrap();
    drop((a, b, fresh));
    let first_log = server.log_text();
    drop(server);

    // Nothing corrupt or half-applied on disk: a restart recovers cleanly, to the same data.
    let again = Server::start(dir.path(), "restart");
    let (c, _) = rt.block_on(connect(&again.addr(), session_ms)).unwrap();
    assert_eq!(data_of(&rt, &c, "/a").as_deref(), Some(&b"two"[..]));
    assert_eq!(data_of(&rt, &c, "/kept").as_deref(), Some(&b"k"[..]));
    assert_eq!(data_of(&rt, &c, "/b"), None);
    assert_eq!(data_of(&rt, &c, "/c").as_deref(), Some(&b"after"[..]));
    assert_eq!(data_of(&rt, &c, "/d").as_deref(), Some(&b"d"[..]));
    let log = again.log_text();
    assert!(!log.contains("torn tail") && !log.contains("WARN"), "unclean recovery:\n{log}");
    eprintln!("first run's log:\n{first_log}");
}
