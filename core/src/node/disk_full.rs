//! A full disk: the node stops making transactions until the shell says it has room.
//!
//! Contract with the driver (`Input::DiskFull`): when a log write fails for lack of space,
//! the driver discards the node, rebuilds it from what is durable on disk (so no record
//! that failed was ever applied, and nothing that waited on it was ever released), and
//! hands the new node `DiskFull { full: true }` before any client input. From then on the
//! node answers every write NOTREADONLY (-119, "this server serves reads only": no client
//! reads it as "maybe applied", and ZooKeeper's own read-only mode uses it), refuses new
//! sessions by closing the connection, lets existing sessions reconnect, read and watch,
//! and neither expires sessions nor reaps containers (both are transactions). `full: false`
//! resumes all of it; sessions that timed out meanwhile expire on the next tick.
//!
//! Invariant: while `disk_full`, the node emits no `Persist`.

use super::Node;
use crate::error::KeeperError;
use crate::ids::{ConnId, Xid};

impl Node {
    pub(super) fn on_disk_full(&mut self, full: bool) {
        self.disk_full = full;
        if full {
            self.abandon_snapshot();
        }
    }

    /// True while the disk has no room: the node makes no transactions.
    pub fn disk_full(&self) -> bool {
        self.disk_full
    }

    /// closeSession needs a transaction: answer NOTREADONLY and close the connection; the
    /// session (and its ephemerals) expire after its timeout once the disk has room.
    pub(super) fn refuse_close_session(&mut self, conn: ConnId, xid: Xid) {
        self.reply(conn, xid, Err(KeeperError::NotReadOnly), None);
        self.close_conn(conn);
    }
}
