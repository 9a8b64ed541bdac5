//! `mica dap`: a Debug Adapter Protocol server on standard input and
//! output that attaches to a running program through the live protocol
//! (`docs/live-protocol.md`); `docs/dap.md` is the user's page.
//!
//! ```text
//!   editor ──DAP (Content-Length framed JSON)──▶ stdin thread ─┐
//!                                                              ├─▶ main loop ─▶ Session (requests, events)
//!   program ──live protocol (JSON lines)──▶ live thread ───────┘      │  ▲
//!                                            (replies go straight     │  └─ live requests (Link)
//!                                             to their requester)     ▼
//!   editor ◀──────────────────────────────────────────────────── Out (the one writer of stdout)
//! ```
//!
//! The main loop handles one message at a time; an `evaluate` runs on a
//! thread of its own, so that a long evaluation can be cancelled while the
//! session goes on. Processes are threads, frames are numbered per
//! stopped state, and variables are the program's handles
//! ([`session`], [`control`], [`inspect`], [`evaluate`]).

mod control;
mod evaluate;
mod framing;
mod inspect;
mod link;
mod session;

use std::io::{BufReader, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use framing::{FrameError, FrameReader, encode};
use session::Session;

/// The text of `mica dap --help`.
pub const USAGE: &str = "\
mica dap: a Debug Adapter Protocol server for editors

Usage:
  mica dap                 speak DAP on standard input and output

An editor starts it and sends an attach request with {\"pid\": N} (a
program of yours, as for mica connect PID) or {\"host\", \"port\",
\"tokenFile\"} (a program started with --listen, without TLS). Processes
are threads; pause, continue, step, stack, variables, set and evaluate
work through the program's live connection. docs/dap.md shows the
editor settings (VS Code, Neovim).
";

/// What the main loop is told.
pub(crate) enum Incoming {
    /// A message from the editor, or why one could not be read.
    Dap(Result<Value, FrameError>),
    /// The editor closed standard input.
    DapEnd,
    /// An event from the program.
    Live(Value),
    /// The program's connection ended.
    LiveEnd,
}

/// A request from the editor.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// Its sequence number.
    pub seq: i64,
    /// Its command.
    pub command: String,
    /// Its arguments (`null` if none).
    pub arguments: Value,
}

/// The one writer of messages to the editor: it numbers them.
pub(crate) struct Out {
    inner: Mutex<(Box<dyn Write + Send>, i64)>,
}

impl Out {
    fn new(writer: Box<dyn Write + Send>) -> Out {
        Out { inner: Mutex::new((writer, 0)) }
    }

    fn send(&self, mut message: Value) {
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.1 += 1;
        message["seq"] = json!(inner.1);
        let bytes = encode(&message);
        // An editor that went away is noticed on standard input.
        let _ = inner.0.write_all(&bytes).and_then(|()| inner.0.flush());
    }

    /// Sends an event.
    pub fn event(&self, event: &str, body: Value) {
        let mut message = json!({ "type": "event", "event": event });
        if !body.is_null() {
            message["body"] = body;
        }
        self.send(message);
    }

    /// Answers `request`: a body, or a failure with its message.
    pub fn respond(&self, request: &Request, result: Result<Value, String>) {
        let mut message = json!({
            "type": "response",
            "request_seq": request.seq,
            "command": request.command,
            "success": result.is_ok(),
        });
        match result {
            Ok(Value::Null) => {}
            Ok(body) => message["body"] = body,
            Err(why) => message["message"] = json!(why),
        }
        self.send(message);
    }

    /// Tells the editor's console something (`console`, `stderr`...).
    pub fn output(&self, category: &str, text: &str) {
        let mut text = text.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        self.event("output", json!({ "category": category, "output": text }));
    }
}

/// Runs `mica dap ARGS`.
pub fn main(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("mica dap: unknown argument '{other}'; mica dap takes none (see --help)");
            return ExitCode::from(2);
        }
    }
    serve(std::io::stdin(), std::io::stdout());
    ExitCode::SUCCESS
}

/// Serves one debugging session: messages from `input`, answers and
/// events to `output`, until the editor disconnects or closes `input`.
pub fn serve(input: impl Read + Send + 'static, output: impl Write + Send + 'static) {
    let (tx, rx) = channel();
    let out = Arc::new(Out::new(Box::new(output)));
    let from_editor = tx.clone();
    let spawned = std::thread::Builder::new().name("dap-stdin".into()).spawn(move || {
        let mut reader = FrameReader::new(BufReader::new(input));
        while let Ok(Some(message)) = reader.next_message() {
            if from_editor.send(Incoming::Dap(message)).is_err() {
                return;
            }
        }
        let _ = from_editor.send(Incoming::DapEnd);
    });
    if let Err(e) = spawned {
        out.output("stderr", &format!("mica dap: cannot read standard input: {e}"));
        return;
    }
    let session = Arc::new(Session::new(Arc::clone(&out), tx));
    for incoming in rx {
        match incoming {
            Incoming::Dap(Ok(message)) => {
                if !session.message(message) {
                    break;
                }
            }
            Incoming::Dap(Err(why)) => out.output("stderr", &format!("mica dap: {why} (the message was skipped)")),
            Incoming::DapEnd => {
                session.leave();
                break;
            }
            Incoming::Live(event) => session.live_event(&event),
            Incoming::LiveEnd => session.live_ended(),
        }
    }
}
