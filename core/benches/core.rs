//! Micro-benchmarks of the core's hot paths (divan): the tree (apply a create or setData,
//! look a node up), the client codec (decode a getData request, encode its reply), and the
//! log record codec (append a setData record, as the log writer does).
//!
//! Run with `cargo bench -p keeper-core`; `-- --sample-count 100` etc. are divan's options.
//! Each benchmark works on fixed inputs built outside the timed part, so figures compare
//! across commits on one machine (docs/performance.md keeps the latest).

use bytes::Bytes;
use divan::{black_box, Bencher};
use keeper_core::persist::log::append_log_record;
use keeper_core::proto::{Request, Response, Stat};
use keeper_core::tree::DataTree;
use keeper_core::txn::Txn;
use keeper_core::wire::codec;

#[path = "common/mod.rs"]
mod common;
use common::{create, key, record};

fn main() {
    divan::main();
}

/// A tree with `/bench` and `n` children of 100 bytes each; returns it and the next zxid.
fn tree_with(n: u64) -> (DataTree, u64) {
    let mut tree = DataTree::new();
    tree.apply(&record(1, create("/bench".into())));
    for i in 0..n {
        tree.apply(&record(i + 2, create(key(i))));
    }
    (tree, n + 2)
}

/// Creating one znode under a parent that already has `n` children.
#[divan::bench(args = [1_000, 100_000])]
fn tree_apply_create(bencher: Bencher, n: u64) {
    let (mut tree, mut zxid) = tree_with(n);
    bencher.bench_local(|| {
        tree.apply(&record(zxid, create(format!("/bench/new{zxid}"))));
        zxid += 1;
    });
}

/// setData of 100 bytes on one of `n` znodes.
#[divan::bench(args = [1_000, 100_000])]
fn tree_apply_set(bencher: Bencher, n: u64) {
    let (mut tree, mut zxid) = tree_with(n);
    let data = Bytes::from(vec![b'y'; 100]);
    bencher.bench_local(|| {
        let path = key(zxid % n);
        tree.apply(&record(zxid, Txn::SetData { path, data: Some(data.clone()), version: 1 }));
        zxid += 1;
    });
}

/// Looking up one of `n` znodes by path (what every read does first).
#[divan::bench(args = [1_000, 100_000])]
fn tree_get(bencher: Bencher, n: u64) {
    let (tree, _) = tree_with(n);
    let paths: Vec<String> = (0..1024).map(|i| key(i * 7919 % n)).collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % paths.len();
        black_box(tree.get(&paths[i]).map(|v| v.stat.version))
    });
}

/// Decoding a getData request frame body (header + path + watch flag).
#[divan::bench]
fn codec_decode_get_data(bencher: Bencher) {
    let mut frame = Vec::new();
    codec::encode_request(7, &Request::GetData { path: key(42), watch: false }, &mut frame);
    let body = &frame[4..];
    bencher.bench_local(|| black_box(codec::decode_request(black_box(body)).is_ok()));
}

/// Encoding a getData reply with 100 bytes of data and a stat into a reused buffer.
#[divan::bench]
fn codec_encode_get_data_reply(bencher: Bencher) {
    let reply =
        Ok(Response::GetData { data: Some(Bytes::from(vec![b'x'; 100])), stat: Stat::default() });
    let mut out = Vec::with_capacity(4096);
    bencher.bench_local(|| {
        out.clear();
        codec::encode_reply(7, 42, black_box(&reply), &mut out);
        black_box(out.len())
    });
}

/// Appending one setData log record (length, crc32c, payload) to the writer's batch.
#[divan::bench]
fn log_append_set_data(bencher: Bencher) {
    let rec = record(
        9,
        Txn::SetData { path: key(42), data: Some(Bytes::from(vec![b'y'; 100])), version: 3 },
    );
    let mut out = Vec::with_capacity(1 << 20);
    bencher.bench_local(|| {
        if out.len() > (1 << 20) - 512 {
            out.clear();
        }
        append_log_record(&mut out, black_box(&rec));
    });
}
