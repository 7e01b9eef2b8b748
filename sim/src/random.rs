//! Random scenarios for `keeper sim swarm --random`: each seed draws its own workload, disk
//! and network model, fault mix and fault rate, so that a swarm explores combinations no one
//! wrote down (FoundationDB's and TigerBeetle's swarm testing: vary the rates per run, not
//! only the schedule).
//!
//! Invariants: the result is a pure function of (base, seed), drawn from one ChaCha stream
//! with its own label, and it always passes `Scenario::validate`. Every kind in
//! `Action::ALL` can be drawn; `faults_for` matches on the kind without a wildcard, so a new
//! kind does not compile until it says how to draw it. Each fault starts in the first half
//! of the run and heals within 4s (crashes are followed by restarts, latency spikes by a
//! return to normal), so the liveness checker has time to judge the rest; only damage
//! caught by a checksum keeps its node down, by design.

use rand_chacha::rand_core::Rng;
use rand_chacha::ChaCha8Rng;

use crate::engine::{between, stream};
use crate::scenario::{Action, Disk, Fault, Mix, Network, Scenario, Trigger, Workload};

/// The stream label for scenario generation, apart from the engine's own labels.
const STREAM_RANDOM_SCENARIO: u64 = 100;
/// The stream label for drawing a cluster shape (its own, so shapes do not move the rest).
const STREAM_RANDOM_SHAPE: u64 = 101;

/// Draws a cluster shape for `seed` on top of `base` (what `--random` without a scenario
/// file runs): one run in six standalone, the rest an ensemble of 3 or 5 participants,
/// half of them with one or two observers (ids after the participants).
pub fn shape(base: &Scenario, seed: u64) -> Scenario {
    let mut rng = stream(seed, STREAM_RANDOM_SHAPE, 0);
    if coin(&mut rng, 6) {
        return Scenario { nodes: 1, observers: Vec::new(), ..base.clone() };
    }
    let participants = if coin(&mut rng, 2) { 3 } else { 5 };
    let observers = if coin(&mut rng, 2) { between(&mut rng, 1, 2) } else { 0 };
    Scenario {
        nodes: participants + observers,
        observers: (participants + 1..=participants + observers).collect(),
        ..base.clone()
    }
}
/// At most this many drawn faults per run (each may expand into two or three entries).
const MAX_FAULTS: u64 = 12;

/// Draws a scenario for `seed`. The cluster shape and anything that is not a rate (node
/// count, tick, planted bugs) come from `base`; everything else is drawn.
pub fn scenario(base: &Scenario, seed: u64) -> Scenario {
    let mut rng = stream(seed, STREAM_RANDOM_SCENARIO, 0);
    let duration_ms = between(&mut rng, 10, 20) * 1000;
    let session_timeout_ms = [2000, 4000, 6000, 10_000][between(&mut rng, 0, 3) as usize];
    let mut sc = Scenario {
        name: format!("{}-random-{seed}", base.name),
        session_timeout_ms,
        snap_count: if coin(&mut rng, 3) { Some(between(&mut rng, 10, 200)) } else { None },
        duration: format!("{duration_ms}ms"),
        clock_drift: drift(&mut rng, base.nodes),
        workload: workload(&mut rng, base.nodes > 1),
        disk: disk(&mut rng),
        network: network(&mut rng, base.nodes),
        faults: Vec::new(),
        ..base.clone()
    };
    sc.faults = faults(&mut rng, &sc, duration_ms);
    // Ops cut off by a fault may take a session timeout and a reconnect to finish.
    sc.expect.liveness_ms = 5000.max(session_timeout_ms as u64 + 2000);
    debug_assert!(Scenario::parse(&sc.to_toml()).is_ok(), "a drawn scenario is valid");
    sc
}

/// True with probability 1/n.
fn coin(rng: &mut ChaCha8Rng, n: u64) -> bool {
    between(rng, 1, n) == 1
}

fn drift(rng: &mut ChaCha8Rng, nodes: u64) -> Vec<f64> {
    if !coin(rng, 4) {
        return Vec::new();
    }
    // Factors between 0.8 and 1.25, in hundredths so the TOML stays readable.
    (0..nodes).map(|_| between(rng, 80, 125) as f64 / 100.0).collect()
}

