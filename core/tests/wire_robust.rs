//! Bytes from the network never panic the codec and never make it allocate from a length
//! field (STYLE.md §4, §6); frames are cut at jute.maxbuffer (ZK-REFERENCE.md §2); bad
//! requests become the errors the server answers with (unknown op → UNIMPLEMENTED, bad
//! body → MARSHALLINGERROR, both under the request's xid).

use keeper_core::proto::{op, Request};
use keeper_core::wire::codec::{
    decode_connect_request, decode_connect_response, decode_notification, decode_reply_header,
    decode_request, decode_response, encode_request, frame_len, RequestError,
};
use keeper_core::wire::jute::{DecodeError, Writer};
use keeper_core::KeeperError;
use proptest::prelude::*;

fn every_opcode() -> impl Strategy<Value = i32> {
    prop_oneof![-12..=22i32, 99..=108i32, any::<i32>()]
}

/// Bytes that start like a plausible message: small ints, then anything.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        (every_opcode(), prop::collection::vec(any::<u8>(), 0..48)).prop_map(|(code, tail)| {
            let mut v = 1i32.to_be_bytes().to_vec();
            v.extend_from_slice(&code.to_be_bytes());
            v.extend_from_slice(&tail);
            v
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Arbitrary bytes never panic any decoder.
    #[test]
    fn decoders_never_panic(bytes in noise(), code in every_opcode()) {
        let _ = decode_request(&bytes);
        let _ = decode_connect_request(&bytes);
        let _ = decode_connect_response(&bytes);
        let _ = decode_response(code, &bytes);
        let _ = decode_notification(&bytes);
        let _ = decode_reply_header(&bytes);
    }

    /// frame_len reports a frame exactly when the prefix and the whole body are present,
    /// and refuses a declared length outside 0..=max as soon as the prefix is there.
    #[test]
    fn frame_len_agrees_with_a_naive_model(bytes in prop::collection::vec(any::<u8>(), 0..12), max in 0usize..8) {
        let got = frame_len(&bytes, max);
        if bytes.len() < 4 {
            prop_assert_eq!(got, Ok(None));
        } else {
            let declared = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64;
            if declared < 0 || declared > max as i64 {
                prop_assert_eq!(got, Err(declared));
            } else if bytes.len() as i64 >= 4 + declared {
                prop_assert_eq!(got, Ok(Some(4 + declared as usize)));
            } else {
                prop_assert_eq!(got, Ok(None));
            }
        }
    }
}

#[test]
fn frame_len_limits() {
    let max = 0xfffff;
    let at = |len: i32, extra: usize| {
        let mut v = len.to_be_bytes().to_vec();
        v.resize(4 + extra, 0);
        frame_len(&v, max)
    };
    assert_eq!(at(0, 0), Ok(Some(4)), "an empty body is a frame");
    assert_eq!(at(0xfffff, 0xfffff), Ok(Some(4 + 0xfffff)), "exactly max is accepted");
    assert_eq!(at(0xfffff, 10), Ok(None), "a partial body waits for more");
    assert_eq!(at(0x100000, 0), Err(0x100000), "max + 1 is refused before the body arrives");
    assert_eq!(at(-1, 0), Err(-1));
    assert_eq!(at(i32::MIN, 0), Err(i32::MIN as i64));
    assert_eq!(at(i32::MAX, 0), Err(i32::MAX as i64));
    assert_eq!(frame_len(&[0, 0, 0], max), Ok(None), "a partial prefix waits for more");
    assert_eq!(frame_len(&[], max), Ok(None));
    assert_eq!(at(2, 5), Ok(Some(6)), "bytes of the next frame are not counted");
}

fn body(xid: i32, code: i32, fill: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(xid);
    w.i32(code);
    fill(&mut w);
    w.into_vec()
}

#[test]
fn request_errors_name_what_was_wrong() {
    assert_eq!(decode_request(&[0, 0, 0, 1, 0, 0, 0]), Err(RequestError::BadHeader));
    for code in [op::NOTIFICATION, op::CREATE_SESSION, op::ERROR, 10, 23, 99, 108, i32::MIN] {
        assert_eq!(
            decode_request(&body(5, code, |_| {})),
            Err(RequestError::UnknownOp { xid: 5, op: code }),
            "op {code}"
        );
    }
    // A getData body cut short, and a path whose length runs past the frame.
    let short = body(6, op::GET_DATA, |w| w.string("/a"));
    assert_eq!(decode_request(&short), Err(RequestError::BadBody { xid: 6, op: op::GET_DATA }));
    let long = body(6, op::SYNC, |w| w.i32(1000));
    assert_eq!(decode_request(&long), Err(RequestError::BadBody { xid: 6, op: op::SYNC }));
}

