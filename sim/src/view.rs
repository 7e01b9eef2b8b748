//! `keeper sim view TRACE --html OUT`: a self-contained HTML timeline of one run, read from
//! the JSON-lines trace that `sim run --trace` writes, for a person to look at.
//!
//! One lane per node (its role over time, or down, paused, refused), the faults as marks
//! across every lane, one lane per client with each operation drawn from invocation to
//! completion and coloured by its result, and the checkers' verdicts above, failures in red
//! with the instants their messages name marked on the timeline. Hovering shows details
//! (SVG `<title>`).
//!
//! Invariant: the page loads nothing: no scripts, styles, fonts or images from anywhere,
//! so it can be attached to a bug report and opened offline. Every text taken from the
//! trace is HTML-escaped. Bad lines are errors naming the line, never a panic.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Left margin for lane labels, and the timeline's width, in px.
const LABEL_PX: f64 = 170.0;
const TIMELINE_PX: f64 = 1100.0;
const NODE_LANE_PX: f64 = 26.0;
const CLIENT_LANE_PX: f64 = 16.0;
const AXIS_PX: f64 = 34.0;

/// One trace line.
struct Line {
    t: u64,
    k: String,
    d: String,
}

/// A stretch of time in which a node was in one state.
struct Segment {
    node: u64,
    from: u64,
    to: u64,
    state: String,
}

/// One client operation, from its `op` and `done` lines.
struct ClientOp {
    client: u64,
    what: String,
    invoke: u64,
    done: Option<(u64, i64, String)>,
}

/// Renders the trace text as an HTML page.
pub fn render(trace: &str) -> Result<String, String> {
    let lines = parse(trace)?;
    let end = lines.iter().map(|l| l.t).max().unwrap_or(0).max(1);
    let run = lines.iter().find(|l| l.k == "run").map(|l| l.d.as_str()).unwrap_or("");
    let nodes_declared: u64 = kv(run, "nodes").and_then(|n| n.parse().ok()).unwrap_or(0);
    let segments = node_segments(&lines, end);
    let nodes = segments.iter().map(|s| s.node).max().unwrap_or(0).max(nodes_declared);
    let ops = client_ops(&lines);
    let clients = ops.values().map(|o| o.client + 1).max().unwrap_or(0);
    let checks: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l.k == "check")
        .map(|l| l.d.split_once(' ').unwrap_or((&l.d, "")))
        .collect();
    let marks: Vec<&Line> = lines
        .iter()
        .filter(|l| matches!(l.k.as_str(), "fault" | "damage" | "full" | "refuse" | "crash"))
        .collect();

    let title = format!(
        "keeper sim: {} seed {}",
        kv(run, "scenario").unwrap_or("?"),
        kv(run, "seed").unwrap_or("?")
    );
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>{STYLE}</style>\
         </head><body>\n<h1>{t}</h1>\n<p>{} nodes, {} clients, {} operations, {end} ms simulated</p>\n",
        nodes,
        clients,
        ops.len(),
        t = esc(&title)
    );
    h.push_str("<div class=\"checks\">\n");
    for (name, verdict) in &checks {
        let (class, text) = if *verdict == "ok" { ("ok", "ok") } else { ("fail", *verdict) };
        let _ =
            writeln!(h, "<div class=\"check {class}\"><b>{}</b> {}</div>", esc(name), esc(text));
    }
    h.push_str("</div>\n");

    let height = AXIS_PX + nodes as f64 * NODE_LANE_PX + 8.0 + clients as f64 * CLIENT_LANE_PX;
    let x = |t: u64| LABEL_PX + t as f64 * TIMELINE_PX / end as f64;
    let _ = writeln!(
        h,
        "<svg class=\"timeline\" width=\"{w}\" height=\"{height}\">",
        w = LABEL_PX + TIMELINE_PX + 30.0
    );
    axis(&mut h, end, height, &x);
    for n in 1..=nodes {
        let y = AXIS_PX + (n - 1) as f64 * NODE_LANE_PX;
        let _ = writeln!(
            h,
            "<g class=\"lane node\" data-node=\"{n}\"><text x=\"4\" y=\"{}\">node {n}</text>",
            y + 17.0
        );
        for s in segments.iter().filter(|s| s.node == n) {
            let (x0, x1) = (x(s.from), x(s.to).max(x(s.from) + 1.0));
            let class = state_class(&s.state);
            let _ = writeln!(
                h,
                "<rect class=\"state {class}\" x=\"{x0:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\">\
                 <title>node {n} {} from {} to {} ms</title></rect>",
                y + 3.0,
                x1 - x0,
                NODE_LANE_PX - 6.0,
                esc(&s.state),
                s.from,
                s.to
            );
            if x1 - x0 > 8.0 * s.state.len() as f64 {
                let _ = writeln!(
                    h,
                    "<text class=\"role\" x=\"{:.1}\" y=\"{}\">{}</text>",
                    x0 + 3.0,
                    y + 17.0,
                    esc(&s.state)
                );
            }
        }
        h.push_str("</g>\n");
    }
    let top = AXIS_PX + nodes as f64 * NODE_LANE_PX + 8.0;
    for c in 0..clients {
        let y = top + c as f64 * CLIENT_LANE_PX;
        let _ = writeln!(
            h,
            "<g class=\"lane client\" data-client=\"{c}\"><text x=\"4\" y=\"{}\">client {c}</text>",
            y + 11.0
        );
        for op in ops.values().filter(|o| o.client == c) {
            let (to, class, result) = match &op.done {
                Some((t, err, extra)) => (*t, result_class(*err), format!("err={err} {extra}")),
                None => (end, "pending", "pending at the end".to_string()),
            };
            let (x0, x1) = (x(op.invoke), x(to).max(x(op.invoke) + 1.5));
            let _ = writeln!(
                h,
                "<rect class=\"op {class}\" x=\"{x0:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\">\
                 <title>{} at {} ms: {} ({} ms)</title></rect>",
                y + 2.0,
                x1 - x0,
                CLIENT_LANE_PX - 4.0,
                esc(&op.what),
                op.invoke,
                esc(&result),
                to - op.invoke
            );
        }
        h.push_str("</g>\n");
    }
    for m in &marks {
        let _ = writeln!(
            h,
            "<line class=\"mark {k}\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{AXIS_PX}\" y2=\"{height}\">\
             <title>{t} ms {k}: {d}</title></line>",
            x = x(m.t),
            k = esc(&m.k),
            t = m.t,
            d = esc(&m.d)
        );
    }
    for (name, verdict) in checks.iter().filter(|(_, v)| *v != "ok") {
        for t in instants(verdict).into_iter().filter(|t| *t <= end) {
            let _ = writeln!(
                h,
                "<line class=\"failure\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"0\" y2=\"{height}\">\
                 <title>{} names {t} ms</title></line>",
                esc(name),
                x = x(t)
            );
        }
    }
    h.push_str("</svg>\n");
    legend(&mut h);
    h.push_str("<h2>Faults</h2>\n<ul class=\"faults\">\n");
    for m in &marks {
        let _ = writeln!(h, "<li>{} ms <b>{}</b> {}</li>", m.t, esc(&m.k), esc(&m.d));
    }
    h.push_str("</ul>\n</body></html>\n");
    Ok(h)
}

