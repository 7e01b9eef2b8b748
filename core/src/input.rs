//! Everything that can happen to a node: the only way the outside world reaches the core.

use crate::ids::{ConnId, PersistSeq, ServerId, Xid};
use crate::peer::PeerMsg;
use crate::proto::{ConnectRequest, Request};

/// One event delivered to [`crate::node::Node::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// One tick (tickTime ms in the real shell) has passed; `wall_ms` is the driver's wall
    /// clock, used only to stamp ctime/mtime and to judge TTLs.
    Tick { wall_ms: u64 },
    /// A client TCP connection was accepted from `addr` (`ip:port`, or a bare IP; the IP
    /// part serves `ip` ACLs and `maxClientCnxns`, the whole text `cons`/`stat`).
    ClientOpen { conn: ConnId, addr: String },
    /// The connection's first frame: a ConnectRequest.
    ClientConnect { conn: ConnId, req: ConnectRequest },
    /// A request after the handshake. `wall_ms` is the driver's clock when it arrived.
    ClientRequest { conn: ConnId, xid: Xid, req: Request, wall_ms: u64 },
    /// A request frame that could not be decoded (unknown opcode or bad bytes): the node
    /// answers as ZooKeeper does and closes the connection.
    ClientBadRequest { conn: ConnId, xid: Xid, op: i32 },
    /// The connection's first four bytes were a four-letter word (e.g. `ruok`).
    ClientFourLetter { conn: ConnId, cmd: String },
    /// The client's TCP connection ended.
    ClientClosed { conn: ConnId },
    /// Storage made every `Persist` numbered `<= up_to` durable.
    Persisted { up_to: PersistSeq },
    /// The disk refused a write for lack of space (`full: true`), or has room again
    /// (`false`). While full the node makes no transactions: client writes are answered
    /// NOTREADONLY before anything is applied, new sessions are refused, and session expiry
    /// and container reaping wait. Reads, watches and existing sessions go on. The shell
    /// rebuilds the node from its disk before reporting `full: true`, so no write whose
    /// record failed is ever applied (see net-tokio's `disk_full`).
    DiskFull { full: bool },
    /// A message from another server of the ensemble, on the connection to it. Boxed: a
    /// peer message is the largest input by far, and every client request would otherwise
    /// be moved about at its size.
    Peer { from: ServerId, msg: Box<PeerMsg> },
    /// The connection to `id` broke (reset, timeout, or the driver gave up on it): whatever
    /// was in flight on it is lost, and the next message from `id` starts a new connection.
    PeerDown { id: ServerId },
}

#[cfg(test)]
mod tests {
    use super::Input;
    use crate::proto::Request;

    /// Every client request is moved several times between the codec, the driver's
    /// channel and the node; kept within 128 bytes those moves are a few vector
    /// instructions instead of a `memcpy` call each. Rare large payloads (peer messages,
    /// setWatches lists) are boxed to keep it so.
    #[test]
    fn inputs_stay_small() {
        eprintln!("Input {} Request {}", size_of::<Input>(), size_of::<Request>());
        assert!(size_of::<Request>() <= 104, "Request is {} bytes", size_of::<Request>());
        assert!(size_of::<Input>() <= 128, "Input is {} bytes", size_of::<Input>());
    }
}
