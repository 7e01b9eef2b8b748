//! The log file format and the torn-tail rule (core/src/persist/log.rs module doc).

use bytes::Bytes;
use keeper_core::ids::{SessionId, Zxid};
use keeper_core::persist::log::{
    append_log_record, encode_log_header, scan_log, End, LOG_HEADER_LEN,
};
use keeper_core::proto::Acl;
use keeper_core::txn::{Txn, TxnHeader, TxnRecord};
use proptest::prelude::*;

fn rec(z: u64, txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader { session: SessionId(5), cxid: z as i32, zxid: Zxid(z), time_ms: 9 },
        txn,
    }
}

fn small_records() -> Vec<TxnRecord> {
    vec![
        rec(1, Txn::CreateSession { timeout_ms: 30000 }),
        rec(
            2,
            Txn::Create {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"x")),
                acl: Acl::open_unsafe(),
                ephemeral_owner: 0,
                parent_cversion: 1,
            },
        ),
        rec(
            3,
            Txn::SetData { path: "/a".into(), data: Some(Bytes::from_static(b"yy")), version: 1 },
        ),
    ]
}

fn log_of(records: &[TxnRecord], prealloc: usize) -> (Vec<u8>, Vec<usize>) {
    let mut b =
        encode_log_header(records.first().map(|r| r.header.zxid).unwrap_or(Zxid(1))).to_vec();
    let mut ends = Vec::new();
    for r in records {
        append_log_record(&mut b, r);
        ends.push(b.len());
    }
    b.resize(b.len() + prealloc, 0);
    (b, ends)
}

#[test]
fn clean_log_with_preallocation() {
    let recs = small_records();
    let (b, ends) = log_of(&recs, 100);
    let s = scan_log(&b);
    assert_eq!(s.end, End::Clean);
    assert_eq!(s.records, recs);
    assert_eq!(s.first_zxid, Some(Zxid(1)));
    assert_eq!(s.valid_len, *ends.last().unwrap() as u64);
    assert_eq!(s.record_offsets[0], LOG_HEADER_LEN as u64);
}

/// A last record with a bad checksum followed only by zeros is a torn tail.
#[test]
fn torn_last_record_is_torn_tail() {
    let recs = small_records();
    let (mut b, ends) = log_of(&recs, 64);
    b[ends[2] - 1] ^= 0x40;
    let s = scan_log(&b);
    assert_eq!(s.end, End::TornTail { offset: ends[1] as u64 });
    assert_eq!(s.records, recs[..2]);
    assert_eq!(s.valid_len, ends[1] as u64);
}

/// A bad checksum with a valid record after it is corruption, naming the offset.
#[test]
fn bad_middle_record_is_corrupt() {
    let recs = small_records();
    let (mut b, ends) = log_of(&recs, 0);
    b[ends[1] - 1] ^= 1;
    let s = scan_log(&b);
    assert!(
        matches!(s.end, End::Corrupt { offset, .. } if offset == ends[0] as u64),
        "{:?}",
        s.end
    );
    assert_eq!(s.records, recs[..1]);
}

/// A zeroed length in the middle must not silently hide the records behind it.
#[test]
fn zeroed_length_in_middle_is_corrupt() {
    let recs = small_records();
    let (mut b, ends) = log_of(&recs, 0);
    b[ends[0]..ends[0] + 4].fill(0);
    assert!(matches!(scan_log(&b).end, End::Corrupt { .. }));
}

/// A file being created (short or zeroed header) is a torn tail at 0; a foreign file is corrupt.
#[test]
fn torn_and_foreign_headers() {
    assert_eq!(scan_log(&[]).end, End::TornTail { offset: 0 });
    assert_eq!(scan_log(&[0u8; 4096]).end, End::TornTail { offset: 0 });
    assert_eq!(scan_log(&b"KPL"[..]).end, End::TornTail { offset: 0 });
    assert!(matches!(scan_log(b"ZKLG0000000000000000000").end, End::Corrupt { offset: 0, .. }));
    let mut h = encode_log_header(Zxid(7)).to_vec();
    h[5] ^= 1; // version byte, header checksum now wrong, a record follows
    append_log_record(&mut h, &small_records()[0]);
    assert!(matches!(scan_log(&h).end, End::Corrupt { offset: 0, .. }));
}