fn parse(trace: &str) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    for (i, text) in trace.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |why: &str| format!("trace line {}: {why}", i + 1);
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let t = v["t"].as_u64().ok_or_else(|| bad("no time \"t\""))?;
        let k = v["k"].as_str().ok_or_else(|| bad("no kind \"k\""))?.to_string();
        let d = v["d"].as_str().unwrap_or("").to_string();
        out.push(Line { t, k, d });
    }
    if out.is_empty() {
        return Err("the trace is empty".into());
    }
    Ok(out)
}

/// The value of `key=value` among the space-separated words of `d`.
fn kv<'a>(d: &'a str, key: &str) -> Option<&'a str> {
    d.split(' ').find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

fn node_of(d: &str) -> Option<u64> {
    kv(d, "node")?.parse().ok()
}

/// Each node's states over time: down until it starts, its role while up, paused,
/// down after a crash, refused when recovery refused its disk.
fn node_segments(lines: &[Line], end: u64) -> Vec<Segment> {
    let mut open: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    let mut role: BTreeMap<u64, String> = BTreeMap::new();
    let mut out = Vec::new();
    for l in lines {
        let Some(node) = node_of(&l.d) else { continue };
        let up = || role.get(&node).cloned().unwrap_or_else(|| "up".into());
        let next = match (l.k.as_str(), l.d.split(' ').next().unwrap_or("")) {
            ("start", _) | ("unpause", _) => up(),
            ("out", _) if kv(&l.d, "role").is_none() && l.d.contains(" role ") => {
                let r = l.d.rsplit(' ').next().unwrap_or("up").to_string();
                role.insert(node, r.clone());
                r
            }
            ("crash", _) => "down".into(),
            ("refuse", _) => "refused".into(),
            ("fault", "Pause") => "paused".into(),
            _ => continue,
        };
        let (from, state) = open.remove(&node).unwrap_or((0, "down".into()));
        if state == next {
            open.insert(node, (from, state));
        } else {
            out.push(Segment { node, from, to: l.t, state });
            open.insert(node, (l.t, next));
        }
    }
    for (node, (from, state)) in open {
        out.push(Segment { node, from, to: end, state });
    }
    out.retain(|s| s.to > s.from);
    out
}

