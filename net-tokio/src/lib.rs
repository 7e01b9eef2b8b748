//! keeper-net: the thin tokio shell around a keeper core (STYLE.md §11).
//!
//! It moves bytes, keeps time and touches disks; every decision stays in `keeper-core`.
//! `client` is a small async ZooKeeper client over the same codec, used by the shell,
//! benchmarks and tests.

pub mod admin;
pub mod client;
pub mod disk_full;
pub mod peer;
pub mod server;
pub mod startup;
pub mod stats;
pub mod storage;
pub mod throttle;
