//! keeper-net: the thin tokio shell around a keeper core (STYLE.md §11).
//!
//! It moves bytes, keeps time and touches disks; every decision stays in `keeper-core`.

pub mod server;
pub mod startup;
pub mod storage;
