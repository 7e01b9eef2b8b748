//! What a znode costs in memory, and how long a snapshot of many takes to encode and decode.
//!
//! `cargo bench -p keeper-core --bench tree_memory [-- N]` (default N = 1,000,000) builds a
//! tree of N znodes of 100 bytes under `/load` (the names `keeper bench --workload load`
//! uses, created in order through `DataTree::apply`, as a server applies them), then
//! encodes it as a snapshot, drops it and decodes the snapshot. After each step it prints
//! the heap bytes the tree holds per znode, counted by a wrapping global allocator both as
//! requested and as glibc malloc chunks (request + 8, rounded up to 16, at least 32), and
//! the process RSS. Invariant: the counts cover every allocation of this process, so a
//! figure per znode is (live bytes - bytes before the tree) / N.
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark binary times the core from outside; the core itself reads no clock"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::Instant;

use bytes::Bytes;
use keeper_core::ids::{SessionId, Zxid};
use keeper_core::proto::Acl;
use keeper_core::tree::DataTree;
use keeper_core::txn::{Txn, TxnHeader, TxnRecord};
use keeper_core::wire::jute::{Reader, Writer};

/// Counts live bytes: as requested, and as glibc chunks.
struct Counting;
static REQUESTED: AtomicIsize = AtomicIsize::new(0);
static CHUNKS: AtomicIsize = AtomicIsize::new(0);

fn chunk(size: usize) -> isize {
    ((size + 8 + 15) & !15).max(32) as isize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        REQUESTED.fetch_add(l.size() as isize, Relaxed);
        CHUNKS.fetch_add(chunk(l.size()), Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        REQUESTED.fetch_sub(l.size() as isize, Relaxed);
        CHUNKS.fetch_sub(chunk(l.size()), Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        REQUESTED.fetch_add(new as isize - l.size() as isize, Relaxed);
        CHUNKS.fetch_add(chunk(new) - chunk(l.size()), Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn record(zxid: u64, txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader { session: SessionId(1), cxid: 1, zxid: Zxid(zxid), time_ms: 1 },
        txn,
    }
}

fn create(path: String, data: Option<Bytes>) -> Txn {
    Txn::Create { path, data, acl: Acl::open_unsafe(), ephemeral_owner: 0, parent_cversion: 0 }
}

/// Prints the bytes allocated since `base` per znode, and the RSS (per znode too when
/// `base` holds the RSS before the tree: after the decode, freed memory is reused).
fn report(what: &str, n: usize, base: (isize, isize, Option<u64>)) {
    let per = |now: isize, before: isize| (now - before) as f64 / n as f64;
    let rss = rss_kib();
    let rss_per = base.2.map_or(String::new(), |b| {
        format!(" ({:.1} B/znode)", (rss as f64 - b as f64) * 1024.0 / n as f64)
    });
    println!(
        "{what:<14} requested {:6.1} B/znode, glibc chunks {:6.1} B/znode, RSS {:7.1} MiB{rss_per}",
        per(REQUESTED.load(Relaxed), base.0),
        per(CHUNKS.load(Relaxed), base.1),
        rss as f64 / 1024.0,
    );
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let base = (REQUESTED.load(Relaxed), CHUNKS.load(Relaxed), Some(rss_kib()));
    let start = Instant::now();
    let mut tree = DataTree::new();
    tree.apply(&record(1, create("/load".into(), None)));
    for i in 0..n {
        // A fresh buffer per znode, as the request decoder makes one per request.
        let data = Some(Bytes::copy_from_slice(&[b'x'; 100]));
        tree.apply(&record(i as u64 + 2, create(format!("/load/k{i:08}"), data)));
    }
    println!("built {n} znodes by apply in {:.2} s", start.elapsed().as_secs_f64());
    report("after apply", n, base);

    let start = Instant::now();
    let mut w = Writer::new();
    tree.encode_snapshot(&mut w);
    let image = w.into_vec();
    println!(
        "encoded a {:.1} MiB snapshot in {:.2} s",
        image.len() as f64 / 1048576.0,
        start.elapsed().as_secs_f64()
    );
    let digest = tree.digest();
    drop(tree);
    // The image stays allocated while the tree decodes from it: count from here on.
    let base = (REQUESTED.load(Relaxed), CHUNKS.load(Relaxed), None);
    let start = Instant::now();
    let tree = DataTree::decode_snapshot(&mut Reader::new(&image)).expect("own snapshot decodes");
    println!("decoded it in {:.2} s", start.elapsed().as_secs_f64());
    assert_eq!(tree.digest(), digest, "the decoded tree is the encoded one");
    report("after decode", n, base);
}
