//! A client history recorded against real processes (tests/ensemble/fault.py), read from
//! JSON lines and judged by the simulator's own client-guarantee checkers plus the
//! acknowledged-write checks that fit a real run.
//!
//! Lines are tagged by `type`: `op` (one client operation: the fields of [`check::Op`]
//! plus the path, the payload written or read, the version seen and, for a conditional
//! setData, the version expected), `final` (one node as one member serves it after every
//! fault has healed and a sync), and `fault` (what the harness did, when). Error codes are
//! ZooKeeper's; -4 marks an outcome the client cannot know (connection loss, session
//! expiry, a reply it gave up waiting for). Invariant: a verdict fails only on something
//! the history proves: an acknowledged write missing, a write applied twice or against
//! its condition, or a session that saw state go backwards.

use std::collections::{BTreeMap, BTreeSet};

use keeper_core::Zxid;
use serde::Deserialize;

use crate::check::{self, Op, Verdict, CONNECTION_LOSS};

/// The op kinds a recorded history may use (the simulator's names).
const KINDS: &[&str] = &[
    "create",
    "create_seq",
    "create_eph",
    "set",
    "delete",
    "multi",
    "get",
    "children",
    "exists",
    "sync",
];

/// One line of a recorded history.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line {
    Op(RawOp),
    Final(FinalNode),
    Fault {
        #[allow(dead_code)]
        t_ms: u64,
        #[allow(dead_code)]
        what: String,
    },
}

#[derive(Debug, Deserialize)]
struct RawOp {
    client: u32,
    session: i64,
    xid: i32,
    kind: String,
    is_write: bool,
    node: u64,
    invoke_ms: u64,
    complete_ms: Option<u64>,
    err: Option<i32>,
    zxid: Option<u64>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    version: Option<i32>,
    #[serde(default)]
    expect: Option<i32>,
}

/// What an op touched beyond [`Op`]: its path, payload, version seen, version expected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Detail {
    pub path: Option<String>,
    pub data: Option<String>,
    pub version: Option<i32>,
    pub expect: Option<i32>,
}

/// One node as member `node` serves it at the end of the run.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct FinalNode {
    pub node: u64,
    pub path: String,
    pub data: String,
    pub version: i32,
}

/// A parsed history: ops (in file order) with their details, and the final trees.
#[derive(Debug, Default)]
pub struct Recorded {
    pub ops: Vec<Op>,
    pub details: Vec<Detail>,
    pub finals: Vec<FinalNode>,
    pub faults: usize,
}

