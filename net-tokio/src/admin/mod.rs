//! The HTTP endpoints: ZooKeeper's AdminServer (`admin.serverPort`, `/commands/<name>` with
//! JSON bodies) and the Prometheus endpoint (`metricsProvider.httpPort`, `/metrics`).
//!
//! Mirrors ZooKeeper 3.8's `JettyAdminServer` and `PrometheusMetricsProvider` as seen from
//! outside (docs/compatibility.md lists the comparison). Each endpoint is one listener
//! served by hyper's HTTP/1 server; every answer is built from a query to the node task
//! ([`NodeHandle`]) plus the shell's own [`ShellStats`], so nothing here decides anything
//! about ZooKeeper state. Invariants: at most [`MAX_HTTP_CONNECTIONS`] connections are
//! served at once (others wait in the accept queue), a client has [`HEADER_TIMEOUT`] to send
//! its request head, and only GET and HEAD are answered (405 otherwise, as Jetty does).

mod commands;
mod metrics;
mod process;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use keeper_core::zoocfg::ZooCfg;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tracing::{debug, warn, Instrument};

use crate::server::NodeHandle;
use crate::stats::ShellStats;

pub use commands::{command_names, PRIMARY_COMMANDS};

/// HTTP connections served at once per endpoint; monitoring needs few.
pub const MAX_HTTP_CONNECTIONS: usize = 32;
/// Time a client has to send its request line and headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything an endpoint reads: the node (through its task), the shell's statistics and
/// the configuration the server started with.
#[derive(Clone)]
pub struct Sources {
    pub node: NodeHandle,
    pub stats: Arc<ShellStats>,
    pub cfg: Arc<ZooCfg>,
}

/// Which endpoint a listener serves.
#[derive(Clone)]
pub enum Site {
    /// The AdminServer: the command list at `admin.commandURL`, commands below it.
    Admin(Sources),
    /// Prometheus text exposition at `/metrics`.
    Metrics(Sources),
}

/// One HTTP answer before it becomes a hyper response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    fn json(body: String) -> Reply {
        Reply { status: StatusCode::OK, content_type: "application/json", body }
    }
    fn not_found(path: &str) -> Reply {
        Reply {
            status: StatusCode::NOT_FOUND,
            content_type: "text/plain; charset=utf-8",
            body: format!("404 Not Found: {path}\n"),
        }
    }
}

impl Site {
    /// Answers one request (method, path, query string).
    pub async fn answer(&self, method: &Method, path: &str, query: Option<&str>) -> Reply {
        if method != Method::GET && method != Method::HEAD {
            return Reply {
                status: StatusCode::METHOD_NOT_ALLOWED,
                content_type: "text/plain; charset=utf-8",
                body: format!("405 {method} is not supported; use GET\n"),
            };
        }
        match self {
            Site::Admin(src) => commands::answer(src, path, query).await,
            Site::Metrics(src) if path == "/metrics" => metrics::answer(src).await,
            Site::Metrics(_) => Reply::not_found(path),
        }
    }
}

/// Serves `site` on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, site: Site, mut shutdown: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(MAX_HTTP_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "HTTP accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let site = site.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let site = site.clone();
            async move { Ok::<_, Infallible>(respond(&site, req).await) }
        });
        let conn = async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
            drop(permit);
        };
        tokio::spawn(conn.in_current_span());
    }
}

async fn respond(site: &Site, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = site.answer(req.method(), req.uri().path(), req.uri().query()).await;
    debug!(method = %req.method(), path = req.uri().path(), status = reply.status.as_u16(), "HTTP");
    let body = if req.method() == Method::HEAD { Bytes::new() } else { Bytes::from(reply.body) };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = reply.status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(reply.content_type),
    );
    resp
}
