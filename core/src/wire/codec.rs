//! Encoding and decoding of whole client-protocol messages: the facade the shells, the
//! simulator's clients and the tests call.
//!
//! Server side: [`frame_len`] cuts frames; [`decode_connect_request`] reads the handshake;
//! [`decode_request`] reads every later frame; [`encode_connect_response`],
//! [`encode_reply`] and [`encode_notification`] write the answers. Client side: the
//! inverses ([`encode_connect_request`], [`encode_request`], [`decode_connect_response`],
//! [`decode_reply_header`] then [`decode_response`], [`decode_notification`]).
//! `*_body` arguments are frame bodies with the length prefix stripped; every `encode_*`
//! appends one complete frame, prefix included.
//!
//! Invariant: decoding never panics and never allocates more than the input could hold;
//! bytes after a complete record are ignored, as ZooKeeper's own readers ignore them.

use std::fmt;

use crate::error::KeeperError;
use crate::proto::{
    ConnectRequest, ConnectResponse, ReplyHeader, ReplyResult, Request, RequestHeader, Response,
    WatchedEvent,
};
use crate::wire::frame::{self, write_framed};
use crate::wire::jute::{DecodeResult, Reader};
use crate::wire::records::{
    read_connect_request, read_connect_response, read_reply_header, read_request_header,
    read_watcher_event, write_connect_request, write_connect_response, write_reply_header,
    write_request_header, write_watcher_event,
};
use crate::wire::{four_letter, request, response};

/// Why a request frame could not become a `Request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The header could not be read at all.
    BadHeader,
    /// The opcode is not one ZooKeeper accepts from clients.
    UnknownOp { xid: i32, op: i32 },
    /// The body does not decode as the opcode's record.
    BadBody { xid: i32, op: i32 },
}

impl RequestError {
    /// The xid to answer under, when the header could be read.
    pub fn xid(&self) -> Option<i32> {
        match self {
            RequestError::BadHeader => None,
            RequestError::UnknownOp { xid, .. } | RequestError::BadBody { xid, .. } => Some(*xid),
        }
    }

    /// The error ZooKeeper answers with before it closes the connection: UNIMPLEMENTED for
    /// an unknown opcode (`UnimplementedRequestProcessor`), MARSHALLINGERROR for a body that
    /// does not decode; `None` for an unreadable header, where it closes without a reply.
    pub fn keeper_error(&self) -> Option<KeeperError> {
        match self {
            RequestError::BadHeader => None,
            RequestError::UnknownOp { .. } => Some(KeeperError::Unimplemented),
            RequestError::BadBody { .. } => Some(KeeperError::MarshallingError),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::BadHeader => write!(f, "request header shorter than 8 bytes"),
            RequestError::UnknownOp { xid, op } => write!(f, "xid {xid}: unknown opcode {op}"),
            RequestError::BadBody { xid, op } => {
                write!(f, "xid {xid}: body does not decode as op {op}'s record")
            }
        }
    }
}

impl std::error::Error for RequestError {}

/// Length of the complete frame at the start of `buf` (prefix included), `Ok(None)` when
/// more bytes are needed, `Err(len)` when the declared length is negative or over `max`.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, i64> {
    frame::frame_len(buf, max)
}

/// Decodes a ConnectRequest frame body (prefix stripped).
pub fn decode_connect_request(body: &[u8]) -> DecodeResult<ConnectRequest> {
    read_connect_request(&mut Reader::new(body))
}

/// Appends a framed ConnectResponse.
pub fn encode_connect_response(resp: &ConnectResponse, out: &mut Vec<u8>) {
    write_framed(out, |w| write_connect_response(w, resp));
}

