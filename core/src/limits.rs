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
/// Default `maxWatchBytesPerSession`: bytes of watches one connection may hold (each
/// costs `watch::watch_cost`, about 120 bytes for a 10-byte path); past it a request
/// that would register one more fails with QUOTAEXCEEDED. 128 MiB is about a million
/// watches on 30-byte paths: far more than any known client holds.
pub const DEFAULT_MAX_WATCH_BYTES_PER_SESSION: usize = 128 * 1024 * 1024;
/// Estimated bookkeeping bytes of one watch beyond its path (two tree entries).
pub const WATCH_OVERHEAD_BYTES: usize = 100;
/// Sub-ops in one multi; past it → BADARGUMENTS.
pub const MAX_MULTI_OPS: usize = 100_000;

const _: () = assert!(MAX_PATH_BYTES < DEFAULT_MAX_BUFFER_BYTES);
