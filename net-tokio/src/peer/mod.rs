//! The server-to-server transport of an ensemble: listeners, dialers and one TCP link per
//! pair of servers carrying [`keeper_core::peer_codec`] frames.
//!
//! What the core relies on (see `keeper_core::peer` and the simulator's `engine/peers.rs`)
//! and how this module keeps it:
//! - **One ordered connection per pair.** Every message between two servers, votes and
//!   Zab alike, travels on the same link, so per-pair order holds across both kinds. Only
//!   the server with the higher id dials (ZooKeeper's rule for election connections), so
//!   there is never a second link for a pair; a new link from a peer replaces the old one.
//!   The dialers follow the active configuration ([`members`]: a server outside it dials
//!   every member, and links from servers outside it are accepted).
//! - **PeerDown on every break.** Each link has a generation. The node task feeds
//!   `Input::Peer` only for the current generation of that peer, and feeds exactly one
//!   `Input::PeerDown` when the current generation ends (EOF, error, a bad frame, a full
//!   send queue, nothing heard for syncLimit, or replacement by a newer link), before
//!   anything of the next generation.
//! - **Bounded sends.** Each link's queue holds at most [`LINK_QUEUE_FRAMES`] frames and
//!   [`LINK_QUEUE_BYTES`] bytes (one frame larger than that is let through an empty
//!   queue: a SNAP). A send that does not fit breaks the link instead of waiting, so a
//!   slow or dead peer never stalls the node task or the other links.
//!
//! A message sent while there is no link to its peer is dropped, as a dead connection
//! would lose it; the core resends votes and restarts a sync on its own timers. The one
//! exception is the peer's latest vote, which is kept (one per peer, a newer one replaces
//! it) and sent first on the next link, as ZooKeeper's QuorumCnxManager keeps one
//! notification per server: it is what the sender would send on a new connection anyway,
//! and it spares a full resend interval when links come up after the election started. Both the
//! quorum and the election port accept links; keeper's dialers use the election port.
//! Nothing here decides anything about the protocol: it moves bytes (STYLE.md §11).

mod link;
pub mod members;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keeper_core::peer::PeerMsg;
use keeper_core::peer_codec::{self, Hello};
use keeper_core::{Input, ServerId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn, Instrument};

pub use link::run_link;
pub use members::{ConfigFiles, Control};

/// Frames one link may hold unsent before it is broken.
pub const LINK_QUEUE_FRAMES: usize = 16 * 1024;
/// Bytes one link may hold unsent before it is broken.
pub const LINK_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Peer events waiting for the node task; past it, link readers wait.
pub const EVENT_QUEUE: usize = 4096;
/// First and largest wait between two dials of the same peer.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long a dial, and the hello on an accepted connection, may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where one member listens, from its `server.N` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: ServerId,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
}

/// The ensemble as this server's configuration describes it.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    pub me: ServerId,
    /// Every member, this server included, sorted by id.
    pub members: Vec<Member>,
    /// Largest frame accepted from a peer.
    pub max_frame: usize,
    /// A link on which nothing arrives for this long is broken (syncLimit as a duration);
    /// each end sends a keepalive after a third of it without other traffic. `None`: never.
    pub idle: Option<Duration>,
    /// Where to write each new configuration (`reconfigEnabled=true`), if anywhere.
    pub files: Option<ConfigFiles>,
}

impl PeerConfig {
    /// This server's own line.
    pub fn own(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.id == self.me)
    }
    fn shape(&self) -> Vec<(ServerId, bool)> {
        self.members.iter().map(|m| (m.id, m.observer)).collect()
    }
    /// Checks a hello from an accepted connection: `Ok(peer id)` or why it is refused.
    /// A server id outside the configuration is accepted (a server about to be added, or
    /// one removed that still follows; see [`members`]).
    fn check_hello(&self, hello: &Hello) -> Result<ServerId, String> {
        if hello.to != self.me {
            return Err(format!("hello meant for server {}, this is {}", hello.to, self.me));
        }
        if hello.from == self.me {
            return Err(format!("server {} says it is this server", hello.from));
        }
        if hello.members != self.shape() {
            // Dynamic reconfiguration changes the member list: tell, but do not refuse.
            debug!(peer = %hello.from, theirs = ?hello.members, ours = ?self.shape(),
                "peer lists a different set of members");
        }
        Ok(hello.from)
    }
    /// The hello this server opens a link to `to` with (and sends as a keepalive).
    fn hello_to(&self, to: ServerId) -> Hello {
        Hello { from: self.me, to, members: self.shape() }
    }
}

