//! Encoding and decoding of whole client-protocol messages. CONTRACT STUB.

use crate::proto::{ConnectRequest, ConnectResponse, ReplyResult, Request, WatchedEvent};
use crate::wire::jute::DecodeResult;

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

/// Length of the complete frame at the start of `buf` (prefix included), `Ok(None)` when
/// more bytes are needed, `Err(len)` when the declared length is negative or over `max`.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, i64> {
    let _ = (buf, max);
    todo!()
}

/// Decodes a ConnectRequest frame body (prefix stripped).
pub fn decode_connect_request(body: &[u8]) -> DecodeResult<ConnectRequest> {
    let _ = body;
    todo!()
}

/// Appends a framed ConnectResponse.
pub fn encode_connect_response(resp: &ConnectResponse, out: &mut Vec<u8>) {
    let _ = (resp, out);
    todo!()
}

/// Decodes a request frame body (prefix stripped).
pub fn decode_request(body: &[u8]) -> Result<(i32, Request), RequestError> {
    let _ = body;
    todo!()
}

/// Appends a framed reply.
pub fn encode_reply(xid: i32, zxid: i64, result: &ReplyResult, out: &mut Vec<u8>) {
    let _ = (xid, zxid, result, out);
    todo!()
}

/// Appends a framed watch notification.
pub fn encode_notification(zxid: i64, event: &WatchedEvent, out: &mut Vec<u8>) {
    let _ = (zxid, event, out);
    todo!()
}

// ---- Client side (used by the shell, bench and tests). ----

/// Appends a framed ConnectRequest (with the readOnly byte when `read_only` is Some).
pub fn encode_connect_request(req: &ConnectRequest, out: &mut Vec<u8>) {
    let _ = (req, out);
    todo!()
}

/// Decodes a ConnectResponse frame body (prefix stripped); readOnly optional.
pub fn decode_connect_response(body: &[u8]) -> DecodeResult<ConnectResponse> {
    let _ = body;
    todo!()
}

/// Appends a framed request with its header.
pub fn encode_request(xid: i32, req: &Request, out: &mut Vec<u8>) {
    let _ = (xid, req, out);
    todo!()
}

/// Decodes a reply frame body (prefix stripped) into its header and the bytes after it.
pub fn decode_reply_header(body: &[u8]) -> DecodeResult<(crate::proto::ReplyHeader, &[u8])> {
    let _ = body;
    todo!()
}

/// Decodes a successful reply's body, given the opcode of the request it answers.
pub fn decode_response(op: i32, body: &[u8]) -> DecodeResult<crate::proto::Response> {
    let _ = (op, body);
    todo!()
}

/// Decodes a notification's body (after its xid -1 header).
pub fn decode_notification(body: &[u8]) -> DecodeResult<WatchedEvent> {
    let _ = body;
    todo!()
}

/// The four-letter word at the start of a new connection, if the 4 bytes are one that
/// ZooKeeper knows (ruok, srvr, stat, mntr, conf, cons, crst, srst, dump, envi, wchs, wchc,
/// wchp, isro, dirs, hash, gtmk, stmk).
pub fn four_letter_word(first4: &[u8]) -> Option<&'static str> {
    let _ = first4;
    todo!()
}
