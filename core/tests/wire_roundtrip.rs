//! Round trips through the client codec: whatever one side encodes, the other side decodes
//! to the same value (ZK-REFERENCE.md §1-2). Requests go client → server, replies,
//! notifications and the handshake answer server → client, so each property pairs a
//! server-side function with its client-side inverse, and every frame's length prefix must
//! match its body.

mod wire_gen;

use keeper_core::limits::DEFAULT_MAX_BUFFER_BYTES;
use keeper_core::proto::{ReplyHeader, Request};
use keeper_core::wire::codec::{
    decode_connect_request, decode_connect_response, decode_notification, decode_reply_header,
    decode_request, decode_response, encode_connect_request, encode_connect_response,
    encode_notification, encode_reply, encode_request, frame_len,
};
use proptest::prelude::*;
use wire_gen::*;

/// Checks that `out` holds exactly one frame and returns its body.
fn single_frame(out: &[u8]) -> &[u8] {
    assert_eq!(frame_len(out, DEFAULT_MAX_BUFFER_BYTES), Ok(Some(out.len())));
    &out[4..]
}

proptest! {
    /// Every request the Java client can send decodes, on the server, to what was sent.
    #[test]
    fn requests_round_trip(xid in any::<i32>(), req in request()) {
        let mut out = Vec::new();
        encode_request(xid, &req, &mut out);
        prop_assert_eq!(decode_request(single_frame(&out)), Ok((xid, req)));
    }

    /// Every successful reply decodes, on the client, to the response the node produced,
    /// given the opcode of the request it answers.
    #[test]
    fn responses_round_trip(
        xid in any::<i32>(),
        zxid in any::<i64>(),
        (code, resp) in op_and_response(),
    ) {
        let mut out = Vec::new();
        encode_reply(xid, zxid, &Ok(resp.clone()), &mut out);
        let (header, body) = decode_reply_header(single_frame(&out)).unwrap();
        prop_assert_eq!(header, ReplyHeader { xid, zxid, err: 0 });
        prop_assert_eq!(decode_response(code, body), Ok(resp));
    }

    /// A failed reply is the header alone, carrying the error's wire code.
    #[test]
    fn error_replies_are_header_only(xid in any::<i32>(), zxid in any::<i64>(), e in keeper_error()) {
        let mut out = Vec::new();
        encode_reply(xid, zxid, &Err(e), &mut out);
        let (header, body) = decode_reply_header(single_frame(&out)).unwrap();
        prop_assert_eq!(header, ReplyHeader { xid, zxid, err: e.code() });
        prop_assert!(body.is_empty());
    }

    /// Notifications: header {-1, zxid, 0}, then the WatcherEvent.
    #[test]
    fn notifications_round_trip(zxid in any::<i64>(), event in watched_event()) {
        let mut out = Vec::new();
        encode_notification(zxid, &event, &mut out);
        let (header, body) = decode_reply_header(single_frame(&out)).unwrap();
        prop_assert_eq!(header, ReplyHeader { xid: -1, zxid, err: 0 });
        prop_assert_eq!(decode_notification(body), Ok(event));
    }

    /// The handshake both ways, with and without the optional readOnly byte.
    #[test]
    fn handshake_round_trips(req in connect_request(), resp in connect_response()) {
        let mut out = Vec::new();
        encode_connect_request(&req, &mut out);
        prop_assert_eq!(decode_connect_request(single_frame(&out)), Ok(req));
        out.clear();
        encode_connect_response(&resp, &mut out);
        prop_assert_eq!(decode_connect_response(single_frame(&out)), Ok(resp));
    }

    /// Frames written back to back are cut apart again at the right places, as a
    /// connection's read buffer holds them.
    #[test]
    fn consecutive_frames_split_cleanly(reqs in prop::collection::vec(request(), 1..4)) {
        let mut out = Vec::new();
        for (xid, req) in reqs.iter().enumerate() {
            encode_request(xid as i32, req, &mut out);
        }
        let mut rest = &out[..];
        for (xid, req) in reqs.iter().enumerate() {
            let len = frame_len(rest, DEFAULT_MAX_BUFFER_BYTES).unwrap().unwrap();
            prop_assert_eq!(decode_request(&rest[4..len]), Ok((xid as i32, req.clone())));
            rest = &rest[len..];
        }
        prop_assert!(rest.is_empty());
    }

    /// Any single-byte corruption or truncation of a valid request either fails to decode
    /// or decodes to a request that itself round-trips: the decoder only ever produces
    /// values the encoder accepts.
    #[test]
    fn corrupted_requests_decode_to_encodable_values(
        req in request(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let mut out = Vec::new();
        encode_request(7, &req, &mut out);
        let mut body = out[4..].to_vec();
        let i = at.index(body.len());
        if cut { body.truncate(i) } else { body[i] = byte }
        if let Ok((xid, decoded)) = decode_request(&body) {
            let mut again = Vec::new();
            encode_request(xid, &decoded, &mut again);
            prop_assert_eq!(decode_request(single_frame(&again)), Ok((xid, decoded)));
        }
    }
}

/// Trailing bytes after a complete record are ignored, as ZooKeeper's reader ignores them.
#[test]
fn trailing_bytes_after_a_request_are_ignored() {
    let req = Request::Sync { path: "/a".into() };
    let mut out = Vec::new();
    encode_request(3, &req, &mut out);
    let mut body = out[4..].to_vec();
    body.extend_from_slice(b"junk");
    assert_eq!(decode_request(&body), Ok((3, req)));
}