impl Recorded {
    /// Parses JSON lines; a bad line is an error naming its number.
    pub fn parse(text: &str) -> Result<Recorded, String> {
        let mut r = Recorded::default();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let parsed: Line =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            match parsed {
                Line::Op(o) => {
                    let kind = KINDS.iter().find(|k| **k == o.kind).ok_or(format!(
                        "line {}: unknown op kind {:?}",
                        n + 1,
                        o.kind
                    ))?;
                    r.ops.push(Op {
                        client: o.client,
                        session: o.session,
                        xid: o.xid,
                        kind,
                        is_write: o.is_write,
                        node: o.node,
                        invoke_ms: o.invoke_ms,
                        complete_ms: o.complete_ms,
                        err: o.err,
                        zxid: o.zxid.map(Zxid),
                    });
                    r.details.push(Detail {
                        path: o.path,
                        data: o.data,
                        version: o.version,
                        expect: o.expect,
                    });
                }
                Line::Final(f) => r.finals.push(f),
                Line::Fault { .. } => r.faults += 1,
            }
        }
        Ok(r)
    }

    /// Every verdict that applies to a recorded history.
    pub fn verdicts(&self) -> Vec<Verdict> {
        vec![
            check::session_order(&self.ops),
            self.members_agree(),
            self.acked_creates_present(),
            self.creates_applied_once(),
            self.versions_accounted(),
            self.sync_reads_fresh(),
        ]
    }

    fn pairs(&self) -> impl Iterator<Item = (&Op, &Detail)> {
        self.ops.iter().zip(&self.details)
    }

    /// The members whose final trees were read.
    fn members(&self) -> BTreeSet<u64> {
        self.finals.iter().map(|f| f.node).collect()
    }

    /// member → path → (data, version).
    fn trees(&self) -> BTreeMap<u64, BTreeMap<&str, (&str, i32)>> {
        let mut t: BTreeMap<u64, BTreeMap<&str, (&str, i32)>> = BTreeMap::new();
        for f in &self.finals {
            t.entry(f.node).or_default().insert(&f.path, (&f.data, f.version));
        }
        t
    }

    /// Every member serves the same nodes with the same data and versions at the end.
    fn members_agree(&self) -> Verdict {
        let trees = self.trees();
        let mut failure = None;
        if let Some((first, t0)) = trees.iter().next() {
            for (m, t) in &trees {
                if let Some((p, v)) = t0.iter().find(|(p, v)| t.get(*p) != Some(v)) {
                    failure = Some(format!(
                        "member {first} has {p} = {v:?}, member {m} has {:?}",
                        t.get(p)
                    ));
                    break;
                }
                if let Some(p) = t.keys().find(|p| !t0.contains_key(*p)) {
                    failure = Some(format!("member {m} has {p}, member {first} does not"));
                    break;
                }
            }
        }
        Verdict { name: "members-agree", failure }
    }

    /// Every acknowledged create is on every member with the payload it wrote.
    fn acked_creates_present(&self) -> Verdict {
        let trees = self.trees();
        let mut failure = None;
        if trees.is_empty()
            && self.pairs().any(|(o, _)| o.kind.starts_with("create") && o.err == Some(0))
        {
            failure = Some("acknowledged creates but no final tree was recorded".into());
        }
        'ops: for (o, d) in self.pairs() {
            if !o.kind.starts_with("create") || o.err != Some(0) {
                continue;
            }
            let (Some(path), Some(data)) = (&d.path, &d.data) else {
                failure =
                    Some(format!("client {} xid {}: create without path or data", o.client, o.xid));
                break;
            };
            for (m, t) in &trees {
                match t.get(path.as_str()) {
                    Some((got, _)) if got == data => {}
                    other => {
                        failure = Some(format!(
                            "client {} xid {} acked create {path} ({data}) at {:?}: member {m} has {:?}",
                            o.client, o.xid, o.zxid, other
                        ));
                        break 'ops;
                    }
                }
            }
        }
        Verdict { name: "acked-creates-present", failure }
    }

    /// Every node the workload created on a member comes from exactly one create whose
    /// outcome allows it (acknowledged, or unknown): no payload appears twice, and nothing
    /// that failed, or was never asked for, was applied. Nodes not written by a recorded
    /// create (the harness's parents, counters and probes) are out of scope.
    fn creates_applied_once(&self) -> Verdict {
        // payload → (op, detail) of the create that wrote it.
        let mut by_payload = BTreeMap::new();
        for (o, d) in self.pairs().filter(|(o, _)| o.kind.starts_with("create")) {
            if let Some(data) = &d.data {
                by_payload.insert(data.as_str(), (o, d));
            }
        }
        // Paths a create named, and the prefixes of sequential creates.
        let named: BTreeSet<&str> = self
            .pairs()
            .filter(|(o, _)| o.kind.starts_with("create"))
            .filter_map(|(_, d)| d.path.as_deref())
            .collect();
        let claimed = |path: &str| {
            named.contains(path)
                || path.len() > 10 && path.get(..path.len() - 10).is_some_and(|p| named.contains(p))
        };
        let mut failure = None;
        'members: for (m, t) in self.trees() {
            let mut seen = BTreeMap::new();
            for (path, (data, _)) in &t {
                let Some((o, d)) = by_payload.get(data) else {
                    if claimed(path) {
                        failure = Some(format!(
                            "member {m}: {path} holds {data:?}, which no create wrote"
                        ));
                        break 'members;
                    }
                    continue;
                };
                if let Some(other) = seen.insert(*data, *path) {
                    failure = Some(format!(
                        "member {m}: payload {data} of client {} xid {} is at {other} and {path}",
                        o.client, o.xid
                    ));
                    break 'members;
                }
                let ok = matches!(o.err, Some(0) | Some(CONNECTION_LOSS) | None);
                let same_path = match o.kind {
                    "create_seq" if o.err != Some(0) => {
                        d.path.as_ref().is_some_and(|p| path.starts_with(p.as_str()))
                    }
                    _ => d.path.as_deref() == Some(*path),
                };
                if !ok || !same_path {
                    failure = Some(format!(
                        "member {m}: {path} holds payload {data} of client {} xid {} ({} {:?}, err {:?})",
                        o.client, o.xid, o.kind, d.path, o.err
                    ));
                    break 'members;
                }
            }
        }
        Verdict { name: "creates-applied-once", failure }
    }

    /// For every node that conditional setData ops wrote: each version from 1 up to the
    /// final one was made by exactly one acknowledged set that reported it, or by a set of
    /// unknown outcome that expected the version before it; no acknowledged set reports a
    /// version past the final one (lost) or one another acknowledged set reported (applied
    /// twice); the final data is what the set that made the final version wrote; and every
    /// successful read of the node saw a (version, data) pair some set made.
    fn versions_accounted(&self) -> Verdict {
        let mut sets: BTreeMap<&str, Vec<(&Op, &Detail)>> = BTreeMap::new();
        for (o, d) in self.pairs().filter(|(o, _)| o.kind == "set") {
            if let Some(p) = &d.path {
                sets.entry(p).or_default().push((o, d));
            }
        }
        let trees = self.trees();
        let failure = sets.iter().find_map(|(path, ops)| {
            let t = trees.values().next()?;
            let Some(&(data, fin)) = t.get(path) else {
                return Some(format!("{path} was set but is not in the final tree"));
            };
            // version → what may have made it.
            let mut acked: BTreeMap<i32, (&Op, &str)> = BTreeMap::new();
            let mut unknown: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
            for (o, d) in ops {
                let payload = d.data.as_deref().unwrap_or("");
                match o.err {
                    Some(0) => {
                        let (Some(v), Some(e)) = (d.version, d.expect) else {
                            return Some(format!("client {} xid {}: acked set without versions", o.client, o.xid));
                        };
                        if v != e + 1 {
                            return Some(format!(
                                "client {} xid {}: set of {path} expecting version {e} made version {v}",
                                o.client, o.xid
                            ));
                        }
                        if let Some((other, _)) = acked.insert(v, (o, payload)) {
                            return Some(format!(
                                "{path} version {v} acknowledged to client {} xid {} and client {} xid {}",
                                other.client, other.xid, o.client, o.xid
                            ));
                        }
                    }
                    Some(CONNECTION_LOSS) | None => {
                        if let Some(e) = d.expect {
                            unknown.entry(e + 1).or_default().push(payload);
                        }
                    }
                    Some(_) => {}
                }
            }
            if let Some((v, (o, _))) = acked.range(fin + 1..).next() {
                return Some(format!(
                    "{path}: client {} xid {} was acknowledged version {v}, the final version is {fin}",
                    o.client, o.xid
                ));
            }
            if let Some(v) = (1..=fin).find(|v| !acked.contains_key(v) && !unknown.contains_key(v)) {
                return Some(format!("{path}: version {v} (final {fin}) was made by no recorded set"));
            }
            let made = |v: i32, data: &str| {
                (v == 0 && data.is_empty())
                    || acked.get(&v).is_some_and(|(_, p)| *p == data)
                    || (!acked.contains_key(&v) && unknown.get(&v).is_some_and(|ps| ps.contains(&data)))
            };
            if !made(fin, data) {
                return Some(format!("{path}: final version {fin} holds {data:?}, which no set made at {fin}"));
            }
            self.pairs().filter(|(o, d)| o.kind == "get" && o.err == Some(0) && d.path.as_deref() == Some(path)).find_map(
                |(o, d)| match (d.version, d.data.as_deref()) {
                    (Some(v), Some(got)) if !made(v, got) => Some(format!(
                        "client {} xid {} read {path} version {v} = {got:?}, which no set made",
                        o.client, o.xid
                    )),
                    _ => None,
                },
            )
        });
        Verdict { name: "versions-accounted", failure }
    }

    /// A read right after a successful `sync` in the same session sees every set of that
    /// node acknowledged (to any client) before the sync was sent: its version is at least
    /// the highest such acknowledged version. (ZooKeeper's sync brings the member up to
    /// the leader's committed state; an acknowledged write is committed.)
    fn sync_reads_fresh(&self) -> Verdict {
        // path → (completion, version) of acknowledged sets, in completion order.
        let mut acked: BTreeMap<&str, Vec<(u64, i32)>> = BTreeMap::new();
        for (o, d) in self.pairs().filter(|(o, _)| o.kind == "set" && o.err == Some(0)) {
            if let (Some(p), Some(v), Some(t)) = (&d.path, d.version, o.complete_ms) {
                acked.entry(p).or_default().push((t, v));
            }
        }
        for list in acked.values_mut() {
            list.sort_unstable();
        }
        let mut by_session: BTreeMap<i64, Vec<(&Op, &Detail)>> = BTreeMap::new();
        for (o, d) in self.pairs() {
            by_session.entry(o.session).or_default().push((o, d));
        }
        let failure = by_session.values().flat_map(|ops| ops.windows(2)).find_map(|w| {
            let ((s, _), (r, d)) = (w[0], w[1]);
            let synced = s.kind == "sync" && s.err == Some(0) && r.kind == "get" && r.xid == s.xid + 1;
            let (true, Some(0), Some(path), Some(v)) = (synced, r.err, d.path.as_deref(), d.version) else {
                return None;
            };
            let (t, need) = acked
                .get(path)?
                .iter()
                .filter(|(t, _)| *t < s.invoke_ms)
                .max_by_key(|(_, v)| *v)?;
            (v < *need).then(|| {
                format!(
                    "client {} xid {}: read {path} version {v} after a sync sent at {}ms; version {need} was acknowledged at {t}ms",
                    r.client, r.xid, s.invoke_ms
                )
            })
        });
        Verdict { name: "sync-reads-fresh", failure }
    }

    /// One line of counts for the report.
    pub fn summary(&self) -> String {
        let acked = self.ops.iter().filter(|o| o.is_write && o.err == Some(0)).count();
        let unknown = self
            .ops
            .iter()
            .filter(|o| o.is_write && matches!(o.err, Some(CONNECTION_LOSS) | None))
            .count();
        let sessions: BTreeSet<i64> = self.ops.iter().map(|o| o.session).collect();
        format!(
            "history: {} ops in {} sessions ({} writes acknowledged, {} of unknown outcome), {} final nodes on {} members, {} fault events",
            self.ops.len(),
            sessions.len(),
            acked,
            unknown,
            self.finals.len(),
            self.members().len(),
            self.faults
        )
    }
}

