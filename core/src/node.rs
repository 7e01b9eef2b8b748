//! The node: one server's state machine. STUB until the node work lands.

use crate::config::Config;
use crate::input::Input;
use crate::output::Output;
use crate::persist::Recovered;

/// One keeper server, driven by inputs.
pub struct Node {
    _config: Config,
}

impl Node {
    /// Builds a node from its configuration and recovered state.
    pub fn new(config: Config, recovered: Recovered, seed: u64) -> Node {
        let _ = (recovered, seed);
        Node { _config: config }
    }
    /// Delivers one input.
    pub fn handle(&mut self, input: Input) {
        let _ = input;
    }
    /// Drains one output.
    pub fn poll(&mut self) -> Option<Output> {
        None
    }
}
