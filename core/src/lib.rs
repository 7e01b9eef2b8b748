//! keeper-core: a pure, sans-IO ZooKeeper-compatible coordination engine.
//!
//! A [`node::Node`] is one server. It is driven by [`input::Input`]s and yields
//! [`output::Output`]s; it never blocks, reads a clock, opens a socket, touches a file,
//! spawns a thread or draws randomness it was not given. The simulator (`keeper-sim`) and
//! the tokio shell (`keeper-net`) are its two drivers, so a bug the simulator finds is a
//! bug in the code that runs in production, and a seed reproduces it.
//!
//! ```text
//!   driver ──Input──▶ Node::handle ──▶ Node::poll ──Output──▶ driver
//!   (Tick, ClientRequest, Persisted, …)      (Persist, Reply, Watch, Close, …)
//! ```
//!
//! **Persist before promise.** Nothing a client may rely on (a reply, a watch event, a
//! connect response for a new session) leaves the node before every transaction it depends
//! on is durable: the node applies a write to its tree at once, emits `Persist`, and holds
//! every later client-visible output behind it until `Persisted` covers it. Reads are
//! answered from the tree at once but released in the same order, so no client ever sees
//! state that a crash could take back.

#![forbid(unsafe_code)]

pub mod acl;
pub mod config;
pub mod dynamic_config;
pub mod election;
pub mod error;
pub mod four_letter;
pub mod ids;
pub mod input;
pub mod limits;
pub mod node;
pub mod output;
pub mod path;
pub mod peer;
pub mod peer_codec;
pub mod persist;
pub mod planted;
pub mod proto;
pub mod request;
pub mod sasl;
pub mod session;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod wire;
pub mod zab;
pub mod zkfiles;
pub mod zkimport;
pub mod zoocfg;

pub use error::KeeperError;
pub use ids::{ConnId, PersistSeq, ServerId, SessionId, Xid, Zxid};
pub use input::Input;
pub use node::Node;
pub use output::Output;
