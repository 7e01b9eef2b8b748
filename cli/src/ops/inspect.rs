//! `keeper inspect FILE [--json]`: any keeper or ZooKeeper log or snapshot file (a backup
//! from `keeper snapshot` is a keeper snapshot), told apart by its magic, printed one line
//! per transaction, session or znode, after a header line and (logs) before an end line.
//!
//! Logs are read with the same scanners recovery and import use, so what inspect calls a
//! torn tail or corruption is what the server or `import-zk` would call it; a corrupt file
//! prints everything before the damage and then fails naming the offset.

use std::path::Path;

use keeper_core::ids::Zxid;
use keeper_core::persist::{decode_snapshot, scan_log, End};
use keeper_core::tree::DataTree;
use keeper_core::txn::TxnRecord;
use keeper_core::zkfiles::{parse_log, parse_snapshot};
use keeper_core::zkimport::ZkImporter;
use serde_json::{json, Value};

use super::inspect_fmt::{fields, hex, node_json, record_json, text_line, to_map, Fields};

/// Prints `file`; `json` selects JSON lines.
pub fn run(file: &Path, json: bool) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let out = Printer { json };
    let name = file.display().to_string();
    match bytes.get(..4) {
        Some(b"KPLG") => keeper_log(&out, &name, &bytes),
        Some(b"KPSN") => keeper_snapshot(&out, &name, &bytes),
        Some(b"ZKLG") => zk_log(&out, &name, &bytes),
        Some(b"ZKSN") => zk_snapshot(&out, &name, file, &bytes),
        _ => {
            Err(format!("{name} is not a keeper or ZooKeeper log or snapshot file (unknown magic)"))
        }
    }
}

/// Writes lines as text or JSON.
struct Printer {
    json: bool,
}

impl Printer {
    fn line(&self, kind: &str, m: Fields, bare: &[&str]) {
        if self.json {
            let mut obj = to_map(m);
            obj.insert("kind".into(), Value::String(kind.into()));
            println!("{}", Value::Object(obj));
        } else {
            println!("{}", text_line(&m, bare));
        }
    }

    fn header(&self, format: &str, file: &str, mut rest: Fields) {
        let mut m = fields(vec![("format", json!(format)), ("file", json!(file))]);
        m.append(&mut rest);
        self.line("header", m, &["format", "file"]);
    }

    fn records(&self, records: &[TxnRecord]) {
        for rec in records {
            self.line("txn", record_json(rec), &["zxid", "time", "type", "path"]);
        }
    }

    fn end(&self, how: &str, records: usize, mut rest: Fields) {
        let mut m = fields(vec![("end", json!(how)), ("records", json!(records))]);
        m.append(&mut rest);
        self.line("end", m, &[]);
    }

    fn tree(&self, sessions: &[(keeper_core::SessionId, i32)], tree: &DataTree) {
        for (id, timeout_ms) in sessions {
            let m = fields(vec![("session", hex(id.0 as u64)), ("timeout_ms", json!(timeout_ms))]);
            self.line("session", m, &[]);
        }
        // Pre-order in path order with an explicit stack (no recursion over the tree).
        let mut stack = vec!["/".to_string()];
        while let Some(path) = stack.pop() {
            let Some(view) = tree.get(&path) else { continue };
            self.line("node", node_json(&path, view.data, view.acl, &view.stat), &["path"]);
            let children = tree.children(&path).unwrap_or_default();
            for child in children.iter().rev() {
                stack.push(keeper_core::path::join(&path, child));
            }
        }
    }
}

fn keeper_log(out: &Printer, name: &str, bytes: &[u8]) -> Result<(), String> {
    let scan = scan_log(bytes);
    let first = scan.first_zxid.map_or(Value::Null, |z| hex(z.0));
    out.header("keeper-log", name, fields(vec![("first_zxid", first)]));
    out.records(&scan.records);
    let n = scan.records.len();
    match scan.end {
        End::Clean => {
            out.end("clean", n, fields(vec![("valid_bytes", json!(scan.valid_len))]));
            Ok(())
        }
        End::TornTail { offset } => {
            out.end("torn-tail", n, fields(vec![("offset", json!(offset))]));
            Ok(())
        }
        End::Corrupt { offset, why } => {
            out.end("corrupt", n, fields(vec![("offset", json!(offset)), ("why", json!(why))]));
            Err(format!("{name} is corrupt at offset {offset}: {why}"))
        }
    }
}

fn keeper_snapshot(out: &Printer, name: &str, bytes: &[u8]) -> Result<(), String> {
    let snap = decode_snapshot(bytes).map_err(|e| format!("{name}: {e}"))?;
    out.header(
        "keeper-snapshot",
        name,
        fields(vec![
            ("zxid", hex(snap.zxid.0)),
            ("sessions", json!(snap.sessions.len())),
            ("znodes", json!(snap.tree.node_count())),
            ("digest", hex(snap.tree.digest())),
        ]),
    );
    out.tree(&snap.sessions, &snap.tree);
    Ok(())
}

fn zk_log(out: &Printer, name: &str, bytes: &[u8]) -> Result<(), String> {
    let log = parse_log(bytes).map_err(|e| format!("{name}: {e}"))?;
    out.header("zookeeper-log", name, Fields::new());
    out.records(&log.records);
    let n = log.records.len();
    match log.torn_at {
        None => out.end("clean", n, Fields::new()),
        Some(at) if log.tail_is_zeros => {
            out.end("torn-tail", n, fields(vec![("offset", json!(at))]))
        }
        Some(at) => {
            out.end("corrupt", n, fields(vec![("offset", json!(at))]));
            return Err(format!(
                "{name} is corrupt at offset {at}: a damaged entry with data after it"
            ));
        }
    }
    Ok(())
}

fn zk_snapshot(out: &Printer, name: &str, file: &Path, bytes: &[u8]) -> Result<(), String> {
    let snap = parse_snapshot(bytes).map_err(|e| format!("{name}: {e}"))?;
    // ZooKeeper names a snapshot after its zxid; the digest section (3.6+) records it too.
    let from_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("snapshot."))
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .map(Zxid);
    let zxid = from_name.or(snap.digest_zxid).unwrap_or(Zxid::ZERO);
    let importer = ZkImporter::from_snapshot(zxid, &snap).map_err(|e| format!("{name}: {e}"))?;
    let tree = importer.tree();
    out.header(
        "zookeeper-snapshot",
        name,
        fields(vec![
            ("zxid", hex(zxid.0)),
            ("sessions", json!(snap.sessions.len())),
            ("znodes", json!(snap.nodes.len())),
        ]),
    );
    let mut sessions = snap.sessions.clone();
    sessions.sort();
    out.tree(&sessions, tree);
    Ok(())
}