/// What link tasks tell the node task, in per-link order.
pub enum PeerEvent {
    /// The transport's control handle, sent once before anything else.
    Attach(Control),
    /// A link to `id` is up; sends go to `out` from now on.
    Up { id: ServerId, out: LinkOut },
    /// A message read from link `generation`.
    Msg { id: ServerId, generation: u64, msg: PeerMsg },
    /// Link `generation` ended.
    Down { id: ServerId, generation: u64 },
}

/// The node task's end of one link: its generation, queue, and queued bytes.
pub struct LinkOut {
    generation: u64,
    tx: mpsc::Sender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
}

/// The node task's view of the links: which generation is current per peer.
///
/// Invariant: for each peer, the inputs this router produces are the messages of one
/// generation, then exactly one `PeerDown`, then those of a later generation.
#[derive(Default)]
pub struct PeerRouter {
    links: BTreeMap<ServerId, LinkOut>,
    /// The latest vote for each peer that had no link when it was sent.
    waiting_votes: BTreeMap<ServerId, PeerMsg>,
    /// The transport's membership manager, once attached.
    control: Option<Control>,
    /// The core reported a new configuration that the transport has not been given yet.
    reconfigured: bool,
}

impl PeerRouter {
    /// Turns a link event into the inputs the node should see (possibly none).
    pub fn event(&mut self, ev: PeerEvent) -> Vec<Input> {
        match ev {
            PeerEvent::Attach(control) => {
                self.control = Some(control);
                Vec::new()
            }
            PeerEvent::Up { id, out } => {
                info!(peer = %id, generation = out.generation, "peer link up");
                let mut inputs = match self.links.insert(id, out) {
                    // Dropping the old sender closes the old link.
                    Some(_) => vec![Input::PeerDown { id }],
                    None => Vec::new(),
                };
                if let Some(vote) = self.waiting_votes.remove(&id) {
                    inputs.extend(self.send(id, &vote));
                }
                inputs
            }
            PeerEvent::Msg { id, generation, msg } => {
                if self.current(id) == Some(generation) {
                    tracing::trace!(peer = %id, ?msg, "received");
                    vec![Input::Peer { from: id, msg: Box::new(msg) }]
                } else {
                    Vec::new()
                }
            }
            PeerEvent::Down { id, generation } => {
                if self.current(id) == Some(generation) {
                    info!(peer = %id, generation, "peer link down");
                    self.links.remove(&id);
                    vec![Input::PeerDown { id }]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Drops every link (each one closes; its late events are ignored) and every waiting
    /// vote: for a node that starts over in the same process.
    pub fn break_all(&mut self) {
        self.links.clear();
        self.waiting_votes.clear();
    }

    /// Notes `ProtocolEvent::Reconfigured`; the node task then calls [`Self::apply_config`]
    /// with the node's configuration once the outputs of the input are routed.
    pub fn note_reconfigured(&mut self) {
        self.reconfigured = true;
    }

    /// Hands the active configuration to the transport if the core changed it.
    pub fn apply_config(&mut self, ens: Option<&keeper_core::config::Ensemble>) {
        if std::mem::take(&mut self.reconfigured) {
            if let (Some(control), Some(ens)) = (&self.control, ens) {
                control.reconfigured(ens);
            }
        }
    }

    fn current(&self, id: ServerId) -> Option<u64> {
        self.links.get(&id).map(|l| l.generation)
    }

    /// Queues `msg` for `to`. Returns the `PeerDown` to deliver when the link had to be
    /// broken because its queue is full or gone; a message to a peer without a link is
    /// dropped.
    pub fn send(&mut self, to: ServerId, msg: &PeerMsg) -> Option<Input> {
        let link = match self.links.get(&to) {
            Some(l) => l,
            None => {
                if let PeerMsg::Vote(_) = msg {
                    self.waiting_votes.insert(to, msg.clone());
                } else {
                    debug!(peer = %to, kind = msg.kind(), "no link; message dropped");
                }
                return None;
            }
        };
        tracing::trace!(peer = %to, ?msg, "sending");
        let mut frame = Vec::new();
        peer_codec::encode_msg(msg, &mut frame);
        let len = frame.len();
        let queued = link.queued.load(Ordering::Acquire);
        let fits = queued == 0 || queued + len <= LINK_QUEUE_BYTES;
        if fits {
            link.queued.fetch_add(len, Ordering::AcqRel);
            match link.tx.try_send(frame) {
                Ok(()) => return None,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    // The link's writer already ended (the connection broke); its own
                    // PeerDown may not have reached the node yet.
                    debug!(peer = %to, kind = msg.kind(), "link ended; message dropped");
                    self.links.remove(&to);
                    return Some(Input::PeerDown { id: to });
                }
                Err(mpsc::error::TrySendError::Full(_)) => {}
            }
        }
        warn!(peer = %to, queued, "peer is not keeping up (send queue full); breaking the link");
        self.links.remove(&to);
        Some(Input::PeerDown { id: to })
    }
}

/// Generations are unique per process.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// The quorum and election listeners, bound at start-up.
pub struct PeerListeners {
    pub quorum: TcpListener,
    pub election: TcpListener,
}

/// Binds this server's quorum and election ports on the host of its `server.N` line.
pub async fn bind(cfg: &PeerConfig) -> std::io::Result<PeerListeners> {
    let own = cfg.own().ok_or_else(|| {
        std::io::Error::other(format!("server.{} is not in the configuration", cfg.me))
    })?;
    let bind = |port: u16| {
        let host = own.host.clone();
        async move {
            TcpListener::bind((host.as_str(), port)).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {host}:{port}: {e}"))
            })
        }
    };
    Ok(PeerListeners {
        quorum: bind(own.quorum_port).await?,
        election: bind(own.election_port).await?,
    })
}

/// Starts the listeners' accept loops and the membership manager with one dialer per
/// lower-id member; returns the receiver of their events, whose first is the manager's
/// [`PeerEvent::Attach`]. Everything stops when `shutdown` turns true.
pub fn start(
    cfg: Arc<PeerConfig>,
    listeners: PeerListeners,
    shutdown: watch::Receiver<bool>,
) -> mpsc::Receiver<PeerEvent> {
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    for (port, listener) in [("quorum", listeners.quorum), ("election", listeners.election)] {
        if let Ok(addr) = listener.local_addr() {
            info!(%addr, "listening for peers on the {port} port");
        }
        let task = accept_loop(listener, cfg.clone(), tx.clone());
        drop(spawn_until(task, shutdown.clone())); // detached: ends at shutdown
    }
    let control = members::spawn_manager(cfg, tx.clone(), shutdown);
    let _ = tx.try_send(PeerEvent::Attach(control));
    rx
}

fn spawn_until(
    task: impl std::future::Future<Output = ()> + Send + 'static,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(
        async move {
            tokio::select! {
                _ = task => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
        }
        .in_current_span(),
    )
}

async fn accept_loop(listener: TcpListener, cfg: Arc<PeerConfig>, events: mpsc::Sender<PeerEvent>) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "peer accept failed");
                tokio::time::sleep(BACKOFF_MIN).await;
                continue;
            }
        };
        let cfg = cfg.clone();
        let events = events.clone();
        tokio::spawn(
            async move {
                match link::read_hello(stream, &cfg).await {
                    Ok((id, stream, rest)) => {
                        debug!(peer = %id, %addr, "accepted peer link");
                        run_link(id, next_generation(), stream, rest, &cfg, &events).await;
                    }
                    Err(why) => warn!(%addr, "refused peer connection: {why}"),
                }
            }
            .in_current_span(),
        );
    }
}