/// Decodes a request frame body (prefix stripped).
///
/// The xid comes back with the request so that the caller can answer it, and the error
/// carries it too: ZooKeeper answers an unknown opcode with UNIMPLEMENTED and an
/// undecodable body with MARSHALLINGERROR, both under the request's xid.
pub fn decode_request(body: &[u8]) -> Result<(i32, Request), RequestError> {
    let mut r = Reader::new(body);
    let RequestHeader { xid, op } =
        read_request_header(&mut r).map_err(|_| RequestError::BadHeader)?;
    match request::read_body(op, &mut r) {
        None => Err(RequestError::UnknownOp { xid, op }),
        Some(Err(_)) => Err(RequestError::BadBody { xid, op }),
        Some(Ok(req)) => {
            debug_assert_eq!(req.op_code(), op);
            Ok((xid, req))
        }
    }
}

/// Appends a framed reply: the header alone with the error code on failure, the header
/// with err 0 and the response record on success.
pub fn encode_reply(xid: i32, zxid: i64, result: &ReplyResult, out: &mut Vec<u8>) {
    write_framed(out, |w| match result {
        Err(e) => {
            assert_ne!(e.code(), 0, "an error reply carries a non-zero code");
            write_reply_header(w, &ReplyHeader { xid, zxid, err: e.code() });
        }
        Ok(resp) => {
            write_reply_header(w, &ReplyHeader { xid, zxid, err: 0 });
            response::write_body(w, resp);
        }
    });
}

/// Appends a framed watch notification: ReplyHeader{-1, zxid, 0} then the WatcherEvent.
/// `zxid` is the txn that fired the watch (3.9); a 3.8 server sent -1 here.
pub fn encode_notification(zxid: i64, event: &WatchedEvent, out: &mut Vec<u8>) {
    write_framed(out, |w| {
        write_reply_header(w, &ReplyHeader { xid: NOTIFICATION_XID, zxid, err: 0 });
        write_watcher_event(w, event);
    });
}

// ---- Client side (used by the shell, bench and tests). ----

/// Appends a framed ConnectRequest (with the readOnly byte when `read_only` is Some).
pub fn encode_connect_request(req: &ConnectRequest, out: &mut Vec<u8>) {
    write_framed(out, |w| write_connect_request(w, req));
}

/// Decodes a ConnectResponse frame body (prefix stripped); readOnly optional.
pub fn decode_connect_response(body: &[u8]) -> DecodeResult<ConnectResponse> {
    read_connect_response(&mut Reader::new(body))
}

/// Appends a framed request with its header.
///
/// Panics on a request no client can send (see `wire::request::write_body`): a ttl without
/// opcode 21 or the reverse, persistent watches in a setWatches v1, a multi sub-op of the
/// wrong kind.
pub fn encode_request(xid: i32, req: &Request, out: &mut Vec<u8>) {
    write_framed(out, |w| {
        write_request_header(w, &RequestHeader { xid, op: req.op_code() });
        request::write_body(w, req);
    });
}

/// Decodes a reply frame body (prefix stripped) into its header and the bytes after it.
pub fn decode_reply_header(body: &[u8]) -> DecodeResult<(ReplyHeader, &[u8])> {
    let mut r = Reader::new(body);
    let header = read_reply_header(&mut r)?;
    Ok((header, r.rest()))
}

/// Decodes a successful reply's body, given the opcode of the request it answers.
/// Call it only when the header's err is 0: a failed reply has no body to decode.
pub fn decode_response(op: i32, body: &[u8]) -> DecodeResult<Response> {
    response::read_body(op, &mut Reader::new(body))
}

/// Decodes a notification's body (after its xid -1 header).
pub fn decode_notification(body: &[u8]) -> DecodeResult<WatchedEvent> {
    read_watcher_event(&mut Reader::new(body))
}

/// The four-letter word at the start of a new connection, if the 4 bytes are one that
/// ZooKeeper knows (ruok, srvr, stat, mntr, conf, cons, crst, srst, dump, envi, wchs, wchc,
/// wchp, isro, dirs, hash, gtmk, stmk).
pub fn four_letter_word(first4: &[u8]) -> Option<&'static str> {
    four_letter::four_letter_word(first4)
}

/// The xid of every server-to-client watch notification.
const NOTIFICATION_XID: i32 = crate::ids::Xid::NOTIFICATION.0;
