//! Membership changes at run time: the dialers follow the active configuration, and each
//! configuration is written to `zoo.cfg.dynamic.<version>` with zoo.cfg pointed at it.
//!
//! When the core activates a configuration (`ProtocolEvent::Reconfigured`), the node task
//! hands the new [`Ensemble`] to [`Control::reconfigured`]; one task per server (the
//! manager) then, in order of activation:
//! - starts a dialer for each member it should dial and did not (a member added, or one
//!   whose addresses changed) and stops the dialers of members that left, so nothing keeps
//!   redialing a removed server once it is gone. A link that is up is not cut: ZooKeeper
//!   keeps a removed server following as a non-voting learner until it is shut down or
//!   added back, and the core does the same;
//! - with `reconfigEnabled=true` and a zoo.cfg path known, writes the members to
//!   `<zoo.cfg>.dynamic.<version in hex>` and rewrites zoo.cfg to name it in
//!   `dynamicConfigFile=` (keeping `<zoo.cfg>.bak`, the file as it was before the first
//!   rewrite), as ZooKeeper 3.5+ does, so a restarted member starts from the membership it
//!   last saw. Each file is written to a temporary name, synced and renamed.
//!
//! Who dials whom: the higher id dials the lower one (one link per pair), except that a
//! server outside the configuration (one that was removed) dials every member, since no
//! member dials it. Accepting is open to any server id that says hello to this one: a
//! joining server syncs with the leader before `reconfig -add` names it, as in ZooKeeper.
//!
//! Invariant: at any time the running dialers are exactly those [`should_dial`] picks
//! from the newest configuration the manager has seen (zoo.cfg's until the first change).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use keeper_core::config::Ensemble;
use keeper_core::dynamic_config::{
    client_port_in_dynamic, dynamic_file_name, dynamic_text, edit_static_config,
};
use keeper_core::ServerId;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info};

use super::{dial_loop, Member, PeerConfig, PeerEvent};
use crate::storage::replace_file;

/// The node task's handle on the manager.
#[derive(Clone, Debug)]
pub struct Control {
    tx: mpsc::UnboundedSender<Ensemble>,
}

impl Control {
    /// The core activated `ens`: redial and write the files (asynchronously, in order).
    pub fn reconfigured(&self, ens: &Ensemble) {
        let _ = self.tx.send(ens.clone());
    }
}

/// Where the configuration files live, when they are to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFiles {
    /// The static zoo.cfg the server started from.
    pub static_path: PathBuf,
}

/// True when `me` should keep a dialer to `m` under `members` (see the module doc).
pub fn should_dial(me: ServerId, members: &[Member], m: &Member) -> bool {
    m.id != me && (m.id < me || !members.iter().any(|x| x.id == me))
}

/// The members an ensemble lists, with the addresses of their lines (a member without
/// an address line is left out: there is nowhere to dial).
pub fn members_of(ens: &Ensemble) -> Vec<Member> {
    ens.servers
        .iter()
        .map(|(id, line)| Member {
            id: *id,
            host: line.host.clone(),
            quorum_port: line.quorum_port,
            election_port: line.election_port,
            observer: line.observer,
        })
        .collect()
}

/// Starts the manager with zoo.cfg's members; returns its control handle.
pub(super) fn spawn_manager(
    cfg: Arc<PeerConfig>,
    events: mpsc::Sender<PeerEvent>,
    shutdown: watch::Receiver<bool>,
) -> Control {
    let (tx, mut rx) = mpsc::unbounded_channel::<Ensemble>();
    let shutdown_for_manager = shutdown.clone();
    let task = async move {
        let mut dialers: BTreeMap<ServerId, (Member, JoinHandle<()>)> = BTreeMap::new();
        let spawn = |m: &Member, dialers: &mut BTreeMap<ServerId, (Member, JoinHandle<()>)>| {
            let task = dial_loop(m.clone(), cfg.clone(), events.clone());
            let handle = super::spawn_until(task, shutdown.clone());
            dialers.insert(m.id, (m.clone(), handle));
        };
        for m in cfg.members.iter().filter(|m| should_dial(cfg.me, &cfg.members, m)) {
            spawn(m, &mut dialers);
        }
        while let Some(ens) = rx.recv().await {
            let members = members_of(&ens);
            let wanted: Vec<&Member> =
                members.iter().filter(|m| should_dial(cfg.me, &members, m)).collect();
            dialers.retain(|id, (m, handle)| {
                let keep = wanted.iter().any(|w| w.id == *id && *w == m);
                if !keep {
                    info!(peer = %id, "no longer dialing server {id} (configuration changed)");
                    handle.abort();
                }
                keep
            });
            for m in wanted {
                if !dialers.contains_key(&m.id) {
                    info!(peer = %m.id, "dialing server {} (configuration changed)", m.id);
                    spawn(m, &mut dialers);
                }
            }
            if let Some(files) = cfg.files.clone() {
                let me = cfg.me;
                let written =
                    tokio::task::spawn_blocking(move || write_config_files(&files, &ens, me)).await;
                match written {
                    Ok(Ok(path)) => info!(path = %path.display(), "wrote the new configuration"),
                    Ok(Err(e)) => error!("cannot write the new configuration: {e}"),
                    Err(e) => error!("configuration writer failed: {e}"),
                }
            }
        }
        // No more changes can come (the node task is gone): the dialers keep running
        // until shutdown, which also ends this task.
        std::future::pending::<()>().await;
        drop(dialers);
    };
    drop(super::spawn_until(task, shutdown_for_manager)); // detached: ends at shutdown
    Control { tx }
}

/// Writes `ens` to `<zoo.cfg>.dynamic.<version>` and points zoo.cfg at it (module doc).
/// Returns the dynamic file's path.
pub fn write_config_files(
    files: &ConfigFiles,
    ens: &Ensemble,
    me: ServerId,
) -> std::io::Result<PathBuf> {
    let static_path = std::path::absolute(&files.static_path)?;
    let dynamic = PathBuf::from(dynamic_file_name(&static_path.display().to_string(), ens.version));
    replace_file(&dynamic, dynamic_text(ens).as_bytes())?;
    let old = std::fs::read_to_string(&static_path)?;
    let backup = PathBuf::from(format!("{}.bak", static_path.display()));
    if !backup.exists() {
        replace_file(&backup, old.as_bytes())?;
    }
    let erase = client_port_in_dynamic(ens, me);
    let new = edit_static_config(&old, &dynamic.display().to_string(), erase);
    replace_file(&static_path, new.as_bytes())?;
    Ok(dynamic)
}
