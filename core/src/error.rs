//! ZooKeeper's client-visible error codes (`KeeperException.Code`).
//!
//! These are answers, not Rust failures: a `Reply` carries `Result<Response, KeeperError>`
//! and the codec writes `code()` into the reply header. Variants follow ZooKeeper's order;
//! `from_code(e.code()) == Some(e)` for every variant (tested).

use std::fmt;

/// A ZooKeeper error code with its wire value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum KeeperError {
    /// -1: a system error (range marker, also used for unexpected server failures).
    SystemError,
    /// -2: an op after the failing one in a failed multi.
    RuntimeInconsistency,
    /// -3: data inconsistency.
    DataInconsistency,
    /// -4: connection loss (client-side only).
    ConnectionLoss,
    /// -5: the request could not be decoded.
    MarshallingError,
    /// -6: operation not implemented (unknown opcode, standalone reconfig, lone check).
    Unimplemented,
    /// -7: operation timeout (client-side only).
    OperationTimeout,
    /// -8: invalid arguments (bad path, bad flags, bad ttl).
    BadArguments,
    /// -12: unknown session (internal).
    UnknownSession,
    /// -13: reconfig would leave no quorum.
    NewConfigNoQuorum,
    /// -14: another reconfig is in progress.
    ReconfigInProgress,
    /// -100: API error range marker.
    ApiError,
    /// -101: the node does not exist.
    NoNode,
    /// -102: not authorised.
    NoAuth,
    /// -103: version mismatch.
    BadVersion,
    /// -108: ephemeral nodes may not have children.
    NoChildrenForEphemerals,
    /// -110: the node already exists.
    NodeExists,
    /// -111: the node has children.
    NotEmpty,
    /// -112: the session has expired.
    SessionExpired,
    /// -113: invalid callback (client-side).
    InvalidCallback,
    /// -114: invalid ACL.
    InvalidAcl,
    /// -115: authentication failed.
    AuthFailed,
    /// -118: the session moved to another connection.
    SessionMoved,
    /// -119: a write sent to a read-only server.
    NotReadOnly,
    /// -120: ephemeral creation on a local session.
    EphemeralOnLocalSession,
    /// -121: no such watcher (checkWatches/removeWatches).
    NoWatcher,
    /// -122: request timeout (client-side).
    RequestTimeout,
    /// -123: reconfiguration is disabled.
    ReconfigDisabled,
    /// -124: the session needs SASL authentication first.
    SessionClosedRequireSaslAuth,
    /// -125: quota exceeded.
    QuotaExceeded,
    /// -127: the request was throttled.
    ThrottledOp,
}

impl KeeperError {
    /// Every variant, in ZooKeeper's order.
    pub const ALL: [KeeperError; 31] = [
        KeeperError::SystemError,
        KeeperError::RuntimeInconsistency,
        KeeperError::DataInconsistency,
        KeeperError::ConnectionLoss,
        KeeperError::MarshallingError,
        KeeperError::Unimplemented,
        KeeperError::OperationTimeout,
        KeeperError::BadArguments,
        KeeperError::UnknownSession,
        KeeperError::NewConfigNoQuorum,
        KeeperError::ReconfigInProgress,
        KeeperError::ApiError,
        KeeperError::NoNode,
        KeeperError::NoAuth,
        KeeperError::BadVersion,
        KeeperError::NoChildrenForEphemerals,
        KeeperError::NodeExists,
        KeeperError::NotEmpty,
        KeeperError::SessionExpired,
        KeeperError::InvalidCallback,
        KeeperError::InvalidAcl,
        KeeperError::AuthFailed,
        KeeperError::SessionMoved,
        KeeperError::NotReadOnly,
        KeeperError::EphemeralOnLocalSession,
        KeeperError::NoWatcher,
        KeeperError::RequestTimeout,
        KeeperError::ReconfigDisabled,
        KeeperError::SessionClosedRequireSaslAuth,
        KeeperError::QuotaExceeded,
        KeeperError::ThrottledOp,
    ];

    /// The wire value.
    pub const fn code(self) -> i32 {
        use KeeperError::*;
        match self {
            SystemError => -1,
            RuntimeInconsistency => -2,
            DataInconsistency => -3,
            ConnectionLoss => -4,
            MarshallingError => -5,
            Unimplemented => -6,
            OperationTimeout => -7,
            BadArguments => -8,
            UnknownSession => -12,
            NewConfigNoQuorum => -13,
            ReconfigInProgress => -14,
            ApiError => -100,
            NoNode => -101,
            NoAuth => -102,
            BadVersion => -103,
            NoChildrenForEphemerals => -108,
            NodeExists => -110,
            NotEmpty => -111,
            SessionExpired => -112,
            InvalidCallback => -113,
            InvalidAcl => -114,
            AuthFailed => -115,
            SessionMoved => -118,
            NotReadOnly => -119,
            EphemeralOnLocalSession => -120,
            NoWatcher => -121,
            RequestTimeout => -122,
            ReconfigDisabled => -123,
            SessionClosedRequireSaslAuth => -124,
            QuotaExceeded => -125,
            ThrottledOp => -127,
        }
    }

    /// The variant for a wire value; `None` for 0 (OK) and unknown codes.
    pub fn from_code(code: i32) -> Option<KeeperError> {
        KeeperError::ALL.iter().copied().find(|e| e.code() == code)
    }

    /// ZooKeeper's name for the code, as zkCli prints it (`KeeperErrorCode = NoNode`).
    pub const fn name(self) -> &'static str {
        use KeeperError::*;
        match self {
            SystemError => "SystemError",
            RuntimeInconsistency => "RuntimeInconsistency",
            DataInconsistency => "DataInconsistency",
            ConnectionLoss => "ConnectionLoss",
            MarshallingError => "MarshallingError",
            Unimplemented => "Unimplemented",
            OperationTimeout => "OperationTimeout",
            BadArguments => "BadArguments",
            UnknownSession => "UnknownSession",
            NewConfigNoQuorum => "NewConfigNoQuorum",
            ReconfigInProgress => "ReconfigInProgress",
            ApiError => "APIError",
            NoNode => "NoNode",
            NoAuth => "NoAuth",
            BadVersion => "BadVersion",
            NoChildrenForEphemerals => "NoChildrenForEphemerals",
            NodeExists => "NodeExists",
            NotEmpty => "Directory not empty",
            SessionExpired => "Session expired",
            InvalidCallback => "Invalid callback",
            InvalidAcl => "InvalidACL",
            AuthFailed => "AuthFailed",
            SessionMoved => "Session moved",
            NotReadOnly => "Not a read-only call",
            EphemeralOnLocalSession => "Ephemeral node on local session",
            NoWatcher => "No such watcher",
            RequestTimeout => "RequestTimeout",
            ReconfigDisabled => "Reconfig is disabled",
            SessionClosedRequireSaslAuth => "Session closed because client failed to authenticate",
            QuotaExceeded => "Quota has exceeded",
            ThrottledOp => "Op throttled due to high load",
        }
    }
}

impl fmt::Display for KeeperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeeperErrorCode = {}", self.name())
    }
}

impl std::error::Error for KeeperError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for e in KeeperError::ALL {
            assert_eq!(KeeperError::from_code(e.code()), Some(e));
        }
        let mut codes: Vec<i32> = KeeperError::ALL.iter().map(|e| e.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), KeeperError::ALL.len());
        assert_eq!(KeeperError::from_code(0), None);
        assert_eq!(KeeperError::NoNode.to_string(), "KeeperErrorCode = NoNode");
    }
}
