//! `mica dap` end to end, spoken to as an editor speaks to it
//! (Content-Length framing, sequence numbers): a real program in every JIT
//! mode, a scripted program that offers the live operations of debugging
//! (pause, continue, step, restart, errors that stop), attach over TCP,
//! framing errors and bad process ids. Each test keeps its sockets in a
//! directory of its own (`MICA_LIVE_DIR`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const MODES: [&str; 3] = ["--jit=off", "--jit=on", "--jit=eager"];

/// How long any one answer may take.
const PATIENCE: Duration = Duration::from_secs(30);

/// A scratch directory for one test (kept when the test fails).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("mica-dap-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).expect("scratch dir");
    Scratch(dir)
}

impl Scratch {
    fn sockets(&self) -> PathBuf {
        self.0.join("sockets")
    }

    fn class(&self, name: &str, source: &str) {
        std::fs::write(self.0.join("src").join(format!("{name}.som")), source).expect("class file");
    }

    /// Starts `mica FLAGS -cp src MAIN`, its output going to files.
    fn start(&self, flags: &[&str], main: &str) -> Program {
        let out = self.0.join(format!("{main}.out"));
        let err = self.0.join(format!("{main}.err"));
        let child = Command::new(env!("CARGO_BIN_EXE_mica"))
            .env("MICA_LIVE_DIR", self.sockets())
            .current_dir(&self.0)
            .args(flags)
            .args(["-cp", "src", main])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&err).expect("err"))
            .spawn()
            .expect("mica starts");
        Program { child, out, err }
    }

    /// Runs `mica connect PID --eval EXPR`: its standard output and error.
    fn eval(&self, pid: u32, expr: &str) -> (String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_mica"))
            .env("MICA_LIVE_DIR", self.sockets())
            .args(["connect", &pid.to_string(), "--eval", expr])
            .stdin(Stdio::null())
            .output()
            .expect("mica connect runs");
        (String::from_utf8_lossy(&out.stdout).trim().to_string(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// Starts `mica dap`.
    fn dap(&self) -> Dap {
        Dap::start(&self.sockets())
    }
}

struct Program {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Program {
    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits until the program accepts connections.
    fn wait_for_endpoint(&mut self, sockets: &Path) {
        let socket = sockets.join(format!("{}.sock", self.child.id()));
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("ended ({status}) before it could be connected to: {}", self.stderr());
            }
            assert!(start.elapsed() < PATIENCE, "no endpoint at {}", socket.display());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_for_output(&mut self, what: &str) {
        let start = Instant::now();
        while !self.stdout().contains(what) {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("ended ({status}) without printing {what:?}: {}{}", self.stdout(), self.stderr());
            }
            assert!(start.elapsed() < PATIENCE, "no {what:?} in {:?}", self.stdout());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(start.elapsed() < PATIENCE * 2, "the program did not end: {}{}", self.stdout(), self.stderr());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An editor's end of `mica dap`.
struct Dap {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    /// Messages read but not yet asked for.
    backlog: VecDeque<Value>,
    seq: i64,
    /// The seq of the last message from the adapter.
    last_seq: i64,
    /// The last request sent (for failures).
    sent: String,
}

/// Reads one framed message; `None` at the end.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header line");
        assert_eq!(name, "Content-Length", "the only header the adapter writes");
        length = Some(value.trim().parse::<usize>().expect("a length"));
    }
    let mut body = vec![0; length.expect("Content-Length")];
    reader.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).expect("a JSON body"))
}

impl Dap {
    fn start(sockets: &Path) -> Dap {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mica"))
            .env("MICA_LIVE_DIR", sockets)
            .arg("dap")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mica dap starts");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            while let Some(m) = read_message(&mut stdout) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        Dap { child, stdin, messages: rx, backlog: VecDeque::new(), seq: 0, last_seq: 0, sent: String::new() }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write");
        stdin.flush().expect("flush");
    }

    /// Sends a request; answers its seq.
    fn send(&mut self, command: &str, arguments: Value) -> i64 {
        self.seq += 1;
        let message = json!({ "seq": self.seq, "type": "request", "command": command, "arguments": arguments });
        let body = message.to_string();
        self.sent.clone_from(&body);
        // Header and body in two writes: the adapter must put them together.
        self.write(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.write(body.as_bytes());
        self.seq
    }

    /// The next message from the adapter (its seq checked).
    fn next(&mut self) -> Value {
        let m = self
            .messages
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no message after request {}; kept: {:?}", self.sent, self.backlog));
        let seq = m["seq"].as_i64().unwrap_or_else(|| panic!("no seq: {m}"));
        assert!(seq > self.last_seq, "seq {seq} after {}: {m}", self.last_seq);
        self.last_seq = seq;
        m
    }

    /// The response to request `seq` (other messages kept).
    fn response(&mut self, seq: i64) -> Value {
        if let Some(at) = self.backlog.iter().position(|m| m["type"] == "response" && m["request_seq"] == seq) {
            return self.backlog.remove(at).expect("there");
        }
        loop {
            let m = self.next();
            if m["type"] == "response" && m["request_seq"] == seq {
                return m;
            }
            self.backlog.push_back(m);
        }
    }

    /// Sends a request and answers its response.
    fn request(&mut self, command: &str, arguments: Value) -> Value {
        let seq = self.send(command, arguments);
        let r = self.response(seq);
        assert_eq!(r["command"], command, "{r}");
        r
    }

    /// The body of a request's successful response.
    fn ok(&mut self, command: &str, arguments: Value) -> Value {
        let r = self.request(command, arguments);
        assert_eq!(r["success"], true, "{command}: {r}");
        r["body"].clone()
    }

    /// The message of a request's failed response.
    fn fails(&mut self, command: &str, arguments: Value) -> String {
        let r = self.request(command, arguments);
        assert_eq!(r["success"], false, "{command}: {r}");
        r["message"].as_str().unwrap_or_else(|| panic!("no message: {r}")).to_string()
    }

    /// The next event named `name` (others kept).
    fn event(&mut self, name: &str) -> Value {
        if let Some(at) = self.backlog.iter().position(|m| m["type"] == "event" && m["event"] == name) {
            return self.backlog.remove(at).expect("there");
        }
        loop {
            let m = self.next();
            if m["type"] == "event" && m["event"] == name {
                return m;
            }
            self.backlog.push_back(m);
        }
    }

    /// Whether an event named `name` is among those read so far.
    fn has_event(&mut self, name: &str) -> bool {
        while let Ok(m) = self.messages.try_recv() {
            self.backlog.push_back(m);
        }
        self.backlog.iter().any(|m| m["type"] == "event" && m["event"] == name)
    }

    /// Initializes, checking the capabilities and the initialized event.
    fn initialize(&mut self) -> Value {
        let caps = self.ok("initialize", json!({ "adapterID": "mica", "linesStartAt1": true, "pathFormat": "path" }));
        for c in [
            "supportsConfigurationDoneRequest",
            "supportsSetVariable",
            "supportsEvaluateForHovers",
            "supportsRestartFrame",
            "supportsTerminateThreadsRequest",
        ] {
            assert_eq!(caps[c], true, "{c}: {caps}");
        }
        assert_ne!(caps["supportTerminateDebuggee"], true, "not offered: {caps}");
        self.event("initialized");
        caps
    }

    /// Waits for the adapter to end; its exit status.
    fn wait(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(start.elapsed() < PATIENCE, "mica dap did not end");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Dap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A variable of a `variables` body by name.
fn var<'a>(body: &'a Value, name: &str) -> &'a Value {
    let list = body["variables"].as_array().unwrap_or_else(|| panic!("no variables: {body}"));
    list.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no {name}: {body}"))
}

/// A worker process that counts in a loop with a Delay, inside a method
/// with an argument and temporaries (one of them an object with an Array
/// in a field), and a main process that waits until told to stop.
const WORKERS: &str = "Workers = (
    run = (
        | worker |
        Workers count: 0.
        worker := [ self work: 5 ] newProcess.
        worker name: 'counter'.
        worker resume.
        'started' println.
        [ Workers stopped ] whileFalse: [ (Delay forMilliseconds: 5) wait ].
        'stopped' println
    )
    work: step = (
        | total label pair |
        label := 'total'.
        pair := Pair new.
        pair right: (Array with: 1 with: 'two' with: nil).
        Workers pair: pair.
        total := 0.
        [ true ] whileTrue: [
            total := total + step.
            pair left: total.
            Workers count: Workers count + 1.
            (Delay forMilliseconds: 2) wait ]
    )
    ----
    | count stop pair |
    count = ( ^count )
    count: n = ( count := n )
    pair = ( ^pair )
    pair: p = ( pair := p )
    stop: b = ( stop := b )
    stopped = ( ^stop == true )
)";

