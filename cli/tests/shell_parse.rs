//! Command-line and ACL parsing of `keeper shell`, against zkCli.sh 3.8's option letters.

#[allow(dead_code)]
#[path = "../src/shell/mod.rs"]
mod shell;

use keeper_core::proto::{Acl, Id};
use shell::parse::*;

fn parse(line: &str) -> Result<Command, String> {
    parse_command(&split_words(line))
}

#[test]
fn words_honour_quotes() {
    assert_eq!(split_words("set /a 'hello world'"), ["set", "/a", "hello world"]);
    assert_eq!(split_words("  create  /b \"\" "), ["create", "/b", ""]);
}

#[test]
fn create_flags_and_acl() {
    let cmd = parse("create -s -e /a data world:anyone:r").unwrap();
    assert_eq!(
        cmd,
        Command::Create {
            path: "/a".into(),
            data: Some("data".into()),
            acl: Some(vec![Acl { perms: 1, id: Id::new("world", "anyone") }]),
            sequential: true,
            ephemeral: true,
            container: false,
            ttl: None,
        }
    );
    match parse("create -t 1000 /t").unwrap() {
        Command::Create { ttl, data, .. } => {
            assert_eq!(ttl, Some(1000));
            assert_eq!(data, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(parse("create -t 1000 -e /t").is_err());
    assert!(parse("create -c -s /t").is_err());
    assert!(parse("create -t x /t").is_err());
    assert!(parse("create -x /t").unwrap_err().starts_with("Unrecognized option: -x"));
}

#[test]
fn versions_and_stat_flags() {
    assert_eq!(
        parse("set -s -v 3 /a b").unwrap(),
        Command::Set { path: "/a".into(), data: "b".into(), stat: true, version: 3 }
    );
    assert_eq!(parse("delete /a").unwrap(), Command::Delete { path: "/a".into(), version: -1 });
    assert_eq!(
        parse("ls -R /").unwrap(),
        Command::Ls { path: "/".into(), stat: false, watch: false, recursive: true }
    );
    assert_eq!(
        parse("get -s -w /a").unwrap(),
        Command::Get { path: "/a".into(), stat: true, watch: true }
    );
    assert!(parse("set -v nope /a b").is_err());
    assert!(parse("set /a").is_err());
}

#[test]
fn paths_are_validated() {
    assert_eq!(parse("get a").unwrap_err(), "Path must start with / character");
    assert!(parse("get /a/").is_err());
    assert!(parse("get /a//b").is_err());
    assert!(parse("get").is_err());
}

#[test]
fn watches_and_misc() {
    assert_eq!(
        parse("addWatch -m PERSISTENT /a").unwrap(),
        Command::AddWatch { path: "/a".into(), recursive: false }
    );
    assert_eq!(
        parse("addWatch /a").unwrap(),
        Command::AddWatch { path: "/a".into(), recursive: true }
    );
    assert!(parse("addWatch -m ONCE /a").is_err());
    assert_eq!(
        parse("removewatches /a -d -l").unwrap(),
        Command::RemoveWatches { path: "/a".into(), watcher_type: 2, local: true }
    );
    assert_eq!(
        parse("addauth digest bob:pw").unwrap(),
        Command::AddAuth { scheme: "digest".into(), auth: "bob:pw".into() }
    );
    assert_eq!(parse("quit").unwrap(), Command::Quit);
    assert!(parse("frobnicate /a").unwrap_err().starts_with("ZooKeeper -server host:port"));
}

#[test]
fn acl_strings() {
    assert_eq!(
        parse_acl("world:anyone:cdrwa,digest:bob:abc=:r").unwrap(),
        vec![
            Acl { perms: 31, id: Id::new("world", "anyone") },
            Acl { perms: 1, id: Id::new("digest", "bob:abc=") },
        ]
    );
    assert_eq!(parse_acl("ip:10.0.0.1:").unwrap()[0].perms, 0);
    assert_eq!(parse_acl("world:anyone:x").unwrap_err(), "Unknown perm type: x");
    assert!(parse_acl("world:cdrwa").is_err());
    assert!(parse_acl("world").is_err());
}
