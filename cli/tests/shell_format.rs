//! Output formats of `keeper shell` against zkCli.sh 3.8's: stat lines, Java-style dates,
//! ACL listing, error messages (`CliWrapperException`) and watch events.

#[allow(dead_code)]
#[path = "../src/shell/mod.rs"]
mod shell;

use keeper_core::error::KeeperError;
use keeper_core::proto::{Acl, EventType, Id, Stat, WatchedEvent};
use shell::format::*;

#[test]
fn stat_golden() {
    let stat = Stat {
        czxid: 0x1_0000_0002,
        mzxid: 0x1_0000_0005,
        ctime: 1_795_417_200_000,
        mtime: 951_868_799_000,
        version: 3,
        cversion: 1,
        aversion: 0,
        ephemeral_owner: 0x1000_0abc_0000,
        data_length: 5,
        num_children: 1,
        pzxid: 0x1_0000_0004,
    };
    insta::assert_snapshot!(format_stat(&stat));
}

/// Java's `Date.toString()` pattern `EEE MMM dd HH:mm:ss zzz yyyy`, in UTC.
#[test]
fn java_dates() {
    assert_eq!(java_date(1_795_417_200_000), "Mon Nov 23 07:00:00 UTC 2026");
    assert_eq!(java_date(951_868_799_000), "Tue Feb 29 23:59:59 UTC 2000");
    assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
    assert_eq!(java_date(-1000), "Wed Dec 31 23:59:59 UTC 1969");
}

#[test]
fn acl_listing_uses_zkcli_perm_order() {
    let acl = vec![
        Acl { perms: 31, id: Id::new("world", "anyone") },
        Acl { perms: 1 | 2, id: Id::new("digest", "bob:x/y=") },
    ];
    assert_eq!(format_acl(&acl), "'world,'anyone\n: cdrwa\n'digest,'bob:x/y=\n: rw\n");
    assert_eq!(perm_string(0), "");
}

#[test]
fn error_messages_match_zkcli() {
    let cases = [
        (KeeperError::NoNode, "Node does not exist: /x"),
        (KeeperError::NodeExists, "Node already exists: /x"),
        (KeeperError::BadVersion, "version No is not valid : /x"),
        (KeeperError::NotEmpty, "Node not empty: /x"),
        (KeeperError::NoAuth, "Insufficient permission : /x"),
        (KeeperError::AuthFailed, "Authentication is not valid : /x"),
        (KeeperError::InvalidAcl, "Acl is not valid : /x"),
        (KeeperError::NoChildrenForEphemerals, "Ephemerals cannot have children: /x"),
        (KeeperError::ConnectionLoss, "KeeperErrorCode = ConnectionLoss for /x"),
    ];
    for (err, text) in cases {
        assert_eq!(error_message(err, "/x"), text);
    }
}

#[test]
fn watch_events_print_like_zkcli() {
    let event =
        WatchedEvent { event_type: EventType::NodeDataChanged, state: 3, path: "/a".to_string() };
    assert_eq!(
        format_event(&event),
        "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/a"
    );
    assert_eq!(format_list(&["a".into(), "b".into()]), "[a, b]");
    assert_eq!(format_list(&[]), "[]");
}