fn client_ops(lines: &[Line]) -> BTreeMap<u64, ClientOp> {
    let mut ops = BTreeMap::new();
    for l in lines {
        let Some(id) = kv(&l.d, "op").and_then(|v| v.parse::<u64>().ok()) else { continue };
        match l.k.as_str() {
            "op" => {
                let client = kv(&l.d, "client").and_then(|c| c.parse().ok()).unwrap_or(0);
                let what = l.d.split(' ').skip(1).collect::<Vec<_>>().join(" ");
                ops.insert(id, ClientOp { client, what, invoke: l.t, done: None });
            }
            "done" => {
                if let Some(op) = ops.get_mut(&id) {
                    let err = kv(&l.d, "err").and_then(|e| e.parse().ok()).unwrap_or(0);
                    let extra = l.d.split(' ').skip(2).collect::<Vec<_>>().join(" ");
                    op.done = Some((l.t, err, extra));
                }
            }
            _ => {}
        }
    }
    ops
}

/// Every "<digits>ms" in a checker's message: the instants it names.
fn instants(message: &str) -> Vec<u64> {
    message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|w| w.strip_suffix("ms")?.parse().ok())
        .collect()
}

fn state_class(state: &str) -> &'static str {
    match state {
        "down" => "down",
        "paused" => "paused",
        "refused" => "refused",
        "standalone" | "leading" | "leader" => "leading",
        "following" | "follower" => "following",
        "observing" | "observer" => "observing",
        "looking" => "looking",
        _ => "up",
    }
}

fn result_class(err: i64) -> &'static str {
    match err {
        0 => "ok",
        -4 => "loss",
        -112 => "expired",
        _ => "error",
    }
}

fn axis(h: &mut String, end: u64, height: f64, x: &dyn Fn(u64) -> f64) {
    let step = [100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000]
        .into_iter()
        .find(|s| end / s <= 15)
        .unwrap_or(600_000);
    let mut t = 0;
    while t <= end {
        let _ = writeln!(
            h,
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"22\" y2=\"{height}\"/>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"16\">{}s</text>",
            t as f64 / 1000.0,
            x = x(t)
        );
        t += step;
    }
}

fn legend(h: &mut String) {
    h.push_str("<p class=\"legend\">");
    for (class, text) in [
        ("state leading", "leading / standalone"),
        ("state following", "following"),
        ("state looking", "looking"),
        ("state paused", "paused"),
        ("state down", "down"),
        ("state refused", "refused to start"),
        ("op ok", "op ok"),
        ("op error", "op error reply"),
        ("op loss", "connection loss"),
        ("op expired", "session expired"),
        ("op pending", "pending"),
    ] {
        let _ = write!(h, "<span><svg width=\"14\" height=\"10\"><rect class=\"{class}\" width=\"14\" height=\"10\"/></svg> {text}</span> ");
    }
    h.push_str("</p>\n");
}

const STYLE: &str = "body{font:13px sans-serif;margin:16px;color:#222}h1{font-size:18px}\
.check{padding:2px 6px;margin:2px 0}.check.ok{color:#276}.check.fail{background:#fdd;color:#900;\
border-left:4px solid #c00}svg text{font:11px sans-serif}.axis{fill:#666}.grid{stroke:#eee}\
.role{fill:#fff;pointer-events:none}.state.leading{fill:#2a7}.state.following{fill:#37b}\
.state.observing{fill:#3aa}.state.looking{fill:#db3}.state.up{fill:#6a6}.state.paused{fill:#96c}\
.state.down{fill:#ccc}.state.refused{fill:#c33}.op.ok{fill:#8c8}.op.error{fill:#eb5}\
.op.loss{fill:#e44}.op.expired{fill:#a5d}.op.pending{fill:#999}.mark{stroke:#f80;stroke-width:1.5;\
stroke-dasharray:4 2}.mark.crash,.mark.full,.mark.refuse{stroke:#c00}.failure{stroke:#c00;\
stroke-width:3;opacity:.6}.legend span{margin-right:10px;white-space:nowrap}.faults{columns:2}";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_traces_are_errors() {
        assert!(render("").unwrap_err().contains("empty"));
        assert!(render("{\"t\":1}\nnot json").unwrap_err().contains("line 1"));
        assert!(render("{\"t\":1,\"k\":\"x\"}\nnot json").unwrap_err().contains("line 2"));
    }

    #[test]
    fn instants_are_read_from_messages() {
        assert_eq!(instants("lost by node 1 crash at 4000ms, invoked at 12ms"), vec![4000, 12]);
        assert_eq!(kv("op=3 client=1 kind=get", "client"), Some("1"));
        assert_eq!(kv("op=3 xclient=1", "client"), None);
    }
}
