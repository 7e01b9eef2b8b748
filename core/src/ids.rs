//! Identifier newtypes shared by every part of the core.
//!
//! Each id is a distinct type so that a session id can never be passed where a zxid is
//! expected. Every id prints the way ZooKeeper's logs print it (zxids and session ids in
//! lower-case hex with a `0x` prefix), so keeper traces and ZooKeeper logs can be diffed.

use std::fmt;

/// A ZooKeeper transaction id: the epoch in the high 32 bits, a counter in the low 32.
///
/// Invariant: zxids assigned by one leader strictly increase; a new epoch starts its counter
/// at 0 (`Zxid::new(epoch, 0)`), and the counter never wraps (exhaustion forces a new epoch).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Zxid(pub u64);

impl Zxid {
    /// The zxid before any transaction.
    pub const ZERO: Zxid = Zxid(0);

    /// Builds a zxid from its epoch and counter halves.
    pub const fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid(((epoch as u64) << 32) | counter as u64)
    }
    /// The epoch of the leader that assigned this zxid.
    pub const fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// The position of this zxid within its epoch.
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }
    /// The zxid as ZooKeeper's wire `long` carries it.
    pub const fn as_i64(self) -> i64 {
        self.0 as i64
    }
    /// The zxid from ZooKeeper's wire `long`.
    pub const fn from_i64(v: i64) -> Zxid {
        Zxid(v as u64)
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}
impl fmt::Debug for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A client session id (ZooKeeper's `long sessionId`).
///
/// The high byte is the id of the server that created it; 0 means "no session".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SessionId(pub i64);

impl SessionId {
    /// The absent session, as sent by a client that asks for a new one.
    pub const NONE: SessionId = SessionId(0);
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0 as u64)
    }
}
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A client connection as the driver numbers it. Never reused within one process run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// A server of the ensemble (`server.N` in zoo.cfg, the `myid` file). Standalone uses 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct ServerId(pub u64);

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A client request id, echoed in the reply. Negative values are ZooKeeper's special xids.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Xid(pub i32);

impl Xid {
    /// Server-to-client watch notifications.
    pub const NOTIFICATION: Xid = Xid(-1);
    /// Pings (op 11).
    pub const PING: Xid = Xid(-2);
    /// Auth packets (op 100).
    pub const AUTH: Xid = Xid(-4);
    /// setWatches / setWatches2 (ops 101, 105).
    pub const SET_WATCHES: Xid = Xid(-8);
}

impl fmt::Display for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The number of a `Persist` output. Persist outputs are numbered from 1 without gaps and
/// reach the disk in order; `Persisted { up_to }` confirms every write numbered `<= up_to`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct PersistSeq(pub u64);

impl fmt::Display for PersistSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_halves_and_display() {
        let z = Zxid::new(1, 3);
        assert_eq!(z, Zxid(0x1_0000_0003));
        assert_eq!(z.epoch(), 1);
        assert_eq!(z.counter(), 3);
        assert_eq!(z.to_string(), "0x100000003");
        assert_eq!(Zxid::from_i64(-1).to_string(), "0xffffffffffffffff");
        assert_eq!(SessionId(0x1_0000_abcd_0000).to_string(), "0x10000abcd0000");
    }
}
