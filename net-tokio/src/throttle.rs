//! Back-pressure for client connections: when a connection stops being read from, and
//! when one is closed for hoarding memory.
//!
//! ZooKeeper throttles a connection by not reading its socket (`NIOServerCnxn.disableRecv`)
//! while the server has more than `globalOutstandingLimit` requests in process and the
//! connection has some of them. keeper does the same, and also stops reading a connection
//! whose replies are piling up unread: a client that never reads cannot make the server
//! decode more requests, so its replies stop growing. Requests it keeps sending wait in
//! the kernel's socket buffers, and TCP pushes back on the client.
//!
//! Invariants: a connection's reader hands the node a request only when [`ConnLoad::admit`]
//! allows it; `outstanding` counts requests handed to the node and not yet answered (one
//! `Reply` each), so the sum over connections equals [`Gate`]'s count; `queued_bytes`
//! counts reply bytes routed to the connection and not yet written to its socket, and a
//! connection whose queue would pass [`Limits::close_bytes`] is closed instead (replies that
//! are already in flight when the throttle engages, or watch events, can still arrive).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keeper_core::config::Config;
use tokio::sync::Notify;

/// Reply bytes waiting for one client before its reader pauses (keeper-specific).
pub const THROTTLE_BYTES: usize = 1 << 20;
/// Reply bytes waiting for one client past which it is disconnected, on top of one
/// largest frame (keeper-specific; ZooKeeper buffers without a bound).
pub const CLOSE_BYTES: usize = 16 << 20;

/// The bounds one server applies to every connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Pause reading a connection with more unwritten reply bytes than this.
    pub throttle_bytes: usize,
    /// Close a connection whose unwritten reply bytes would pass this.
    pub close_bytes: usize,
    /// `globalOutstandingLimit`: past it, connections with requests in process pause.
    pub global_outstanding: usize,
    /// A connection that has not completed its handshake by then is closed
    /// (ZooKeeper's `zookeeper.nio.sessionlessCnxnTimeout`).
    pub handshake_timeout: Duration,
}

impl Limits {
    /// The limits for a server with this configuration.
    pub fn from_config(config: &Config) -> Limits {
        let limits = Limits {
            throttle_bytes: THROTTLE_BYTES,
            close_bytes: CLOSE_BYTES + config.max_buffer_bytes,
            global_outstanding: (config.global_outstanding_limit as usize).max(1),
            handshake_timeout: Duration::from_millis(config.sessionless_cnxn_timeout_ms.max(1)),
        };
        assert!(limits.close_bytes > limits.throttle_bytes, "closing is the last resort");
        limits
    }
}

/// The server-wide count of requests in process, and the signal that it went down.
#[derive(Debug, Default)]
pub struct Gate {
    outstanding: AtomicUsize,
    released: Notify,
}

impl Gate {
    /// Requests handed to the node and not yet answered, over all connections.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::SeqCst)
    }
}

/// One connection's share: its requests in process and its unwritten reply bytes.
#[derive(Debug, Default)]
pub struct ConnLoad {
    outstanding: AtomicUsize,
    queued_bytes: AtomicUsize,
    drained: Notify,
}

impl ConnLoad {
    /// Waits until this connection may hand the node another request: its unwritten
    /// replies are within `throttle_bytes`, and the server is under its outstanding limit
    /// or this connection has nothing in process (so every connection can always make
    /// progress, as in ZooKeeper).
    pub async fn admit(&self, gate: &Gate, limits: &Limits) {
        // The common case costs two loads: registering with the `Notify`s takes their locks
        // (shared by every connection), so it is only done when the reader has to wait.
        if self.may_send(gate, limits) {
            return;
        }
        loop {
            let drained = self.drained.notified();
            let released = gate.released.notified();
            tokio::pin!(drained, released);
            // Register before checking, so that a change between the check and the wait
            // still wakes this task.
            drained.as_mut().enable();
            released.as_mut().enable();
            if self.may_send(gate, limits) {
                return;
            }
            tokio::select! {
                _ = drained => {}
                _ = released => {}
            }
        }
    }

