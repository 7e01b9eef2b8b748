//! `keeper snapshot` and `keeper restore` round trip through running servers: writes
//! before the backup are in it with their exact Stat, writes after it are not, writes
//! racing with it leave a consistent cut (a prefix of the write order), and the restored
//! dataDir starts at the backup's zxid and takes new writes above it.

mod ops_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keeper_core::proto::Acl;
use keeper_net::client::connect;
use ops_common::{keeper, runtime, srvr_zxid, text, Server, TempDir};

#[test]
fn backup_and_restore_round_trip() {
    let dir = TempDir::new("backup");
    let a = Server::start(dir.path(), &dir.path().join("a"), "");
    let rt = runtime();
    let addrs = vec![a.addr()];
    let (client, _) = rt.block_on(connect(&addrs, Duration::from_secs(10))).unwrap();
    let app_stat = rt.block_on(async {
        client.create("/app", b"v1", Acl::open_unsafe(), 0, None).await.unwrap();
        client.create("/app/seq-", b"s", Acl::open_unsafe(), 2, None).await.unwrap();
        client.create("/load", b"", Acl::open_unsafe(), 0, None).await.unwrap();
        client.create("/counter", b"0", Acl::open_unsafe(), 0, None).await.unwrap();
        client.set_data("/app", b"v2", -1).await.unwrap()
    });

    // Writes race with the backup: each round creates /load/<i>, then sets /counter to i.
    let out = dir.path().join("backup.kpsn");
    // The backup starts once STARTED_AFTER rounds are acknowledged, so it must hold them.
    const STARTED_AFTER: u32 = 5;
    let done = Arc::new(AtomicBool::new(false));
    let (go, started) = std::sync::mpsc::channel::<()>();
    let backup = {
        let (done, out, addr) = (done.clone(), out.clone(), a.addr());
        std::thread::spawn(move || {
            started.recv().expect("the writer signals the start");
            let result = keeper(&["snapshot", "--server", &addr, out.to_str().unwrap()]);
            done.store(true, Ordering::SeqCst);
            result
        })
    };
    let written = rt.block_on(async {
        let mut i = 0u32;
        while !done.load(Ordering::SeqCst) || i < 20 {
            i += 1;
            let path = format!("/load/{i:06}");
            client.create(&path, b"", Acl::open_unsafe(), 0, None).await.unwrap();
            client.set_data("/counter", i.to_string().as_bytes(), -1).await.unwrap();
            if i == STARTED_AFTER {
                go.send(()).expect("the backup thread waits");
            }
        }
        i
    });
    let result = backup.join().unwrap();
    assert!(result.status.success(), "keeper snapshot failed: {}", text(&result));
    rt.block_on(async {
        client.create("/after", b"late", Acl::open_unsafe(), 0, None).await.unwrap();
        client.set_data("/app", b"v3", -1).await.unwrap();
    });

    let again = keeper(&["snapshot", "--server", &a.addr(), out.to_str().unwrap()]);
    assert!(!again.status.success(), "an existing backup file is never overwritten");
    let inspect = keeper(&["inspect", out.to_str().unwrap()]);
    assert!(inspect.status.success(), "{}", text(&inspect));
    let header = String::from_utf8_lossy(&inspect.stdout).lines().next().unwrap().to_string();
    let zxid_hex = header.split("zxid=0x").nth(1).unwrap().split(' ').next().unwrap();
    let backup_zxid = u64::from_str_radix(zxid_hex, 16).unwrap();

    let data_b = dir.path().join("b");
    let restored = keeper(&["restore", out.to_str().unwrap(), data_b.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", text(&restored));
    let refused = keeper(&["restore", out.to_str().unwrap(), data_b.to_str().unwrap()]);
    assert!(!refused.status.success() && text(&refused).contains("not empty"));

    let b = Server::start(dir.path(), &data_b, "");
    assert_eq!(srvr_zxid(&b), backup_zxid, "the restored server starts at the backup's zxid");
    let addrs_b = vec![b.addr()];
    rt.block_on(async {
        let (c, _) = connect(&addrs_b, Duration::from_secs(10)).await.unwrap();
        let (data, stat) = c.get_data("/app", false).await.unwrap();
        assert_eq!(data.as_deref(), Some(&b"v2"[..]));
        assert_eq!(stat, app_stat, "the Stat is the one the server reported before");
        assert!(c.exists("/after", false).await.unwrap().is_none(), "written after the backup");
        // A consistent cut: /load/1..=k exist with no gap, /counter is k or k - 1.
        let (mut loads, _) = c.get_children("/load", false).await.unwrap();
        loads.sort();
        let k = loads.len() as u32;
        assert!(
            (STARTED_AFTER..=written).contains(&k),
            "the backup holds the {STARTED_AFTER} rounds acknowledged before it started and \
             no more than were written ({k} of {written})"
        );
        for (n, name) in (1..=k).zip(&loads) {
            assert_eq!(*name, format!("{n:06}"), "loads form a prefix: {loads:?}");
        }
        let (counter, _) = c.get_data("/counter", false).await.unwrap();
        let counter: u32 = String::from_utf8(counter.unwrap().to_vec()).unwrap().parse().unwrap();
        assert!(counter == k || counter + 1 == k, "counter {counter} with {k} loads");
        let (_, stat) = c.create("/new", b"", Acl::open_unsafe(), 0, None).await.unwrap();
        assert!(stat.czxid as u64 > backup_zxid, "new writes go above the backup's zxid");
    });
    let (c, _) = rt.block_on(connect(&addrs, Duration::from_secs(10))).unwrap();
    assert!(rt.block_on(c.exists("/after", false)).unwrap().is_some(), "the source is untouched");
}

/// Without `kbak` in its whitelist (and `*` does not count), a server refuses the backup
/// and the command says how to enable it.
#[test]
fn backup_needs_the_word_whitelisted() {
    let dir = TempDir::new("backup-refused");
    let s = Server::start(dir.path(), &dir.path().join("d"), "4lw.commands.whitelist=*");
    let out = dir.path().join("b.kpsn");
    let r = keeper(&["snapshot", "--server", &s.addr(), out.to_str().unwrap()]);
    assert!(!r.status.success());
    assert!(text(&r).contains("4lw.commands.whitelist"), "{}", text(&r));
    assert!(!out.exists(), "no file is left behind");
}
