//! A seeded random walk over a four-server ensemble that reconfigures itself under load:
//! writes through the leader, reconfigs that add and remove observer and participant 4
//! (and remove and re-add 1..3), crashes and restarts, message loss by crash, and time.
//! After healing every seed must end with one leader, every member agreeing on the tree,
//! and every acknowledged write present.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

fn tweak(cfg: &mut Config) {
    cfg.reconfig_enabled = true;
    cfg.skip_acl = true;
    if cfg.server_id == ServerId(4) {
        cfg.ensemble = Some(Ensemble::new((1..=4).map(ServerId), [], 50));
    }
}

fn roll(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    rand::Rng::next_u64(rng) % n
}

fn leader(c: &Cluster) -> Option<u64> {
    (1..=4).find(|id| c.mode(*id) == Some(Mode::Leader))
}

const CHANGES: [(Option<&str>, Option<&str>); 6] = [
    (Some("server.4=127.0.0.1:1:2:observer;127.0.0.1:3"), None),
    (Some("server.4=127.0.0.1:1:2:participant;127.0.0.1:3"), None),
    (None, Some("4")),
    (None, Some("1")),
    (Some("server.1=127.0.0.1:1:2:participant;127.0.0.1:3"), None),
    (None, Some("2")),
];

fn run(seed: u64) -> Result<(), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Cluster::new(&[]);
    c.tweak = tweak;
    for id in 1..=4 {
        c.start(id);
    }
    c.ticks(20);
    let mut next_conn = 100;
    let mut writes: Vec<(u64, ConnId, i32, String)> = Vec::new();
    let mut reconfigs = 0;
    for step in 0..60 {
        match roll(&mut rng, 10) {
            0..=3 => {
                if let Some(l) = leader(&c) {
                    next_conn += 1;
                    if let Some(k) = c.try_client(l, next_conn) {
                        let path = format!("/w{step}");
                        c.create(l, k, 1, &path);
                        c.pump();
                        writes.push((l, k, 1, path));
                    }
                }
            }
            4 | 5 => {
                if let Some(l) = leader(&c) {
                    next_conn += 1;
                    if let Some(k) = c.try_client(l, next_conn) {
                        let (joining, leaving) = CHANGES[roll(&mut rng, 6) as usize];
                        let req = Request::Reconfig {
                            joining: joining.map(str::to_string),
                            leaving: leaving.map(str::to_string),
                            new_members: None,
                            cur_config_id: -1,
                        };
                        c.input(l, Input::ClientRequest { conn: k, xid: Xid(1), req, wall_ms: 0 });
                        c.pump();
                        reconfigs += 1;
                    }
                }
            }
            6 => {
                let id = 1 + roll(&mut rng, 4);
                if c.nodes[id as usize - 1].is_some() {
                    c.crash(id);
                }
            }
            7 => {
                let id = 1 + roll(&mut rng, 4);
                if c.nodes[id as usize - 1].is_none() {
                    c.start(id);
                }
            }
            _ => {
                let n = 1 + roll(&mut rng, 30) as usize;
                c.ticks(n);
            }
        }
    }
    for id in 1..=4 {
        if c.nodes[id as usize - 1].is_none() {
            c.start(id);
        }
    }
    c.ticks(300);
    let l = leader(&c).ok_or_else(|| {
        let state: Vec<_> = (1..=4)
            .map(|i| {
                let n = c.node(i);
                let e = n.ensemble().expect("replicated");
                (i, n.mode(), format!("{:x}", e.version), e.participants.clone(), n.last_zxid())
            })
            .collect();
        format!("no leader after healing ({reconfigs} reconfigs): {state:?}")
    })?;
    let ens = c.node(l).ensemble().expect("replicated").clone();
    let leaders = (1..=4).filter(|id| c.mode(*id) == Some(Mode::Leader)).count();
    if leaders != 1 {
        return Err(format!("{leaders} leaders"));
    }
    for id in ens.participants.iter().chain(ens.observers.iter()).map(|s| s.0) {
        if id > 4 {
            continue;
        }
        let n = c.node(id);
        if n.ensemble().map(|e| e.version) != Some(ens.version) {
            let e = n.ensemble().expect("replicated");
            return Err(format!(
                "member {id} ({:?}) runs config {:x} {:?}/{:?}, leader {l} runs {:x} {:?}/{:?}",
                n.mode(),
                e.version,
                e.participants,
                e.observers,
                ens.version,
                ens.participants,
                ens.observers
            ));
        }
        if n.tree().digest() != c.node(l).tree().digest() {
            return Err(format!("node {id} differs from leader {l}"));
        }
    }
    for (node, conn, xid, path) in &writes {
        if c.acked(*node, *conn, *xid) && !c.has(l, path) {
            return Err(format!("acknowledged {path} lost"));
        }
    }
    Ok(())
}

/// 300 seeds in `cargo test` (about a second); `KEEPER_RECONFIG_SEEDS=N` runs more.
#[test]
fn reconfig_under_load_with_crashes_over_300_seeds() {
    let seeds: u64 =
        std::env::var("KEEPER_RECONFIG_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let failures: Vec<String> = (0..seeds)
        .filter_map(|seed| run(seed).err().map(|e| format!("seed {seed}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
}
