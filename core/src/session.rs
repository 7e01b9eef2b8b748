//! The session table: who is connected, with what timeout, and when each session expires.
//!
//! Mirrors ZooKeeper's `SessionTrackerImpl` and `ExpiryQueue`: a session's deadline is
//! counted in ticks and rounded up to the next tick boundary, every packet from the client
//! pushes it back, and a session whose deadline passes is expired by a closeSession
//! transaction (which the node issues; this table only reports the due sessions).
//! Invariant: `by_deadline` holds exactly one entry per live session, keyed by its current
//! deadline, so finding the expired sessions never scans the whole table.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{ConnId, ServerId, SessionId};

/// One live session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    /// The negotiated timeout.
    pub timeout_ms: i32,
    /// The tick at which the session expires unless touched.
    pub deadline_tick: u64,
    /// The connection currently holding the session, if any.
    pub conn: Option<ConnId>,
    /// A closeSession txn has been issued; no further requests are accepted.
    pub closing: bool,
}

/// All live sessions, with their expiry schedule.
#[derive(Clone, Debug, Default)]
pub struct SessionTable {
    sessions: BTreeMap<SessionId, Session>,
    by_deadline: BTreeMap<u64, BTreeSet<SessionId>>,
    next_id: i64,
}

impl SessionTable {
    /// An empty table whose new ids carry `server` in their high byte and `entropy` (from
    /// the node's seeded RNG) in the 40 bits below, as ZooKeeper mixes in the start time.
    pub fn new(server: ServerId, entropy: u64) -> SessionTable {
        let high = ((server.0 & 0xff) as i64) << 56;
        let middle = ((entropy & 0xff_ffff_ffff) << 16) as i64;
        SessionTable {
            sessions: BTreeMap::new(),
            by_deadline: BTreeMap::new(),
            next_id: high | middle,
        }
    }

    /// The number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }
    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
    /// A live session.
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }
    /// A live session, mutably (for attaching connections; use `touch` for deadlines).
    pub fn get_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut(&id)
    }
    /// Every live session in id order, mutably.
    pub fn iter_mut_all(&mut self) -> impl Iterator<Item = &mut Session> {
        self.sessions.values_mut()
    }
    /// Every session, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }
    /// `(id, timeout)` of every live session, sorted: what a snapshot records.
    pub fn to_snapshot(&self) -> Vec<(SessionId, i32)> {
        self.sessions.values().map(|s| (s.id, s.timeout_ms)).collect()
    }

    /// A fresh session id not in use.
    pub fn next_session_id(&mut self) -> SessionId {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            let id = SessionId(self.next_id);
            if id != SessionId::NONE && !self.sessions.contains_key(&id) && id.0 != i64::MIN {
                return id;
            }
        }
    }

    /// Adds a session (from a createSession txn, or recovery) due at `deadline_tick`.
    pub fn add(&mut self, id: SessionId, timeout_ms: i32, deadline_tick: u64) {
        assert!(id != SessionId::NONE, "session id 0 is reserved");
        if let Some(old) = self.sessions.remove(&id) {
            self.unschedule(old.id, old.deadline_tick);
        }
        self.sessions
            .insert(id, Session { id, timeout_ms, deadline_tick, conn: None, closing: false });
        self.by_deadline.entry(deadline_tick).or_default().insert(id);
        // Ids made elsewhere (another server, or before a restart) must not be reissued.
        if (id.0 >> 56) == (self.next_id >> 56) && id.0 > self.next_id {
            self.next_id = id.0;
        }
    }

    /// Removes a session (closeSession txn applied). Returns it if it was live.
    pub fn remove(&mut self, id: SessionId) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        self.unschedule(id, s.deadline_tick);
        Some(s)
    }

    /// Pushes a session's deadline to `deadline_tick` (never earlier than it was).
    pub fn touch(&mut self, id: SessionId, deadline_tick: u64) {
        let Some(s) = self.sessions.get_mut(&id) else { return };
        if s.closing || deadline_tick <= s.deadline_tick {
            return;
        }
        let old = s.deadline_tick;
        s.deadline_tick = deadline_tick;
        self.unschedule(id, old);
        self.by_deadline.entry(deadline_tick).or_default().insert(id);
    }

    /// Sessions whose deadline is at or before `now_tick` and not already closing, in
    /// deadline then id order. They are marked closing.
    pub fn take_expired(&mut self, now_tick: u64) -> Vec<SessionId> {
        let mut due = Vec::new();
        for (_, ids) in self.by_deadline.range(..=now_tick) {
            for id in ids {
                if let Some(s) = self.sessions.get(id) {
                    if !s.closing {
                        due.push(*id);
                    }
                }
            }
        }
        for id in &due {
            if let Some(s) = self.sessions.get_mut(id) {
                s.closing = true;
            }
        }
        due
    }

    fn unschedule(&mut self, id: SessionId, deadline: u64) {
        if let Some(set) = self.by_deadline.get_mut(&deadline) {
            set.remove(&id);
            if set.is_empty() {
                self.by_deadline.remove(&deadline);
            }
        }
    }
}

/// The session password ZooKeeper derives from the id: the first 16 bytes of
/// `java.util.Random(sessionId ^ 0xB3415C00).nextBytes`. Deriving it (rather than storing a
/// random one) lets any server of an ensemble check a reconnecting client, as ZooKeeper's
/// `ZooKeeperServer.checkPasswd` does, and keeps the session table small.
pub fn password(id: SessionId) -> [u8; 16] {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;
    let mut seed = ((id.0 ^ 0xB341_5C00) as u64 ^ MULTIPLIER) & MASK;
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < out.len() {
        seed = (seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        let mut rnd = (seed >> 16) as u32 as i32;
        let n = (out.len() - i).min(4);
        for _ in 0..n {
            out[i] = rnd as u8;
            rnd >>= 8;
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_by_deadline_and_touch_defers_it() {
        let mut t = SessionTable::new(ServerId(1), 0);
        let a = t.next_session_id();
        let b = t.next_session_id();
        assert_eq!(a.0 >> 56, 1);
        t.add(a, 4000, 10);
        t.add(b, 4000, 12);
        t.touch(a, 20);
        assert_eq!(t.take_expired(11), Vec::<SessionId>::new());
        assert_eq!(t.take_expired(12), vec![b]);
        assert_eq!(t.take_expired(30), vec![a], "b is already closing and not reported twice");
        assert!(t.remove(b).is_some());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn recovered_ids_are_not_reissued() {
        let mut t = SessionTable::new(ServerId(1), 0);
        let first = t.next_session_id();
        t.add(SessionId(first.0 + 5), 4000, 1);
        let next = t.next_session_id();
        assert!(next.0 > first.0 + 5);
    }

    #[test]
    fn password_matches_java_util_random() {
        // new java.util.Random(id ^ 0xB3415C00L).nextBytes(new byte[16]), printed by a JVM 17.
        let hex = |b: [u8; 16]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(password(SessionId(0))), "f22acd4a97e69d6d20a49bb638eadb38");
        assert_eq!(
            hex(password(SessionId(0x10_0000_abcd_0001))),
            "3ce2a199a29138d5a4a928c4efc3a49a"
        );
    }
}
