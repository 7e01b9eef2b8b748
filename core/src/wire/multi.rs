//! multi (op 14) and multiRead (op 22): sub-ops and sub-results framed by MultiHeaders.
//!
//! Mirrors Java's `MultiOperationRecord` and `MultiResponse` (ZK-REFERENCE.md §2). Each
//! sub-op is `MultiHeader{type, done=false, err=-1}` + its request record; each sub-result
//! is `MultiHeader{type, done=false, err}` + its response record; both lists end with the
//! terminator `MultiHeader{-1, done=true, -1}`. Readers stop at the first header whose
//! `done` is set, whatever its other fields say, as Java's do.
//!
//! Sub-ops decode under the opcode their header names. Java's server instead rebuilds a
//! create sub-op sent as 1, 15 or 19 from its flags (`Op.Create.getOpcode`: container flag →
//! 19, TTL flags → 21, else 1), so a create2 sub-op is answered with a plain CreateResult;
//! the request layer, which picks the OpResult, must mirror that, not this decoder.
//!
//! Invariant: a sub-op is never itself a multi, so decoding recurses at most one level,
//! and every loop iteration consumes at least one 9-byte header, so a frame of n bytes
//! yields at most n / 9 entries.

use crate::proto::{op, OpResult, Request};
use crate::wire::jute::{DecodeError, DecodeResult, Reader, Writer};
use crate::wire::records::{read_stat, write_stat};
use crate::wire::request;

/// The header in front of every sub-op and sub-result of a multi (`MultiHeader`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MultiHeader {
    /// The sub-op's opcode, or -1 for an error result and for the terminator.
    pub op_type: i32,
    /// True only on the terminator.
    pub done: bool,
    /// -1 on requests; on results 0, or the error code of an error result.
    pub err: i32,
}

impl MultiHeader {
    /// The header that ends both the op list and the result list.
    pub const TERMINATOR: MultiHeader = MultiHeader { op_type: -1, done: true, err: -1 };
    /// Bytes of a MultiHeader on the wire.
    pub const BYTES: usize = 4 + 1 + 4;
}

/// Writes a MultiHeader {int type, boolean done, int err}.
pub fn write_multi_header(w: &mut Writer, header: &MultiHeader) {
    w.i32(header.op_type);
    w.bool(header.done);
    w.i32(header.err);
}

/// Reads a MultiHeader.
pub fn read_multi_header(r: &mut Reader) -> DecodeResult<MultiHeader> {
    Ok(MultiHeader { op_type: r.i32()?, done: r.bool()?, err: r.i32()? })
}

/// Which sub-ops a multi may carry: Java's `Op.OpKind`.
///
/// Java's reader accepts either kind under either opcode and only refuses a mixture.
/// Here each opcode takes its own kind (multi: transactions, multiRead: reads), which is
/// what every client sends; the other combinations have no defined meaning in ZooKeeper's
/// server, and refusing them at decode time answers them with a marshalling error.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MultiKind {
    /// op 14: create (1, 15, 19, 21), delete, setData, check.
    Transaction,
    /// op 22: getChildren, getData.
    Read,
}

impl MultiKind {
    fn allows(self, code: i32) -> bool {
        match self {
            MultiKind::Transaction => matches!(
                code,
                op::CREATE
                    | op::CREATE2
                    | op::CREATE_CONTAINER
                    | op::CREATE_TTL
                    | op::DELETE
                    | op::SET_DATA
                    | op::CHECK
            ),
            MultiKind::Read => matches!(code, op::GET_CHILDREN | op::GET_DATA),
        }
    }
}

/// Reads sub-ops up to and including the terminator.
pub(crate) fn read_ops(r: &mut Reader, kind: MultiKind) -> DecodeResult<Vec<Request>> {
    let mut ops = Vec::new();
    loop {
        let before = r.remaining();
        let header = read_multi_header(r)?;
        if header.done {
            return Ok(ops);
        }
        if !kind.allows(header.op_type) {
            return Err(DecodeError::Invalid(format!(
                "op {} is not allowed in a {kind:?} multi",
                header.op_type
            )));
        }
        let Some(sub_op) = request::read_body(header.op_type, r) else {
            return Err(DecodeError::Invalid(format!("unknown op {} in multi", header.op_type)));
        };
        ops.push(sub_op?);
        assert!(r.remaining() + MultiHeader::BYTES <= before, "every sub-op consumes bytes");
    }
}

/// Writes sub-ops and the terminator.
pub(crate) fn write_ops(w: &mut Writer, kind: MultiKind, ops: &[Request]) {
    for sub_op in ops {
        let code = sub_op.op_code();
        assert!(kind.allows(code), "op {code} cannot travel in a {kind:?} multi");
        write_multi_header(w, &MultiHeader { op_type: code, done: false, err: -1 });
        request::write_body(w, sub_op);
    }
    write_multi_header(w, &MultiHeader::TERMINATOR);
}

/// Writes sub-results and the terminator (`MultiResponse.serialize`).
pub(crate) fn write_results(w: &mut Writer, results: &[OpResult]) {
    for result in results {
        let (op_type, err) = match result {
            OpResult::Create { .. } => (op::CREATE, 0),
            OpResult::Create2 { .. } => (op::CREATE2, 0),
            OpResult::Delete => (op::DELETE, 0),
            OpResult::SetData { .. } => (op::SET_DATA, 0),
            OpResult::Check => (op::CHECK, 0),
            OpResult::GetChildren { .. } => (op::GET_CHILDREN, 0),
            OpResult::GetData { .. } => (op::GET_DATA, 0),
            OpResult::Error { err } => (op::ERROR, *err),
        };
        write_multi_header(w, &MultiHeader { op_type, done: false, err });
        match result {
            OpResult::Create { path } => w.string(path),
            OpResult::Create2 { path, stat } => {
                w.string(path);
                write_stat(w, stat);
            }
            OpResult::Delete | OpResult::Check => {}
            OpResult::SetData { stat } => write_stat(w, stat),
            OpResult::GetChildren { children } => w.strings(children),
            OpResult::GetData { data, stat } => {
                w.data(data.as_ref());
                write_stat(w, stat);
            }
            // ErrorResponse{int err}: the code travels twice, in the header and the body.
            OpResult::Error { err } => w.i32(*err),
        }
    }
    write_multi_header(w, &MultiHeader::TERMINATOR);
}

/// Reads sub-results up to and including the terminator (`MultiResponse.deserialize`):
/// the header's type picks the record; an error result takes its code from the body.
pub(crate) fn read_results(r: &mut Reader) -> DecodeResult<Vec<OpResult>> {
    let mut results = Vec::new();
    loop {
        let header = read_multi_header(r)?;
        if header.done {
            return Ok(results);
        }
        let result = match header.op_type {
            op::CREATE => OpResult::Create { path: r.string()? },
            op::CREATE2 => OpResult::Create2 { path: r.string()?, stat: read_stat(r)? },
            op::DELETE => OpResult::Delete,
            op::SET_DATA => OpResult::SetData { stat: read_stat(r)? },
            op::CHECK => OpResult::Check,
            op::GET_CHILDREN => OpResult::GetChildren { children: r.strings()? },
            op::GET_DATA => OpResult::GetData { data: r.data()?, stat: read_stat(r)? },
            op::ERROR => OpResult::Error { err: r.i32()? },
            other => {
                return Err(DecodeError::Invalid(format!("unknown multi result type {other}")))
            }
        };
        results.push(result);
    }
}
