//! Output formats of zkCli.sh (ZooKeeper 3.8): stats, dates, ACLs, errors, watch events.
//!
//! Pure functions from values to text so they can be golden-tested. Invariant: each text
//! matches what zkCli prints for the same value, byte for byte, except that dates are
//! always printed in UTC (zkCli uses the JVM's local zone; keeper's hosts run in UTC).

use keeper_core::error::KeeperError;
use keeper_core::proto::{perms, Acl, EventType, Stat, WatchedEvent};

/// A stat as `stat`, `get -s` and `ls -s` print it (one field a line, trailing newline).
pub fn format_stat(stat: &Stat) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\n\
         cversion = {}\ndataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\n\
         dataLength = {}\nnumChildren = {}\n",
        stat.czxid,
        java_date(stat.ctime),
        stat.mzxid,
        java_date(stat.mtime),
        stat.pzxid,
        stat.cversion,
        stat.version,
        stat.aversion,
        stat.ephemeral_owner,
        stat.data_length,
        stat.num_children,
    )
}

/// Milliseconds since the epoch as Java's `Date.toString()` prints them in UTC:
/// `Mon Nov 23 07:00:00 UTC 2026`.
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        y
    )
}

/// Perm letters in zkCli's order (`ZKUtil.getPermString`): c, d, r, w, a.
pub fn perm_string(bits: i32) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ] {
        if bits & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// An ACL list as `getAcl` prints it: `'scheme,'id` then `: perms`, per entry.
pub fn format_acl(acl: &[Acl]) -> String {
    acl.iter()
        .map(|a| format!("'{},'{}\n: {}\n", a.id.scheme, a.id.id, perm_string(a.perms)))
        .collect()
}

/// The message zkCli prints for a failed command on `path` (`CliWrapperException`).
pub fn error_message(err: KeeperError, path: &str) -> String {
    match err {
        KeeperError::NoNode => format!("Node does not exist: {path}"),
        KeeperError::BadVersion => format!("version No is not valid : {path}"),
        KeeperError::NodeExists => format!("Node already exists: {path}"),
        KeeperError::NotEmpty => format!("Node not empty: {path}"),
        KeeperError::NoAuth => format!("Insufficient permission : {path}"),
        KeeperError::AuthFailed => format!("Authentication is not valid : {path}"),
        KeeperError::BadArguments => format!("Arguments are not valid : {path}"),
        KeeperError::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        KeeperError::InvalidAcl => format!("Acl is not valid : {path}"),
        other => format!("KeeperErrorCode = {} for {path}", code_name(other)),
    }
}

/// A watch event as zkCli's default watcher prints it (a blank line, `WATCHER::`, a blank
/// line, then `WatchedEvent.toString()`).
pub fn format_event(event: &WatchedEvent) -> String {
    let path = if event.path.is_empty() { "null" } else { &event.path };
    format!(
        "\nWATCHER::\n\nWatchedEvent state:{} type:{} path:{}",
        state_name(event.state),
        event_type_name(event.event_type),
        path
    )
}

/// `Watcher.Event.EventType` names.
pub fn event_type_name(t: EventType) -> &'static str {
    match t {
        EventType::None => "None",
        EventType::NodeCreated => "NodeCreated",
        EventType::NodeDeleted => "NodeDeleted",
        EventType::NodeDataChanged => "NodeDataChanged",
        EventType::NodeChildrenChanged => "NodeChildrenChanged",
        EventType::DataWatchRemoved => "DataWatchRemoved",
        EventType::ChildWatchRemoved => "ChildWatchRemoved",
        EventType::PersistentWatchRemoved => "PersistentWatchRemoved",
    }
}

/// `Watcher.Event.KeeperState` names.
pub fn state_name(state: i32) -> &'static str {
    use keeper_core::proto::keeper_state as ks;
    match state {
        ks::DISCONNECTED => "Disconnected",
        ks::SYNC_CONNECTED => "SyncConnected",
        ks::AUTH_FAILED => "AuthFailed",
        ks::CONNECTED_READ_ONLY => "ConnectedReadOnly",
        ks::EXPIRED => "Expired",
        ks::CLOSED => "Closed",
        _ => "Unknown",
    }
}

/// A string list as Java's `List.toString()` prints it: `[a, b]`.
pub fn format_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// `KeeperException.Code` names as `KeeperErrorCode = ...` messages spell them.
pub fn code_name(err: KeeperError) -> String {
    match err {
        KeeperError::ConnectionLoss => "ConnectionLoss".into(),
        KeeperError::SessionExpired => "Session expired".into(),
        KeeperError::SessionMoved => "Session moved".into(),
        KeeperError::NoWatcher => "No such watcher".into(),
        KeeperError::Unimplemented => "Unimplemented".into(),
        KeeperError::NotReadOnly => "Not a read-only call".into(),
        KeeperError::ReconfigDisabled => "Reconfig is disabled".into(),
        KeeperError::QuotaExceeded => "Quota has exceeded".into(),
        other => format!("{other:?}"),
    }
}

// ---- private ----

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// algorithm), exact for every i64 ms value Java's Date can hold.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}
