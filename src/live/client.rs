//! `mica connect`: the client of the live connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::remote::client::{Link, Socket};
use super::{remote, socket_dir, socket_path};

/// Prints a line on standard output; a reader that went away (`| head`)
/// ends the client quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        say_line(&format!($($arg)*))
    };
}

fn say_line(text: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// The text of `mica connect --help`.
pub const USAGE: &str = "\
mica connect: talk to a running Mica program of yours

Usage:
  mica connect PID                   an interactive session in the program
  mica connect PID --eval EXPR       evaluate EXPR there and print its value
  mica connect PID --file A.som...   define (or redefine) the classes of files
  mica connect PID --save FILE.mimg  save the session's edits (every method
                                     and class defined, changed or removed):
                                     mica --load FILE.mimg ... or mica run
                                     app.mimg FILE.mimg applies them at start
  mica connect PID --json            the raw protocol: request lines on
                                     standard input, replies and events on
                                     standard output (docs/live-protocol.md)
  mica connect --list                the programs you can connect to
  mica connect HOST:PORT --token-file FILE [--tls | --tls-ca CA.pem] ...
                                     the same, over TCP, to a program started
                                     with --listen=HOST:PORT (any of the forms
                                     above after it); FILE holds its token
                                     (the program printed the path)
    --tls                            speak TLS, trusting the usual web roots
    --tls-ca CA.pem                  speak TLS, trusting the certificates in
                                     CA.pem: the program's own, or the
                                     authority that signed it

The session evaluates what you type (several lines while brackets are
open) and prints its printString; Ctrl-C interrupts a running evaluation.
Commands:
  :define FILE.som                   define the class in a file
  :method CLASS [class] SOURCE       define one method (SOURCE may go on
                                     over several lines)
  :source CLASS>>SELECTOR            show a method's source
  :edit CLASS>>SELECTOR              edit a method (or a new one) in $VISUAL
                                     or $EDITOR (vi); saved and closed, it
                                     is defined; a text that does not
                                     compile is kept for the next :edit
  :namespaces, :classes [NAMESPACE]  what is loaded
  :class CLASS                       a class's fields, methods, subclasses
  :implementors SEL, :senders SEL    the methods that define or send SEL
  :remove CLASS[>>SELECTOR]          remove a method, or a class
  :revert [CLASS]                    undo the last edit (or those of CLASS)
  :save FILE.mimg                    save the session's edits
  :inspect [@N] [DEPTH]              the fields and elements of the last
                                     value (or of handle @N), as a tree
                                     DEPTH levels deep (1)
  :set @N FIELD EXPR, :set @N [I] EXPR
                                     store EXPR's value into a field or
                                     element I (from 1) of @N
  :release [@N...]                   let the program forget handles (all)
  :processes                         every process: id, state, where it is
  :stack P [COUNT]                   the frames of process P, with their
                                     receivers, arguments and temporaries
  :pause P, :continue P              stop process P at its next safepoint;
                                     let a paused or stopped one go on
  :suspend P, :resume P, :terminate P
                                     as the messages to the Process do
  :restart P FRAME                   start frame FRAME of a stopped process
                                     again, in its method's current version
  :return P FRAME EXPR               return EXPR's value from that frame
  :in P FRAME EXPR                   evaluate EXPR in that frame (self and
                                     its variables in scope)
  :stats                             the edits so far and what they
                                     invalidated
  :describe                          what the program is
  :help, :quit

Errors go to standard error; with --eval and --file the status is 1 if
anything failed.
";