/// Keeps one link to `peer` (a lower id) up: dial, hello, run the link, back off, again.
async fn dial_loop(peer: Member, cfg: Arc<PeerConfig>, events: mpsc::Sender<PeerEvent>) {
    let mut backoff = BACKOFF_MIN;
    let hello = cfg.hello_to(peer.id);
    loop {
        let addr = (peer.host.as_str(), peer.election_port);
        let started = tokio::time::Instant::now();
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                let mut first = Vec::new();
                peer_codec::encode_hello(&hello, &mut first);
                run_link_dialled(peer.id, stream, first, &cfg, &events).await;
                if events.is_closed() {
                    return;
                }
                // A link that lasted a while earns a quick redial; one refused at once
                // backs off like a failed dial.
                if started.elapsed() > Duration::from_secs(2) {
                    backoff = BACKOFF_MIN;
                }
            }
            Ok(Err(e)) => debug!(peer = %peer.id, error = %e, "dial failed"),
            Err(_) => debug!(peer = %peer.id, "dial timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn run_link_dialled(
    id: ServerId,
    stream: TcpStream,
    hello: Vec<u8>,
    cfg: &PeerConfig,
    events: &mpsc::Sender<PeerEvent>,
) {
    let mut stream = stream;
    use tokio::io::AsyncWriteExt;
    if stream.write_all(&hello).await.is_err() {
        return;
    }
    run_link(id, next_generation(), stream, Vec::new(), cfg, events).await;
}

#[cfg(test)]
mod tests;
