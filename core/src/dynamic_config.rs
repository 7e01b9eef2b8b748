//! ZooKeeper's dynamic configuration files, as text: `zoo.cfg.dynamic.<version>` and the
//! `dynamicConfigFile=` line of the static zoo.cfg that points at it.
//!
//! ZooKeeper 3.5+ keeps the membership (`server.N` lines) in a file of its own, named after
//! the static file with `.dynamic.<version in hex>` appended; the file holds only the
//! server lines, its version is the name's suffix. After every reconfiguration each member
//! writes the new membership to such a file and rewrites its static file: the server lines
//! (and, when the member's own line carries a client port, `clientPort` and
//! `clientPortAddress`) go, and `dynamicConfigFile=` names the new file. A member started
//! from the static file then reads its membership from there. This module only computes
//! names and text (the core does no I/O); the shell writes the files.
//!
//! Invariant: [`dynamic_text`] of an ensemble parses back (through
//! [`crate::zoocfg::ZooCfg::parse_with_dynamic`]) to the same members, and
//! [`version_from_file_name`] of [`dynamic_file_name`] gives back the version.

use crate::config::Ensemble;
use crate::ids::ServerId;
use crate::zoocfg::line_key;

/// `<static>.dynamic.<version in hex>`, ZooKeeper's name for a configuration's file.
pub fn dynamic_file_name(static_path: &str, version: u64) -> String {
    format!("{static_path}.dynamic.{version:x}")
}

/// The version a dynamic file's name carries (the hex after the last `.dynamic.`), or 0
/// when the name has none, as ZooKeeper reads it.
pub fn version_from_file_name(path: &str) -> u64 {
    path.rsplit_once(".dynamic.").and_then(|(_, v)| u64::from_str_radix(v, 16).ok()).unwrap_or(0)
}

/// The dynamic file's text: one `server.N=` line per member, without the `version=` line.
pub fn dynamic_text(ens: &Ensemble) -> String {
    let mut out = String::new();
    for line in ens.config_text().lines().filter(|l| !l.starts_with("version=")) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// True when `me`'s line in `ens` gives a client port: the static file's `clientPort` and
/// `clientPortAddress` then give way to it (ZooKeeper erases them on rewrite).
pub fn client_port_in_dynamic(ens: &Ensemble, me: ServerId) -> bool {
    ens.servers.get(&me).is_some_and(|l| l.client_port.is_some())
}

/// The static file's text rewritten to point at `dynamic_path`: the membership lines and
/// any older `dynamicConfigFile` go (with `clientPort`/`clientPortAddress` when
/// `erase_client`), every other line stays as written, and `dynamicConfigFile=` ends it.
pub fn edit_static_config(static_text: &str, dynamic_path: &str, erase_client: bool) -> String {
    let mut out = String::new();
    for line in static_text.lines() {
        let drop = line_key(line).is_some_and(|k| {
            k.starts_with("server.")
                || k.starts_with("group.")
                || k.starts_with("weight.")
                || k == "dynamicConfigFile"
                || (erase_client && (k == "clientPort" || k == "clientPortAddress"))
        });
        if !drop {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!("dynamicConfigFile={dynamic_path}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoocfg::ZooCfg;

    const STATIC: &str = "tickTime=500\ninitLimit=5\nsyncLimit=2\ndataDir=/d\nclientPort=2181\n\
                          reconfigEnabled=true\n# members\nserver.1=127.0.0.1:1:2;2181\n\
                          server.2=127.0.0.1:3:4;2182\nserver.3=127.0.0.1:5:6:observer;2183\n";

    #[test]
    fn names_carry_the_version_in_hex() {
        assert_eq!(dynamic_file_name("/c/zoo.cfg", 0x1_0000_0003), "/c/zoo.cfg.dynamic.100000003");
        assert_eq!(version_from_file_name("/c/zoo.cfg.dynamic.100000003"), 0x1_0000_0003);
        assert_eq!(version_from_file_name("/c/zoo.cfg.dynamic"), 0);
        assert_eq!(version_from_file_name("/c/zoo.cfg.dynamic.xyz"), 0);
    }

    /// Static file + dynamic file read back as the ensemble that was written, and the
    /// rewritten static file keeps everything but the membership.
    #[test]
    fn a_written_configuration_reads_back() {
        let before = ZooCfg::parse(STATIC).expect("static");
        let mut ens = before.ensemble();
        ens.version = 0x1_0000_0007;
        let me = ServerId(2);
        let dynamic = dynamic_text(&ens);
        assert!(!dynamic.contains("version"), "{dynamic}");
        let path = dynamic_file_name("/c/zoo.cfg", ens.version);
        let erase = client_port_in_dynamic(&ens, me);
        assert!(erase);
        let edited = edit_static_config(STATIC, &path, erase);
        assert!(!edited.contains("server.") && !edited.contains("clientPort"), "{edited}");
        assert!(edited.contains("# members\n") && edited.contains("reconfigEnabled=true\n"));
        assert!(edited.ends_with("dynamicConfigFile=/c/zoo.cfg.dynamic.100000007\n"));
        // A second rewrite replaces the pointer instead of adding one.
        let again = edit_static_config(&edited, "/c/zoo.cfg.dynamic.9", erase);
        assert_eq!(again.matches("dynamicConfigFile=").count(), 1, "{again}");

        let mut after = ZooCfg::parse_with_dynamic(&edited, &dynamic).expect("reads back");
        assert_eq!(after.dynamic_config_file.as_deref(), Some(path.as_str()));
        after.config_version = version_from_file_name(&path);
        let back = after.ensemble();
        assert_eq!(back.participants, ens.participants);
        assert_eq!(back.observers, ens.observers);
        assert_eq!(back.config_text(), ens.config_text());
        assert!(after.is_distributed());
    }

    #[test]
    fn misplaced_lines_are_errors() {
        let dynamic = "server.1=127.0.0.1:1:2;2181\nserver.2=127.0.0.1:3:4;2182\n";
        let with_servers = format!("{STATIC}dynamicConfigFile=/x\n");
        let e = ZooCfg::parse_with_dynamic(&with_servers, dynamic).unwrap_err();
        assert!(e.message.contains("dynamic configuration file"), "{e}");
        let plain = "tickTime=500\ninitLimit=5\nsyncLimit=2\ndataDir=/d\ndynamicConfigFile=/x\n";
        let e = ZooCfg::parse_with_dynamic(plain, &format!("{dynamic}version=100000000\n"))
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("version"), "{e}");
        let e = ZooCfg::parse_with_dynamic(plain, "tickTime=3\n").unwrap_err();
        assert!(e.message.contains("only server.N"), "{e}");
        let e = ZooCfg::parse_with_dynamic(plain, "server.1=h\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn standalone_enabled_false_reaches_the_core() {
        let one = "dataDir=/d\nstandaloneEnabled=false\ninitLimit=5\nsyncLimit=2\n\
                   server.1=h:1:2\n";
        let cfg = ZooCfg::parse(one).expect("parses");
        assert!(!cfg.config.standalone_enabled && cfg.is_distributed());
        assert!(ZooCfg::parse("dataDir=/d\n").expect("parses").config.standalone_enabled);
    }
}