/// Runs `mica connect ARGS`.
pub fn main(args: &[String]) -> ExitCode {
    let fail = |message: &str| {
        eprintln!("mica connect: {message}");
        ExitCode::from(2)
    };
    let Some(first) = args.first() else {
        return fail("give the process id of a program, HOST:PORT, or --list; see --help");
    };
    match first.as_str() {
        "-h" | "--help" => {
            say!("{}", USAGE.trim_end());
            return ExitCode::SUCCESS;
        }
        "--list" => return list(),
        _ => {}
    }
    let (opened, rest) = match first.parse::<u32>() {
        Ok(pid) => (Connection::open(pid), args[1..].to_vec()),
        Err(_) if remote::client::is_address(first) => match remote::client::split_options(&args[1..]) {
            Ok((options, rest)) => (remote::client::connect(first, &options).and_then(Connection::over), rest),
            Err(e) => return fail(&e),
        },
        Err(_) => return fail(&format!("'{first}' is not a process id nor HOST:PORT; see --help")),
    };
    let rest = &rest[..];
    let mut conn = match opened {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mica connect: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rest.first().map(String::as_str) {
        None => interactive(&mut conn),
        Some("--eval") => match rest.get(1..) {
            Some([expr]) => one_shot(&mut conn, &[json!({ "op": "eval", "source": expr })]),
            _ => fail("--eval takes one expression (quote it)"),
        },
        Some("--file") if rest.len() > 1 => {
            let mut requests = Vec::new();
            for f in &rest[1..] {
                match std::fs::read_to_string(f) {
                    Ok(source) => requests.push(json!({ "op": "define", "source": source })),
                    Err(e) => return fail(&format!("{f}: {e}")),
                }
            }
            one_shot(&mut conn, &requests)
        }
        Some("--file") => fail("--file takes one or more class files"),
        Some("--save") => match rest.get(1..) {
            Some([file]) => match std::path::absolute(file) {
                Ok(path) => one_shot(&mut conn, &[json!({ "op": "save", "path": path.display().to_string() })]),
                Err(e) => fail(&format!("{file}: {e}")),
            },
            _ => fail("--save takes one file name"),
        },
        Some("--json") if rest.len() == 1 => raw(conn),
        Some(other) => fail(&format!("unknown option '{other}'; see --help")),
    }
}

/// A connection to a program.
pub struct Connection {
    reader: BufReader<Box<dyn Read + Send>>,
    writer: Box<dyn Write + Send>,
    socket: Socket,
    /// What was read of a line before a read timed out.
    partial: Vec<u8>,
    next_id: u64,
    /// The program's hello event.
    pub hello: Value,
}

impl Connection {
    /// Connects to the program with process id `pid` and reads its hello.
    pub fn open(pid: u32) -> Result<Connection, String> {
        let path = socket_path(pid);
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            return Err(format!("no process has id {pid}"));
        }
        let stream = match UnixStream::connect(&path) {
            Ok(s) => s,
            Err(e) if path.exists() && e.kind() != std::io::ErrorKind::ConnectionRefused => {
                return Err(format!("cannot connect to process {pid}: {e}"));
            }
            Err(_) => {
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                if exe.as_deref().is_some_and(crate::images::is_sealed_bundle) {
                    return Err(format!("process {pid} is a sealed Mica bundle: it accepts no connection"));
                }
                return Err(format!(
                    "process {pid} accepts no live connection (it is not a Mica program of yours, was started with --live=off, or is just starting)"
                ));
            }
        };
        Connection::over(Link::unix(stream).map_err(|e| e.to_string())?)
    }

    /// A connection over `link`, once the program's hello is read (a
    /// `refused` event instead is an error).
    pub fn over(link: Link) -> Result<Connection, String> {
        let Link { reader, writer, socket } = link;
        let mut conn = Connection {
            reader: BufReader::new(reader),
            writer,
            socket,
            partial: Vec::new(),
            next_id: 1,
            hello: Value::Null,
        };
        let hello = match conn.read() {
            Ok(Some(hello)) => hello,
            Ok(None) => return Err("the program closed the connection".into()),
            Err(e) if e == "timeout" => return Err("the program did not answer".into()),
            Err(e) => return Err(e),
        };
        if hello["event"] == "refused" {
            return Err(format!("refused: {}", hello["message"].as_str().unwrap_or("")));
        }
        let _ = conn.socket.set_read_timeout(None);
        conn.hello = hello;
        Ok(conn)
    }

    /// Reads the next line (a reply or an event); `None` at the end. A
    /// line cut by a timeout is kept for the next call.
    pub fn read(&mut self) -> Result<Option<Value>, String> {
        loop {
            match self.reader.read_until(b'\n', &mut self.partial) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    let line = std::mem::take(&mut self.partial);
                    return serde_json::from_slice(&line)
                        .map(Some)
                        .map_err(|e| format!("bad line from the program: {e}"));
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err("timeout".into());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Sends `request` (an object without an id) and answers its id.
    pub fn send(&mut self, mut request: Value) -> Result<u64, String> {
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = json!(id);
        let line = format!("{request}\n");
        self.writer.write_all(line.as_bytes()).map_err(|e| format!("the program closed the connection ({e})"))?;
        Ok(id)
    }

    /// Sends `request` and waits for its reply; while it waits, `interrupt`
    /// turning true sends an interrupt of it. Events are printed.
    pub fn call(&mut self, request: Value, interrupt: Option<&AtomicBool>) -> Result<Value, String> {
        let id = self.send(request)?;
        let _ = self.socket.set_read_timeout(interrupt.map(|_| Duration::from_millis(100)));
        loop {
            if let Some(flag) = interrupt
                && flag.swap(false, Ordering::AcqRel)
            {
                self.send(json!({ "op": "interrupt", "target": id }))?;
            }
            let line = match self.read() {
                Ok(Some(v)) => v,
                Ok(None) => return Err("the program closed the connection".into()),
                Err(e) if e == "timeout" => continue,
                Err(e) => return Err(e),
            };
            if line["id"] == json!(id) {
                return Ok(line);
            }
            if line.get("event").is_some() {
                print_event(&line);
            }
        }
    }
}

fn print_event(event: &Value) {
    match event["event"].as_str() {
        Some("exit") => eprintln!("(the program exited with status {})", event["status"]),
        Some("stopped") => {
            if let Some(trace) = event["trace"].as_str() {
                eprint!("{trace}");
            }
            eprintln!(
                "(process {} stopped: {}{}; :stack {} to look, :continue {} to go on)",
                event["process"],
                event["reason"].as_str().unwrap_or("?"),
                event["message"].as_str().map(|m| format!(", {m}")).unwrap_or_default(),
                event["process"],
                event["process"]
            );
        }
        Some(other) => eprintln!("({other}: {event})"),
        None => {}
    }
}

/// Prints a reply as the session shows it; answers whether it succeeded.
fn show(reply: &Value) -> bool {
    if reply["ok"] == json!(true) {
        if let Some(v) = reply["value"].as_str() {
            say!("{v}");
        } else if let Some(edit) = reply["edit"].as_str() {
            let n = reply["invalidated"].as_u64().unwrap_or(0);
            say!("{edit} ({n} compiled method{} invalidated)", if n == 1 { "" } else { "s" });
        } else if let Some(list) =
            ["namespaces", "classes", "implementors", "senders"].iter().find_map(|k| reply[*k].as_array())
        {
            for item in list {
                say!("{:<32} {}", item["name"].as_str().unwrap_or(""), item["detail"].as_str().unwrap_or(""));
            }
            if list.is_empty() {
                say!("(none)");
            }
        } else if let Some(c) = reply.get("class").filter(|c| c.is_object()) {
            let words = |v: &Value| -> String {
                v.as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default()
            };
            say!(
                "{} = {} ( | {} |   \"in {}\"",
                c["name"].as_str().unwrap_or(""),
                c["superclass"].as_str().filter(|s| !s.is_empty()).unwrap_or("nil"),
                words(&c["fields"]),
                c["namespace"].as_str().unwrap_or("")
            );
            say!("    methods: {}", words(&c["methods"]));
            say!("    ----");
            say!("    | {} |", words(&c["classFields"]));
            say!("    methods: {}", words(&c["classMethods"]));
            say!(")  \"subclasses: {}\"", words(&c["subclasses"]));
        } else if let Some(text) = reply["source"].as_str() {
            say!(
                "\"{} ({}:{})\"\n{text}",
                reply["holder"].as_str().unwrap_or(""),
                reply["file"].as_str().unwrap_or(""),
                reply["line"]
            );
        } else if let Some(path) = reply["saved"].as_str() {
            say!("saved {} edit{} to {path}", reply["edits"], if reply["edits"] == 1 { "" } else { "s" });
        } else if let Some(edits) = reply["edits"].as_array() {
            say!(
                "{} edit{}; {} methods native now; {} evaluation(s) running",
                edits.len(),
                if edits.len() == 1 { "" } else { "s" },
                reply["nativeMethods"],
                reply["evaluations"]
            );
            for e in edits {
                say!("  {} ({} compiled methods invalidated)", e["edit"].as_str().unwrap_or(""), e["invalidated"]);
            }
        } else if let Some(list) = reply["processes"].as_array() {
            for p in list {
                say!(
                    "{:>4}  {:<24} {:>3}  {:<10} {}{}",
                    p["id"],
                    p["name"].as_str().unwrap_or(""),
                    p["priority"],
                    p["state"].as_str().unwrap_or(""),
                    p["top"].as_str().unwrap_or(""),
                    if p["evaluation"] == json!(true) { "  (an evaluation)" } else { "" }
                );
            }
        } else if let Some(frames) = reply["frames"].as_array() {
            let shown = |v: &Value| {
                format!(
                    "{}  ({} @{})",
                    v["value"].as_str().unwrap_or(""),
                    v["class"].as_str().unwrap_or("?"),
                    v["handle"]
                )
            };
            for f in frames.iter().filter(|f| f["hidden"] != json!(true)) {
                say!(
                    "{:>3}  {}  ({}:{})",
                    f["index"],
                    f["method"].as_str().unwrap_or(""),
                    f["file"].as_str().unwrap_or(""),
                    f["line"]
                );
                say!("       self = {}", shown(&f["receiver"]));
                for v in f["arguments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(f["temporaries"].as_array().into_iter().flatten())
                {
                    say!("       {} = {}", v["name"].as_str().unwrap_or("?"), shown(v));
                }
            }
            let depth = reply["depth"].as_u64().unwrap_or(0);
            if depth > frames.len() as u64 {
                say!("  ... {} of {depth} frames shown", frames.len());
            }
        } else if let Some(n) = reply["released"].as_u64() {
            say!("released {n} handle{}", if n == 1 { "" } else { "s" });
        } else if reply.get("interrupted").is_some() {
            say!("interrupted {}", reply["interrupted"]);
        } else if reply.get("protocol").is_some() {
            say!(
                "{} (pid {}), mica {}, JIT {}, up {} ms, protocol {}",
                reply["program"].as_str().unwrap_or("?"),
                reply["pid"],
                reply["mica"].as_str().unwrap_or("?"),
                reply["jit"].as_str().unwrap_or("?"),
                reply["uptimeMs"],
                reply["protocol"]
            );
        }
        true
    } else {
        let e = &reply["error"];
        if let Some(trace) = e["trace"].as_str() {
            eprint!("{trace}");
        }
        eprintln!("{}: {}", e["kind"].as_str().unwrap_or("error"), e["message"].as_str().unwrap_or(""));
        false
    }
}

fn one_shot(conn: &mut Connection, requests: &[Value]) -> ExitCode {
    let mut ok = true;
    for r in requests {
        match conn.call(r.clone(), None) {
            Ok(reply) => ok &= show(&reply),
            Err(e) => {
                eprintln!("mica connect: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn raw(conn: Connection) -> ExitCode {
    use std::sync::atomic::AtomicU64;
    let Connection { mut reader, mut writer, socket, hello, .. } = conn;
    say!("{hello}");
    // Every request line gets one reply (bad ones too): at the end of
    // input the client waits for the replies still on their way, so that
    // leaving does not interrupt what it asked.
    let replies = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&replies);
    let out = std::thread::spawn(move || {
        let mut line = String::new();
        let stdout = std::io::stdout();
        while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            let mut lock = stdout.lock();
            let _ = lock.write_all(line.as_bytes());
            let _ = lock.flush();
            if serde_json::from_str::<Value>(&line).is_ok_and(|v| v.get("id").is_some()) {
                counted.fetch_add(1, Ordering::AcqRel);
            }
            line.clear();
        }
        // The program ended: nothing more will come.
        counted.store(u64::MAX, Ordering::Release);
    });
    let mut sent = 0u64;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        if writer.write_all(format!("{line}\n").as_bytes()).is_err() {
            break;
        }
        sent += 1;
    }
    while replies.load(Ordering::Acquire) < sent {
        std::thread::sleep(Duration::from_millis(5));
    }
    socket.close();
    let _ = out.join();
    ExitCode::SUCCESS
}

/// Whether brackets and strings are all closed in `text` (Smalltalk
/// syntax: 'strings' with '' inside, "comments", $c characters).
pub fn balanced(text: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    None => return false,
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                    }
                    Some('\'') => break,
                    Some(_) => {}
                }
            },
            '"' => loop {
                match chars.next() {
                    None => return false,
                    Some('"') => break,
                    Some(_) => {}
                }
            },
            '$' => {
                chars.next();
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth <= 0
}

fn interactive(conn: &mut Connection) -> ExitCode {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mica connect: cannot start the line editor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".mica_connect_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupt));
    say!(
        "Connected to {} (pid {}). Type Smalltalk to evaluate it there, :help for commands, Ctrl-D to leave.",
        conn.hello["program"].as_str().unwrap_or("?"),
        conn.hello["pid"]
    );
    let mut status = ExitCode::SUCCESS;
    // The handle of the last value shown, for :inspect.
    let mut last: Option<u64> = None;
    // Texts of :edit that did not compile, by method.
    let mut drafts: std::collections::HashMap<String, String> = Default::default();
    loop {
        let mut text = match editor.readline("live> ") {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        };
        while !balanced(&text) {
            match editor.readline("  ... ") {
                Ok(more) => {
                    text.push('\n');
                    text.push_str(&more);
                }
                Err(_) => break,
            }
        }
        if text.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(text.as_str());
        interrupt.store(false, Ordering::Release);
        if let Some(target) = text.trim().strip_prefix(":edit") {
            if let Err(e) = edit(conn, target.trim(), &mut drafts) {
                eprintln!("{e}");
            }
            continue;
        }
        if let Some(args) = text.trim().strip_prefix(":inspect") {
            let mut words = args.split_whitespace();
            let first = words.next();
            let (target, depth) = match first {
                Some(w) if w.starts_with('@') => (handle_number(w).map(Some), words.next()),
                other => (Ok(last), other),
            };
            let depth = depth.map_or(Ok(1), |d| d.parse::<u32>().map_err(|_| format!("{d}: a depth is a number")));
            match (target, depth) {
                (Ok(Some(h)), Ok(d)) => {
                    if let Err(e) = inspect_tree(conn, h, d.max(1), 0) {
                        eprintln!("mica connect: {e}");
                        status = ExitCode::FAILURE;
                        break;
                    }
                }
                (Ok(None), _) => eprintln!("nothing to inspect yet: evaluate something, or give a handle (@N)"),
                (Err(e), _) | (_, Err(e)) => eprintln!("{e}"),
            }
            continue;
        }
        let request = match command(text.trim()) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(message) => {
                eprintln!("{message}");
                continue;
            }
        };
        match conn.call(request, Some(&interrupt)) {
            Ok(reply) => {
                show(&reply);
                if let Some(h) = reply["handle"].as_u64() {
                    last = Some(h);
                }
            }
            Err(e) => {
                eprintln!("mica connect: {e}");
                status = ExitCode::FAILURE;
                break;
            }
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    status
}

/// The request a line of the session stands for (`None`: leave).
pub fn command(text: &str) -> Result<Option<Value>, String> {
    let Some(cmd) = text.strip_prefix(':') else { return Ok(Some(json!({ "op": "eval", "source": text }))) };
    let (word, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
    let rest = rest.trim();
    Ok(Some(match word {
        "quit" | "q" => return Ok(None),
        "help" | "h" => {
            say!("{}", USAGE.split("Commands:").nth(1).unwrap_or("").trim_end());
            return Err(String::new());
        }
        "define" if !rest.is_empty() => {
            let source = std::fs::read_to_string(rest).map_err(|e| format!("{rest}: {e}"))?;
            json!({ "op": "define", "source": source })
        }
        "method" => {
            let (class, source) = rest.split_once(char::is_whitespace).ok_or(":method CLASS [class] SOURCE")?;
            let source = source.trim_start();
            match source.strip_prefix("class").filter(|s| s.starts_with(char::is_whitespace)) {
                Some(s) => json!({ "op": "define", "class": class, "classSide": true, "source": s.trim_start() }),
                None => json!({ "op": "define", "class": class, "source": source }),
            }
        }
        "remove" if !rest.is_empty() => match rest.split_once(">>") {
            Some((class, selector)) => {
                let (class, side) = match class.strip_suffix(" class") {
                    Some(c) => (c, true),
                    None => (class, false),
                };
                json!({ "op": "remove", "class": class.trim(), "classSide": side, "selector": selector.trim() })
            }
            None => json!({ "op": "remove", "class": rest }),
        },
        "source" => {
            let (class, selector) =
                rest.split_once(">>").ok_or(":source CLASS>>SELECTOR (CLASS may be 'Foo class')")?;
            let (class, side) = match class.trim().strip_suffix(" class") {
                Some(c) => (c, true),
                None => (class.trim(), false),
            };
            json!({ "op": "source", "class": class, "classSide": side, "selector": selector.trim() })
        }
        "namespaces" => json!({ "op": "namespaces" }),
        "classes" if rest.is_empty() => json!({ "op": "classes" }),
        "classes" => json!({ "op": "classes", "namespace": rest }),
        "class" if !rest.is_empty() => json!({ "op": "class", "class": rest }),
        "implementors" if !rest.is_empty() => json!({ "op": "implementors", "selector": rest }),
        "senders" if !rest.is_empty() => json!({ "op": "senders", "selector": rest }),
        "revert" if rest.is_empty() => json!({ "op": "revert" }),
        "revert" => json!({ "op": "revert", "class": rest }),
        "stats" => json!({ "op": "stats" }),
        "save" if !rest.is_empty() => {
            let path = std::path::absolute(rest).map_err(|e| format!("{rest}: {e}"))?;
            json!({ "op": "save", "path": path.display().to_string() })
        }
        "describe" => json!({ "op": "describe" }),
        "set" => {
            let (target, rest) =
                rest.split_once(char::is_whitespace).ok_or(":set @N FIELD EXPR or :set @N [I] EXPR")?;
            let handle = handle_number(target)?;
            let rest = rest.trim_start();
            let (slot, source) = rest.split_once(char::is_whitespace).ok_or(":set @N FIELD EXPR: the expression?")?;
            match slot.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                Some(i) => {
                    let index: u64 = i.parse().map_err(|_| format!("[{i}]: an index is a whole number from 1"))?;
                    json!({ "op": "set", "handle": handle, "index": index, "source": source })
                }
                None => json!({ "op": "set", "handle": handle, "field": slot, "source": source }),
            }
        }
        "processes" => json!({ "op": "processes" }),
        "stack" if !rest.is_empty() => {
            let mut words = rest.split_whitespace();
            let process = number_word(words.next(), "a process id")?;
            match words.next() {
                Some(n) => json!({ "op": "stack", "process": process, "count": number_word(Some(n), "a count")? }),
                None => json!({ "op": "stack", "process": process }),
            }
        }
        "pause" | "continue" | "suspend" | "resume" | "terminate" if !rest.is_empty() => {
            json!({ "op": word, "process": number_word(Some(rest), "a process id")? })
        }
        "restart" if !rest.is_empty() => {
            let mut words = rest.split_whitespace();
            let process = number_word(words.next(), "a process id")?;
            json!({ "op": "restart", "process": process, "frame": number_word(words.next(), "a frame number")? })
        }
        "return" | "in" if !rest.is_empty() => {
            let (process, rest) = rest.split_once(char::is_whitespace).ok_or(":return P FRAME EXPR")?;
            let (frame, source) = rest.trim_start().split_once(char::is_whitespace).ok_or(":return P FRAME EXPR")?;
            let process = number_word(Some(process), "a process id")?;
            let frame = number_word(Some(frame), "a frame number")?;
            let op = if word == "in" { "eval" } else { "return" };
            json!({ "op": op, "process": process, "frame": frame, "source": source })
        }
        "release" if rest.is_empty() => json!({ "op": "release" }),
        "release" => {
            let handles = rest.split_whitespace().map(handle_number).collect::<Result<Vec<_>, _>>()?;
            json!({ "op": "release", "handles": handles })
        }
        _ => return Err(format!("unknown command :{word} (or it lacks its argument); :help lists them")),
    }))
}

/// `:edit CLASS>>SELECTOR`: the method's text (its source, a draft that
/// did not compile, or a new method's skeleton) in the user's editor, then
/// defined.
fn edit(
    conn: &mut Connection,
    target: &str,
    drafts: &mut std::collections::HashMap<String, String>,
) -> Result<(), String> {
    let (class, selector) = target.split_once(">>").ok_or(":edit CLASS>>SELECTOR (CLASS may be 'Foo class')")?;
    let (class, side) = match class.trim().strip_suffix(" class") {
        Some(c) => (c.trim(), true),
        None => (class.trim(), false),
    };
    let selector = selector.trim();
    if class.is_empty() || selector.is_empty() {
        return Err(":edit CLASS>>SELECTOR".into());
    }
    let text = match drafts.get(target) {
        Some(draft) => draft.clone(),
        None => {
            let reply =
                conn.call(json!({ "op": "source", "class": class, "classSide": side, "selector": selector }), None)?;
            // An inherited method's text, defined here, overrides it.
            match reply["source"].as_str() {
                Some(source) => source.to_string(),
                None if reply["error"]["message"].as_str().is_some_and(|m| m.contains("no source")) => {
                    let why = reply["error"]["message"].as_str().unwrap_or("");
                    return Err(format!("{why}: edit the class file and :define it instead"));
                }
                _ => format!("{selector} = (\n    \n)\n"),
            }
        }
    };
    let path = std::env::temp_dir().join(format!("mica-edit-{}-{}.som", std::process::id(), drafts.len()));
    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    let editor = std::env::var("VISUAL").or_else(|_| std::env::var("EDITOR")).unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .map_err(|e| format!("cannot start the editor {editor}: {e}"));
    let edited = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    if !status?.success() {
        return Err(format!("{editor} failed: nothing defined"));
    }
    let edited = edited?;
    if edited.trim() == text.trim() && !drafts.contains_key(target) {
        say!("unchanged: nothing defined");
        return Ok(());
    }
    let reply = conn.call(json!({ "op": "define", "class": class, "classSide": side, "source": edited }), None)?;
    if show(&reply) {
        drafts.remove(target);
    } else {
        drafts.insert(target.to_string(), edited);
        eprintln!("(the text is kept: :edit {target} opens it again)");
    }
    Ok(())
}

/// A number a command needs.
fn number_word(word: Option<&str>, what: &str) -> Result<u64, String> {
    let w = word.ok_or(format!("{what} is missing"))?;
    w.parse().map_err(|_| format!("{w}: {what} is a whole number"))
}

/// A handle as the session writes it: `@12` or `12`.
fn handle_number(text: &str) -> Result<u64, String> {
    text.strip_prefix('@').unwrap_or(text).parse().map_err(|_| format!("{text}: a handle is @ and a number (@12)"))
}

/// Whether a value of `class` is worth opening (in a session's tree, an
/// editor's variables view).
pub(crate) fn has_insides(class: &str) -> bool {
    !matches!(
        class,
        "SmallInteger"
            | "LargeInteger"
            | "Integer"
            | "Double"
            | "String"
            | "Symbol"
            | "Nil"
            | "True"
            | "False"
            | "Character"
            | "Method"
            | "Primitive"
    )
}

/// Prints the inspection of `handle` as a tree `depth` levels deep.
fn inspect_tree(conn: &mut Connection, handle: u64, depth: u32, indent: usize) -> Result<bool, String> {
    let reply = conn.call(json!({ "op": "inspect", "handle": handle }), None)?;
    if reply["ok"] != json!(true) {
        return Ok(show(&reply));
    }
    let pad = "  ".repeat(indent + 1);
    let entry = |label: String, v: &Value| {
        format!(
            "{pad}{label} = {}  ({} @{})",
            v["value"].as_str().unwrap_or(""),
            v["class"].as_str().unwrap_or("?"),
            v["handle"]
        )
    };
    if indent == 0 {
        let o = &reply["object"];
        say!("{}  ({} @{})", o["value"].as_str().unwrap_or(""), o["class"].as_str().unwrap_or("?"), o["handle"]);
    }
    for f in reply["fields"].as_array().into_iter().flatten() {
        say!("{}", entry(f["name"].as_str().unwrap_or("?").to_string(), f));
        if depth > 1 && has_insides(f["class"].as_str().unwrap_or("")) {
            inspect_tree(conn, f["handle"].as_u64().unwrap_or(0), depth - 1, indent + 1)?;
        }
    }
    let size = reply["size"].as_u64().unwrap_or(0);
    let elements = reply["elements"].as_array().cloned().unwrap_or_default();
    for e in &elements {
        say!("{}", entry(format!("[{}]", e["index"]), e));
        if depth > 1 && has_insides(e["class"].as_str().unwrap_or("")) {
            inspect_tree(conn, e["handle"].as_u64().unwrap_or(0), depth - 1, indent + 1)?;
        }
    }
    if size > elements.len() as u64 {
        say!("{pad}... {} of {size} elements shown", elements.len());
    }
    Ok(true)
}

fn list() -> ExitCode {
    let dir = socket_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        say!("no Mica program of yours accepts connections");
        return ExitCode::SUCCESS;
    };
    let mut rows = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_suffix(".token").and_then(|p| p.parse::<u32>().ok())
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        let Some(pid) = name.strip_suffix(".sock").and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            // Left by a program that did not end normally.
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        let Ok(mut conn) = Connection::open(pid) else { continue };
        let _ = conn.socket.set_read_timeout(Some(Duration::from_secs(2)));
        if let Ok(d) = conn.call(json!({ "op": "describe" }), None) {
            rows.push((pid, d["program"].as_str().unwrap_or("?").to_string(), d["uptimeMs"].as_u64().unwrap_or(0)));
        }
    }
    if rows.is_empty() {
        say!("no Mica program of yours accepts connections");
        return ExitCode::SUCCESS;
    }
    rows.sort();
    say!("{:>8}  {:<24}  UPTIME", "PID", "PROGRAM");
    for (pid, program, ms) in rows {
        say!("{pid:>8}  {program:<24}  {}", uptime(ms));
    }
    ExitCode::SUCCESS
}

fn uptime(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s / 60) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_strings_and_comments_balance() {
        assert!(balanced("3 + 4"));
        assert!(!balanced("#(1 2"));
        assert!(!balanced("[:x | x"));
        assert!(balanced("'a ( string'"));
        assert!(balanced("\"a ( comment\" 3"));
        assert!(!balanced("'it''s"));
        assert!(balanced("$( printString"));
        assert!(balanced("foo = (\n ^[ 1 ] value\n)"));
    }

    #[test]
    fn commands_make_requests() {
        assert_eq!(command("3 + 4").unwrap().unwrap(), json!({ "op": "eval", "source": "3 + 4" }));
        assert_eq!(
            command(":method Foo bar = ( ^1 )").unwrap().unwrap(),
            json!({ "op": "define", "class": "Foo", "source": "bar = ( ^1 )" })
        );
        assert_eq!(
            command(":method Foo class make = ( ^self new )").unwrap().unwrap(),
            json!({ "op": "define", "class": "Foo", "classSide": true, "source": "make = ( ^self new )" })
        );
        assert_eq!(
            command(":remove Foo>>bar").unwrap().unwrap(),
            json!({ "op": "remove", "class": "Foo", "classSide": false, "selector": "bar" })
        );
        assert_eq!(command(":remove Foo").unwrap().unwrap(), json!({ "op": "remove", "class": "Foo" }));
        assert_eq!(command(":revert Foo").unwrap().unwrap(), json!({ "op": "revert", "class": "Foo" }));
        assert!(command(":quit").unwrap().is_none());
        assert!(command(":fly").is_err());
    }
}
