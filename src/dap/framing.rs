//! DAP framing: each message is a header block (`Content-Length: N`, other
//! headers ignored, ended by an empty line) and then N bytes of JSON.
//!
//! ```text
//!  Content-Length: 52\r\n          header lines, "\r\n" (or "\n") ended
//!  \r\n                            the empty line that ends the headers
//!  {"seq":1,"type":"request",...}  exactly 52 bytes of UTF-8 JSON, no newline
//! ```
//!
//! The reader takes whatever the pipe gives (a byte at a time, or several
//! messages at once). A block without a usable length, a body that is not
//! a JSON object, or one longer than [`MAX_BODY`] is an error of that
//! message only: it is skipped and the next one is read.

use std::fmt;
use std::io::{self, BufRead, Read};

use serde_json::Value;

/// The longest body accepted; a longer one is skipped.
pub const MAX_BODY: usize = 64 << 20;

/// The longest header line kept; the rest of a longer one is skipped.
const MAX_HEADER_LINE: usize = 8 << 10;

/// Why one message could not be read (the reader goes on after it).
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A header block without a usable `Content-Length` (the block is
    /// skipped).
    BadHeader(String),
    /// A body that is not a JSON object.
    BadBody(String),
    /// A body longer than [`MAX_BODY`] (skipped unread).
    TooLong(usize),
    /// The input ended inside a message.
    Truncated,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadHeader(why) => write!(f, "bad message header: {why}"),
            FrameError::BadBody(why) => write!(f, "bad message body: {why}"),
            FrameError::TooLong(n) => write!(f, "a message of {n} bytes is longer than the {MAX_BODY} accepted"),
            FrameError::Truncated => write!(f, "the input ended inside a message"),
        }
    }
}

/// Reads framed messages from a byte stream.
pub struct FrameReader<R> {
    input: R,
}

impl<R: BufRead> FrameReader<R> {
    /// A reader of `input`.
    pub fn new(input: R) -> FrameReader<R> {
        FrameReader { input }
    }

    /// The next message: `None` at the end of input, an inner error for a
    /// message that could not be read (the next call reads the one after).
    pub fn next_message(&mut self) -> io::Result<Option<Result<Value, FrameError>>> {
        let mut length: Option<Result<usize, String>> = None;
        let mut stray: Option<String> = None;
        let mut lines = 0usize;
        loop {
            let Some(line) = self.header_line()? else {
                return Ok(if lines == 0 { None } else { Some(Err(FrameError::Truncated)) });
            };
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if lines == 0 {
                    // Blank lines between messages.
                    continue;
                }
                break;
            }
            lines += 1;
            // A header after garbage on the same line (a body shorter than
            // its length said) is found again.
            let at = line.to_ascii_lowercase().find("content-length").unwrap_or(0);
            let line = &line[at..];
            match line.split_once(':') {
                Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                    length =
                        Some(value.trim().parse::<usize>().map_err(|_| format!("Content-Length '{}'", shorten(value))));
                }
                Some(_) => {}
                None => {
                    stray.get_or_insert_with(|| format!("'{}' is not a header", shorten(line)));
                }
            }
        }
        let n = match length {
            Some(Ok(n)) => n,
            Some(Err(why)) => return Ok(Some(Err(FrameError::BadHeader(format!("{why} is not a length"))))),
            None => {
                let why = stray.unwrap_or_else(|| "no Content-Length".into());
                return Ok(Some(Err(FrameError::BadHeader(why))));
            }
        };
        if n > MAX_BODY {
            let skipped = io::copy(&mut self.input.by_ref().take(n as u64), &mut io::sink())?;
            return Ok(Some(Err(if skipped < n as u64 { FrameError::Truncated } else { FrameError::TooLong(n) })));
        }
        let mut body = vec![0; n];
        match self.input.read_exact(&mut body) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Some(Err(FrameError::Truncated))),
            Err(e) => return Err(e),
        }
        Ok(Some(match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(FrameError::BadBody("a message must be a JSON object".into())),
            Err(e) => Err(FrameError::BadBody(format!("not JSON: {e}"))),
        }))
    }

    /// One header line (with its end), at most [`MAX_HEADER_LINE`] bytes
    /// of it kept; `None` at the end of input.
    fn header_line(&mut self) -> io::Result<Option<String>> {
        let mut buf = Vec::new();
        let n = self.input.by_ref().take(MAX_HEADER_LINE as u64).read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        if buf.last() != Some(&b'\n') && n == MAX_HEADER_LINE {
            let mut rest = Vec::new();
            while self.input.by_ref().take(1 << 16).read_until(b'\n', &mut rest)? > 0 {
                if rest.last() == Some(&b'\n') {
                    break;
                }
                rest.clear();
            }
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }
}

