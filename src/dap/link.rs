//! The adapter's connection to the program: the live protocol (JSON lines)
//! over the program's Unix socket, or over TCP to a program that listens
//! with a token. One thread reads the program's lines: a reply goes to the
//! request that waits for it, an event to the adapter's main loop.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::Incoming;
use crate::live::protocol::MAX_LINE;

/// How long the program has to say hello (and accept a token).
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to the program failed.
#[derive(Clone, Debug)]
pub enum LiveError {
    /// The connection is closed (the program ended, or the adapter left).
    Closed,
    /// The program answered with an error.
    Failed {
        /// The error's `kind` (`badRequest`, `error`, `notFound`...).
        kind: String,
        /// Its message.
        message: String,
        /// The stack of an evaluation's error, if any.
        trace: String,
    },
}

impl LiveError {
    /// Whether the program does not know the operation (a program of an
    /// earlier version): `unsupported`, or `badRequest` for an unknown op.
    pub fn unknown_op(&self) -> bool {
        match self {
            LiveError::Failed { kind, message, .. } => {
                kind == "unsupported" || (kind == "badRequest" && message.contains("unknown op"))
            }
            LiveError::Closed => false,
        }
    }

    /// The error's kind (`closed` for a closed connection).
    pub fn kind(&self) -> &str {
        match self {
            LiveError::Failed { kind, .. } => kind,
            LiveError::Closed => "closed",
        }
    }
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Closed => write!(f, "the program closed the connection"),
            LiveError::Failed { message, .. } => write!(f, "{message}"),
        }
    }
}

type Waiting = Arc<Mutex<Option<HashMap<u64, Sender<Value>>>>>;

/// An open connection to the program.
pub struct Link {
    writer: Mutex<Box<dyn Write + Send>>,
    /// Requests waiting for their replies; `None` once the connection is
    /// closed.
    waiting: Waiting,
    next_id: AtomicU64,
    shutdown: Box<dyn Fn() + Send + Sync>,
    /// The program's `hello` event.
    pub hello: Value,
}

/// A request sent, its reply still to come.
pub struct Pending {
    /// The request's id on the connection (an `interrupt` names it).
    pub id: u64,
    reply: Receiver<Value>,
}

impl Pending {
    /// Waits for the reply: its fields, or the error it carries.
    pub fn wait(self) -> Result<Value, LiveError> {
        let reply = self.reply.recv().map_err(|_| LiveError::Closed)?;
        if reply["ok"] == json!(true) {
            return Ok(reply);
        }
        let error = &reply["error"];
        let text = |k: &str| error[k].as_str().unwrap_or("").to_string();
        Err(LiveError::Failed { kind: text("kind"), message: text("message"), trace: text("trace") })
    }
}