/// Reads and judges a history file: the summary line and the verdicts.
pub fn check_file(path: &str) -> Result<(String, Vec<Verdict>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let r = Recorded::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok((r.summary(), r.verdicts()))
}

/// `keeper sim check-history FILE`: prints the summary and each verdict; exit status 0
/// when every checker passed, 1 when one failed, 2 when the file cannot be read.
pub fn check_cmd(path: &str) -> std::process::ExitCode {
    match check_file(path) {
        Err(e) => {
            eprintln!("keeper sim check-history: {e}");
            std::process::ExitCode::from(2)
        }
        Ok((summary, verdicts)) => {
            println!("{summary}");
            for v in &verdicts {
                match &v.failure {
                    None => println!("  {:<24} ok", v.name),
                    Some(f) => println!("  {:<24} FAILED: {f}", v.name),
                }
            }
            if verdicts.iter().all(|v| v.failure.is_none()) {
                println!("check-history: PASS");
                std::process::ExitCode::SUCCESS
            } else {
                println!("check-history: FAIL");
                std::process::ExitCode::from(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One op line: (client, session, xid, kind, write, err, zxid, path, data, version, expect).
    #[allow(clippy::too_many_arguments)]
    fn op(
        client: u32,
        xid: i32,
        kind: &str,
        err: i32,
        zxid: Option<u64>,
        path: &str,
        data: &str,
        version: Option<i32>,
        expect: Option<i32>,
    ) -> String {
        let write = matches!(kind, "create" | "create_seq" | "set");
        let t = u64::try_from(xid).unwrap_or(0) * 10;
        serde_json::json!({
            "type": "op", "client": client, "session": 0x100 + i64::from(client), "xid": xid,
            "kind": kind, "is_write": write, "node": 1 + u64::from(client), "invoke_ms": t,
            "complete_ms": t + 5, "err": err, "zxid": zxid, "path": path, "data": data,
            "version": version, "expect": expect,
        })
        .to_string()
    }

    fn fin(node: u64, path: &str, data: &str, version: i32) -> String {
        serde_json::json!({"type": "final", "node": node, "path": path, "data": data, "version": version})
            .to_string()
    }

    /// A good history: two clients, creates (one of unknown outcome that took effect, one
    /// sequential), conditional sets on /k/0 (one acked, one unknown that took effect, one
    /// BadVersion), reads; two members agree.
    fn good() -> Vec<String> {
        let mut l = vec![
            op(0, 1, "create", 0, Some(0x1_0000_0001), "/w/c0/n1", "a", None, None),
            op(0, 2, "get", 0, Some(0x1_0000_0002), "/k/0", "", Some(0), None),
            op(0, 3, "set", 0, Some(0x1_0000_0003), "/k/0", "s1", Some(1), Some(0)),
            op(0, 4, "get", 0, Some(0x1_0000_0004), "/k/0", "s2", Some(2), None),
            op(1, 1, "create", -4, None, "/w/c1/n1", "b", None, None),
            op(1, 2, "set", -4, None, "/k/0", "s2", None, Some(1)),
            op(1, 3, "set", -103, Some(0x2_0000_0001), "/k/0", "s3", None, Some(0)),
            op(1, 4, "create_seq", 0, Some(0x2_0000_0002), "/s/c1/q-0000000000", "c", None, None),
            op(1, 5, "sync", 0, Some(0x2_0000_0002), "/", "", None, None),
            r#"{"type":"fault","t_ms":7,"what":"kill9 leader 2"}"#.to_string(),
        ];
        for m in [1, 2] {
            l.push(fin(m, "/w/c0/n1", "a", 0));
            l.push(fin(m, "/w/c1/n1", "b", 0));
            l.push(fin(m, "/s/c1/q-0000000000", "c", 0));
            l.push(fin(m, "/k/0", "s2", 2));
        }
        l
    }

    fn failing(lines: &[String]) -> Vec<&'static str> {
        let r = Recorded::parse(&lines.join("\n")).expect("parses");
        r.verdicts().into_iter().filter(|v| v.failure.is_some()).map(|v| v.name).collect()
    }

    #[test]
    fn a_good_history_passes_every_checker() {
        let r = Recorded::parse(&good().join("\n")).expect("parses");
        assert_eq!(r.ops.len(), 9);
        assert_eq!(r.faults, 1);
        assert!(r.verdicts().iter().all(|v| v.failure.is_none()), "{:?}", r.verdicts());
        assert!(r.summary().contains("9 ops in 2 sessions"), "{}", r.summary());
    }

    #[test]
    fn each_checker_fails_on_a_doctored_history() {
        let mut h = good();
        h[3] = op(0, 4, "get", 0, Some(0x1_0000_0001), "/k/0", "s2", Some(2), None);
        assert_eq!(failing(&h), vec!["session-order"], "zxid went backwards in a session");

        let mut h = good();
        h.retain(|l| l != &fin(2, "/w/c0/n1", "a", 0));
        assert_eq!(
            failing(&h),
            vec!["members-agree", "acked-creates-present"],
            "an acked create lost"
        );

        let mut h = good();
        h.push(fin(1, "/w/c0/n9", "a", 0));
        h.push(fin(2, "/w/c0/n9", "a", 0));
        assert_eq!(failing(&h), vec!["creates-applied-once"], "a create applied twice");

        let mut h = good();
        h[6] = op(1, 3, "set", 0, Some(0x2_0000_0001), "/k/0", "s3", Some(1), Some(0));
        assert_eq!(failing(&h), vec!["versions-accounted"], "version 1 acknowledged twice");

        let mut h = good();
        h[5] = op(1, 2, "set", -103, Some(0x2_0000_0000), "/k/0", "s2", None, Some(1));
        assert_eq!(failing(&h), vec!["versions-accounted"], "a failed set took effect");

        let mut h = good();
        h.push(op(1, 6, "get", 0, Some(0x2_0000_0003), "/k/0", "", Some(0), None));
        assert_eq!(failing(&h), vec!["sync-reads-fresh"], "a read after sync missed an acked set");

        let mut h = good();
        h[0] = op(0, 1, "create", -110, Some(0x1_0000_0001), "/w/c0/n1", "a", None, None);
        assert_eq!(failing(&h), vec!["creates-applied-once"], "a failed create took effect");
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let e = Recorded::parse("{\"type\":\"op\"}").unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
        let bad = op(0, 1, "frobnicate", 0, None, "/", "", None, None);
        assert!(Recorded::parse(&bad).unwrap_err().contains("unknown op kind"));
        assert!(Recorded::parse("not json").is_err());
        assert!(check_file("/nonexistent/history.jsonl").is_err());
    }

    #[test]
    fn check_history_command_exits_non_zero_on_a_doctored_history() {
        let dir = std::env::temp_dir().join(format!("keeper-recorded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let good_path = dir.join("good.jsonl");
        std::fs::write(&good_path, good().join("\n")).expect("write");
        let mut bad = good();
        bad[3] = op(0, 4, "get", 0, Some(0x1_0000_0001), "/k/0", "s2", Some(2), None);
        let bad_path = dir.join("bad.jsonl");
        std::fs::write(&bad_path, bad.join("\n")).expect("write");
        let run = |p: &std::path::Path| {
            crate::cli::main(vec!["check-history".into(), p.display().to_string()])
        };
        assert_eq!(run(&good_path), std::process::ExitCode::SUCCESS);
        assert_eq!(run(&bad_path), std::process::ExitCode::from(1));
        std::fs::remove_dir_all(&dir).ok();
    }
}
