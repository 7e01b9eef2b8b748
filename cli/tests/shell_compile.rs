//! Compiles the shell module inside a test crate (the binary's main.rs wires it in
//! separately), so its code is checked on this branch.
#[allow(dead_code)]
#[path = "../src/shell/mod.rs"]
mod shell;

#[test]
fn help_parses() {
    assert_eq!(shell::parse::parse_command(&["help".into()]), Ok(shell::parse::Command::Help));
}
