//! Parsing of zkCli's command lines and ACL strings into typed commands.
//!
//! Follows the option letters of ZooKeeper 3.8's `zkCli.sh` commands (`LsCommand`,
//! `CreateCommand`, ...). Parsing never touches the network, so every rule here is
//! unit-tested. Invariant: a `Command` holds only validated values (paths start with
//! '/', versions and ttls are numbers, ACL perms are from `crwda`).

use keeper_core::proto::{perms, Acl, Id};

/// One shell command, parsed and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Ls {
        path: String,
        stat: bool,
        watch: bool,
        recursive: bool,
    },
    Create {
        path: String,
        data: Option<String>,
        acl: Option<Vec<Acl>>,
        sequential: bool,
        ephemeral: bool,
        container: bool,
        ttl: Option<i64>,
    },
    Get {
        path: String,
        stat: bool,
        watch: bool,
    },
    Set {
        path: String,
        data: String,
        stat: bool,
        version: i32,
    },
    Delete {
        path: String,
        version: i32,
    },
    DeleteAll {
        path: String,
    },
    Stat {
        path: String,
        watch: bool,
    },
    GetAcl {
        path: String,
        stat: bool,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        stat: bool,
        version: i32,
        recursive: bool,
    },
    AddAuth {
        scheme: String,
        auth: String,
    },
    Sync {
        path: String,
    },
    AddWatch {
        path: String,
        recursive: bool,
    },
    RemoveWatches {
        path: String,
        watcher_type: i32,
        local: bool,
    },
    GetEphemerals {
        path: String,
    },
    GetAllChildrenNumber {
        path: String,
    },
    WhoAmI,
    Close,
    Connect {
        server: String,
    },
    Quit,
    Help,
}

/// Parses one command line (already split into words).
pub fn parse_command(words: &[String]) -> Result<Command, String> {
    let Some((name, rest)) = words.split_first() else { return Err(usage_all()) };
    let (flags, args) = split_flags(rest, valued_flags(name))?;
    let flag = |f: &str| flags.iter().any(|(k, _)| k == f);
    let value = |f: &str| flags.iter().find(|(k, _)| k == f).and_then(|(_, v)| v.clone());
    let path = |i: usize| -> Result<String, String> {
        let p = args.get(i).ok_or_else(|| usage(name))?;
        validate_path(p)?;
        Ok(p.clone())
    };
    let version = || -> Result<i32, String> {
        match value("v") {
            None => Ok(-1),
            Some(v) => v.parse().map_err(|_| format!("version is not a number: {v}")),
        }
    };
    let allowed = |ok: &str| -> Result<(), String> {
        match flags.iter().find(|(k, _)| !ok.split(',').any(|o| o == k)) {
            Some((k, _)) => Err(format!("Unrecognized option: -{k}\n{}", usage(name))),
            None => Ok(()),
        }
    };
    let cmd = match name.as_str() {
        "ls" | "ls2" => {
            allowed("s,w,R")?;
            Command::Ls { path: path(0)?, stat: flag("s"), watch: flag("w"), recursive: flag("R") }
        }
        "create" => {
            allowed("s,e,c,t")?;
            let ttl = match value("t") {
                None => None,
                Some(t) => Some(t.parse().map_err(|_| format!("ttl is not a number: {t}"))?),
            };
            if flag("c") && (flag("s") || flag("e") || ttl.is_some()) {
                return Err("-c cannot be combined with other options".to_string());
            }
            if ttl.is_some() && flag("e") {
                return Err("TTLs cannot be used with Ephemeral znodes".to_string());
            }
            Command::Create {
                path: path(0)?,
                data: args.get(1).cloned(),
                acl: args.get(2).map(|a| parse_acl(a)).transpose()?,
                sequential: flag("s"),
                ephemeral: flag("e"),
                container: flag("c"),
                ttl,
            }
        }
        "get" => {
            allowed("s,w")?;
            Command::Get { path: path(0)?, stat: flag("s"), watch: flag("w") }
        }
        "set" => {
            allowed("s,v")?;
            let data = args.get(1).cloned().ok_or_else(|| usage(name))?;
            Command::Set { path: path(0)?, data, stat: flag("s"), version: version()? }
        }
        "delete" => {
            allowed("v")?;
            Command::Delete { path: path(0)?, version: version()? }
        }
        "deleteall" | "rmr" => Command::DeleteAll { path: path(0)? },
        "stat" => {
            allowed("w")?;
            Command::Stat { path: path(0)?, watch: flag("w") }
        }
        "getAcl" => {
            allowed("s")?;
            Command::GetAcl { path: path(0)?, stat: flag("s") }
        }
        "setAcl" => {
            allowed("s,v,R")?;
            let acl = parse_acl(args.get(1).ok_or_else(|| usage(name))?)?;
            let (stat, recursive) = (flag("s"), flag("R"));
            Command::SetAcl { path: path(0)?, acl, stat, version: version()?, recursive }
        }
        "addauth" => {
            let scheme = args.first().cloned().ok_or_else(|| usage(name))?;
            Command::AddAuth { scheme, auth: args.get(1).cloned().unwrap_or_default() }
        }
        "sync" => Command::Sync { path: path(0)? },
        "addWatch" => {
            allowed("m")?;
            let recursive = match value("m").as_deref() {
                None | Some("PERSISTENT_RECURSIVE") => true,
                Some("PERSISTENT") => false,
                Some(m) => return Err(format!("Unsupported mode: {m}")),
            };
            Command::AddWatch { path: path(0)?, recursive }
        }
        "removewatches" => {
            allowed("c,d,a,l")?;
            let watcher_type = if flag("c") {
                1
            } else if flag("d") {
                2
            } else {
                3
            };
            Command::RemoveWatches { path: path(0)?, watcher_type, local: flag("l") }
        }
        "getEphemerals" => Command::GetEphemerals { path: path(0).unwrap_or("/".into()) },
        "getAllChildrenNumber" => Command::GetAllChildrenNumber { path: path(0)? },
        "whoami" => Command::WhoAmI,
        "close" => Command::Close,
        "connect" => Command::Connect { server: args.first().cloned().ok_or_else(|| usage(name))? },
        "quit" => Command::Quit,
        "help" => Command::Help,
        _ => return Err(usage_all()),
    };
    Ok(cmd)
}

