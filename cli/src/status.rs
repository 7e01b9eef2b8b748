//! `keeper status`: asks a server for `srvr` and prints its mode, like `zkServer.sh status`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `srvr` to `addr` and returns the mode and, when the answer has one, the zxid
/// (`Zxid: 0x…`): in an ensemble, how far this member's history reaches.
pub fn mode_and_zxid(addr: &str) -> Result<(String, Option<String>), String> {
    let text = four_letter(addr, "srvr")?;
    let mode = mode_from_srvr(&text).ok_or_else(|| {
        format!("{addr} answered srvr without a Mode line (is srvr in 4lw.commands.whitelist?)")
    })?;
    let zxid = text.lines().find_map(|l| l.strip_prefix("Zxid: ")).map(|z| z.trim().to_string());
    Ok((mode, zxid))
}

/// Sends one four-letter word and reads the whole answer (the server closes after it).
pub fn four_letter(addr: &str, cmd: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr)
        .map_err(|e| format!("cannot connect to {addr}: {e} (is the server running?)"))?;
    let timeout = Some(Duration::from_secs(5));
    let _ = stream.set_read_timeout(timeout);
    stream.write_all(cmd.as_bytes()).map_err(|e| format!("{addr}: {e}"))?;
    let mut text = String::new();
    stream.read_to_string(&mut text).map_err(|e| format!("{addr}: {e}"))?;
    Ok(text)
}

/// The value after `Mode: ` in `srvr`/`stat` text.
pub fn mode_from_srvr(text: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix("Mode: ")).map(|m| m.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_line_is_found() {
        let text = "Zookeeper version: 3.9.5\nLatency min/avg/max: 0/0.0/0\nMode: standalone\n";
        assert_eq!(mode_from_srvr(text).as_deref(), Some("standalone"));
        assert_eq!(mode_from_srvr("nothing\n"), None);
    }

    #[test]
    fn nothing_listening_is_a_clear_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = mode_and_zxid(&addr).unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
    }
}
