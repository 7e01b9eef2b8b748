//! Round trips of the txn codec (core/src/persist/txn_codec.rs) and its refusal of bad bytes.

use bytes::Bytes;
use keeper_core::ids::{SessionId, Zxid};
use keeper_core::persist::{decode_txn_record, encode_txn_record};
use keeper_core::proto::{Acl, Id};
use keeper_core::txn::{Txn, TxnHeader, TxnRecord};
use proptest::prelude::*;

fn arb_path() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["/", "/a", "/a/b", "/zk\u{e9}", "/x-0000000001"])
        .prop_map(String::from)
}

/// Znode data, null included: it must survive the log apart from empty data.
fn arb_data() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from))
}

fn arb_acl() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(
        (any::<i32>(), prop::sample::select(vec!["world", "digest", "ip"]), "[a-z:]{0,6}")
            .prop_map(|(perms, s, id)| Acl { perms, id: Id::new(s, &id) }),
        0..3,
    )
}

fn arb_leaf() -> impl Strategy<Value = Txn> {
    prop_oneof![
        any::<i32>().prop_map(|timeout_ms| Txn::CreateSession { timeout_ms }),
        Just(Txn::CloseSession),
        (arb_path(), arb_data(), arb_acl(), any::<i64>(), any::<i32>()).prop_map(
            |(path, data, acl, ephemeral_owner, parent_cversion)| Txn::Create {
                path,
                data,
                acl,
                ephemeral_owner,
                parent_cversion
            }
        ),
        arb_path().prop_map(|path| Txn::Delete { path }),
        (arb_path(), arb_data(), any::<i32>()).prop_map(|(path, data, version)| Txn::SetData {
            path,
            data,
            version
        }),
        (arb_path(), arb_acl(), any::<i32>()).prop_map(|(path, acl, version)| Txn::SetAcl {
            path,
            acl,
            version
        }),
        (arb_path(), any::<i32>()).prop_map(|(path, version)| Txn::Check { path, version }),
        any::<i32>().prop_map(|err| Txn::Error { err }),
    ]
}

fn arb_txn() -> impl Strategy<Value = Txn> {
    prop_oneof![
        4 => arb_leaf(),
        1 => prop::collection::vec(arb_leaf(), 0..4).prop_map(Txn::Multi),
    ]
}

pub fn arb_record() -> impl Strategy<Value = TxnRecord> {
    (any::<i64>(), any::<i32>(), any::<u64>(), any::<i64>(), arb_txn()).prop_map(
        |(s, cxid, z, time_ms, txn)| TxnRecord {
            header: TxnHeader { session: SessionId(s), cxid, zxid: Zxid(z), time_ms },
            txn,
        },
    )
}

proptest! {
    /// Every record decodes to itself.
    #[test]
    fn txn_round_trips(rec in arb_record()) {
        let bytes = encode_txn_record(&rec);
        prop_assert_eq!(decode_txn_record(&bytes), Ok(rec));
    }

    /// Every strict prefix of a record fails to decode, and arbitrary bytes never panic.
    #[test]
    fn prefixes_and_garbage_are_errors(rec in arb_record(), junk in prop::collection::vec(any::<u8>(), 0..64)) {
        let bytes = encode_txn_record(&rec);
        for k in 0..bytes.len() {
            prop_assert!(decode_txn_record(&bytes[..k]).is_err());
        }
        let _ = decode_txn_record(&junk);
    }
}

/// The header is laid out as ZooKeeper's TxnHeader: clientId, cxid, zxid, time, type.
#[test]
fn header_layout_is_txn_header() {
    let rec = TxnRecord {
        header: TxnHeader {
            session: SessionId(0x11),
            cxid: 2,
            zxid: Zxid(0x1_0000_0003),
            time_ms: 4,
        },
        txn: Txn::Delete { path: "/a".into() },
    };
    let b = encode_txn_record(&rec);
    assert_eq!(&b[0..8], &0x11i64.to_be_bytes());
    assert_eq!(&b[8..12], &2i32.to_be_bytes());
    assert_eq!(&b[12..20], &0x1_0000_0003i64.to_be_bytes());
    assert_eq!(&b[20..28], &4i64.to_be_bytes());
    assert_eq!(&b[28..32], &2i32.to_be_bytes()); // op::DELETE
    assert_eq!(&b[32..], &[0, 0, 0, 2, b'/', b'a']);
}

/// A multi nested in a multi is refused (bounded recursion on hostile bytes); trailing bytes
/// and unknown types are refused.
#[test]
fn nested_multi_trailing_and_unknown_refused() {
    let h = TxnHeader { session: SessionId(1), cxid: 1, zxid: Zxid(1), time_ms: 1 };
    let nested = TxnRecord { header: h, txn: Txn::Multi(vec![Txn::Multi(vec![])]) };
    assert!(decode_txn_record(&encode_txn_record(&nested)).is_err());
    let ok = TxnRecord { header: h, txn: Txn::CloseSession };
    let mut b = encode_txn_record(&ok);
    b.push(0);
    assert!(decode_txn_record(&b).is_err());
    let mut b = encode_txn_record(&ok);
    b[28..32].copy_from_slice(&77i32.to_be_bytes());
    assert!(decode_txn_record(&b).is_err());
}