const PAIR: &str = "Pair = (
    | left right note |
    left: x = ( left := x )
    right: x = ( right := x )
    note = ( ^note )
)";

#[test]
fn a_whole_session_attach_pause_inspect_evaluate_set_continue_disconnect_in_every_mode() {
    let s = scratch("session");
    s.class("Workers", WORKERS);
    s.class("Pair", PAIR);
    for mode in MODES {
        let mut p = s.start(&[mode], "Workers");
        p.wait_for_output("started");
        p.wait_for_endpoint(&s.sockets());
        let pid = p.child.id();
        let mut dap = s.dap();
        dap.initialize();
        dap.ok("attach", json!({ "pid": pid }));
        dap.ok("configurationDone", json!({}));
        // Threads: the main process and the worker (evaluations hidden).
        let count = |dap: &mut Dap| -> i64 {
            let r = dap.ok("evaluate", json!({ "expression": "Workers count", "context": "repl" }));
            r["result"].as_str().and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{r}"))
        };
        let start = Instant::now();
        while count(&mut dap) < 3 {
            assert!(start.elapsed() < PATIENCE, "{mode}: the worker does not count");
        }
        let threads = dap.ok("threads", json!({}));
        let list = threads["threads"].as_array().unwrap_or_else(|| panic!("{threads}"));
        let named = |n: &str| list.iter().find(|t| t["name"].as_str().is_some_and(|s| s.starts_with(n))).cloned();
        assert!(named("main (").is_some(), "{mode}: {threads}");
        let worker = named("counter (").unwrap_or_else(|| panic!("{mode}: {threads}"))["id"].as_i64().unwrap();
        // Pause the worker: a stopped event for it.
        dap.ok("pause", json!({ "threadId": worker }));
        let stopped = dap.event("stopped");
        assert_eq!(stopped["body"]["threadId"], worker, "{stopped}");
        assert_eq!(stopped["body"]["reason"], "pause", "{stopped}");
        // Its stack, with the method and the line it stands on.
        let trace = dap.ok("stackTrace", json!({ "threadId": worker, "startFrame": 0, "levels": 20 }));
        let frames = trace["stackFrames"].as_array().unwrap_or_else(|| panic!("{trace}"));
        let work = frames.iter().find(|f| f["name"] == "Workers>>work:").unwrap_or_else(|| panic!("{mode}: {trace}"));
        // In the loop, or the line before it (a back-edge's safepoint).
        assert!((14..=23).contains(&work["line"].as_i64().unwrap()), "{mode}: {work}");
        let path = work["source"]["path"].as_str().unwrap_or_else(|| panic!("{work}"));
        assert_eq!(
            std::fs::canonicalize(path).unwrap(),
            std::fs::canonicalize(s.0.join("src/Workers.som")).unwrap(),
            "the file in the program's directory"
        );
        assert!(trace["totalFrames"].as_u64().unwrap() >= frames.len() as u64, "{trace}");
        let frame = work["id"].clone();
        // Its scopes and variables.
        let scopes = dap.ok("scopes", json!({ "frameId": frame }));
        let scope = |n: &str| {
            scopes["scopes"].as_array().unwrap().iter().find(|s| s["name"] == n).unwrap_or_else(|| panic!("{scopes}"))
                ["variablesReference"]
                .clone()
        };
        let arguments = dap.ok("variables", json!({ "variablesReference": scope("Arguments") }));
        assert_eq!(var(&arguments, "step")["value"], "5", "{arguments}");
        assert_eq!(var(&arguments, "step")["type"], "Integer", "{arguments}");
        let temps = dap.ok("variables", json!({ "variablesReference": scope("Temporaries") }));
        assert_eq!(var(&temps, "label")["value"], "'total'", "{temps}");
        let total: i64 = var(&temps, "total")["value"].as_str().unwrap().parse().unwrap();
        assert_eq!(total % 5, 0, "{temps}");
        let pair = var(&temps, "pair");
        assert_eq!(pair["type"], "Pair", "{temps}");
        let pair_ref = pair["variablesReference"].as_i64().unwrap();
        assert!(pair_ref > 0, "an object opens: {temps}");
        let receiver = dap.ok("variables", json!({ "variablesReference": scope("Receiver") }));
        assert!(receiver["variables"].as_array().unwrap().is_empty(), "Workers has no instance fields: {receiver}");
        // Expand the object, and the Array in its field.
        let fields = dap.ok("variables", json!({ "variablesReference": pair_ref }));
        assert_eq!(var(&fields, "left")["value"], total.to_string(), "{fields}");
        assert_eq!(var(&fields, "note")["value"], "nil", "{fields}");
        let right = var(&fields, "right");
        assert_eq!(right["type"], "Array", "{fields}");
        let elements = dap.ok("variables", json!({ "variablesReference": right["variablesReference"] }));
        assert_eq!(var(&elements, "[1]")["value"], "1", "{elements}");
        assert_eq!(var(&elements, "[2]")["value"], "'two'", "{elements}");
        assert_eq!(var(&elements, "[3]")["value"], "nil", "{elements}");
        // Evaluate, in the frame, and a hover on a variable.
        let r = dap.ok("evaluate", json!({ "expression": "3 + 4", "frameId": frame, "context": "repl" }));
        assert_eq!((r["result"].clone(), r["type"].clone()), (json!("7"), json!("Integer")), "{mode}: {r}");
        let r = dap.ok("evaluate", json!({ "expression": "step", "frameId": frame, "context": "hover" }));
        assert_eq!(r["result"], "5", "{r}");
        let message = dap.fails("evaluate", json!({ "expression": "1 +", "context": "repl" }));
        assert!(!message.is_empty(), "a compile error says why");
        // A long evaluation is cancelled; the session goes on meanwhile.
        let long = dap.send("evaluate", json!({ "expression": "[ true ] whileTrue: [ ]", "context": "repl" }));
        let threads = dap.ok("threads", json!({}));
        assert!(threads["threads"].is_array(), "{mode}: {threads}");
        dap.ok("cancel", json!({ "requestId": long }));
        let r = dap.response(long);
        assert_eq!((r["success"].clone(), r["message"].clone()), (json!(false), json!("cancelled")), "{mode}: {r}");
        // Set a field of the object from an expression.
        let r = dap.ok("setVariable", json!({ "variablesReference": pair_ref, "name": "note", "value": "40 + 2" }));
        assert_eq!(r["value"], "42", "{r}");
        let fields = dap.ok("variables", json!({ "variablesReference": pair_ref }));
        assert_eq!(var(&fields, "note")["value"], "42", "{fields}");
        let message =
            dap.fails("setVariable", json!({ "variablesReference": pair_ref, "name": "middle", "value": "1" }));
        assert!(!message.is_empty());
        // Paused, the worker does not count.
        let before = count(&mut dap);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(count(&mut dap), before, "{mode}: a paused worker does not run");
        // Continued, it counts again; its old frames are gone.
        let r = dap.ok("continue", json!({ "threadId": worker }));
        assert_eq!(r["allThreadsContinued"], false, "{r}");
        let start = Instant::now();
        while count(&mut dap) <= before {
            assert!(start.elapsed() < PATIENCE, "{mode}: the continued worker does not count");
        }
        let message = dap.fails("scopes", json!({ "frameId": frame }));
        assert!(message.contains("no longer"), "{message}");
        // Disconnect: the adapter ends, the program goes on.
        dap.ok("disconnect", json!({}));
        assert!(dap.wait().success());
        // Right after the adapter ends, a connection is now and then
        // refused (seen once in some thirty runs, in every mode, the
        // interpreter's included; the cause is not known yet): that is
        // retried, within PATIENCE, and anything else fails at once.
        let counted = |what: &str| -> i64 {
            let start = Instant::now();
            loop {
                let (out, err) = s.eval(pid, "Workers count");
                if let Ok(n) = out.parse() {
                    return n;
                }
                let transient = err.contains("accepts no live connection") && start.elapsed() < PATIENCE;
                assert!(transient, "{mode}: {what}: 'Workers count' answered {out:?}: {err}");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let a = counted("after disconnect");
        let start = Instant::now();
        while counted("while waiting for the program to go on") <= a {
            assert!(start.elapsed() < PATIENCE, "{mode}: the program does not go on after disconnect");
        }
        assert_eq!(s.eval(pid, "Workers pair note").0, "42", "the set field stays set");
        s.eval(pid, "Workers stop: true");
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert_eq!(p.stdout(), "started\nstopped\n", "{mode}");
    }
}

#[test]
fn framing_errors_and_unknown_commands_are_answered_and_the_session_goes_on() {
    let s = scratch("framing");
    let mut dap = s.dap();
    dap.write(b"Garbage header\r\n\r\n");
    let out = dap.event("output");
    assert!(out["body"]["output"].as_str().unwrap().contains("bad message header"), "{out}");
    dap.write(b"Content-Length: 8\r\n\r\nnot json");
    let out = dap.event("output");
    assert!(out["body"]["output"].as_str().unwrap().contains("not JSON"), "{out}");
    // Two messages in one write, the first without arguments.
    let (a, b) = (
        json!({ "seq": 1, "type": "request", "command": "initialize" }).to_string(),
        json!({ "seq": 2, "type": "request", "command": "threads" }).to_string(),
    );
    dap.seq = 2;
    dap.write(format!("Content-Length: {}\r\n\r\n{a}Content-Length: {}\r\n\r\n{b}", a.len(), b.len()).as_bytes());
    assert_eq!(dap.response(1)["success"], true);
    assert_eq!(dap.response(2)["body"], json!({ "threads": [] }), "no program, no threads");
    dap.event("initialized");
    let message = dap.fails("fly", json!({}));
    assert!(message.contains("does not support the 'fly' request"), "{message}");
    let message = dap.fails("stackTrace", json!({ "threadId": 1 }));
    assert!(message.contains("not attached"), "{message}");
    let message = dap.fails("launch", json!({}));
    assert!(message.contains("attach"), "{message}");
    let message = dap.fails("attach", json!({}));
    assert!(message.contains("pid"), "{message}");
    let message = dap.fails("variables", json!({ "variablesReference": 99 }));
    assert!(message.contains("no longer valid"), "{message}");
    // A request without a seq is reported, not answered.
    dap.write(b"Content-Length: 2\r\n\r\n{}");
    let out = dap.event("output");
    assert!(out["body"]["output"].as_str().unwrap().contains("\"seq\""), "{out}");
    // Closing the input ends the adapter.
    dap.stdin = None;
    assert!(dap.wait().success());
}

#[test]
fn attach_to_a_process_without_an_endpoint_says_what_mica_connect_says() {
    let s = scratch("badpid");
    let mut gone = Command::new("true").spawn().expect("true runs");
    let gone_pid = gone.id();
    gone.wait().expect("true ends");
    let mut other = Command::new("sleep").arg("30").spawn().expect("sleep runs");
    for (pid, words) in [(gone_pid, "no process has id"), (other.id(), "accepts no live connection")] {
        let mut dap = s.dap();
        dap.initialize();
        let message = dap.fails("attach", json!({ "pid": pid }));
        assert!(message.contains(words), "{message}");
        let (_, connect) = s.eval(pid, "1");
        assert!(connect.contains(&message), "the same words as mica connect: {connect:?} / {message:?}");
        // Not attached, the session still answers, and ends when told.
        assert_eq!(dap.ok("threads", json!({})), json!({ "threads": [] }));
        dap.ok("disconnect", json!({}));
        assert!(dap.wait().success());
    }
    let _ = other.kill();
    let _ = other.wait();
}

/// A scripted program: a live endpoint at the test's own process id that
/// answers as a program with the debugging operations would, and records
/// the requests it got. `exit` makes it send the exit event and close.
struct Scripted {
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Scripted {
    fn ops(&self, op: &str) -> Vec<Value> {
        self.requests.lock().unwrap().iter().filter(|r| r["op"] == op).cloned().collect()
    }
}

fn frame_json(index: u64, method: &str, line: u64) -> Value {
    json!({ "index": index, "method": method, "file": "src/Remote.som", "line": line,
        "receiver": { "value": "a Job", "class": "Job", "handle": 100 + index },
        "arguments": [{ "name": "n", "value": "3", "class": "Integer", "handle": 200 + index }],
        "temporaries": [{ "name": "i/each", "value": "1", "class": "Integer", "handle": 300 + index }] })
}

/// The answer of the scripted program to `r`, and the events after it.
fn scripted_answer(r: &Value, state: &mut &'static str) -> (Value, Vec<Value>) {
    let id = r["id"].clone();
    let process = |state: &str| {
        json!({ "processes": [{ "id": 7, "name": "job", "priority": 40, "state": state,
        "top": "Job>>run: (src/Remote.som:4)", "evaluation": false }] })
    };
    let stopped = |reason: &str| json!({ "event": "stopped", "process": 7, "reason": reason });
    let (mut answer, events) = match r["op"].as_str().unwrap_or("") {
        "describe" => (
            json!({ "protocol": 1, "program": "Job", "pid": 1, "jit": "off",
                "operations": ["describe", "eval", "processes", "stack", "inspect", "set", "pause", "continue",
                    "step", "restart", "return", "source", "terminate"] }),
            vec![],
        ),
        "processes" => {
            let mut list = process(state);
            list["processes"].as_array_mut().unwrap().push(json!({ "id": 9, "name": "doIt", "priority": 50,
                "state": "running", "top": "", "evaluation": true }));
            (list, vec![])
        }
        "pause" => {
            *state = "paused";
            (process("paused"), vec![stopped("pause")])
        }
        "step" => (process("paused"), vec![stopped("step")]),
        "restart" => (process("paused"), vec![]),
        "continue" => {
            *state = "stopped";
            let error = json!({ "event": "stopped", "process": 7, "reason": "error", "message": "Division by zero.",
                "trace": "Traceback (most recent call at bottom):\n  Job>>run: (src/Remote.som:5)\n" });
            (process("running"), vec![error])
        }
        "stack" => (
            json!({ "process": 7, "depth": 2, "frames": [frame_json(0, "Job>>step:", 9), frame_json(1, "Job>>run: (block)", 4)] }),
            vec![],
        ),
        "source" => (
            json!({ "source": "step: n = (\n  ^n + 1\n)", "holder": "Job", "file": "src/Remote.som", "line": 8 }),
            vec![],
        ),
        "eval" if r["source"] == "refuse" && r.get("frame").is_some() => {
            let e = json!({ "id": id, "ok": false, "error": { "kind": "badRequest", "message": "unknown field \"frame\"" } });
            return (e, vec![]);
        }
        "eval" if r.get("frame").is_some() => (json!({ "value": "in frame", "class": "String", "handle": 50 }), vec![]),
        "eval" => (json!({ "value": "plain", "class": "String", "handle": 51 }), vec![]),
        "release" => (json!({ "released": 1 }), vec![]),
        other => {
            let message = format!("unknown op \"{other}\"");
            return (json!({ "id": id, "ok": false, "error": { "kind": "badRequest", "message": message } }), vec![]);
        }
    };
    answer["id"] = id;
    answer["ok"] = json!(true);
    (answer, events)
}

/// Serves one connection of the scripted program on `stream`.
fn serve_scripted(stream: impl Read + Write + Send + 'static, writer: impl Write, requests: Arc<Mutex<Vec<Value>>>) {
    let mut writer = writer;
    let mut reader = BufReader::new(stream);
    let mut state = "running";
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        let r: Value = serde_json::from_str(&line).expect("the adapter sends JSON lines");
        line.clear();
        requests.lock().unwrap().push(r.clone());
        if r["op"] == "eval" && r["source"] == "exit" {
            writeln!(writer, "{}", json!({ "event": "exit", "status": 3 })).unwrap();
            return;
        }
        let (answer, events) = scripted_answer(&r, &mut state);
        writeln!(writer, "{answer}").unwrap();
        for e in events {
            writeln!(writer, "{e}").unwrap();
        }
    }
}

fn scripted(sockets: &Path) -> Scripted {
    std::fs::DirBuilder::new().mode(0o700).create(sockets).expect("a private sockets directory");
    let listener = UnixListener::bind(sockets.join(format!("{}.sock", std::process::id()))).expect("bind");
    let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
    let recorded = Arc::clone(&requests);
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut writer = stream.try_clone().expect("clone");
        writeln!(writer, "{}", json!({ "event": "hello", "protocol": 1, "mica": "0.1.0", "pid": 1, "program": "Job" }))
            .unwrap();
        serve_scripted(stream, writer, recorded);
    });
    Scripted { requests }
}

