//! Event-triggered faults fire on the protocol step they name, at most once, and not
//! before they are armed; `drop` loses exactly the matched message; bad triggers are
//! refused when the scenario is loaded.

use keeper_sim::trace::Trace;
use keeper_sim::{Scenario, Sim};

const BASE: &str = r#"
name = "triggers"
nodes = 3
duration = "6s"
[workload]
clients = 3
ops_per_sec = 100
mix = { create = 5, set = 5, get = 5 }
"#;

/// Runs `faults` on the base ensemble and returns the trace lines and the summary.
fn run(faults: &str, seed: u64) -> (Vec<String>, keeper_sim::Summary) {
    let sc = Scenario::parse(&format!("{BASE}{faults}")).unwrap();
    let path =
        std::env::temp_dir().join(format!("keeper-triggers-{}-{seed}.jsonl", std::process::id()));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let s = Sim::new(sc, seed, Trace::new(Some(Box::new(file)))).run();
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    (text.lines().map(str::to_string).collect(), s)
}

fn kind<'a>(lines: &'a [String], k: &str) -> Vec<&'a String> {
    let tag = format!("\"k\":\"{k}\"");
    lines.iter().filter(|l| l.contains(&tag)).collect()
}

#[test]
fn a_crash_fires_right_after_the_durable_current_epoch() {
    let faults = r#"
[[fault]]
action = "crash"
role = "trigger"
on = { event = "durable", write = "current_epoch", node = 2 }
[[fault]]
at = "3s"
action = "restart"
node = 2
"#;
    let (lines, s) = run(faults, 1);
    let fired = kind(&lines, "trigger");
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].contains("on durable node=2 current_epoch"), "{}", fired[0]);
    // The crash is node 2's, at the trigger's instant, and node 2 never acknowledged the
    // NEWLEADER whose epoch it had just made durable in that incarnation.
    let crash = kind(&lines, "crash");
    assert!(crash[0].contains("node=2"), "{crash:?}");
    let t = |l: &str| l.rsplit("\"t\":").next().unwrap().trim_end_matches('}').to_string();
    assert_eq!(t(fired[0]), t(crash[0]));
    assert!(s.passed(), "{:?}", s.verdicts);
}

#[test]
fn a_drop_loses_only_the_matched_commit() {
    let faults = r#"
[[fault]]
action = "drop"
on = { event = "send", msg = "commit", zxid = "1:40" }
"#;
    let (lines, s) = run(faults, 2);
    let drops = kind(&lines, "drop");
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert!(drops[0].contains(" commit"), "{}", drops[0]);
    let to = drops[0].split("to=").nth(1).unwrap().split(' ').next().unwrap().to_string();
    assert_eq!(kind(&lines, "trigger").len(), 1, "a trigger fires once");
    // Exactly one COMMIT of 1:40 went out (to the other follower); the connection to the
    // one that lost it broke: it hears PeerDown afterwards (the connection is made again),
    // and the ensemble recovers (every checker passes).
    let got =
        lines.iter().filter(|l| l.contains(" peer from=") && l.contains("Commit(0x100000028)"));
    assert_eq!(got.count(), 1, "one of the two COMMITs of 1:40 arrives");
    let at = lines.iter().position(|l| l.contains("\"k\":\"drop\"")).unwrap();
    let down = format!("node={to} PeerDown");
    assert!(lines[at..].iter().any(|l| l.contains(&down)), "node {to} never saw the break");
    assert!(s.passed(), "{:?}", s.verdicts);
}

#[test]
fn a_trigger_waits_until_it_is_armed() {
    // Proposals flow from the first second; armed at 4s, the crash must come after it.
    let faults = r#"
[[fault]]
at = "4s"
action = "crash"
role = "trigger"
on = { event = "send", msg = "proposal" }
"#;
    let (lines, _) = run(faults, 3);
    let crash = kind(&lines, "crash");
    assert_eq!(crash.len(), 1, "{crash:?}");
    let t: u64 = crash[0].rsplit("\"t\":").next().unwrap().trim_end_matches('}').parse().unwrap();
    assert!(t >= 4000, "fired at {t}ms, armed at 4000ms");
}

#[test]
fn a_trigger_that_never_matches_never_fires() {
    let faults = r#"
[[fault]]
action = "crash"
node = 1
on = { event = "send", msg = "proposal", zxid = "9:9" }
"#;
    let (lines, s) = run(faults, 4);
    assert!(kind(&lines, "trigger").is_empty());
    assert!(kind(&lines, "crash").is_empty());
    assert!(s.passed(), "{:?}", s.verdicts);
}

#[test]
fn bad_triggers_are_refused() {
    for (fault, want) in [
        ("action = \"drop\"", "drop needs on"),
        ("action = \"crash\"\non = { event = \"nope\" }", "unknown event"),
        ("action = \"drop\"\non = { event = \"durable\" }", "drop needs on"),
        ("action = \"crash\"\non = { event = \"send\", msg = \"letter\" }", "msg \"letter\""),
        ("action = \"crash\"\non = { event = \"send\", zxid = \"one\" }", "bad zxid"),
        ("action = \"crash\"\non = { event = \"durable\", write = \"diary\" }", "write \"diary\""),
        ("action = \"crash\"\non = { event = \"send\", peer = 9 }", "no node 9"),
        ("action = \"crash\"\nrole = \"trigger\"", "needs an `on` event"),
    ] {
        let text = format!("{BASE}[[fault]]\n{fault}\n");
        let err = Scenario::parse(&text).unwrap_err();
        assert!(err.contains(want), "{fault}: {err}");
    }
}

/// Each ZooKeeper-history scenario (scenarios/zk-*.toml), and each scenario whose triggers
/// are witnesses of the path it exists for (SNAP, truncation, an observer's DIFF), passes
/// with fixed seeds, and every event-triggered fault in it fires: a trigger that never
/// fires would leave the bug's window (or the path) untested while the scenario passed.
const WITNESSED: [&str; 3] =
    ["far-behind-follower-snap.toml", "deposed-leader-trunc.toml", "lagging-observer.toml"];

#[test]
fn zookeeper_history_scenarios_fire_their_triggers_and_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("zk-") || WITNESSED.contains(&name)
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 5 + WITNESSED.len(), "{paths:?}");
    for path in paths {
        let sc = Scenario::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let triggers = sc.faults.iter().filter(|f| f.on.is_some()).count();
        assert!(triggers > 0, "{}: no event-triggered fault", path.display());
        for seed in 0..3 {
            let tmp = std::env::temp_dir().join(format!(
                "keeper-zk-{}-{seed}-{}.jsonl",
                std::process::id(),
                sc.name
            ));
            let file = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
            let s = Sim::new(sc.clone(), seed, Trace::new(Some(Box::new(file)))).run();
            let text = std::fs::read_to_string(&tmp).unwrap();
            let _ = std::fs::remove_file(&tmp);
            let fired = text.lines().filter(|l| l.contains("\"k\":\"trigger\"")).count();
            assert_eq!(fired, triggers, "{} seed {seed}: triggers fired", path.display());
            assert!(s.passed(), "{} seed {seed}: {:?}", path.display(), s.verdicts);
        }
    }
}
