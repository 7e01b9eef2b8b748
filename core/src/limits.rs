//! Every bound the core enforces, named in one place (STYLE.md §6).
//!
//! Each limit says what happens past it. Values that ZooKeeper makes configurable are
//! defaults here and live in [`crate::config::Config`].

/// `jute.maxbuffer` default (0xfffff): larger frames close the connection unapplied.
pub const DEFAULT_MAX_BUFFER_BYTES: usize = 0xfffff;
/// Slack ZooKeeper allows over maxbuffer for record overhead inside a frame.
pub const BUFFER_SLACK_BYTES: usize = 1024;
/// Longest path accepted, in bytes; longer → BADARGUMENTS.
pub const MAX_PATH_BYTES: usize = 16 * 1024;
/// Watches one connection may hold; past it, new watch registrations are refused.
pub const MAX_WATCHES_PER_CONNECTION: usize = 1_000_000;
/// Sub-ops in one multi; past it → BADARGUMENTS.
pub const MAX_MULTI_OPS: usize = 100_000;

const _: () = assert!(MAX_PATH_BYTES < DEFAULT_MAX_BUFFER_BYTES);