impl Link {
    /// Connects to the program with process id `pid` on its Unix socket.
    /// When there is none, the error gives `mica connect`'s reason.
    pub fn open_pid(pid: u32, events: Sender<Incoming>) -> Result<Link, String> {
        let path = crate::live::socket_path(pid);
        let stream = match UnixStream::connect(&path) {
            Ok(s) => s,
            // `mica connect` says why (no such process, a sealed bundle,
            // --live=off...); if it gets in, the endpoint has just opened.
            Err(_) => match crate::live::client::Connection::open(pid) {
                Err(why) => return Err(why),
                Ok(_) => UnixStream::connect(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            },
        };
        let reader = stream.try_clone().map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        let _ = stream.set_read_timeout(Some(HELLO_TIMEOUT));
        let (reader, hello) = handshake(BufReader::new(Box::new(reader) as Box<dyn Read + Send>), None)?;
        let _ = stream.set_read_timeout(None);
        let shutdown = Box::new(move || {
            let _ = stream.shutdown(Shutdown::Both);
        });
        Ok(Link::start(reader, Box::new(writer), shutdown, hello, events))
    }

    /// Connects to a program listening on `host`:`port` over TCP (without
    /// TLS), authenticating with the token in `token_file`.
    pub fn open_tcp(host: &str, port: u16, token_file: &Path, events: Sender<Incoming>) -> Result<Link, String> {
        let token = std::fs::read_to_string(token_file).map_err(|e| format!("{}: {e}", token_file.display()))?;
        let token = token.trim();
        if token.is_empty() {
            return Err(format!("{} holds no token", token_file.display()));
        }
        let stream = TcpStream::connect((host, port)).map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        let reader = stream.try_clone().map_err(|e| e.to_string())?;
        let line = json!({ "id": 0, "op": "authenticate", "token": token });
        writeln!(writer, "{line}").map_err(|e| format!("cannot send the token to {host}:{port}: {e}"))?;
        let _ = stream.set_read_timeout(Some(HELLO_TIMEOUT));
        let (reader, hello) = handshake(BufReader::new(Box::new(reader) as Box<dyn Read + Send>), Some(0))?;
        let _ = stream.set_read_timeout(None);
        let shutdown = Box::new(move || {
            let _ = stream.shutdown(Shutdown::Both);
        });
        Ok(Link::start(reader, Box::new(writer), shutdown, hello, events))
    }

    fn start(
        mut reader: BufReader<Box<dyn Read + Send>>,
        writer: Box<dyn Write + Send>,
        shutdown: Box<dyn Fn() + Send + Sync>,
        hello: Value,
        events: Sender<Incoming>,
    ) -> Link {
        let waiting: Waiting = Arc::new(Mutex::new(Some(HashMap::new())));
        let replies = Arc::clone(&waiting);
        let spawned = std::thread::Builder::new().name("dap-live".into()).spawn(move || {
            while let Some(line) = read_line(&mut reader) {
                let Ok(value) = serde_json::from_slice::<Value>(&line) else { continue };
                if let Some(id) = value.get("id").and_then(Value::as_u64) {
                    let to = replies.lock().ok().and_then(|mut w| w.as_mut().and_then(|w| w.remove(&id)));
                    if let Some(to) = to {
                        let _ = to.send(value);
                    }
                } else if value.get("event").is_some() && events.send(Incoming::Live(value)).is_err() {
                    break;
                }
            }
            // Whoever still waits learns that no reply will come.
            if let Ok(mut w) = replies.lock() {
                *w = None;
            }
            let _ = events.send(Incoming::LiveEnd);
        });
        if spawned.is_err() {
            waiting.lock().map(|mut w| *w = None).ok();
        }
        Link { writer: Mutex::new(writer), waiting, next_id: AtomicU64::new(1), shutdown, hello }
    }

    /// Sends `request` (an object without an id).
    pub fn send(&self, mut request: Value) -> Result<Pending, LiveError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        request["id"] = json!(id);
        let (tx, rx) = channel();
        match self.waiting.lock() {
            Ok(mut w) => match w.as_mut() {
                Some(w) => w.insert(id, tx),
                None => return Err(LiveError::Closed),
            },
            Err(_) => return Err(LiveError::Closed),
        };
        let line = format!("{request}\n");
        let sent = self.writer.lock().map_err(|_| LiveError::Closed)?.write_all(line.as_bytes());
        if sent.is_err() {
            if let Ok(mut w) = self.waiting.lock() {
                w.as_mut().map(|w| w.remove(&id));
            }
            return Err(LiveError::Closed);
        }
        Ok(Pending { id, reply: rx })
    }

    /// Sends `request` and waits for its reply.
    pub fn call(&self, request: Value) -> Result<Value, LiveError> {
        self.send(request)?.wait()
    }

    /// Closes the connection (the program forgets this client's handles
    /// and interrupts its evaluations); requests still waiting fail.
    pub fn close(&self) {
        (self.shutdown)();
    }
}

/// Reads the first lines: the `hello` event, after the reply to the
/// authentication (request `auth`) if there is one; a `refused` event or a
/// failed authentication is an error.
fn handshake(
    mut reader: BufReader<Box<dyn Read + Send>>,
    auth: Option<u64>,
) -> Result<(BufReader<Box<dyn Read + Send>>, Value), String> {
    loop {
        let Some(line) = read_line(&mut reader) else {
            return Err(match auth {
                Some(_) => "the program closed the connection (a wrong token, or it was not ready)".into(),
                None => "the program closed the connection".into(),
            });
        };
        let value: Value = serde_json::from_slice(&line).map_err(|e| format!("bad line from the program: {e}"))?;
        if value["event"] == "hello" {
            return Ok((reader, value));
        }
        if value["event"] == "refused" {
            return Err(format!("refused: {}", value["message"].as_str().unwrap_or("")));
        }
        if auth.is_some() && value.get("id").and_then(Value::as_u64) == auth && value["ok"] != json!(true) {
            let why = value["error"]["message"].as_str().unwrap_or("the token was not accepted");
            return Err(format!("authentication failed: {why}"));
        }
    }
}

/// One line of the program (without its end); `None` at the end of the
/// connection or on an error. A line longer than the protocol allows is
/// skipped.
fn read_line(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    loop {
        let mut buf = Vec::new();
        match reader.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(_) if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE => {
                let mut rest = Vec::new();
                loop {
                    rest.clear();
                    match reader.by_ref().take(1 << 16).read_until(b'\n', &mut rest) {
                        Ok(0) | Err(_) => return None,
                        Ok(_) if rest.last() == Some(&b'\n') => break,
                        Ok(_) => {}
                    }
                }
            }
            Ok(_) if buf.iter().all(u8::is_ascii_whitespace) => {}
            Ok(_) => return Some(buf),
        }
    }
}
