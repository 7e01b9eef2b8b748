//! The `keeper sim` commands as a user runs them: the swarm's exit code and machine-readable
//! last line, one replay command per failure, and `view` writing a page from a real trace.

use std::path::PathBuf;
use std::process::{Command, Output};

fn keeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keeper")).args(args).output().expect("run keeper")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("keeper-sim-cli-{}-{name}", std::process::id()))
}

fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("").to_string()
}

#[test]
fn a_passing_swarm_exits_zero_with_a_key_value_last_line() {
    let out = keeper(&["sim", "swarm", "--seeds", "1..9", "--jobs", "2"]);
    let last = last_line(&out);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(last.starts_with("swarm result=pass scenario=default random=false seeds=1..9 runs=8 passed=8 failed=0 nondeterministic=0 "), "{last}");
    for key in ["sim_s=", "wall_s=", "speed=", "events_per_s="] {
        assert!(last.contains(key), "{key} missing from {last}");
    }
}

/// A node crashed and never restarted: liveness fails on every seed, the swarm exits 1 and
/// prints a replay command per failing seed, and the command it prints does replay it.
#[test]
fn a_failing_swarm_exits_one_and_prints_replay_commands() {
    let path = temp("down.toml");
    let text = "# never restarted\nname = \"down\"\nduration = \"4s\"\n[[fault]]\nat = \"1s\"\n\
                action = \"crash\"\n[expect]\nliveness_ms = 1000\n";
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap();
    let out = keeper(&["sim", "swarm", "--seeds", "5..8", p]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(last_line(&out).starts_with("swarm result=FAIL scenario=down"), "{stdout}");
    assert!(last_line(&out).contains(" failed=3 "), "{stdout}");
    assert!(stdout.contains("liveness"), "failures by checker: {stdout}");
    for seed in 5..8 {
        let replay = format!("keeper sim run {p} --seed {seed}    # liveness: ");
        assert!(stdout.contains(&replay), "no replay line for seed {seed}: {stdout}");
    }
    let replayed = keeper(&["sim", "run", p, "--seed", "6"]);
    assert_eq!(replayed.status.code(), Some(1));
    let text = String::from_utf8_lossy(&replayed.stdout);
    assert!(text.contains("speed") && text.contains("x real time"), "{text}");

    // Shrinking it writes a file whose header names the source and the seed once, and
    // which still fails when run.
    let out_file = temp("down-shrunk.toml");
    let o = out_file.to_str().unwrap();
    let shrunk = keeper(&["sim", "shrink", p, "--seed", "6", "--out", o, "--max-runs", "40"]);
    assert!(shrunk.status.success(), "{}", String::from_utf8_lossy(&shrunk.stderr));
    let file = std::fs::read_to_string(&out_file).unwrap();
    let header = file.lines().next().unwrap();
    assert_eq!(header.matches("--seed").count(), 1, "{header}");
    assert!(header.contains(&format!("from {p} --seed 6")), "{header}");
    assert_eq!(keeper(&["sim", "run", o, "--seed", "6"]).status.code(), Some(1));
    std::fs::remove_file(&out_file).unwrap();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn view_writes_a_page_from_a_trace() {
    let (trace, html) = (temp("t.jsonl"), temp("t.html"));
    let run = keeper(&["sim", "run", "--seed", "3", "--trace", trace.to_str().unwrap()]);
    assert!(run.status.success());
    let out = keeper(&["sim", "view", trace.to_str().unwrap(), "--html", html.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg class=\"timeline\"") && page.contains("data-node=\"1\""));
    let bad = keeper(&["sim", "view", "/nonexistent/trace.jsonl", "--html", "/tmp/x.html"]);
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_file(&trace).unwrap();
    std::fs::remove_file(&html).unwrap();
}