/// In an ensemble each session offers at most 40 ops/s: a session's reads wait behind its
/// writes (FIFO order), so one session on a follower or observer is served one commit
/// round trip at a time whenever it alternates writes and reads (seed 83 of the random
/// swarm: a single session at 100 ops/s on a follower fell further behind every second),
/// and a busier session is overload, which no liveness bound can be asked to hold.
fn workload(rng: &mut ChaCha8Rng, ensemble: bool) -> Workload {
    const PER_SESSION: u32 = 40;
    // Log-uniform rate: as many quiet runs as busy ones.
    let ops_per_sec: u32 = [10, 20, 50, 100, 200, 500][between(rng, 0, 5) as usize];
    let mut w = || between(rng, 0, 20) as u32;
    let mut mix = Mix {
        create: w(),
        create_seq: w(),
        create_eph: w(),
        set: w(),
        delete: w(),
        multi: w(),
        get: w(),
        children: w(),
        exists: w(),
        sync: w(),
    };
    mix.create = mix.create.max(1); // something to read, set and delete
    mix.get = mix.get.max(1);
    let clients = between(rng, 1, 8) as u32;
    let clients = if ensemble { clients.max(ops_per_sec.div_ceil(PER_SESSION)) } else { clients };
    Workload { clients, ops_per_sec, mix }
}

fn disk(rng: &mut ChaCha8Rng) -> Disk {
    let lo = between(rng, 0, 5);
    Disk { fsync_ms: [lo, lo + between(rng, 0, 20)], torn_tail: coin(rng, 2) }
}

fn network(rng: &mut ChaCha8Rng, nodes: u64) -> Network {
    let lo = between(rng, 0, 3);
    // Loss between servers only matters to an ensemble: up to 5%, in thousandths.
    let loss = if nodes > 1 && coin(rng, 4) { between(rng, 1, 50) as f64 / 1000.0 } else { 0.0 };
    Network { latency_ms: [lo, lo + between(rng, 0, 10)], loss }
}

/// The fault schedule: a per-seed rate and a per-seed weight for every kind.
fn faults(rng: &mut ChaCha8Rng, sc: &Scenario, duration_ms: u64) -> Vec<Fault> {
    let weights: Vec<u64> = Action::ALL.iter().map(|_| between(rng, 0, 4)).collect();
    let total: u64 = weights.iter().sum();
    // Faults start in the first half and end within 4s, so the rest is judged healed.
    let window_ms = duration_ms / 2;
    let per_sec_tenths = between(rng, 0, 15);
    let count = (per_sec_tenths * window_ms / 10_000).min(MAX_FAULTS);
    let mut out = Vec::new();
    for _ in 0..count {
        if total == 0 {
            break;
        }
        let mut pick = rng.next_u64() % total;
        let kind = Action::ALL
            .iter()
            .zip(&weights)
            .find(|(_, w)| {
                let hit = pick < **w;
                pick = pick.saturating_sub(**w);
                hit
            })
            .map(|(k, _)| *k)
            .expect("pick < total");
        let at = between(rng, 500, window_ms);
        let node = between(rng, 1, sc.nodes);
        out.extend(faults_for(kind, rng, sc, at, node));
    }
    // At most one crash fires on an event (two firing close together could leave no
    // majority while both are down).
    let mut triggered = 0;
    for f in out.iter_mut().filter(|f| f.action == Action::Crash && f.on.is_some()) {
        triggered += 1;
        if triggered > 1 {
            f.on = None;
            f.role = Some("leader".into());
        }
    }
    // Stable: entries drawn together at the same instant keep their order.
    out.sort_by_key(Fault::at_ms);
    out
}

