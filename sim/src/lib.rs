//! sim (in progress).
pub mod cli;
