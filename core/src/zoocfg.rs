//! Parsing ZooKeeper's zoo.cfg into a validated configuration. CONTRACT STUB.