/// Truncating a log at every offset gives a prefix of its records and a torn tail exactly
/// when the cut is inside a record.
#[test]
fn truncation_at_every_offset() {
    let recs = small_records();
    let (b, ends) = log_of(&recs, 0);
    for k in 0..=b.len() {
        let s = scan_log(&b[..k]);
        let whole = ends.iter().filter(|&&e| e <= k).count();
        assert_eq!(s.records, recs[..whole], "cut at {k}");
        let last_end = ends.iter().copied().filter(|&e| e <= k).max().unwrap_or(LOG_HEADER_LEN);
        if k < LOG_HEADER_LEN {
            assert_eq!(s.end, End::TornTail { offset: 0 }, "cut at {k}");
        } else if b[last_end..k].iter().all(|&x| x == 0) {
            // Nothing but zeros after the last whole record: indistinguishable from
            // preallocation, so a clean end (the lost bytes held no record).
            assert_eq!(s.end, End::Clean, "cut at {k}");
        } else {
            assert!(matches!(s.end, End::TornTail { .. }), "cut at {k}: {:?}", s.end);
        }
    }
}

/// Every single-byte flip, with several masks, is detected or outside the records: the scan
/// never returns a record that was not written.
#[test]
fn every_single_byte_flip_is_detected() {
    let recs = small_records();
    let (b, ends) = log_of(&recs, 32);
    let written = *ends.last().unwrap();
    for i in 0..b.len() {
        for mask in [0x01u8, 0x80, 0xff, 0x5a] {
            let mut c = b.clone();
            c[i] ^= mask;
            let s = scan_log(&c);
            assert!(
                s.records.len() <= recs.len() && s.records == recs[..s.records.len()],
                "flip {i}^{mask:#x}"
            );
            if i < written {
                assert_ne!(s.end, End::Clean, "flip {i}^{mask:#x} went unnoticed");
            }
        }
    }
}

proptest! {
    /// Any sequence of records scans back exactly, with or without preallocation.
    #[test]
    fn log_round_trips(n in 0usize..20, prealloc in 0usize..64, data in prop::collection::vec(any::<u8>(), 0..40)) {
        let recs: Vec<TxnRecord> = (0..n as u64)
            .map(|i| rec(i + 1, Txn::SetData { path: format!("/n{i}"), data: Some(Bytes::from(data.clone())), version: i as i32 }))
            .collect();
        let (b, _) = log_of(&recs, prealloc);
        let s = scan_log(&b);
        prop_assert_eq!(s.end, End::Clean);
        prop_assert_eq!(s.records, recs);
    }

    /// Arbitrary bytes after a valid header never panic and never yield more records than bytes.
    #[test]
    fn garbage_never_panics(junk in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut b = encode_log_header(Zxid(1)).to_vec();
        b.extend_from_slice(&junk);
        let s = scan_log(&b);
        prop_assert!(s.valid_len as usize <= b.len());
        let _ = scan_log(&junk);
    }
}

fn arb_log() -> impl Strategy<Value = Vec<TxnRecord>> {
    prop::collection::vec((prop::collection::vec(any::<u8>(), 0..24), 0u8..3), 1..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (data, kind))| {
                let z = i as u64 + 1;
                match kind {
                    0 => rec(z, Txn::CreateSession { timeout_ms: data.len() as i32 }),
                    1 => rec(z, Txn::Delete { path: format!("/d{}", data.len()) }),
                    _ => rec(
                        z,
                        Txn::SetData {
                            path: "/s".into(),
                            data: Some(Bytes::from(data)),
                            version: 3,
                        },
                    ),
                }
            })
            .collect()
    })
}

proptest! {
    /// Random logs, cut anywhere: always a prefix of what was written, never a wrong record.
    #[test]
    fn random_truncation_gives_a_prefix(recs in arb_log(), cut in any::<prop::sample::Index>()) {
        let (b, _) = log_of(&recs, 0);
        let k = cut.index(b.len() + 1);
        let s = scan_log(&b[..k]);
        prop_assert!(s.records.len() <= recs.len());
        prop_assert_eq!(&s.records[..], &recs[..s.records.len()]);
        prop_assert!(!matches!(s.end, End::Corrupt { .. }), "a cut is never corruption: {:?}", s.end);
    }

    /// Random logs, one byte flipped anywhere: a prefix, and never Clean if the flip hit
    /// the header or a record.
    #[test]
    fn random_flip_is_detected(recs in arb_log(), at in any::<prop::sample::Index>(), mask in 1u8..=255, pre in 0usize..16) {
        let (mut b, ends) = log_of(&recs, pre);
        let i = at.index(b.len());
        b[i] ^= mask;
        let s = scan_log(&b);
        prop_assert!(s.records.len() <= recs.len());
        prop_assert_eq!(&s.records[..], &recs[..s.records.len()]);
        if i < *ends.last().unwrap() {
            prop_assert_ne!(s.end, End::Clean);
        }
    }
}

/// The byte layout of a small log, pinned: a change here is a format change and needs a
/// new version number.
#[test]
fn log_bytes_are_stable() {
    let (b, _) = log_of(&small_records()[..2], 0);
    let hex: Vec<String> = b
        .chunks(16)
        .map(|c| c.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" "))
        .collect();
    insta::assert_snapshot!(hex.join("\n"));
}
