//! How `keeper inspect` shows one transaction, session or znode: first as a JSON object
//! (the `--json` output), then as one text line rendered from that same object, so the two
//! outputs can never disagree.
//!
//! Fields keep their order ([`Fields`]): text lines print them as built (serde_json's map
//! sorts keys; its order-keeping feature would change the simulator's trace bytes too).
//!
//! Zxids and session ids are hex strings as ZooKeeper's logs print them (`0x1a`); times
//! are UTC ISO 8601; data is shown as text when it is printable UTF-8 and as hex
//! otherwise (`data_hex`), null data as `null`. Text lines cut data at
//! [`TEXT_DATA_BYTES`]; JSON keeps all of it.

use bytes::Bytes;
use keeper_core::persist::txn_codec::txn_type;
use keeper_core::proto::{op, perms, Acl, Stat};
use keeper_core::txn::{Txn, TxnRecord};
use serde_json::{json, Map, Value};

/// Named values in the order they print.
pub type Fields = Vec<(String, Value)>;

/// Builds [`Fields`] from literal names.
pub fn fields(pairs: Vec<(&str, Value)>) -> Fields {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The JSON object of some fields (keys sorted, as JSON readers do not care).
pub fn to_map(f: Fields) -> Map<String, Value> {
    f.into_iter().collect()
}

/// Data bytes shown on a text line before it is cut.
pub const TEXT_DATA_BYTES: usize = 64;

/// One log record as a JSON object.
pub fn record_json(rec: &TxnRecord) -> Fields {
    let mut m = fields(vec![
        ("zxid", hex(rec.header.zxid.0)),
        ("time", Value::String(utc(rec.header.time_ms))),
        ("session", hex(rec.header.session.0 as u64)),
        ("cxid", json!(rec.header.cxid)),
    ]);
    let mut body = txn_json(&rec.txn);
    // type and path lead the body; the header's fields go first.
    m.append(&mut body);
    m
}

/// A txn body: its type, path and details.
pub fn txn_json(txn: &Txn) -> Fields {
    let mut m = Fields::new();
    m.push(("type".into(), Value::String(type_name(txn).into())));
    match txn {
        Txn::CreateSession { timeout_ms } => {
            m.push(("timeout_ms".into(), json!(timeout_ms)));
        }
        Txn::CloseSession => {}
        Txn::Create { path, data, acl, ephemeral_owner, parent_cversion } => {
            m.push(("path".into(), Value::String(path.clone())));
            insert_data(&mut m, data);
            m.push(("acl".into(), acl_json(acl)));
            m.push(("ephemeral_owner".into(), hex(*ephemeral_owner as u64)));
            m.push(("parent_cversion".into(), json!(parent_cversion)));
        }
        Txn::Delete { path } => {
            m.push(("path".into(), Value::String(path.clone())));
        }
        Txn::SetData { path, data, version } => {
            m.push(("path".into(), Value::String(path.clone())));
            insert_data(&mut m, data);
            m.push(("version".into(), json!(version)));
        }
        Txn::SetAcl { path, acl, version } => {
            m.push(("path".into(), Value::String(path.clone())));
            m.push(("acl".into(), acl_json(acl)));
            m.push(("aversion".into(), json!(version)));
        }
        Txn::Check { path, version } => {
            m.push(("path".into(), Value::String(path.clone())));
            m.push(("version".into(), json!(version)));
        }
        Txn::Error { err } => {
            m.push(("err".into(), json!(err)));
        }
        Txn::Multi(subs) => {
            let ops = subs.iter().map(|t| Value::Object(to_map(txn_json(t)))).collect();
            m.push(("ops".into(), Value::Array(ops)));
        }
    }
    m
}

/// One znode as a JSON object, with its client-visible Stat.
pub fn node_json(path: &str, data: Option<&Bytes>, acl: &[Acl], stat: &Stat) -> Fields {
    let mut m = Fields::new();
    m.push(("path".into(), Value::String(path.into())));
    insert_data(&mut m, &data.cloned());
    m.push(("acl".into(), acl_json(acl)));
    m.push(("czxid".into(), hex(stat.czxid as u64)));
    m.push(("mzxid".into(), hex(stat.mzxid as u64)));
    m.push(("pzxid".into(), hex(stat.pzxid as u64)));
    m.push(("ctime".into(), Value::String(utc(stat.ctime))));
    m.push(("mtime".into(), Value::String(utc(stat.mtime))));
    m.push(("version".into(), json!(stat.version)));
    m.push(("cversion".into(), json!(stat.cversion)));
    m.push(("aversion".into(), json!(stat.aversion)));
    m.push(("ephemeral_owner".into(), hex(stat.ephemeral_owner as u64)));
    m.push(("data_length".into(), json!(stat.data_length)));
    m.push(("num_children".into(), json!(stat.num_children)));
    m
}

/// A JSON object as one text line: the leading fields bare (`0x5 create /a`), the rest
/// as `key=value`.
pub fn text_line(m: &Fields, bare: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for key in bare {
        if let Some((_, v)) = m.iter().find(|(k, _)| k == key) {
            parts.push(value_text(key, v));
        }
    }
    for (k, v) in m {
        if !bare.contains(&k.as_str()) {
            parts.push(format!("{k}={}", value_text(k, v)));
        }
    }
    parts.join(" ")
}

/// A zxid, session id or owner as ZooKeeper prints them.
pub fn hex(v: u64) -> Value {
    Value::String(format!("0x{v:x}"))
}

/// Milliseconds since the epoch as UTC ISO 8601 (proleptic Gregorian, no time zone data).
pub fn utc(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) =
        (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

fn value_text(key: &str, v: &Value) -> String {
    match v {
        Value::String(s) if key == "data" => {
            let cut: String = s.chars().take(TEXT_DATA_BYTES).collect();
            let more = if cut.len() < s.len() { "..." } else { "" };
            format!("{cut:?}{more}")
        }
        Value::String(s) if key == "data_hex" && s.len() > 2 * TEXT_DATA_BYTES => {
            format!("{}...", &s[..2 * TEXT_DATA_BYTES])
        }
        Value::String(s) if s.is_empty() || s.contains(char::is_whitespace) => format!("{s:?}"),
        Value::String(s) => s.clone(),
        Value::Array(items) if key == "ops" => {
            let ops: Vec<String> = items
                .iter()
                .map(|o| match o {
                    Value::Object(m) => {
                        let f: Fields = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        text_line(&f, &["type", "path"])
                    }
                    other => other.to_string(),
                })
                .collect();
            format!("[{}]", ops.join("; "))
        }
        Value::Array(items) => {
            items.iter().map(|i| value_text("", i)).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

fn insert_data(m: &mut Fields, data: &Option<Bytes>) {
    match data {
        None => {
            m.push(("data".into(), Value::Null));
        }
        Some(d) => match std::str::from_utf8(d) {
            Ok(s) if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
                m.push(("data".into(), Value::String(s.into())));
            }
            _ => {
                let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
                m.push(("data_hex".into(), Value::String(hex)));
            }
        },
    }
}

fn acl_json(acl: &[Acl]) -> Value {
    Value::Array(
        acl.iter()
            .map(|a| {
                Value::String(format!("{}:{}:{}", a.id.scheme, a.id.id, perm_letters(a.perms)))
            })
            .collect(),
    )
}

/// zkCli's letters for a permission mask (`cdrwa`).
fn perm_letters(p: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| p & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

fn type_name(txn: &Txn) -> &'static str {
    match txn_type(txn) {
        op::CREATE_SESSION => "createSession",
        op::CLOSE_SESSION => "closeSession",
        op::CREATE => "create",
        op::DELETE => "delete",
        op::SET_DATA => "setData",
        op::SET_ACL => "setACL",
        op::CHECK => "check",
        op::ERROR => "error",
        op::MULTI => "multi",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn binary_data_is_hex_and_text_is_quoted() {
        let mut m = Fields::new();
        insert_data(&mut m, &Some(Bytes::from_static(&[0, 0xff])));
        assert_eq!(text_line(&m, &[]), "data_hex=00ff");
        let mut m = Fields::new();
        insert_data(&mut m, &Some(Bytes::from_static(b"a b")));
        assert_eq!(text_line(&m, &[]), "data=\"a b\"");
        assert_eq!(perm_letters(perms::ALL), "cdrwa");
        assert_eq!(perm_letters(perms::READ | perms::ADMIN), "ra");
    }
}
