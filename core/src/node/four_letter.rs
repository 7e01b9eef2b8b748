//! Four-letter words (`ruok`, `srvr`, `stat`, `mntr`, ...), answered in ZooKeeper 3.8's
//! text formats (ZK-REFERENCE.md §5, checked against a running 3.8 server).
//!
//! The shell only recognises the four bytes; what the answer says is decided here, from
//! the node's own state, and honours `4lw.commands.whitelist` (default: `srvr` only, plus
//! `isro` in read-only mode). Node counts follow ZooKeeper's quirk of counting the root
//! twice (its DataTree maps both "" and "/"), so a fresh server reports 5.

use std::fmt::Write as _;

use super::Node;
use crate::ids::ConnId;
use crate::output::Output;

impl Node {
    pub(super) fn on_four_letter(&mut self, conn: ConnId, cmd: &str) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.received += 1;
        }
        // The backup word hands out every znode, so only naming it enables it (not `*`).
        let backup = cmd == crate::persist::backup::BACKUP_WORD;
        let allowed =
            self.config.four_letter_whitelist.iter().any(|w| (w == "*" && !backup) || w == cmd)
                || (cmd == "isro" && self.config.read_only_mode_enabled);
        let text = if allowed {
            self.render_four_letter(cmd)
        } else {
            format!("{cmd} is not executed because it is not in the whitelist.\n")
        };
        self.emit(Output::Text { conn, text }, None);
        self.close_conn(conn);
    }

    /// The text a four-letter word answers with.
    pub fn render_four_letter(&mut self, cmd: &str) -> String {
        match cmd {
            "ruok" => "imok".to_string(),
            "srvr" => self.srvr(false),
            "stat" => self.srvr(true),
            "mntr" => self.mntr(),
            "conf" => self.conf(),
            "cons" => self.cons(),
            "envi" => self.envi(),
            "wchs" => {
                let (conns, paths, total) = self.watches.summary();
                format!("{conns} connections watching {paths} paths\nTotal watches:{total}\n")
            }
            "wchc" => self.wchc(),
            "wchp" => self.wchp(),
            "dump" => self.dump(),
            "isro" if self.read_only() => "ro".to_string(),
            // ZooKeeper prints null when no server runs (LOOKING, not read-only).
            "isro" if !self.serving() => "null".to_string(),
            "isro" => "rw".to_string(),
            "dirs" => "datadir_size: 0\nlogdir_size: 0\n".to_string(),
            "crst" => {
                self.reset_connection_stats();
                "Connection stats reset.\n".to_string()
            }
            "srst" => {
                self.reset_server_stats();
                "Server stats reset.\n".to_string()
            }
            "hash" => format!("{:x}: {}\n", self.last_zxid.0, self.tree.digest()),
            "gtmk" => "0".to_string(),
            // Labelled with the tree's own zxid, so the image says exactly what it holds.
            "kbak" => crate::persist::backup::encode_backup_text(&crate::persist::encode_snapshot(
                self.tree.last_zxid(),
                &self.sessions.to_snapshot(),
                &self.tree,
            )),
            _ => format!("{cmd} is not executed because it is not in the whitelist.\n"),
        }
    }

    pub(super) fn reported_node_count(&self) -> usize {
        self.tree.node_count() + 1
    }

    fn srvr(&self, with_clients: bool) -> String {
        let s = &self.stats;
        let mut out = format!("Zookeeper version: {}\n", self.config.version_text);
        if with_clients {
            out.push_str("Clients:\n");
            for (id, c) in &self.conns {
                let _ = writeln!(out, " {}", self.conn_brief(*id, c));
            }
            out.push('\n');
        }
        let _ = write!(
            out,
            "Latency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\n\
             Zxid: 0x{:x}\nMode: {}\nNode count: {}\n",
            s.latency_min_ms,
            java_double(s.latency_avg_ms()),
            s.latency_max_ms,
            s.packets_received,
            s.packets_sent,
            self.conns.len(),
            self.held.len(),
            self.last_zxid.0,
            self.mode.as_str(),
            self.reported_node_count(),
        );
        out
    }

    fn conn_brief(&self, id: ConnId, c: &super::Conn) -> String {
        let _ = id;
        format!(
            "/{}[{}](queued=0,recved={},sent={})",
            c.addr,
            u8::from(c.session.is_some()),
            c.received,
            c.sent
        )
    }

    fn cons(&self) -> String {
        let mut out = String::new();
        for (id, c) in &self.conns {
            let brief = self.conn_brief(*id, c);
            match c.session {
                None => {
                    let _ = writeln!(out, " {brief}");
                }
                Some(sid) => {
                    let avg = c.latency_total_ms.checked_div(c.latency_count).unwrap_or(0);
                    let _ = writeln!(
                        out,
                        " {},sid={},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat=0,\
                         minlat={},avglat={},maxlat={})",
                        brief.trim_end_matches(')'),
                        sid,
                        c.last_op,
                        c.established_ms,
                        c.timeout_ms,
                        c.last_cxid,
                        c.last_zxid.0,
                        c.last_response_ms,
                        c.latency_min_ms,
                        avg,
                        c.latency_max_ms
                    );
                }
            }
        }
        out.push('\n');
        out
    }

    fn mntr(&self) -> String {
        let s = &self.stats;
        let lines: Vec<(&str, String)> = vec![
            ("zk_version", self.config.version_text.clone()),
            ("zk_server_state", self.mode.as_str().to_string()),
            ("zk_ephemerals_count", self.tree.ephemeral_count().to_string()),
            ("zk_num_alive_connections", self.conns.len().to_string()),
            ("zk_avg_latency", java_double(s.latency_avg_ms())),
            ("zk_outstanding_requests", self.held.len().to_string()),
            ("zk_znode_count", self.reported_node_count().to_string()),
            ("zk_global_sessions", self.sessions.len().to_string()),
            ("zk_local_sessions", "0".to_string()),
            ("zk_packets_sent", s.packets_sent.to_string()),
            ("zk_packets_received", s.packets_received.to_string()),
            ("zk_watch_count", self.watches.count().to_string()),
            ("zk_min_latency", s.latency_min_ms.to_string()),
            ("zk_max_latency", s.latency_max_ms.to_string()),
            ("zk_approximate_data_size", self.tree.approximate_data_size().to_string()),
            ("zk_last_processed_zxid", self.last_zxid.0.to_string()),
        ];
        let mut lines = lines;
        lines.extend(self.mntr_leader_lines());
        let mut out = String::new();
        for (k, v) in lines {
            let _ = writeln!(out, "{k}\t{v}");
        }
        out
    }

    /// The leader's extra mntr lines (ZooKeeper prints them only on the leader): learners,
    /// followers and how many of them are synced (past UPTODATE), and pending syncs.
    fn mntr_leader_lines(&self) -> Vec<(&'static str, String)> {
        let Some(super::quorum::Role::Leading(l)) = self.quorum.as_ref().map(|q| &q.role) else {
            return Vec::new();
        };
        let synced = |observer: bool| {
            let active = |x: &&super::leader::Link| x.stage == super::leader::Stage::Active;
            l.learners.values().filter(|x| x.observer == observer).filter(active).count()
        };
        let followers = l.learners.values().filter(|x| !x.observer).count();
        vec![
            ("zk_learners", l.learners.len().to_string()),
            ("zk_followers", followers.to_string()),
            ("zk_synced_followers", synced(false).to_string()),
            ("zk_synced_observers", synced(true).to_string()),
            ("zk_pending_syncs", l.pending_syncs().to_string()),
        ]
    }

    fn conf(&self) -> String {
        let c = &self.config;
        format!(
            "clientPort={}\nsecureClientPort=-1\ndataDir={}/version-2\ndataDirSize=0\n\
             dataLogDir={}/version-2\ndataLogSize=0\ntickTime={}\nmaxClientCnxns={}\n\
             minSessionTimeout={}\nmaxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId={}\n",
            c.client_port,
            c.data_dir,
            c.data_log_dir,
            c.tick_time_ms,
            c.max_client_cnxns,
            c.min_session_timeout_ms,
            c.max_session_timeout_ms,
            if self.mode == crate::output::Mode::Standalone { 0 } else { c.server_id.0 },
        )
    }

    fn envi(&self) -> String {
        format!(
            "Environment:\nzookeeper.version={}\nhost.name={}\njava.version=none (keeper is not a JVM)\n\
             java.vendor=keeper\nos.name={}\nos.arch={}\n",
            self.config.version_text,
            self.config.host_name,
            std::env::consts::OS,
            std::env::consts::ARCH,
        )
    }

    fn wchc(&self) -> String {
        let mut by_session: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (path, conns) in self.watches.by_path() {
            for conn in conns {
                let sid = self.conns.get(&conn).and_then(|c| c.session).map(|s| s.to_string());
                by_session
                    .entry(sid.unwrap_or_else(|| "0x0".into()))
                    .or_default()
                    .push(path.clone());
            }
        }
        let mut out = String::new();
        for (sid, paths) in by_session {
            let _ = writeln!(out, "{sid}");
            for p in paths {
                let _ = writeln!(out, "\t{p}");
            }
        }
        out.push('\n');
        out
    }

    fn wchp(&self) -> String {
        let mut out = String::new();
        for (path, conns) in self.watches.by_path() {
            let _ = writeln!(out, "{path}");
            for conn in conns {
                let sid = self.conns.get(&conn).and_then(|c| c.session).map(|s| s.to_string());
                let _ = writeln!(out, "\t{}", sid.unwrap_or_else(|| "0x0".into()));
            }
        }
        out.push('\n');
        out
    }

    fn dump(&self) -> String {
        let mut out = String::from("SessionTracker dump:\n");
        let mut buckets: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
        for s in self.sessions.iter() {
            buckets.entry(s.deadline_tick).or_default().push(s.id.to_string());
        }
        let _ = writeln!(out, "Session Sets ({})/({}):", buckets.len(), self.sessions.len());
        for (tick, ids) in buckets {
            let at_ms = self.wall_ms + tick.saturating_sub(self.now_tick) * self.config.tick_ms;
            let _ = writeln!(out, "{} expire at {}:", ids.len(), java_date(at_ms));
            for id in ids {
                let _ = writeln!(out, "\t{id}");
            }
        }
        out.push_str("ephemeral nodes dump:\n");
        let eph = self.tree.ephemeral_sessions();
        let _ = writeln!(out, "Sessions with Ephemerals ({}):", eph.len());
        for (sid, paths) in eph {
            let _ = writeln!(out, "{sid}:");
            for p in paths {
                let _ = writeln!(out, "\t{p}");
            }
        }
        out.push_str("Connections dump:\n");
        let _ = writeln!(out, "Connections Sets (1)/({}):", self.conns.len());
        for c in self.conns.values() {
            let sid = c.session.map(|s| s.to_string()).unwrap_or_else(|| "0x0".into());
            let _ = writeln!(out, "\tip: /{} sessionId: {}", c.addr, sid);
        }
        out
    }
}

/// Formats a double as Java's `Double.toString` does for the small, 4-decimal values
/// ZooKeeper prints (`0.0`, `1.5`, `0.4167`).
pub(crate) fn java_double(v: f64) -> String {
    let rounded = (v * 10_000.0).round() / 10_000.0;
    let mut s = format!("{rounded:.4}");
    while s.ends_with('0') && !s.ends_with(".0") {
        s.pop();
    }
    s
}

/// Formats epoch milliseconds as Java's `Date.toString` in UTC (`Mon Nov 23 07:49:07 UTC 2026`).
pub fn java_date(epoch_ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = epoch_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[(days.rem_euclid(7)) as usize],
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_formats() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.5), "1.5");
        assert_eq!(java_double(0.416_666), "0.4167");
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-23 07:49:07 UTC, a Monday (seen in a 3.8 `dump`).
        assert_eq!(java_date(1_795_420_147_000), "Mon Nov 23 07:49:07 UTC 2026");
    }
}