/// Parses `scheme:id:perms[,scheme:id:perms...]`; the id may itself contain ':' (digest
/// ids do), so the perms are taken after the last ':' and the scheme before the first.
pub fn parse_acl(text: &str) -> Result<Vec<Acl>, String> {
    let mut acl = Vec::new();
    for entry in text.split(',') {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            return Err(format!("{entry} does not have the form scheme:id:perm"));
        };
        if first == last {
            return Err(format!("{entry} does not have the form scheme:id:perm"));
        }
        let mut bits = 0;
        for c in entry[last + 1..].chars() {
            bits |= match c {
                'r' => perms::READ,
                'w' => perms::WRITE,
                'c' => perms::CREATE,
                'd' => perms::DELETE,
                'a' => perms::ADMIN,
                _ => return Err(format!("Unknown perm type: {c}")),
            };
        }
        let id = Id::new(&entry[..first], &entry[first + 1..last]);
        acl.push(Acl { perms: bits, id });
    }
    Ok(acl)
}

/// Splits a command line into words, honouring single and double quotes as zkCli does.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The usage line of every command, as `help` prints them.
pub fn usage_all() -> String {
    let mut out = String::from("ZooKeeper -server host:port cmd args\n");
    for name in COMMANDS {
        out.push_str(&format!("\t{}\n", usage(name)));
    }
    out.pop();
    out
}

// ---- private ----

const COMMANDS: [&str; 20] = [
    "addWatch",
    "addauth",
    "close",
    "connect",
    "create",
    "delete",
    "deleteall",
    "get",
    "getAcl",
    "getAllChildrenNumber",
    "getEphemerals",
    "help",
    "ls",
    "quit",
    "removewatches",
    "set",
    "setAcl",
    "stat",
    "sync",
    "whoami",
];

fn usage(name: &str) -> String {
    match name {
        "addWatch" => "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
        "addauth" => "addauth scheme auth",
        "close" => "close ",
        "connect" => "connect host:port",
        "create" => "create [-s] [-e] [-c] [-t ttl] path [data] [acl]",
        "delete" => "delete [-v version] path",
        "deleteall" | "rmr" => "deleteall path",
        "get" => "get [-s] [-w] path",
        "getAcl" => "getAcl [-s] path",
        "getAllChildrenNumber" => "getAllChildrenNumber path",
        "getEphemerals" => "getEphemerals path",
        "ls" | "ls2" => "ls [-s] [-w] [-R] path",
        "removewatches" => "removewatches path [-c|-d|-a] [-l]",
        "set" => "set [-s] [-v version] path data",
        "setAcl" => "setAcl [-s] [-v version] [-R] path acl",
        "stat" => "stat [-w] path",
        "sync" => "sync path",
        "whoami" => "whoami ",
        "quit" => "quit ",
        _ => "help",
    }
    .to_string()
}

fn valued_flags(name: &str) -> &'static [&'static str] {
    match name {
        "create" => &["t"],
        "set" | "delete" | "setAcl" => &["v"],
        "addWatch" => &["m"],
        _ => &[],
    }
}

type Flags = Vec<(String, Option<String>)>;

/// Separates `-x [value]` options (anywhere on the line, as commons-cli allows) from
/// positional arguments. Combined letters (`-se`) count as separate flags.
fn split_flags(words: &[String], valued: &[&str]) -> Result<(Flags, Vec<String>), String> {
    let mut flags = Vec::new();
    let mut args = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let is_flag =
            w.len() > 1 && w.starts_with('-') && !w[1..].starts_with(|c: char| c.is_ascii_digit());
        if !is_flag {
            args.push(w.clone());
            continue;
        }
        let letters = &w[1..];
        if valued.contains(&letters) {
            let v = it.next().ok_or_else(|| format!("Missing argument for option: {letters}"))?;
            flags.push((letters.to_string(), Some(v.clone())));
        } else {
            flags.extend(letters.chars().map(|c| (c.to_string(), None)));
        }
    }
    Ok((flags, args))
}

fn validate_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("Path must start with / character".to_string());
    }
    if path.len() > 1 && path.ends_with('/') {
        return Err("Path must not end with / character".to_string());
    }
    if path.contains("//") {
        return Err(format!("Invalid path string \"{path}\" caused by empty node name specified"));
    }
    Ok(())
}
