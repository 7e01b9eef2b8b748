//! Hostile bytes found by (or aimed like) the fuzz targets in fuzz/: each case is a
//! regression test, and a counting allocator shows that a length field cannot make a
//! decoder allocate more than the input could hold (crate docs of `wire` and `persist`).
//!
//! The allocator counts the largest single allocation made while a closure runs on this
//! thread; tests in this file run one at a time through a lock so that they do not see each
//! other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;

use keeper_core::persist::{decode_snapshot, decode_txn_record, scan_log};
use keeper_core::proto::op;
use keeper_core::wire::codec;
use keeper_core::zkfiles::{parse_log, parse_snapshot, parse_txn};

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note(size: usize) {
    // try_with: thread locals may already be gone while a thread shuts down.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

#[global_allocator]
static ALLOC: Counting = Counting;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `f` and returns the largest single allocation it made.
fn largest_allocation(f: impl FnOnce()) -> usize {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    LARGEST.with(|l| l.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    LARGEST.with(|l| l.get())
}

fn be32(v: i32) -> [u8; 4] {
    v.to_be_bytes()
}

/// A request body: header (xid 1, `code`) then `rest`.
fn request(code: i32, rest: &[&[u8]]) -> Vec<u8> {
    let mut b = [be32(1), be32(code)].concat();
    for part in rest {
        b.extend_from_slice(part);
    }
    b
}

/// Huge declared lengths and counts in small inputs are refused, and refusing them never
/// allocates more than a few KiB (the inputs are under 100 bytes).
#[test]
fn huge_declared_lengths_in_small_frames_allocate_nothing_large() {
    let path = [&be32(2)[..], b"/a"].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("frame prefix 2 GiB", be32(i32::MAX).to_vec()),
        ("create with data length 2 GiB", request(op::CREATE, &[&path, &be32(i32::MAX)])),
        (
            "create with 1e9 ACLs",
            request(op::CREATE, &[&path, &be32(0), &be32(1_000_000_000), &[0; 24]]),
        ),
        (
            "setWatches with 2^31-1 paths",
            request(op::SET_WATCHES, &[&[0; 8], &be32(i32::MAX), &[0; 40]]),
        ),
        (
            "setWatches whose path count just fits the bytes left",
            // 40 bytes left after the count: 10 empty strings would fit, so 10 are reserved
            // at most; the decoder then fails on the missing strings.
            request(op::SET_WATCHES, &[&[0; 8], &be32(11), &[0; 40]]),
        ),
        ("auth with a 2 GiB buffer", request(op::AUTH, &[&be32(0), &be32(0), &be32(i32::MAX)])),
        ("sasl token -7 bytes long", request(op::SASL, &[&be32(-7)])),
        (
            "multi with a sub-op claiming 2 GiB of path",
            request(op::MULTI, &[&be32(op::CREATE), &[0], &be32(-1), &be32(i32::MAX)]),
        ),
    ];
    for (what, bytes) in cases {
        let mut decoded = None;
        let largest = largest_allocation(|| {
            if what.starts_with("frame") {
                decoded = Some(codec::frame_len(&bytes, 1 << 20).is_err());
            } else {
                decoded = Some(codec::decode_request(&bytes).is_err());
            }
        });
        assert_eq!(decoded, Some(true), "{what}: refused");
        assert!(largest <= 4096, "{what}: largest allocation {largest} bytes");
    }
}

/// A count that fits the bytes left by the encoding's minimum (4 bytes per string) is not
/// reserved outright: a `String` takes 24 bytes, so reserving it would cost 6x the frame.
/// The largest allocation stays within the frame's own size.
#[test]
fn reservations_never_exceed_the_frame() {
    const FRAME: usize = 1 << 20;
    let left = FRAME - 8 - 8 - 4;
    let mut strings = vec![0u8; left];
    strings[..4].copy_from_slice(&be32(i32::MAX)); // the first string is cut short
    let body = request(op::SET_WATCHES, &[&[0; 8], &be32((left / 4) as i32), &strings]);
    assert_eq!(body.len(), FRAME);
    let largest = largest_allocation(|| assert!(codec::decode_request(&body).is_err()));
    assert!(largest <= FRAME, "largest allocation {largest} bytes for a {FRAME}-byte frame");
}

/// Durable files get the same treatment: a log record, a snapshot and ZooKeeper's own files
/// that declare enormous counts are refused without large allocations.
#[test]
fn huge_counts_in_files_allocate_nothing_large() {
    let mut log = keeper_core::persist::encode_log_header(keeper_core::Zxid(1)).to_vec();
    log.extend_from_slice(&u32::MAX.to_be_bytes());
    log.extend_from_slice(&[0xAB; 12]);
    let mut zk_snapshot = b"ZKSN".to_vec();
    zk_snapshot.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    zk_snapshot.extend_from_slice(&be32(i32::MAX));
    let txn_multi = [&[0u8; 28][..], &be32(op::MULTI), &be32(i32::MAX), &[0; 16]].concat();
    let largest = largest_allocation(|| {
        assert!(!scan_log(&log).records.iter().any(|_| true));
        assert!(decode_snapshot(&[b"KPSN".as_slice(), &[0xff; 60]].concat()).is_err());
        assert!(parse_snapshot(&zk_snapshot).is_err());
        assert!(parse_log(&zk_snapshot).is_err());
        assert!(decode_txn_record(&txn_multi).is_err());
        assert!(parse_txn(&txn_multi).is_err());
    });
    assert!(largest <= 4096, "largest allocation {largest} bytes");
}

/// A ZooKeeper log entry whose multi holds a multi holding a multi... is refused, not
/// followed: ZooKeeper's MultiTxn never nests, and following hostile nesting recursed once
/// per 12 bytes of input, overflowing the stack on a file of a few hundred KiB.
#[test]
fn nested_zookeeper_multi_txns_are_refused_not_recursed() {
    // Innermost: an empty multi (count 0). Each level wraps the one inside as its only
    // sub-txn: count 1, sub type MULTI, body length, body.
    const LEVELS: usize = 20_000;
    let inner_lens: Vec<i32> = (0..LEVELS as i32).map(|k| 4 + 12 * k).collect();
    let mut body = Vec::with_capacity(4 + 12 * LEVELS);
    for len in inner_lens.iter().rev() {
        body.extend_from_slice(&[be32(1), be32(op::MULTI), be32(*len)].concat());
    }
    body.extend_from_slice(&be32(0));
    let entry = [&[0u8; 28][..], &be32(op::MULTI), &body].concat();
    // Run on a small stack so that recursion would fail here, not pass by luck.
    let result = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || parse_txn(&entry).map(drop))
        .unwrap()
        .join()
        .expect("parse_txn does not overflow the stack");
    assert!(result.is_err(), "a nested multi is refused");
}