#[test]
fn pause_step_restart_and_errors_through_the_debugging_operations() {
    let s = scratch("scripted");
    let program = scripted(&s.sockets());
    let mut dap = s.dap();
    dap.initialize();
    dap.ok("attach", json!({ "pid": std::process::id() }));
    dap.event("output");
    assert!(!dap.has_event("capabilities"), "restart is offered: no capability withdrawn");
    dap.ok("configurationDone", json!({}));
    let threads = dap.ok("threads", json!({}));
    assert_eq!(threads, json!({ "threads": [{ "id": 7, "name": "job (running)" }] }), "evaluations are hidden");
    // pause: the program's own stopped event, once.
    dap.ok("pause", json!({ "threadId": 7 }));
    assert_eq!(dap.event("stopped")["body"]["reason"], "pause");
    assert_eq!(program.ops("suspend").len(), 0, "pause, not suspend");
    dap.ok("threads", json!({}));
    assert!(!dap.has_event("stopped"), "one stopped event for one pause");
    let trace = dap.ok("stackTrace", json!({ "threadId": 7 }));
    let frames = trace["stackFrames"].as_array().unwrap();
    assert_eq!(frames.len(), 2, "{trace}");
    assert_eq!(frames[1]["name"], "Job>>run: (block)", "{trace}");
    // A file not on this machine is read from the program, on its lines.
    let reference = frames[0]["source"]["sourceReference"].as_i64().unwrap_or_else(|| panic!("{trace}"));
    let source = dap.ok("source", json!({ "sourceReference": reference }));
    let lines: Vec<&str> = source["content"].as_str().unwrap().lines().collect();
    assert_eq!(lines[8], "  ^n + 1", "line 9 of the file is line 9 of the text: {source}");
    let source_ops = program.ops("source");
    assert_eq!((source_ops[0]["class"].clone(), source_ops[0]["selector"].clone()), (json!("Job"), json!("step:")));
    // Hover on a variable of an inlined block, and evaluation in a frame.
    let top = frames[0]["id"].clone();
    let r = dap.ok("evaluate", json!({ "expression": "each", "frameId": top, "context": "hover" }));
    assert_eq!(r["result"], "1", "{r}");
    let r = dap.ok("evaluate", json!({ "expression": "n * 2", "frameId": frames[1]["id"], "context": "watch" }));
    assert_eq!(r["result"], "in frame", "{r}");
    let eval = program.ops("eval").pop().unwrap();
    assert_eq!((eval["process"].clone(), eval["frame"].clone()), (json!(7), json!(1)), "{eval}");
    let r = dap.ok("evaluate", json!({ "expression": "refuse", "frameId": top, "context": "repl" }));
    assert_eq!(r["result"], "plain", "{r}");
    assert!(r["message"].as_str().unwrap().contains("outside the frame"), "{r}");
    // Steps: answered, then stopped with reason step.
    for (command, kind) in [("next", "over"), ("stepIn", "into"), ("stepOut", "out")] {
        dap.ok(command, json!({ "threadId": 7 }));
        assert_eq!(dap.event("stopped")["body"]["reason"], "step", "{command}");
        assert_eq!(program.ops("step").pop().unwrap()["kind"], kind, "{command}");
        let message = dap.fails("scopes", json!({ "frameId": top }));
        assert!(message.contains("no longer"), "a step makes new frames: {message}");
        let trace = dap.ok("stackTrace", json!({ "threadId": 7 }));
        assert_ne!(trace["stackFrames"][0]["id"], top, "frame ids are not reused across stops");
    }
    // Restart a frame: stopped with reason restart.
    let trace = dap.ok("stackTrace", json!({ "threadId": 7 }));
    dap.ok("restartFrame", json!({ "frameId": trace["stackFrames"][1]["id"] }));
    assert_eq!(dap.event("stopped")["body"]["reason"], "restart");
    assert_eq!(program.ops("restart").pop().unwrap()["frame"], 1);
    // Continue; then the process stops at an error.
    dap.ok("continue", json!({ "threadId": 7 }));
    assert_eq!(program.ops("continue").len(), 1);
    assert_eq!(program.ops("resume").len(), 0);
    let stopped = dap.event("stopped");
    assert_eq!(stopped["body"]["reason"], "exception", "{stopped}");
    assert_eq!(stopped["body"]["text"], "Division by zero.", "{stopped}");
    let info = dap.ok("exceptionInfo", json!({ "threadId": 7 }));
    assert_eq!(info["breakMode"], "unhandled", "{info}");
    assert!(info["details"]["stackTrace"].as_str().unwrap().contains("Job>>run:"), "{info}");
    // The program ends: exited with its status, then terminated.
    dap.send("evaluate", json!({ "expression": "exit", "context": "repl" }));
    assert_eq!(dap.event("exited")["body"]["exitCode"], 3);
    dap.event("terminated");
    dap.ok("disconnect", json!({}));
    assert!(dap.wait().success());
}