/// The entries one drawn fault of `kind` becomes. Every entry ends within 4s of `at`.
/// In an ensemble a crash, pause or isolation names the leader one time in three (resolved
/// when it fires), and a crash is followed by restarting every node (a restart of a node
/// that is up does nothing), since which node the role named is known only then.
fn faults_for(kind: Action, rng: &mut ChaCha8Rng, sc: &Scenario, at: u64, node: u64) -> Vec<Fault> {
    let ensemble = sc.nodes > 1;
    let role = if ensemble && coin(rng, 3) { Some("leader".to_string()) } else { None };
    let f = |at: u64, action: Action| Fault {
        at: format!("{at}ms"),
        action,
        node,
        role: None,
        groups: Vec::new(),
        from: Vec::new(),
        to: Vec::new(),
        rate: None,
        duration: None,
        ms: None,
        record: None,
        add: Vec::new(),
        remove: Vec::new(),
        client: None,
        on: None,
    };
    let lasting = |at: u64, action: Action, for_ms: u64| Fault {
        duration: Some(format!("{for_ms}ms")),
        ..f(at, action)
    };
    let by_role = |fault: Fault| Fault { role: role.clone(), ..fault };
    let restart_all = |at: u64| -> Vec<Fault> {
        if ensemble && role.is_some() {
            (1..=sc.nodes).map(|n| Fault { node: n, ..f(at, Action::Restart) }).collect()
        } else {
            vec![f(at, Action::Restart)]
        }
    };
    let heal_within_3s = |rng: &mut ChaCha8Rng| f(at + between(rng, 200, 3000), Action::Heal);
    match kind {
        // In an ensemble one crash in four fires on a protocol step of a random server
        // instead of at a time (that server crashes), and every server restarts later.
        // It is armed for 1.5s; every server restarts after that, so it always heals.
        Action::Crash if ensemble && coin(rng, 4) => {
            let until = Some(format!("{}ms", at + 1500));
            let on = Trigger { until, ..protocol_step(rng, sc.nodes, false) };
            let crash =
                Fault { on: Some(on), role: Some("trigger".into()), ..f(at, Action::Crash) };
            let back = at + between(rng, 1501, 4000);
            let mut out = vec![crash];
            out.extend((1..=sc.nodes).map(|n| Fault { node: n, ..f(back, Action::Restart) }));
            out
        }
        Action::Crash => {
            let back = at + between(rng, 0, 3000);
            let mut out = vec![by_role(f(at, Action::Crash))];
            out.extend(restart_all(back));
            out
        }
        // Lose one message of a drawn kind (a standalone node has no peers: nothing).
        Action::Drop if ensemble => {
            vec![Fault { on: Some(protocol_step(rng, sc.nodes, true)), ..f(at, Action::Drop) }]
        }
        Action::Drop => Vec::new(),
        // A bounce: crash and restart at the same instant.
        Action::Restart => {
            let mut out = vec![by_role(f(at, Action::Crash))];
            out.extend(restart_all(at));
            out
        }
        Action::Pause => {
            let max = (sc.session_timeout_ms as u64 * 3 / 2).min(4000);
            vec![by_role(lasting(at, Action::Pause, between(rng, 100, max)))]
        }
        Action::SlowFsync => vec![Fault {
            ms: Some(between(rng, 10, 500)),
            ..lasting(at, Action::SlowFsync, between(rng, 200, 3000))
        }],
        Action::Latency => {
            let calm = sc.network.latency_ms[1];
            let spike = Fault { ms: Some(calm + between(rng, 10, 200)), ..f(at, Action::Latency) };
            let heal = Fault { ms: Some(calm), ..f(at + between(rng, 200, 3000), Action::Latency) };
            vec![spike, heal]
        }
        // One time in three a bridge: one server left out of both groups reaches them all.
        Action::Partition => {
            let (mut a, mut b) = split(rng, sc.nodes);
            if sc.nodes >= 3 && coin(rng, 3) {
                let bridge = between(rng, 1, sc.nodes);
                a.retain(|n| *n != bridge);
                b.retain(|n| *n != bridge);
            }
            let groups = [a, b].into_iter().filter(|g| !g.is_empty()).collect();
            vec![Fault { groups, ..f(at, Action::Partition) }, heal_within_3s(rng)]
        }
        Action::OneWay => {
            let (from, to) = split(rng, sc.nodes);
            vec![Fault { from, to, ..f(at, Action::OneWay) }, heal_within_3s(rng)]
        }
        Action::Isolate => vec![by_role(f(at, Action::Isolate)), heal_within_3s(rng)],
        Action::Heal => vec![f(at, Action::Heal)],
        Action::Loss => {
            let rate = between(rng, 1, 300) as f64 / 1000.0;
            let back = f(at + between(rng, 200, 3000), Action::Loss);
            vec![
                Fault { rate: Some(rate), ..f(at, Action::Loss) },
                Fault { rate: Some(0.0), ..back },
            ]
        }
        // Never the newest record: damage there reads as a torn tail, which no checksum can
        // tell from a write the crash interrupted (docs/scenarios.md, `corrupt`).
        Action::Corrupt => {
            let damage = Fault { record: Some(between(rng, 2, 20)), ..f(at, Action::Corrupt) };
            let crash = at + between(rng, 0, 1000);
            vec![damage, f(crash, Action::Crash), f(crash + between(rng, 0, 1000), Action::Restart)]
        }
        Action::DiskFull => {
            let for_ms = between(rng, 100, 2000);
            let back = at + for_ms + between(rng, 0, 1000);
            vec![lasting(at, Action::DiskFull, for_ms), f(back, Action::Restart)]
        }
        // Remove a server (participant or observer) through a client's reconfig, and add it
        // back 0.2..3 s later (a standalone server cannot be reconfigured). Either is skipped
        // if no session is up at that instant; the trace says so.
        Action::Reconfig if ensemble => {
            let back = at + between(rng, 200, 3000);
            vec![
                Fault { remove: vec![node], ..f(at, Action::Reconfig) },
                Fault { add: vec![node], ..f(back, Action::Reconfig) },
            ]
        }
        Action::Reconfig => Vec::new(),
        // A session walking away is a scenario of its own (its ephemerals must expire).
        Action::Abandon => Vec::new(),
    }
}

