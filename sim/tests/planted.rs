//! Planted bugs (issue 3): each known wrong behaviour is found by a small swarm, so the
//! checkers are shown able to fail on real node behaviour, not only on doctored histories.

use keeper_sim::trace::Trace;
use keeper_sim::{Scenario, Sim};

/// Runs seeds 1..=max of `scenario` and returns the first seed whose run fails `checker`.
fn first_failure(scenario: &Scenario, checker: &str, max: u64) -> Option<u64> {
    (1..=max).find(|seed| {
        let summary = Sim::new(scenario.clone(), *seed, Trace::new(None)).run();
        summary.verdicts.iter().any(|v| v.name == checker && v.failure.is_some())
    })
}

/// ACK before persist: replies leave before their log record is durable, so a crash can
/// take back a write a client was told succeeded. The default scenario (a crash under load)
/// must catch it within 20 seeds, and pass every seed without the plant.
#[test]
fn the_swarm_finds_reply_before_persist() {
    let clean = Scenario::default_scenario();
    assert_eq!(first_failure(&clean, "acked-writes-durable", 5), None, "the real node passes");
    let mut planted = clean.clone();
    planted.planted = vec!["reply-before-persist".into()];
    let found = first_failure(&planted, "acked-writes-durable", 20);
    assert!(found.is_some(), "no seed in 1..=20 caught an acknowledged write lost by a crash");
}

/// Unknown plant names are refused when a scenario is loaded.
#[test]
fn unknown_planted_bugs_are_refused() {
    let text = "name = \"x\"\nduration = \"1s\"\nplanted = [\"no-such-bug\"]\n";
    let err = Scenario::parse(text).unwrap_err();
    assert!(err.contains("unknown planted bug"), "{err}");
}

/// Commit without quorum: a leader commits on its own fsync. Cut off from its followers,
/// it goes on acknowledging writes that the rest of the ensemble never sees, and the next
/// leader's history lacks them. The isolated-leader scenario must catch it within 10
/// seeds, and pass them all without the plant.
#[test]
fn the_swarm_finds_commit_without_quorum() {
    let text = include_str!("../../scenarios/isolated-leader.toml");
    let clean = Scenario::parse(text).unwrap();
    assert_eq!(first_failure(&clean, "committed-survives", 5), None, "the real node passes");
    let mut planted = clean.clone();
    planted.planted = vec!["commit-without-quorum".into()];
    let found = first_failure(&planted, "committed-survives", 10);
    assert!(found.is_some(), "no seed in 1..=10 caught a write committed without a quorum");
}