#[test]
fn attach_over_tcp_sends_the_token_first() {
    let s = scratch("tcp");
    let token = s.0.join("token");
    std::fs::write(&token, "00ff00ff\n").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
    let recorded = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.expect("accept");
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let auth: Value = serde_json::from_str(&first).unwrap();
            let mut writer = stream.try_clone().unwrap();
            if auth["op"] != "authenticate" || auth["token"] != "00ff00ff" {
                writeln!(writer, "{}", json!({ "event": "refused", "message": "wrong token" })).unwrap();
                continue;
            }
            writeln!(writer, "{}", json!({ "event": "hello", "protocol": 1, "mica": "0.1.0", "pid": 1 })).unwrap();
            serve_scripted(stream, writer, Arc::clone(&recorded));
        }
    });
    let mut dap = s.dap();
    dap.initialize();
    let wrong = s.0.join("wrong");
    std::fs::write(&wrong, "1234").unwrap();
    let message = dap.fails("attach", json!({ "host": "127.0.0.1", "port": port, "tokenFile": wrong }));
    assert!(message.contains("refused: wrong token"), "{message}");
    let message = dap.fails("attach", json!({ "host": "127.0.0.1", "port": port, "tokenFile": token, "tls": true }));
    assert!(message.contains("TLS"), "{message}");
    dap.ok("attach", json!({ "host": "127.0.0.1", "port": port.to_string(), "tokenFile": token }));
    let threads = dap.ok("threads", json!({}));
    assert_eq!(threads["threads"][0]["id"], 7, "{threads}");
    assert_eq!(requests.lock().unwrap()[0]["op"], "describe", "served after the token");
    dap.ok("disconnect", json!({}));
    assert!(dap.wait().success());
}