/// A protocol step to trigger on: a message sent (for a drop, always a message), a write
/// becoming durable, or a leader establishing itself; counted 1 to 10 times.
fn protocol_step(rng: &mut ChaCha8Rng, nodes: u64, message: bool) -> Trigger {
    const MSGS: [&str; 10] = [
        "proposal",
        "commit",
        "ack",
        "newleader",
        "leaderinfo",
        "ackepoch",
        "uptodate",
        "diff",
        "inform",
        "learnerinfo",
    ];
    const WRITES: [&str; 4] = ["append", "accepted_epoch", "current_epoch", "truncate"];
    let node = coin(rng, 2).then(|| between(rng, 1, nodes));
    let count = Some(between(rng, 1, 10));
    let kind = if message { 0 } else { between(rng, 0, 2) };
    match kind {
        0 => Trigger {
            event: "send".into(),
            node,
            msg: Some(MSGS[between(rng, 0, MSGS.len() as u64 - 1) as usize].into()),
            peer: coin(rng, 2).then(|| between(rng, 1, nodes)),
            count,
            ..Trigger::default()
        },
        1 => Trigger {
            event: "durable".into(),
            node,
            write: Some(WRITES[between(rng, 0, WRITES.len() as u64 - 1) as usize].into()),
            count,
            ..Trigger::default()
        },
        _ => Trigger { event: "established".into(), node, count: Some(1), ..Trigger::default() },
    }
}

/// Splits nodes 1..=n into two groups, each non-empty when n > 1 (with n = 1 the second is).
fn split(rng: &mut ChaCha8Rng, n: u64) -> (Vec<u64>, Vec<u64>) {
    let mut ids: Vec<u64> = (1..=n).collect();
    for i in (1..ids.len()).rev() {
        ids.swap(i, between(rng, 0, i as u64) as usize);
    }
    let k = if n > 1 { between(rng, 1, n - 1) as usize } else { 1 };
    let b = ids.split_off(k);
    ids.sort_unstable();
    let mut b = b;
    b.sort_unstable();
    (ids, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_scenarios_are_valid_and_reproducible() {
        let base = Scenario::default_scenario();
        for seed in 0..200 {
            let sc = scenario(&base, seed);
            let back =
                Scenario::parse(&sc.to_toml()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(back, sc, "seed {seed}: TOML round trip");
            assert_eq!(scenario(&base, seed), sc, "seed {seed}: same seed, same scenario");
            let shaped = scenario(&shape(&base, seed), seed);
            assert!(Scenario::parse(&shaped.to_toml()).is_ok(), "seed {seed}: shaped is valid");
            assert!(sc.last_fault_end_ms() < sc.duration_ms(), "seed {seed}: faults end in time");
            // A triggered crash is disarmed before the restarts drawn with it.
            let shaped = scenario(&shape(&base, seed), seed);
            for f in shaped.faults.iter().filter(|f| f.action == Action::Crash && f.on.is_some()) {
                let until = f.on.as_ref().unwrap().until_ms();
                let mut restarts = shaped.faults.iter().filter(|r| r.action == Action::Restart);
                assert!(restarts.any(|r| r.at_ms() > until), "seed {seed}: no restart after");
            }
        }
    }

    #[test]
    fn every_fault_kind_is_drawn_and_rates_vary() {
        // An ensemble: a standalone node has no messages to drop.
        let base = Scenario { nodes: 3, ..Scenario::default_scenario() };
        let mut seen = std::collections::BTreeSet::new();
        let mut counts = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let sc = scenario(&base, seed);
            seen.extend(sc.faults.iter().map(|f| f.action));
            counts.insert(sc.faults.len());
        }
        // Not drawn: `abandon` (a scenario of its own).
        let drawn: Vec<Action> =
            Action::ALL.into_iter().filter(|a| !matches!(a, Action::Abandon)).collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), drawn);
        assert!(counts.contains(&0) && counts.len() > 10, "fault counts {counts:?}");
    }

    #[test]
    fn shapes_cover_standalone_three_five_and_observers() {
        let base = Scenario::default_scenario();
        let shapes: std::collections::BTreeSet<(u64, usize)> =
            (0..100).map(|seed| shape(&base, seed)).map(|s| (s.nodes, s.observers.len())).collect();
        for want in [(1, 0), (3, 0), (5, 0), (4, 1), (5, 2), (6, 1), (7, 2)] {
            assert!(shapes.contains(&want), "no {want:?} in {shapes:?}");
        }
        // A drawn ensemble's faults include bridge partitions (a server in no group).
        let bridged = (0..400).any(|seed| {
            let sc = scenario(&shape(&base, seed), seed);
            sc.faults.iter().any(|f| {
                f.action == Action::Partition
                    && f.groups.iter().map(Vec::len).sum::<usize>() < sc.nodes as usize
            })
        });
        assert!(bridged, "no bridge partition drawn");
    }
}
