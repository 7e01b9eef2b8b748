//! `keeper snapshot` and `keeper restore`: a consistent backup of a running server, and a
//! new dataDir made from one.
//!
//! The backup travels as the answer to the keeper-specific four-letter word `kbak`
//! (`keeper_core::persist::backup`): a snapshot image the node took between two inputs and
//! released once everything in it was durable. The file written is that image, a plain
//! keeper snapshot file, so `keeper inspect` reads it and `restore` only has to check it
//! and put it in place. Invariant: nothing is written unless the image decodes whole
//! (checksum and tree), and the backup file appears only once complete (tmp + rename).

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use keeper_core::persist::backup::{decode_backup_text, BACKUP_WORD};
use keeper_core::persist::decode_snapshot;
use keeper_net::storage::install_snapshot;

/// Asks the server at `server` for a backup and writes it to `out`.
pub fn snapshot(server: &str, out: &Path, timeout_s: u64) -> Result<(), String> {
    if out.exists() {
        return Err(format!("{} exists; give a new file name", out.display()));
    }
    let started = Instant::now();
    let deadline = Duration::from_secs(timeout_s.max(1));
    let addr = server
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {server}: {e}"))?
        .next()
        .ok_or_else(|| format!("{server} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    stream
        .write_all(BACKUP_WORD.as_bytes())
        .map_err(|e| format!("cannot send to {server}: {e}"))?;
    let mut answer = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let left = deadline.checked_sub(started.elapsed()).filter(|d| !d.is_zero());
        let Some(left) = left else {
            return Err(format!("no complete backup from {server} within {timeout_s} s"));
        };
        stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the backup from {server}: {e}")),
        }
    }
    let image = decode_backup_text(&answer).map_err(|e| format!("{server}: {e}"))?;
    let state =
        decode_snapshot(&image).map_err(|e| format!("the backup from {server} is damaged: {e}"))?;
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&image)?;
        f.sync_all()?;
        fs::rename(&tmp, out)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", out.display())
    })?;
    println!(
        "backup of {server} at zxid {}: {} znodes, {} sessions, {} bytes -> {} ({} ms)",
        state.zxid,
        state.tree.node_count(),
        state.sessions.len(),
        image.len(),
        out.display(),
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Checks `backup` and writes it as the only snapshot of the new `data_dir`.
pub fn restore(backup: &Path, data_dir: &Path, data_log_dir: Option<&Path>) -> Result<(), String> {
    let image = fs::read(backup).map_err(|e| format!("cannot read {}: {e}", backup.display()))?;
    let state = decode_snapshot(&image)
        .map_err(|e| format!("{} is not a usable keeper snapshot: {e}", backup.display()))?;
    let log_dir = data_log_dir.unwrap_or(data_dir);
    let path =
        install_snapshot(data_dir, log_dir, state.zxid, &image).map_err(|e| e.to_string())?;
    println!(
        "restored {} (zxid {}, {} znodes, {} sessions) as {}",
        backup.display(),
        state.zxid,
        state.tree.node_count(),
        state.sessions.len(),
        path.display()
    );
    Ok(())
}
