//! keeper-sim: a seeded, single-threaded discrete-event simulator that drives keeper cores
//! through their `Input`/`Output` contract under faults, and checks what clients observed.
//!
//! Invariant: a run is a pure function of (scenario, seed): virtual time only, one event
//! queue ordered by (time, sequence), per-concern ChaCha streams, and no HashMap order
//! reaching the trace, so the trace hash reproduces on every machine.

pub mod check;
pub mod check_faults;
pub mod cli;
pub mod client;
pub mod disk;
pub mod engine;
pub mod history;
pub mod random;
pub mod recorded;
pub mod scenario;
pub mod shrink;
pub mod swarm;
pub mod trace;
pub mod view;

pub use engine::{Sim, Summary};
pub use scenario::Scenario;