/// What the server answers each decoding failure with, before closing the connection.
#[test]
fn request_errors_map_to_zookeeper_answers() {
    let unknown = RequestError::UnknownOp { xid: 5, op: 99 };
    assert_eq!(
        (unknown.xid(), unknown.keeper_error()),
        (Some(5), Some(KeeperError::Unimplemented))
    );
    let bad = RequestError::BadBody { xid: 6, op: op::GET_DATA };
    assert_eq!((bad.xid(), bad.keeper_error()), (Some(6), Some(KeeperError::MarshallingError)));
    assert_eq!(
        (RequestError::BadHeader.xid(), RequestError::BadHeader.keeper_error()),
        (None, None)
    );
}

/// multi takes only transactional sub-ops, multiRead only reads, neither nests, and the
/// list must end with its terminator (Java's MultiOperationRecord).
#[test]
fn multi_framing_is_enforced() {
    let sub = |w: &mut Writer, code: i32, done: bool| {
        w.i32(code);
        w.bool(done);
        w.i32(-1);
    };
    let get_data_in_multi = body(1, op::MULTI, |w| {
        sub(w, op::GET_DATA, false);
        w.string("/a");
        w.bool(false);
        sub(w, -1, true);
    });
    assert_eq!(
        decode_request(&get_data_in_multi),
        Err(RequestError::BadBody { xid: 1, op: op::MULTI })
    );
    let delete_in_multi_read = body(1, op::MULTI_READ, |w| {
        sub(w, op::DELETE, false);
        w.string("/a");
        w.i32(-1);
        sub(w, -1, true);
    });
    assert_eq!(
        decode_request(&delete_in_multi_read),
        Err(RequestError::BadBody { xid: 1, op: op::MULTI_READ })
    );
    let nested = body(1, op::MULTI, |w| {
        sub(w, op::MULTI, false);
        sub(w, -1, true);
        sub(w, -1, true);
    });
    assert_eq!(decode_request(&nested), Err(RequestError::BadBody { xid: 1, op: op::MULTI }));
    let unterminated = body(1, op::MULTI, |w| {
        sub(w, op::CHECK, false);
        w.string("/a");
        w.i32(3);
    });
    assert_eq!(decode_request(&unterminated), Err(RequestError::BadBody { xid: 1, op: op::MULTI }));
    // Any header with done set ends the list, whatever its type says.
    let odd_terminator = body(1, op::MULTI, |w| sub(w, 42, true));
    assert_eq!(decode_request(&odd_terminator), Ok((1, Request::Multi(vec![]))));
}

/// Huge counts and lengths fail at once instead of reserving memory for them.
#[test]
fn length_fields_never_drive_allocation() {
    let mut w = Writer::new();
    w.i32(i32::MAX);
    let claim = w.into_vec();
    for code in [op::GET_CHILDREN, op::GET_ACL, op::WHO_AM_I, op::GET_EPHEMERALS, op::SASL] {
        assert!(decode_response(code, &claim).is_err(), "op {code}");
    }
    let set_acl = body(1, op::SET_ACL, |w| {
        w.string("/a");
        w.i32(i32::MAX);
    });
    assert!(decode_request(&set_acl).is_err());
    let set_watches = body(-8, op::SET_WATCHES, |w| {
        w.i64(0);
        w.i32(i32::MAX);
    });
    assert!(decode_request(&set_watches).is_err());
}

#[test]
fn client_side_decoders_refuse_malformed_answers() {
    assert_eq!(decode_reply_header(&[0; 15]), Err(DecodeError::Incomplete));
    assert!(matches!(decode_response(op::ADD_WATCH, &[0, 0, 0, 1]), Err(DecodeError::Invalid(_))));
    assert!(matches!(decode_response(12345, &[]), Err(DecodeError::Invalid(_))));
    // A WatcherEvent whose type ZooKeeper never defined.
    let mut w = Writer::new();
    w.i32(9);
    w.i32(3);
    w.string("/a");
    assert!(matches!(decode_notification(w.as_slice()), Err(DecodeError::Invalid(_))));
    // A multi result of an unknown type.
    let mut w = Writer::new();
    w.i32(op::SYNC);
    w.bool(false);
    w.i32(0);
    assert!(matches!(decode_response(op::MULTI, w.as_slice()), Err(DecodeError::Invalid(_))));
}

/// The encoder refuses requests that no client can send rather than change them silently.
#[test]
#[should_panic(expected = "persistent watches")]
fn set_watches_v1_cannot_carry_persistent_watches() {
    let req = Request::SetWatches(Box::new(keeper_core::proto::SetWatches {
        relative_zxid: keeper_core::Zxid(5),
        data: vec![],
        exist: vec![],
        child: vec![],
        persistent: vec!["/a".into()],
        persistent_recursive: vec![],
        v2: false,
    }));
    encode_request(-8, &req, &mut Vec::new());
}
