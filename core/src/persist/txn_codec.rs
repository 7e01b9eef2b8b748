//! One [`TxnRecord`] to and from bytes.
//!
//! Layout (big-endian, Jute primitives): the header as ZooKeeper's `TxnHeader` orders it
//! (`clientId` i64, `cxid` i32, `zxid` i64, `time` i64, `type` i32), then the body for that
//! type, mirroring zookeeper.jute's `CreateTxn`, `DeleteTxn`, `SetDataTxn`, `SetACLTxn`,
//! `CheckVersionTxn`, `ErrorTxn`, `CreateSessionTxn`. A create always carries the stored
//! `ephemeralOwner` (our `Txn::Create` merges the four create txns). A multi is a count then,
//! for each sub-txn, its type, its body length and its body, like `MultiTxn`'s `Txn` list.
//!
//! Invariant: `decode_txn_record(&encode_txn_record(r)) == Ok(r)` for every record whose
//! multis are not nested (a multi inside a multi is refused on decode, so hostile bytes
//! cannot drive recursion deep); decoding consumes the payload exactly or fails.

use crate::ids::{SessionId, Zxid};
use crate::proto::op;
use crate::txn::{Txn, TxnHeader, TxnRecord};
use crate::wire::jute::{DecodeError, DecodeResult, Reader, Writer};
use crate::wire::records::{read_acls, write_acls};

/// Encodes a record as a log payload.
pub fn encode_txn_record(rec: &TxnRecord) -> Vec<u8> {
    let mut out = Vec::new();
    encode_txn_record_into(rec, &mut out);
    out
}

/// Appends a log payload to `out` (the log writer encodes straight into its batch, with no
/// intermediate buffer per record).
pub fn encode_txn_record_into(rec: &TxnRecord, out: &mut Vec<u8>) {
    let mut w = Writer::from_vec(std::mem::take(out));
    w.i64(rec.header.session.0);
    w.i32(rec.header.cxid);
    w.i64(rec.header.zxid.as_i64());
    w.i64(rec.header.time_ms);
    w.i32(txn_type(&rec.txn));
    encode_body(&mut w, &rec.txn);
    *out = w.into_vec();
}

/// Decodes a log payload; the whole slice must be one record.
pub fn decode_txn_record(bytes: &[u8]) -> DecodeResult<TxnRecord> {
    let mut r = Reader::new(bytes);
    let header = TxnHeader {
        session: SessionId(r.i64()?),
        cxid: r.i32()?,
        zxid: Zxid::from_i64(r.i64()?),
        time_ms: r.i64()?,
    };
    let ty = r.i32()?;
    let txn = decode_body(&mut r, ty, true)?;
    if !r.is_empty() {
        return Err(DecodeError::Invalid(format!("{} bytes after the txn", r.remaining())));
    }
    Ok(TxnRecord { header, txn })
}

/// The type code a txn is logged with (ZooKeeper's op codes).
pub fn txn_type(txn: &Txn) -> i32 {
    match txn {
        Txn::CreateSession { .. } => op::CREATE_SESSION,
        Txn::CloseSession => op::CLOSE_SESSION,
        Txn::Create { .. } => op::CREATE,
        Txn::Delete { .. } => op::DELETE,
        Txn::SetData { .. } => op::SET_DATA,
        Txn::SetAcl { .. } => op::SET_ACL,
        Txn::Check { .. } => op::CHECK,
        Txn::Error { .. } => op::ERROR,
        Txn::Multi(_) => op::MULTI,
    }
}

fn encode_body(w: &mut Writer, txn: &Txn) {
    match txn {
        Txn::CreateSession { timeout_ms } => w.i32(*timeout_ms),
        Txn::CloseSession => {}
        Txn::Create { path, data, acl, ephemeral_owner, parent_cversion } => {
            w.string(path);
            w.data(data.as_ref());
            write_acls(w, acl);
            w.i64(*ephemeral_owner);
            w.i32(*parent_cversion);
        }
        Txn::Delete { path } => w.string(path),
        Txn::SetData { path, data, version } => {
            w.string(path);
            w.data(data.as_ref());
            w.i32(*version);
        }
        Txn::SetAcl { path, acl, version } => {
            w.string(path);
            write_acls(w, acl);
            w.i32(*version);
        }
        Txn::Check { path, version } => {
            w.string(path);
            w.i32(*version);
        }
        Txn::Error { err } => w.i32(*err),
        Txn::Multi(subs) => {
            w.i32(subs.len() as i32);
            for sub in subs {
                w.i32(txn_type(sub));
                let at = w.len();
                w.i32(0);
                encode_body(w, sub);
                let body_len = w.len() - at - 4;
                w.patch_i32(at, body_len as i32);
            }
        }
    }
}

fn decode_body(r: &mut Reader<'_>, ty: i32, top: bool) -> DecodeResult<Txn> {
    Ok(match ty {
        op::CREATE_SESSION => Txn::CreateSession { timeout_ms: r.i32()? },
        op::CLOSE_SESSION => Txn::CloseSession,
        op::CREATE => Txn::Create {
            path: r.string()?,
            data: r.data()?,
            acl: read_acls(r)?,
            ephemeral_owner: r.i64()?,
            parent_cversion: r.i32()?,
        },
        op::DELETE => Txn::Delete { path: r.string()? },
        op::SET_DATA => Txn::SetData { path: r.string()?, data: r.data()?, version: r.i32()? },
        op::SET_ACL => Txn::SetAcl { path: r.string()?, acl: read_acls(r)?, version: r.i32()? },
        op::CHECK => Txn::Check { path: r.string()?, version: r.i32()? },
        op::ERROR => Txn::Error { err: r.i32()? },
        op::MULTI if top => {
            // Each sub-txn takes at least its type and length (8 bytes).
            let n = r.count(8)?;
            let mut subs = r.vec_for(n);
            for _ in 0..n {
                let sub_ty = r.i32()?;
                let body = r
                    .buffer_opt()?
                    .ok_or_else(|| DecodeError::Invalid("null multi sub-txn body".into()))?;
                let mut sub = Reader::new(body);
                subs.push(decode_body(&mut sub, sub_ty, false)?);
                if !sub.is_empty() {
                    return Err(DecodeError::Invalid(format!(
                        "{} bytes after multi sub-txn of type {sub_ty}",
                        sub.remaining()
                    )));
                }
            }
            Txn::Multi(subs)
        }
        op::MULTI => return Err(DecodeError::Invalid("multi nested inside a multi".into())),
        other => return Err(DecodeError::Invalid(format!("unknown txn type {other}"))),
    })
}
