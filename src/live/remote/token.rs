//! The token of a TCP endpoint: 32 bytes from the operating system's
//! random source, written as 64 hex digits to a file only the user may
//! read, and compared in constant time.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// How many random bytes a token holds (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// A token (secret: it is never printed, only written to its file).
pub struct Token([u8; TOKEN_BYTES]);

impl Token {
    /// A new token from the operating system's random source.
    pub fn generate() -> Result<Token, String> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::getrandom(&mut bytes).map_err(|e| format!("no random bytes for the token: {e}"))?;
        Ok(Token(bytes))
    }

    /// The token as its file holds it: 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `given` is this token (as hex, either case), in time that
    /// does not depend on where the two first differ.
    pub fn matches(&self, given: &str) -> bool {
        let Some(bytes) = decode_hex(given.as_bytes()) else { return false };
        let mut difference = 0u8;
        for (a, b) in self.0.iter().zip(bytes.iter()) {
            difference |= a ^ b;
        }
        std::hint::black_box(difference) == 0
    }

    /// Writes the token to `path`, a new file of mode 0600 from its
    /// creation on (a left-over of the same name is removed first).
    pub fn write_file(&self, path: &Path) -> Result<(), String> {
        let _ = std::fs::remove_file(path);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("cannot write the token file {}: {e}", path.display()))?;
        writeln!(file, "{}", self.hex()).map_err(|e| format!("cannot write the token file {}: {e}", path.display()))
    }
}

/// The token file of the program with process id `pid`.
pub fn token_path(pid: u32) -> PathBuf {
    super::super::socket_dir().join(format!("{pid}.token"))
}

/// 64 hex digits as 32 bytes; `None` for anything else.
fn decode_hex(text: &[u8]) -> Option<[u8; TOKEN_BYTES]> {
    if text.len() != 2 * TOKEN_BYTES {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; TOKEN_BYTES];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Reads a token file (for the client): its first line, trimmed. A file
/// other users may read gets a warning on standard error.
pub fn read_file(path: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(format!("the token file {} is empty", path.display()));
    }
    if let Ok(meta) = std::fs::metadata(path)
        && meta.mode() & 0o077 != 0
    {
        eprintln!(
            "mica connect: warning: other users may read the token file {} (mode {:o}); chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        );
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_its_hex_and_nothing_else() {
        let t = Token::generate().expect("random bytes");
        let hex = t.hex();
        assert_eq!(hex.len(), 64);
        assert!(t.matches(&hex));
        assert!(t.matches(&hex.to_uppercase()));
        assert!(!t.matches(&hex[..63]));
        assert!(!t.matches(""));
        assert!(!t.matches(&format!("{hex}0")));
        let mut other = hex.into_bytes();
        other[10] = if other[10] == b'0' { b'1' } else { b'0' };
        assert!(!t.matches(std::str::from_utf8(&other).expect("hex")));
        assert!(!t.matches(&"z".repeat(64)));
        assert_ne!(Token::generate().expect("random bytes").hex(), t.hex());
    }
}
