//! Helpers shared by the storage tests: unique temp dirs and small synthetic txns.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use keeper_core::ids::{PersistSeq, SessionId, Zxid};
use keeper_core::output::DurableWrite;
use keeper_core::proto::Acl;
use keeper_core::txn::{Txn, TxnHeader, TxnRecord};
use keeper_net::storage::{RecoveredImages, Storage, StorageOptions};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// A directory under the system temp dir, unique per process and call, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "keeper-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small record of a few kinds, keyed by zxid.
pub fn rec(z: u64) -> TxnRecord {
    let txn = match z % 3 {
        0 => Txn::CreateSession { timeout_ms: 30_000 },
        1 => Txn::Create {
            path: format!("/n{z}"),
            data: Some(Bytes::from(format!("data{z}"))),
            acl: Acl::open_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: z as i32,
        },
        _ => Txn::SetData {
            path: format!("/n{}", z - 1),
            data: Some(Bytes::from_static(b"v2")),
            version: 1,
        },
    };
    TxnRecord {
        header: TxnHeader {
            session: SessionId(0x100 + z as i64),
            cxid: z as i32,
            zxid: Zxid(z),
            time_ms: 1_000 + z as i64,
        },
        txn,
    }
}

/// Small preallocation so tests also cross block boundaries.
pub fn small_options() -> StorageOptions {
    StorageOptions { prealloc_bytes: 4096, ..StorageOptions::default() }
}

pub fn open(dir: &Path) -> (Storage, RecoveredImages, UnboundedReceiver<PersistSeq>) {
    let (tx, rx) = unbounded_channel();
    let (s, r) = Storage::open_images(dir, dir, tx, small_options()).expect("open");
    (s, r, rx)
}

/// Receives reports until `seq` is covered; reports must strictly increase.
pub fn wait_for(rx: &mut UnboundedReceiver<PersistSeq>, seq: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    while seen.last().copied().unwrap_or(0) < seq {
        let s = rx.blocking_recv().expect("writer alive").0;
        if let Some(&prev) = seen.last() {
            assert!(s > prev, "reports must increase: {s} after {prev}");
        }
        seen.push(s);
    }
    seen
}

/// Appends records `zxids` with seqs starting at `first_seq`; returns the next seq.
pub fn append_all(s: &Storage, first_seq: u64, zxids: impl IntoIterator<Item = u64>) -> u64 {
    let mut seq = first_seq;
    for z in zxids {
        s.persist(PersistSeq(seq), DurableWrite::Append(rec(z)));
        seq += 1;
    }
    seq
}

/// Log files in the store, in zxid order.
pub fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(dir.join("version-2"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let n = p.file_name()?.to_str()?.strip_prefix("log.")?.to_string();
            Some((u64::from_str_radix(&n, 16).ok()?, p))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// Snapshot files in the store, in zxid order.
pub fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<(u64, String)> = std::fs::read_dir(dir.join("version-2"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let n = p.file_name()?.to_str()?.to_string();
            let hex = n.strip_prefix("snapshot.")?;
            Some((u64::from_str_radix(hex, 16).ok()?, n))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}
