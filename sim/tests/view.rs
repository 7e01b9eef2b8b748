//! `keeper sim view`: a real trace renders to a self-contained page with the lanes, faults,
//! client operations and checker verdicts a person needs to read the run.

use keeper_sim::trace::MemorySink;
use keeper_sim::{Scenario, Sim};

/// Runs `sc` with `seed`: whether every checker passed, and the trace text.
fn trace_of(sc: Scenario, seed: u64) -> (bool, String) {
    let sink = MemorySink::new();
    let s = Sim::new(sc, seed, sink.trace()).run();
    let text = sink.text();
    (s.passed(), text)
}

#[test]
fn a_passing_run_renders_lanes_faults_and_ops() {
    let (passed, trace) = trace_of(Scenario::default_scenario(), 1);
    assert!(passed);
    let html = keeper_sim::view::render(&trace).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<title>keeper sim: default seed 1</title>"));
    assert!(html.contains("<g class=\"lane node\" data-node=\"1\">"), "a lane for node 1");
    assert!(html.contains("class=\"state leading\""), "node 1 standalone while up");
    assert!(html.contains("class=\"state down\""), "node 1 down between crash and restart");
    assert!(html.contains("<title>node 1 down from 4000 to 5000 ms</title>"));
    assert!(html.contains("class=\"mark crash\""), "the crash marked on the timeline");
    for c in 0..3 {
        assert!(html.contains(&format!("data-client=\"{c}\"")), "a lane for client {c}");
    }
    assert!(html.matches("class=\"op ok\"").count() > 500, "client ops drawn");
    assert!(html.contains("class=\"op loss\""), "ops cut off by the crash");
    assert!(html.contains("<div class=\"check ok\"><b>liveness</b> ok</div>"));
    assert!(!html.contains("check fail"));
    // Self-contained: nothing to fetch.
    for external in ["http:", "https:", "<script", "<link", "<img", "url("] {
        assert!(!html.contains(external), "the page must not load {external}");
    }
}

#[test]
fn a_failing_checker_is_highlighted_at_the_instant_it_names() {
    let mut sc = Scenario::default_scenario();
    sc.planted = vec!["reply-before-persist".into()];
    let (passed, trace) = (1..=20)
        .map(|seed| trace_of(sc.clone(), seed))
        .find(|(passed, _)| !passed)
        .expect("the planted bug fails some seed in 1..=20");
    assert!(!passed);
    let html = keeper_sim::view::render(&trace).unwrap();
    assert!(html.contains("<div class=\"check fail\"><b>acked-writes-durable</b> client"));
    // The message names the crash at 4000ms; the page draws a failure line there.
    assert!(html.contains("<line class=\"failure\""), "failure instant drawn");
    assert!(html.contains("acked-writes-durable names 4000 ms"));
}

#[test]
fn text_from_the_trace_is_escaped() {
    let trace =
        "{\"d\":\"seed=1 nodes=1 duration_ms=10 scenario=<b>x</b>\",\"k\":\"run\",\"t\":0}\n\
                 {\"d\":\"liveness client <i> stuck at 5ms\",\"k\":\"check\",\"t\":10}\n";
    let html = keeper_sim::view::render(trace).unwrap();
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x</b>"));
    assert!(html.contains("client &lt;i&gt; stuck"));
}
