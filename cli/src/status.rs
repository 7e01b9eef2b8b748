//! `keeper status`: asks a server for `srvr` and prints its mode, like `zkServer.sh status`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `srvr` to `addr` and returns the `Mode: ` value from the answer.
pub fn mode(addr: &str) -> Result<String, String> {
    let text = four_letter(addr, "srvr")?;
    mode_from_srvr(&text).ok_or_else(|| {
        format!("{addr} answered srvr without a Mode line (is srvr in 4lw.commands.whitelist?)")
    })
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
        let err = mode(&addr).unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
    }
}
