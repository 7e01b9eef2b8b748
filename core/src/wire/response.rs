//! Response bodies: the record after a ReplyHeader whose err is 0 (ZK-REFERENCE.md §1-2).
//!
//! Mirrors the response records of `zookeeper.jute` (CreateResponse, Create2Response,
//! ExistsResponse, GetDataResponse, …) and `MultiResponse`. The server side needs no
//! opcode: each [`Response`] variant names its record. The client side does: the same
//! bytes mean different records for different requests, so [`read_body`] takes the opcode
//! of the request being answered. Invariant: for each opcode, `read_body(op,
//! write_body(resp))` gives back `resp` for every variant that opcode answers with.

use crate::proto::{op, Response};
use crate::wire::jute::{DecodeError, DecodeResult, Reader, Writer};
use crate::wire::multi;
use crate::wire::records::{
    read_acls, read_client_infos, read_stat, write_acls, write_client_infos, write_stat,
};

/// Writes the response record for a successful reply.
pub(crate) fn write_body(w: &mut Writer, resp: &Response) {
    match resp {
        Response::Empty => {}
        Response::Create { path } | Response::Sync { path } => w.string(path),
        Response::Create2 { path, stat } => {
            w.string(path);
            write_stat(w, stat);
        }
        Response::Stat(stat) => write_stat(w, stat),
        Response::GetData { data, stat } => {
            w.data(data.as_ref());
            write_stat(w, stat);
        }
        Response::GetAcl { acl, stat } => {
            write_acls(w, acl);
            write_stat(w, stat);
        }
        Response::GetChildren { children } => w.strings(children),
        Response::GetChildren2 { children, stat } => {
            w.strings(children);
            write_stat(w, stat);
        }
        Response::Multi(results) => multi::write_results(w, results),
        Response::Sasl { token } => w.buffer(token),
        Response::GetEphemerals { paths } => w.strings(paths),
        Response::AllChildrenNumber(total) => w.i32(*total),
        // addWatch answers ErrorResponse{err = 0}, not an empty body: Java's client reads
        // those 4 bytes, so they must be there.
        Response::AddWatch => w.i32(0),
        Response::WhoAmI(infos) => write_client_infos(w, infos),
    }
}

/// Reads the response record for a successful reply to a request with opcode `code`.
///
/// Header-only answers read nothing and give [`Response::Empty`]; bytes after a complete
/// record are ignored, as ZooKeeper's clients ignore them.
pub(crate) fn read_body(code: i32, r: &mut Reader) -> DecodeResult<Response> {
    let resp = match code {
        op::CREATE => Response::Create { path: r.string()? },
        op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
            Response::Create2 { path: r.string()?, stat: read_stat(r)? }
        }
        op::EXISTS | op::SET_DATA | op::SET_ACL => Response::Stat(read_stat(r)?),
        // reconfig answers the new configuration as a GetDataResponse.
        op::GET_DATA | op::RECONFIG => Response::GetData { data: r.data()?, stat: read_stat(r)? },
        op::GET_ACL => Response::GetAcl { acl: read_acls(r)?, stat: read_stat(r)? },
        op::GET_CHILDREN => Response::GetChildren { children: r.strings()? },
        op::GET_CHILDREN2 => Response::GetChildren2 { children: r.strings()?, stat: read_stat(r)? },
        op::SYNC => Response::Sync { path: r.string()? },
        op::MULTI | op::MULTI_READ => Response::Multi(multi::read_results(r)?),
        op::SASL => Response::Sasl { token: r.buffer()? },
        op::GET_EPHEMERALS => Response::GetEphemerals { paths: r.strings()? },
        op::GET_ALL_CHILDREN_NUMBER => Response::AllChildrenNumber(r.i32()?),
        op::ADD_WATCH => {
            // The ErrorResponse's code is always 0 on a successful reply (a failure is
            // reported in the header); any other value is a malformed answer.
            let err = r.i32()?;
            if err != 0 {
                return Err(DecodeError::Invalid(format!("addWatch body carries error {err}")));
            }
            Response::AddWatch
        }
        op::WHO_AM_I => Response::WhoAmI(read_client_infos(r)?),
        op::DELETE
        | op::PING
        | op::CHECK
        | op::CHECK_WATCHES
        | op::REMOVE_WATCHES
        | op::DELETE_CONTAINER
        | op::AUTH
        | op::SET_WATCHES
        | op::SET_WATCHES2
        | op::CLOSE_SESSION => Response::Empty,
        other => return Err(DecodeError::Invalid(format!("no response record for op {other}"))),
    };
    Ok(resp)
}
