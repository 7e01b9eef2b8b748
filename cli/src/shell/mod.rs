//! `keeper shell`: zkCli.sh's commands and output over keeper's own client.
//!
//! `keeper shell -server host:port [cmd args]` runs one command and exits (non-zero on
//! error), or without a command reads lines at the `[zk: host:port(CONNECTED) N] `
//! prompt until `quit` or end of input. Parsing lives in `parse`, text in `format`; this
//! file only connects and runs commands. Invariant: the shell holds at most one session,
//! and every command's text goes to stdout, errors to stderr, as zkCli does.

pub mod format;
pub mod parse;

use std::process::ExitCode;
use std::time::Duration;

use keeper_core::error::KeeperError;
use keeper_core::proto::{Acl, Request, Response};
use keeper_net::client::{self, Client, ClientError};

use format::{error_message, format_acl, format_event, format_list, format_stat};
use parse::{parse_command, split_words, usage_all, Command};

/// Entry point: `args` are the words after `keeper shell`.
pub fn main(args: Vec<String>) -> ExitCode {
    let (server, words) = match args.split_first() {
        Some((flag, rest)) if flag == "-server" => match rest.split_first() {
            Some((s, words)) => (s.clone(), words.to_vec()),
            None => return fail(&usage_all()),
        },
        _ => ("localhost:2181".to_string(), args),
    };
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => return fail(&format!("cannot start runtime: {e}")),
        };
    let mut shell = Shell { server, client: None, runtime };
    if !words.is_empty() {
        shell.connect();
        return match shell.run(&words) {
            Ok(_) => ExitCode::SUCCESS,
            Err(msg) => fail(&msg),
        };
    }
    shell.interactive()
}

// ---- private ----

/// Session timeout the shell asks for (zkCli's default is 30 s).
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

struct Shell {
    server: String,
    client: Option<Client>,
    runtime: tokio::runtime::Runtime,
}

/// What a command asks of the loop after it ran.
enum Next {
    Continue,
    Quit,
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::FAILURE
}

impl Shell {
    fn interactive(&mut self) -> ExitCode {
        self.connect();
        // Line editing and history as zkCli has them (jline): ~/.keeper_history.
        let mut editor = match rustyline::DefaultEditor::new() {
            Ok(editor) => editor,
            Err(e) => return fail(&format!("cannot start the line editor: {e}")),
        };
        let history =
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".keeper_history"));
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        let mut n = 0;
        let code = loop {
            let state = if self.client.is_some() { "CONNECTED" } else { "CLOSED" };
            let prompt = format!("[zk: {}({state}) {n}] ", self.server);
            let line = match editor.readline(&prompt) {
                Ok(line) => line,
                Err(rustyline::error::ReadlineError::Interrupted) => continue,
                Err(_) => break ExitCode::SUCCESS,
            };
            let words = split_words(&line);
            if words.is_empty() {
                continue;
            }
            let _ = editor.add_history_entry(line.as_str());
            n += 1;
            match self.run(&words) {
                Ok(Next::Quit) => break ExitCode::SUCCESS,
                Ok(Next::Continue) => {}
                Err(msg) => eprintln!("{msg}"),
            }
        };
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
        code
    }

    fn connect(&mut self) {
        if let Some(old) = self.client.take() {
            let _ = self.runtime.block_on(old.close());
        }
        let addrs: Vec<String> = self.server.split(',').map(str::to_string).collect();
        match self.runtime.block_on(client::connect(&addrs, SESSION_TIMEOUT)) {
            Ok((client, mut watches)) => {
                println!("\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null");
                self.runtime.spawn(async move {
                    while let Some(event) = watches.recv().await {
                        println!("{}", format_event(&event));
                    }
                });
                self.client = Some(client);
            }
            Err(e) => eprintln!("Cannot connect to {}: {e}", self.server),
        }
    }

    fn run(&mut self, words: &[String]) -> Result<Next, String> {
        match parse_command(words)? {
            Command::Quit => return Ok(Next::Quit),
            Command::Help => println!("{}", usage_all()),
            Command::Connect { server } => {
                self.server = server;
                self.connect();
            }
            Command::Close => {
                if let Some(c) = self.client.take() {
                    let _ = self.runtime.block_on(c.close());
                }
            }
            cmd => {
                let client = self.client.clone().ok_or("Not connected")?;
                let out = self.runtime.block_on(execute(&client, cmd))?;
                print!("{out}");
            }
        }
        Ok(Next::Continue)
    }
}

