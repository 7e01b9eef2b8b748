//! Four-letter words: text commands sent on the client port instead of a ConnectRequest.
//!
//! ZooKeeper looks at the first 4 bytes of a new connection; when they spell a known
//! command it answers in plain text and closes (ZK-REFERENCE.md §5, Java's
//! `FourLetterCommands` and `NIOServerCnxn.checkFourLetterWord`). Invariant: a word is
//! recognised only from exactly its 4 ASCII bytes, so no ConnectRequest is mistaken for
//! one: a ConnectRequest starts with its frame length, whose first byte is 0 for any frame
//! under 16 MiB, and no command starts with a 0 byte.
//!
//! Java also lists telnet's close sequence (0xfff4fffd) as a command that just closes the
//! connection; it is not a word here because [`crate::wire::frame::frame_len`] already
//! refuses it as a negative length, which closes the connection all the same.

/// Every command ZooKeeper 3.8/3.9 knows, in `FourLetterCommands`' order.
pub const FOUR_LETTER_WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dump", "envi", "gtmk", "ruok", "stmk", "srvr", "srst", "stat", "wchc",
    "wchp", "wchs", "mntr", "isro", "hash", "dirs",
];

/// keeper's own words: `kbak` answers with a backup image (`persist::backup`).
pub const KEEPER_FOUR_LETTER_WORDS: [&str; 1] = [crate::persist::backup::BACKUP_WORD];

/// The four-letter word spelled by the first 4 bytes of `first4`, if it is one ZooKeeper
/// (or keeper) knows; `None` with fewer than 4 bytes. Later bytes are ignored, so a caller
/// may pass everything received so far (`stmk` is followed by an 8-byte mask).
pub fn four_letter_word(first4: &[u8]) -> Option<&'static str> {
    let word = first4.first_chunk::<4>()?;
    FOUR_LETTER_WORDS
        .iter()
        .chain(KEEPER_FOUR_LETTER_WORDS.iter())
        .copied()
        .find(|known| known.as_bytes() == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_and_nothing_else() {
        assert_eq!(four_letter_word(b"ruok"), Some("ruok"));
        assert_eq!(four_letter_word(&0x7275_6f6bu32.to_be_bytes()), Some("ruok"));
        assert_eq!(four_letter_word(b"RUOK"), None);
        assert_eq!(four_letter_word(b"ruo"), None);
        assert_eq!(four_letter_word(b"stmk\0\0\0\0\0\0\0\x01"), Some("stmk"));
        assert_eq!(four_letter_word(&[0, 0, 0, 45]), None);
        assert_eq!(four_letter_word(b"kbak"), Some("kbak"));
        for word in FOUR_LETTER_WORDS {
            assert_eq!(four_letter_word(word.as_bytes()), Some(word));
            assert_ne!(word.as_bytes()[0], 0);
        }
    }
}