/// The bytes of one message.
pub fn encode(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::BufReader;

    /// A reader that gives one byte per read.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[self.1];
            self.1 += 1;
            Ok(1)
        }
    }

    fn all(bytes: Vec<u8>) -> Vec<Result<Value, FrameError>> {
        let mut r = FrameReader::new(BufReader::with_capacity(1, Trickle(bytes, 0)));
        std::iter::from_fn(|| r.next_message().expect("no I/O error")).collect()
    }

    #[test]
    fn messages_are_read_whole_from_partial_reads_and_several_at_once() {
        let a = json!({ "seq": 1, "type": "request", "command": "initialize" });
        let b = json!({ "seq": 2, "type": "request", "command": "threads", "text": "é\r\n" });
        let mut bytes = encode(&a);
        bytes.extend(encode(&b));
        assert_eq!(all(bytes.clone()), vec![Ok(a.clone()), Ok(b.clone())]);
        let mut r = FrameReader::new(&bytes[..]);
        assert_eq!(r.next_message().unwrap(), Some(Ok(a)));
        assert_eq!(r.next_message().unwrap(), Some(Ok(b)));
        assert_eq!(r.next_message().unwrap(), None);
    }

    #[test]
    fn other_headers_case_and_bare_newlines_are_accepted() {
        let text = "content-length: 2\nContent-Type: application/vscode-jsonrpc; charset=utf-8\n\n{}";
        assert_eq!(all(text.into()), vec![Ok(json!({}))]);
    }

    #[test]
    fn bad_messages_are_skipped_and_the_next_one_is_read() {
        let good = encode(&json!({ "seq": 3 }));
        let mut bytes = b"Garbage here\r\n\r\n".to_vec();
        bytes.extend(b"Content-Length: twelve\r\n\r\n");
        bytes.extend(b"Content-Length: 5\r\n\r\n[1,2]");
        bytes.extend(b"Content-Length: 3\r\n\r\n{x}");
        bytes.extend(&good);
        bytes.extend(b"Content-Length: 10\r\n\r\n{\"se");
        let got = all(bytes);
        assert!(matches!(&got[0], Err(FrameError::BadHeader(w)) if w.contains("Garbage")), "{got:?}");
        assert!(matches!(&got[1], Err(FrameError::BadHeader(w)) if w.contains("twelve")), "{got:?}");
        assert!(matches!(&got[2], Err(FrameError::BadBody(_))), "{got:?}");
        assert!(matches!(&got[3], Err(FrameError::BadBody(_))), "{got:?}");
        assert_eq!(got[4], Ok(json!({ "seq": 3 })));
        assert_eq!(got[5], Err(FrameError::Truncated));
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn a_header_after_a_short_body_is_found_again() {
        let mut bytes = b"Content-Length: 40\r\n\r\n{}".to_vec();
        let good = encode(&json!({ "seq": 9 }));
        bytes.extend(&good);
        bytes.extend(vec![b' '; 40]);
        bytes.extend(&good);
        let got = all(bytes);
        assert_eq!(got.last(), Some(&Ok(json!({ "seq": 9 }))), "{got:?}");
    }

    #[test]
    fn huge_lengths_and_long_lines_do_not_exhaust_memory() {
        let mut bytes = format!("Content-Length: {}\r\n\r\n", MAX_BODY + 1).into_bytes();
        bytes.extend(vec![b'x'; 10]);
        let got = all(bytes);
        assert_eq!(got, vec![Err(FrameError::Truncated)]);
        let mut bytes = vec![b'a'; MAX_HEADER_LINE * 3];
        bytes.extend(b"\r\n\r\n");
        bytes.extend(encode(&json!({ "seq": 1 })));
        let mut r = FrameReader::new(&bytes[..]);
        assert!(matches!(r.next_message().unwrap(), Some(Err(FrameError::BadHeader(_)))));
        assert_eq!(r.next_message().unwrap(), Some(Ok(json!({ "seq": 1 }))));
    }
}