/// Runs one server command and returns its text, or zkCli's error message.
async fn execute(c: &Client, cmd: Command) -> Result<String, String> {
    let err = |path: &str| {
        let path = path.to_string();
        move |e: ClientError| match e {
            ClientError::Keeper(k) => error_message(k, &path),
            other => other.to_string(),
        }
    };
    let mut out = String::new();
    match cmd {
        Command::Ls { path, stat, watch, recursive } if recursive => {
            for p in walk(c, &path).await.map_err(err(&path))? {
                out.push_str(&format!("{p}\n"));
            }
            let _ = (stat, watch);
        }
        Command::Ls { path, stat, watch, .. } => {
            let (mut children, s) = c.get_children(&path, watch).await.map_err(err(&path))?;
            children.sort();
            out.push_str(&format!("{}\n", format_list(&children)));
            if stat {
                out.push_str(&format_stat(&s));
            }
        }
        Command::Create { path, data, acl, sequential, ephemeral, container, ttl } => {
            let flags = match (container, ephemeral, sequential, ttl.is_some()) {
                (true, ..) => 4,
                (_, _, true, true) => 6,
                (_, _, false, true) => 5,
                (_, true, true, _) => 3,
                (_, true, false, _) => 1,
                (_, false, true, _) => 2,
                _ => 0,
            };
            let data = data.unwrap_or_default();
            let acl = acl.unwrap_or_else(Acl::open_unsafe);
            let (created, _) =
                c.create(&path, data.as_bytes(), acl, flags, ttl).await.map_err(err(&path))?;
            out.push_str(&format!("Created {created}\n"));
        }
        Command::Get { path, stat, watch } => {
            let (data, s) = c.get_data(&path, watch).await.map_err(err(&path))?;
            // zkCli prints Java's rendering of a null byte array: "null".
            match data {
                Some(d) => out.push_str(&format!("{}\n", String::from_utf8_lossy(&d))),
                None => out.push_str("null\n"),
            }
            if stat {
                out.push_str(&format_stat(&s));
            }
        }
        Command::Set { path, data, stat, version } => {
            let s = c.set_data(&path, data.as_bytes(), version).await.map_err(err(&path))?;
            if stat {
                out.push_str(&format_stat(&s));
            }
        }
        Command::Delete { path, version } => c.delete(&path, version).await.map_err(err(&path))?,
        Command::DeleteAll { path } => {
            // Deepest first: `walk` lists parents before children.
            for p in walk(c, &path).await.map_err(err(&path))?.iter().rev() {
                match c.delete(p, -1).await {
                    Ok(()) | Err(ClientError::Keeper(KeeperError::NoNode)) => {}
                    Err(e) => return Err(err(p)(e)),
                }
            }
        }
        Command::Stat { path, watch } => match c.exists(&path, watch).await.map_err(err(&path))? {
            Some(s) => out.push_str(&format_stat(&s)),
            None => return Err(error_message(KeeperError::NoNode, &path)),
        },
        Command::GetAcl { path, stat } => {
            let (acl, s) = c.get_acl(&path).await.map_err(err(&path))?;
            out.push_str(&format_acl(&acl));
            if stat {
                out.push_str(&format_stat(&s));
            }
        }
        Command::SetAcl { path, acl, stat, version, recursive } => {
            let targets =
                if recursive { walk(c, &path).await.map_err(err(&path))? } else { vec![path] };
            for p in &targets {
                let s = c.set_acl(p, acl.clone(), version).await.map_err(err(p))?;
                if stat {
                    out.push_str(&format_stat(&s));
                }
            }
        }
        Command::AddAuth { scheme, auth } => {
            c.add_auth(&scheme, auth.as_bytes()).await.map_err(err(""))?
        }
        Command::Sync { path } => {
            c.sync(&path).await.map_err(err(&path))?;
            out.push_str("Sync is OK\n");
        }
        Command::AddWatch { path, recursive } => {
            let req = Request::AddWatch { path: path.clone(), mode: recursive as i32 };
            c.request(req).await.map_err(err(&path))?;
        }
        Command::RemoveWatches { path, watcher_type, local } => {
            let _ = local; // Local removal only matters to a client that keeps watchers.
            let req = Request::RemoveWatches { path: path.clone(), watcher_type };
            c.request(req).await.map_err(err(&path))?;
        }
        Command::GetEphemerals { path } => {
            match c
                .request(Request::GetEphemerals { prefix: path.clone() })
                .await
                .map_err(err(&path))?
            {
                Response::GetEphemerals { mut paths } => {
                    paths.sort();
                    out.push_str(&format!("{}\n", format_list(&paths)));
                }
                other => return Err(format!("unexpected response {other:?}")),
            }
        }
        Command::GetAllChildrenNumber { path } => {
            let req = Request::GetAllChildrenNumber { path: path.clone() };
            match c.request(req).await.map_err(err(&path))? {
                Response::AllChildrenNumber(n) => out.push_str(&format!("{n}\n")),
                other => return Err(format!("unexpected response {other:?}")),
            }
        }
        Command::WhoAmI => match c.request(Request::WhoAmI).await.map_err(err(""))? {
            Response::WhoAmI(infos) => {
                out.push_str("Auth scheme: User\n");
                for i in infos {
                    out.push_str(&format!("{}: {}\n", i.auth_scheme, i.user));
                }
            }
            other => return Err(format!("unexpected response {other:?}")),
        },
        Command::Quit | Command::Help | Command::Connect { .. } | Command::Close => {}
    }
    Ok(out)
}

/// Every path in the subtree at `root`, parents before children, breadth first, with an
/// explicit queue (no recursion over the tree).
async fn walk(c: &Client, root: &str) -> Result<Vec<String>, ClientError> {
    let mut out = vec![root.to_string()];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].clone();
        let (mut children, _) = match c.get_children(&parent, false).await {
            Ok(r) => r,
            // A node deleted meanwhile simply has no subtree left.
            Err(ClientError::Keeper(KeeperError::NoNode)) if i > 0 => {
                (Vec::new(), Default::default())
            }
            Err(e) => return Err(e),
        };
        children.sort();
        for child in children {
            let sep = if parent == "/" { "" } else { "/" };
            out.push(format!("{parent}{sep}{child}"));
        }
        i += 1;
    }
    Ok(out)
}
