//! The backup a running server hands out: its current snapshot image, as text.
//!
//! `keeper snapshot --server HOST:PORT` sends the keeper-specific four-letter word `kbak`
//! ([`BACKUP_WORD`]); the node answers with [`encode_backup_text`] of a snapshot image of
//! its state (the same bytes a `snapshot.<zxid>` file holds). The answer is released only
//! once every log append emitted before the request is durable (it goes through the node's
//! held queue like any reply), so a backup never holds a write a crash could take back, and
//! being one image taken between two inputs it is a consistent cut of the txn order.
//!
//! ```text
//! answer = "keeper-backup 1 bytes=<image length>" "\n" base64(image) "\n"
//! ```
//! Four-letter answers are text, hence base64. Invariant: [`decode_backup_text`] returns
//! exactly the image that was encoded, or an error saying what is wrong (truncated
//! transfer, refused word, not a backup); the image's own CRC32C is checked by whoever
//! decodes it as a snapshot.

use base64::Engine as _;

/// The keeper-specific four-letter word that asks for a backup. `4lw.commands.whitelist=*`
/// does not enable it (it hands out every znode regardless of ACLs): it must be listed.
pub const BACKUP_WORD: &str = "kbak";
/// The first word of a backup answer.
const HEADER: &str = "keeper-backup";
/// The answer format version.
const VERSION: u32 = 1;

/// The text answer carrying `image`.
pub fn encode_backup_text(image: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(image);
    format!("{HEADER} {VERSION} bytes={}\n{body}\n", image.len())
}

/// The image carried by a backup answer.
pub fn decode_backup_text(text: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "the answer is not text".to_string())?;
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    if header.contains("not in the whitelist") {
        return Err(format!(
            "the server refused `{BACKUP_WORD}`: add it to 4lw.commands.whitelist in its \
             zoo.cfg (`*` does not include it)"
        ));
    }
    let mut words = header.split(' ');
    if words.next() != Some(HEADER) {
        return Err(format!("not a keeper backup answer (it starts {:?})", trim(header)));
    }
    let version = words.next().and_then(|v| v.parse::<u32>().ok());
    if version != Some(VERSION) {
        return Err(format!("unsupported backup answer version in {:?}", trim(header)));
    }
    let len = words
        .next()
        .and_then(|w| w.strip_prefix("bytes="))
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| format!("backup answer header without a length: {:?}", trim(header)))?;
    let image = base64::engine::general_purpose::STANDARD
        .decode(body.trim_end())
        .map_err(|e| format!("the backup body is damaged or cut short: {e}"))?;
    if image.len() != len {
        return Err(format!("the backup holds {} bytes, its header says {len}", image.len()));
    }
    Ok(image)
}

fn trim(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let image: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let text = encode_backup_text(&image);
        assert_eq!(decode_backup_text(text.as_bytes()).unwrap(), image);
        let cut = &text.as_bytes()[..text.len() - 10];
        assert!(decode_backup_text(cut).is_err(), "a cut transfer is noticed");
        let refused = b"kbak is not executed because it is not in the whitelist.\n";
        assert!(decode_backup_text(refused).unwrap_err().contains("4lw.commands.whitelist"));
        assert!(decode_backup_text(b"imok").unwrap_err().contains("not a keeper backup"));
        assert!(decode_backup_text(&[0xff, 0xfe]).is_err());
    }
}