/// A program that waits for the go-ahead, then divides by zero.
const CALC: &str = "Calc = (
    run = (
        [ Calc go ] whileFalse: [ (Delay forMilliseconds: 2) wait ].
        ('ratio ' + (self ratio: 10 over: 0) printString) println
    )
    ratio: n over: d = ( | scaled | scaled := n * 10. ^scaled / d )
    ----
    | go |
    go = ( ^go == true )
    go: b = ( go := b )
)";

#[test]
fn an_error_stops_the_thread_and_the_editor_fixes_restarts_and_continues_it() {
    let s = scratch("fix");
    s.class("Calc", CALC);
    for mode in MODES {
        let mut p = s.start(&[mode], "Calc");
        p.wait_for_endpoint(&s.sockets());
        let pid = p.child.id();
        let mut dap = s.dap();
        dap.initialize();
        dap.ok("attach", json!({ "pid": pid }));
        dap.ok("configurationDone", json!({}));
        dap.ok("evaluate", json!({ "expression": "Calc go: true", "context": "repl" }));
        let stopped = dap.event("stopped");
        let thread = stopped["body"]["threadId"].as_i64().unwrap_or_else(|| panic!("{stopped}"));
        assert_eq!(stopped["body"]["reason"], "exception", "{mode}: {stopped}");
        let trace = dap.ok("stackTrace", json!({ "threadId": thread, "startFrame": 0, "levels": 50 }));
        let frames = trace["stackFrames"].as_array().unwrap_or_else(|| panic!("{trace}"));
        let ratio =
            frames.iter().find(|f| f["name"] == "Calc>>ratio:over:").unwrap_or_else(|| panic!("{mode}: {trace}"));
        let frame = ratio["id"].clone();
        // The frame's variables are in scope of an evaluation there.
        let r = dap.ok("evaluate", json!({ "expression": "scaled + d + n", "frameId": frame, "context": "repl" }));
        assert_eq!(r["result"], "110", "{mode}: {r}");
        // A frame's argument set from the editor.
        let scopes = dap.ok("scopes", json!({ "frameId": frame }));
        let arguments = scopes["scopes"].as_array().unwrap().iter().find(|s| s["name"] == "Arguments").cloned();
        let arguments = arguments.unwrap_or_else(|| panic!("{scopes}"))["variablesReference"].clone();
        let r = dap.ok("setVariable", json!({ "variablesReference": arguments, "name": "d", "value": "1 + 1" }));
        assert_eq!(r["value"], "2", "{mode}: {r}");
        let r = dap.ok("evaluate", json!({ "expression": "scaled / d", "frameId": frame, "context": "repl" }));
        assert_eq!(r["result"], "50", "{mode}: the frame sees it: {r}");
        // Fix the method (as an editor's save would, through the live
        // connection), restart its frame and go on.
        let fixed = CALC.replace("^scaled / d", "^d = 0 ifTrue: [ 5 ] ifFalse: [ scaled / d ]");
        std::fs::write(s.0.join("Calc.som"), fixed).expect("the fixed class");
        let out = Command::new(env!("CARGO_BIN_EXE_mica"))
            .env("MICA_LIVE_DIR", s.sockets())
            .args(["connect", &pid.to_string(), "--file"])
            .arg(s.0.join("Calc.som"))
            .output()
            .expect("mica connect runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        dap.ok("restartFrame", json!({ "frameId": frame }));
        assert_eq!(dap.event("stopped")["body"]["reason"], "restart", "{mode}");
        // One step over: the restarted frame's only line runs, it returns,
        // and the thread stops in its caller.
        dap.ok("next", json!({ "threadId": thread }));
        let stopped = dap.event("stopped");
        assert_eq!(stopped["body"]["reason"], "step", "{mode}: {stopped}");
        let trace = dap.ok("stackTrace", json!({ "threadId": thread, "startFrame": 0, "levels": 1 }));
        assert_eq!(trace["stackFrames"][0]["name"], "Calc>>run", "{mode}: {trace}");
        assert_eq!(p.stdout(), "", "{mode}: the caller has not printed yet");
        dap.ok("continue", json!({ "threadId": thread }));
        // The restarted frame keeps its arguments: d is 2 now.
        p.wait_for_output("ratio 50");
        dap.ok("disconnect", json!({}));
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert_eq!(p.stdout(), "ratio 50\n", "{mode}");
    }
}