    /// True when this connection may hand the node another request now (see [`admit`]).
    ///
    /// [`admit`]: ConnLoad::admit
    pub fn may_send(&self, gate: &Gate, limits: &Limits) -> bool {
        let over_bytes = self.queued_bytes.load(Ordering::SeqCst) > limits.throttle_bytes;
        let over_global = gate.outstanding() >= limits.global_outstanding
            && self.outstanding.load(Ordering::SeqCst) > 0;
        !over_bytes && !over_global
    }

    /// A request was handed to the node.
    pub fn request_sent(&self, gate: &Gate) {
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        gate.outstanding.fetch_add(1, Ordering::SeqCst);
    }

    /// The node answered one of this connection's requests.
    ///
    /// Waiters are woken only when the server-wide count was at or over the limit: a reader
    /// waits on the count only after seeing it there, and the count can only get below the
    /// limit through a decrement that starts at or over it, which wakes every waiter. (Waking
    /// costs a lock shared by every connection, so it is not done for every reply.)
    pub fn answered(&self, gate: &Gate, limits: &Limits) {
        let took = self
            .outstanding
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if took {
            let before = gate.outstanding.fetch_sub(1, Ordering::SeqCst);
            if before >= limits.global_outstanding {
                gate.released.notify_waiters();
                self.drained.notify_waiters();
            }
        }
    }

    /// The connection is gone: whatever it had in process no longer counts.
    pub fn forget(&self, gate: &Gate) {
        let left = self.outstanding.swap(0, Ordering::SeqCst);
        gate.outstanding.fetch_sub(left, Ordering::SeqCst);
        gate.released.notify_waiters();
    }

    /// Reserves room for `bytes` more reply bytes; false when that would pass
    /// `close_bytes` (the caller then closes the connection).
    pub fn try_queue(&self, bytes: usize, limits: &Limits) -> bool {
        self.queued_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                (q + bytes <= limits.close_bytes).then_some(q + bytes)
            })
            .is_ok()
    }

    /// `bytes` of queued replies reached the socket (or were dropped with it). Wakes the
    /// reader only when the queue was over the throttle (the only time it waits on bytes).
    pub fn written(&self, bytes: usize, limits: &Limits) {
        let before = self.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
        assert!(before >= bytes, "wrote {bytes} bytes but only {before} were queued");
        if before > limits.throttle_bytes {
            self.drained.notify_waiters();
        }
    }

    /// Unwritten reply bytes.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn limits(global: usize) -> Limits {
        Limits {
            throttle_bytes: 100,
            close_bytes: 1000,
            global_outstanding: global,
            handshake_timeout: Duration::from_secs(1),
        }
    }

    /// Past the global limit, a connection with requests in process waits until one is
    /// answered; a connection with none in process is never held back.
    #[tokio::test]
    async fn global_limit_pauses_busy_connections_until_an_answer() {
        let gate = Arc::new(Gate::default());
        let (busy, idle) = (Arc::new(ConnLoad::default()), ConnLoad::default());
        let l = limits(2);
        busy.request_sent(&gate);
        busy.request_sent(&gate);
        idle.admit(&gate, &l).await;
        let waiter = {
            let (gate, busy) = (gate.clone(), busy.clone());
            tokio::spawn(async move { busy.admit(&gate, &l).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "over the limit with requests in process: paused");
        busy.answered(&gate, &l);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!(gate.outstanding(), 1);
        busy.forget(&gate);
        assert_eq!(gate.outstanding(), 0);
    }

    /// Unwritten replies over the throttle pause the reader until they are written; the
    /// close bound refuses more.
    #[tokio::test]
    async fn unread_replies_pause_the_reader_and_then_close() {
        let gate = Arc::new(Gate::default());
        let load = Arc::new(ConnLoad::default());
        let l = limits(1000);
        assert!(load.try_queue(101, &l));
        let waiter = {
            let (gate, load) = (gate.clone(), load.clone());
            tokio::spawn(async move { load.admit(&gate, &l).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "over the throttle: paused");
        assert!(load.try_queue(899, &l));
        assert!(!load.try_queue(1, &l), "past the close bound");
        load.written(1000, &l);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!(load.queued_bytes(), 0);
    }
}
