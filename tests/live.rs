//! The live connection, end to end: real programs, driven through a raw
//! socket speaking the protocol and through `mica connect`, in every JIT
//! mode. Each test keeps its sockets in a directory of its own
//! (`MICA_LIVE_DIR`), so tests running at once do not see each other.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const MODES: [&str; 3] = ["--jit=off", "--jit=on", "--jit=eager"];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

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
    let dir = std::env::temp_dir().join(format!("mica-live-{}-{name}", std::process::id()));
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mica"));
        cmd.env("MICA_LIVE_DIR", self.sockets())
            .current_dir(&self.0)
            .args(flags)
            .args(["-cp", "src", main])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&err).expect("err"));
        let child = cmd.spawn().expect("mica starts");
        let socket = self.sockets().join(format!("{}.sock", child.id()));
        Program { child, socket, out, err }
    }

    /// Runs `mica connect ARGS` against the test's sockets.
    fn connect(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mica"))
            .env("MICA_LIVE_DIR", self.sockets())
            .arg("connect")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("mica connect runs")
    }
}

struct Program {
    child: Child,
    socket: PathBuf,
    out: PathBuf,
    err: PathBuf,
}

impl Program {
    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Connects (waiting for the endpoint to open) and reads the hello.
    fn connect(&mut self) -> Conn {
        let start = Instant::now();
        loop {
            if let Ok(stream) = UnixStream::connect(&self.socket) {
                stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
                let mut conn = Conn { reader: BufReader::new(stream.try_clone().expect("clone")), writer: stream };
                let hello = conn.line();
                assert_eq!(hello["event"], "hello", "{hello}");
                return conn;
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("the program ended ({status}) before it could be connected to: {}", self.stderr());
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no endpoint at {}", self.socket.display());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits for the program to end (at most a minute); its status.
    fn wait(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!("the program did not end: {}{}", self.stdout(), self.stderr());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until standard output contains `what`.
    fn wait_for_output(&mut self, what: &str) {
        let start = Instant::now();
        while !self.stdout().contains(what) {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("ended ({status}) without printing {what:?}: {}{}", self.stdout(), self.stderr());
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no {what:?} in {:?}", self.stdout());
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

struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn line(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("a line from the program");
        assert!(n > 0, "the program closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
    }

    fn send_raw(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).expect("write");
        self.writer.write_all(b"\n").expect("write");
    }

    /// Sends `request` with `id` and answers its reply (events skipped).
    fn call(&mut self, id: u64, mut request: Value) -> Value {
        request["id"] = json!(id);
        self.send_raw(&request.to_string());
        self.reply(id)
    }

    fn reply(&mut self, id: u64) -> Value {
        loop {
            let v = self.line();
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    /// Sends `request` with `id` and answers the replies to it and to
    /// the earlier request `other`, which come in either order.
    fn call_and_reply(&mut self, id: u64, mut request: Value, other: u64) -> (Value, Value) {
        request["id"] = json!(id);
        self.send_raw(&request.to_string());
        let (mut mine, mut theirs) = (None, None);
        while mine.is_none() || theirs.is_none() {
            let v = self.line();
            if v["id"] == json!(id) {
                mine = Some(v);
            } else if v["id"] == json!(other) {
                theirs = Some(v);
            }
        }
        (mine.expect("reply"), theirs.expect("reply"))
    }

    fn eval(&mut self, id: u64, source: &str) -> Value {
        self.call(id, json!({ "op": "eval", "source": source }))
    }
}

fn ok_value(reply: &Value) -> &str {
    assert_eq!(reply["ok"], true, "{reply}");
    reply["value"].as_str().unwrap_or_else(|| panic!("no value: {reply}"))
}

fn error_kind(reply: &Value) -> &str {
    assert_eq!(reply["ok"], false, "{reply}");
    reply["error"]["kind"].as_str().expect("an error kind")
}

/// A program that runs until told to stop (`Idle stop: true`), busy in a
/// loop that sends `tick` and waits a little now and then.
const IDLE: &str = "Idle = (
    run = (
        | n |
        n := 0. Idle stop: false.
        'started' println.
        [ Idle stopped ] whileFalse: [
            n := n + Idle tick.
            n % 100000 = 0 ifTrue: [ (Delay forMilliseconds: 1) wait ] ].
        'stopped' println
    )
    ----
    | stop |
    stop: b = ( stop := b )
    stopped = ( ^stop )
    tick = ( ^1 )
)";

#[test]
fn eval_define_remove_and_revert_in_every_mode() {
    let s = scratch("eval");
    s.class("Idle", IDLE);
    s.class(
        "Counter",
        "Counter = ( | n | n = ( ^n ifNil: [ 0 ] ) bump = ( n := self n + 1 ) ---- | made | made = ( ^made ifNil: [ 0 ] ) new = ( made := self made + 1. ^super new ) )",
    );
    for mode in MODES {
        let mut p = s.start(&[mode], "Idle");
        p.wait_for_output("started");
        let mut c = p.connect();
        let d = c.call(1, json!({ "op": "describe" }));
        assert_eq!(d["protocol"], 1, "{d}");
        assert_eq!(d["program"], "Idle", "{d}");
        assert!(d["operations"].as_array().is_some_and(|o| o.contains(&json!("eval"))), "{d}");
        let r = c.eval(2, "3 + 4");
        assert_eq!(ok_value(&r), "7");
        assert_eq!(r["class"], "Integer");
        assert_eq!(ok_value(&c.eval(3, "#(1 $a 'it''s' #sym)")), "#(1 $a 'it''s' #sym)");
        // Globals assigned in one evaluation stay for the next.
        ok_value(&c.eval(4, "kept := Counter new. kept bump; bump. kept n"));
        assert_eq!(ok_value(&c.eval(5, "kept n")), "2");
        // Errors come back with their trace; the program goes on.
        let e = c.eval(6, "1 / 0");
        assert_eq!(error_kind(&e), "error");
        assert!(e["error"]["message"].as_str().unwrap().contains("Division by zero"), "{e}");
        assert!(e["error"]["trace"].as_str().unwrap().contains("doIt"), "{e}");
        let e = c.eval(7, "nil foo");
        assert!(e["error"]["message"].as_str().unwrap().contains("foo"), "{e}");
        assert_eq!(error_kind(&c.eval(8, "3 +")), "compile");
        // Sources: from the class file, then as a client defined them.
        let r = c.call(30, json!({ "op": "source", "class": "Counter", "selector": "bump" }));
        assert_eq!(r["source"], "bump = ( n := self n + 1 )", "{r}");
        assert!(r["file"].as_str().unwrap().ends_with("Counter.som"), "{r}");
        let r = c.call(31, json!({ "op": "source", "class": "Counter", "classSide": true, "selector": "new" }));
        assert_eq!(r["source"], "new = ( made := self made + 1. ^super new )", "{r}");
        let r = c.call(32, json!({ "op": "source", "class": "Counter", "selector": "printString" }));
        assert_eq!(r["holder"], "ObjectExtensions", "{r}");
        assert!(r["source"].as_str().unwrap().starts_with("printString = ("), "{r}");
        assert_eq!(
            error_kind(&c.call(33, json!({ "op": "source", "class": "Counter", "selector": "zork" }))),
            "notFound"
        );
        // A method defined, used by instances that exist, then reverted.
        let d = c.call(9, json!({ "op": "define", "class": "Counter", "source": "bump = ( n := self n + 10 )" }));
        assert_eq!(d["ok"], true, "{d}");
        assert_eq!(d["edit"], "defined Counter>>bump");
        assert_eq!(ok_value(&c.eval(10, "kept bump. kept n")), "12");
        let r = c.call(34, json!({ "op": "source", "class": "Counter", "selector": "bump" }));
        assert_eq!(r["source"], "bump = ( n := self n + 10 )", "{r}");
        let d = c.call(11, json!({ "op": "define", "class": "Counter", "source": "twice = ( ^self n * 2 )" }));
        assert_eq!(d["ok"], true, "{d}");
        assert_eq!(ok_value(&c.eval(12, "kept twice")), "24");
        let r = c.call(13, json!({ "op": "remove", "class": "Counter", "selector": "twice" }));
        assert_eq!(r["ok"], true, "{r}");
        assert!(c.eval(14, "kept twice")["error"]["message"].as_str().unwrap().contains("twice"));
        assert_eq!(
            error_kind(&c.call(15, json!({ "op": "remove", "class": "Counter", "selector": "zork" }))),
            "notFound"
        );
        // Undo the removal, then the addition, then the redefinition.
        assert_eq!(c.call(16, json!({ "op": "revert" }))["ok"], true);
        assert_eq!(ok_value(&c.eval(17, "kept twice")), "24");
        assert_eq!(c.call(18, json!({ "op": "revert", "class": "Counter" }))["ok"], true);
        assert_eq!(ok_value(&c.eval(19, "kept bump. kept n")), "13");
        assert!(c.eval(20, "kept twice")["error"]["message"].as_str().unwrap().contains("twice"));
        assert_eq!(error_kind(&c.call(21, json!({ "op": "revert", "class": "Counter" }))), "notFound");
        // Class side, with its state kept.
        ok_value(&c.eval(22, "Counter new. Counter new. Counter made"));
        let d = c.call(
            23,
            json!({ "op": "define", "class": "Counter", "classSide": true, "source": "made = ( ^(made ifNil: [ 0 ]) * 100 )" }),
        );
        assert_eq!(d["ok"], true, "{d}");
        assert_eq!(ok_value(&c.eval(24, "Counter made")), "300", "{mode}");
        let stats = c.call(25, json!({ "op": "stats" }));
        assert!(stats["edits"].as_array().is_some_and(|e| e.len() >= 6), "{stats}");
        assert_eq!(ok_value(&c.eval(26, "Idle stop: true. 'bye'")), "'bye'");
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert!(p.stdout().ends_with("stopped\n"), "{}", p.stdout());
    }
}

#[test]
fn a_hot_native_loop_sees_a_redefinition_at_once_and_unrelated_code_stays_native() {
    let s = scratch("hot");
    s.class(
        "Hot",
        "Hot = (
            value = ( ^1 )
            other: x = ( ^x + 1 )
            run = (
                | n |
                n := 0.
                [ n := self other: n. self value = 2 ] whileFalse: [
                    n = 100000 ifTrue: [ 'hot' println ] ].
                'changed' println
            )
        )",
    );
    for mode in ["--jit=on", "--jit=eager"] {
        let mut p = s.start(&[mode, "--stats"], "Hot");
        p.wait_for_output("hot");
        let mut c = p.connect();
        // Until the loop and `other:` run native (compiled on the JIT's
        // thread, later on a loaded machine).
        let start = Instant::now();
        loop {
            let stats = c.call(1, json!({ "op": "stats" }));
            if stats["nativeMethods"].as_u64().unwrap() >= 2 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{mode}: nothing compiled: {stats}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let sent = Instant::now();
        let d = c.call(2, json!({ "op": "define", "class": "Hot", "source": "value = ( ^2 )" }));
        assert_eq!(d["ok"], true, "{d}");
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        let latency = sent.elapsed();
        assert!(p.stdout().ends_with("changed\n"), "{}", p.stdout());
        assert!(latency < Duration::from_secs(5), "{mode}: {latency:?}");
        // Only the code that inlined Hot>>value went: `other:` stayed.
        let invalidated = d["invalidated"].as_u64().unwrap();
        assert!(invalidated <= 1, "{mode}: {d}");
        assert!(p.stderr().contains("live edits: 1"), "{}", p.stderr());
        assert!(p.stderr().contains("defined Hot>>value"), "{}", p.stderr());
    }
}

#[test]
fn running_activations_finish_in_their_old_version() {
    let s = scratch("recursion");
    s.class(
        "Deep",
        "Deep = (
            down: n = (
                n = 0 ifTrue: [ 'bottom' println. (Delay forMilliseconds: 1500) wait. ^0 ].
                ^(self down: n - 1) + 1 )
            run = ( (self down: 10) println. (self down: 10) println )
        )",
    );
    for mode in MODES {
        let mut p = s.start(&[mode], "Deep");
        p.wait_for_output("bottom");
        let mut c = p.connect();
        let d = c.call(1, json!({ "op": "define", "class": "Deep", "source": "down: n = ( ^100 )" }));
        assert_eq!(d["ok"], true, "{d}");
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert_eq!(p.stdout(), "bottom\n10\n100\n", "{mode}");
    }
}

#[test]
fn edits_that_fast_paths_or_inlining_would_ignore_are_refused() {
    let s = scratch("refused");
    s.class("Idle", IDLE);
    s.class("Money", "Money = ( | cents | cents: c = ( cents := c ) cents = ( ^cents ) )");
    let mut p = s.start(&["--jit=on"], "Idle");
    let mut c = p.connect();
    for (id, (class, source, why)) in [
        ("Integer", "+ other = ( ^0 )", "fast path"),
        ("Double", "< other = ( ^true )", "fast path"),
        ("Array", "at: i = ( ^nil )", "fast path"),
        ("Block1", "value = ( ^nil )", "fast path"),
        ("True", "not = ( ^true )", "fast path"),
        ("True", "ifTrue: b = ( ^nil )", "inlines"),
        ("Integer", "to: n do: b = ( ^nil )", "inlines"),
        ("Money", "ifNil: b = ( ^1 )", "identity test"),
        ("Money", "== other = ( ^true )", "identity test"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = c.call(id as u64 + 1, json!({ "op": "define", "class": class, "source": source }));
        assert_eq!(error_kind(&r), "refused", "{class}>>{source}: {r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{class}>>{source}: {message}");
    }
    // compile: refuses them too, with the same reason.
    let r = c.eval(20, "Integer compile: '+ x = ( ^0 )'");
    assert!(r["error"]["message"].as_str().unwrap().contains("fast path"), "{r}");
    assert_eq!(ok_value(&c.eval(21, "3 + 4")), "7");
    // The same selectors are fine where no fast path stands for them.
    let r = c.call(
        30,
        json!({ "op": "define", "class": "Money", "source": "+ other = ( ^Money new cents: cents + other cents )" }),
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(ok_value(&c.eval(31, "((Money new cents: 2) + (Money new cents: 3)) cents")), "5");
    let r = c.call(32, json!({ "op": "define", "class": "Integer", "source": "double = ( ^self * 2 )" }));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(ok_value(&c.eval(33, "21 double")), "42");
    c.eval(34, "Idle stop: true");
    assert!(p.wait().success());
}

#[test]
fn an_evaluation_in_a_tight_loop_is_interrupted_in_every_mode() {
    let s = scratch("interrupt");
    s.class("Idle", IDLE);
    for mode in MODES {
        let mut p = s.start(&[mode], "Idle");
        let mut c = p.connect();
        c.send_raw(&json!({ "id": 1, "op": "eval", "source": "[ true ] whileTrue: [ ]" }).to_string());
        c.send_raw(
            &json!({ "id": 2, "op": "eval", "source": "| n | n := 0. [ true ] whileTrue: [ n := n + 1 ]" }).to_string(),
        );
        std::thread::sleep(Duration::from_millis(300));
        let sent = Instant::now();
        let (r, stopped) = c.call_and_reply(3, json!({ "op": "interrupt", "target": 1 }), 1);
        assert_eq!(r["interrupted"], 1, "{mode}: {r}");
        assert_eq!(error_kind(&stopped), "interrupted");
        let (r, stopped) = c.call_and_reply(4, json!({ "op": "interrupt" }), 2);
        assert_eq!(r["interrupted"], 1, "{mode}: {r}");
        assert_eq!(error_kind(&stopped), "interrupted");
        assert!(sent.elapsed() < Duration::from_secs(5), "{mode}: {:?}", sent.elapsed());
        // The program and the connection go on.
        assert_eq!(ok_value(&c.eval(5, "6 * 7")), "42");
        assert_eq!(c.call(6, json!({ "op": "stats" }))["evaluations"], 0);
        assert_eq!(error_kind(&c.call(7, json!({ "op": "interrupt", "target": 99 }))), "notFound");
        // An evaluation waiting in a Delay is interrupted as well.
        c.send_raw(&json!({ "id": 8, "op": "eval", "source": "(Delay forSeconds: 60) wait" }).to_string());
        std::thread::sleep(Duration::from_millis(100));
        let (r, stopped) = c.call_and_reply(9, json!({ "op": "interrupt", "target": 8 }), 8);
        assert_eq!(r["interrupted"], 1, "{mode}: {r}");
        assert_eq!(error_kind(&stopped), "interrupted");
        c.eval(10, "Idle stop: true");
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
    }
}

#[test]
fn bad_messages_get_error_replies_and_leave_no_trace() {
    let s = scratch("bad");
    s.class("Idle", IDLE);
    let mut p = s.start(&["--jit=on"], "Idle");
    let mut c = p.connect();
    for line in [
        "garbage",
        "[1, 2]",
        "{\"op\": \"eval\", \"source\": \"1\"}",
        "{\"id\": {}, \"op\": \"eval\"}",
        "{\"id\": 1}",
        "{\"id\": 1, \"op\": \"fly\"}",
        "{\"id\": 1, \"op\": \"eval\"}",
        "{\"id\": 1, \"op\": \"define\", \"class\": 3, \"source\": \"x = ( )\"}",
        "{\"id\": 1, \"op\": \"eval\", \"source\": \"1\"",
    ] {
        c.send_raw(line);
        let r = c.line();
        assert_eq!(r["ok"], false, "{line}: {r}");
        assert_eq!(r["error"]["kind"], "badRequest", "{line}: {r}");
    }
    // A line too long to take, and bytes that are not UTF-8.
    let huge = format!("{{\"id\": 2, \"op\": \"eval\", \"source\": \"{}\"}}", "x".repeat(5 << 20));
    c.send_raw(&huge);
    let r = c.line();
    assert!(r["error"]["message"].as_str().unwrap().contains("at most"), "{r}");
    c.writer.write_all(b"{\"id\": 3, \"op\": \xff}\n").expect("write");
    assert_eq!(c.line()["error"]["kind"], "badRequest");
    // Definitions that do not compile change nothing.
    let r = c.call(4, json!({ "op": "define", "source": "Broken = ( x = ( ^ ) )" }));
    assert_eq!(error_kind(&r), "compile", "{r}");
    let r = c.call(5, json!({ "op": "define", "class": "Idle", "classSide": true, "source": "tick = ( ^ )" }));
    assert_eq!(error_kind(&r), "compile", "{r}");
    assert_eq!(
        error_kind(&c.call(6, json!({ "op": "define", "class": "Nowhere", "source": "x = ( ^1 )" }))),
        "notFound"
    );
    assert_eq!(error_kind(&c.call(7, json!({ "op": "save" }))), "badRequest");
    let r = c.call(7, json!({ "op": "save", "path": "/nonexistent-dir/e.mimg" }));
    assert!(r["error"]["message"].as_str().unwrap().contains("cannot write"), "{r}");
    assert_eq!(ok_value(&c.eval(8, "Idle tick")), "1");
    // A client that leaves in the middle of an evaluation: it stops.
    let mut gone = p.connect();
    gone.send_raw(&json!({ "id": 1, "op": "eval", "source": "[ true ] whileTrue: [ ]" }).to_string());
    std::thread::sleep(Duration::from_millis(100));
    drop(gone);
    let start = Instant::now();
    while c.call(9, json!({ "op": "stats" }))["evaluations"] != 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "the evaluation of a client that left goes on");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Several clients at once.
    let mut other = p.connect();
    assert_eq!(ok_value(&other.eval(1, "1 + 1")), "2");
    assert_eq!(ok_value(&c.eval(10, "2 + 2")), "4");
    c.eval(11, "Idle stop: true");
    assert!(p.wait().success(), "{}", p.stderr());
    assert_eq!(p.stdout(), "started\nstopped\n");
}

#[test]
fn classes_are_defined_whole_and_keep_their_identity() {
    let s = scratch("classes");
    s.class("Idle", IDLE);
    s.class(
        "Shape",
        "Shape = ( | sides | sides: n = ( sides := n ) describe = ( ^'old' ) slowSides = ( (Delay forMilliseconds: 1500) wait. ^sides ) ---- | count | count = ( ^count ) count: n = ( count := n ) )",
    );
    let mut p = s.start(&["--jit=on"], "Idle");
    let mut c = p.connect();
    ok_value(&c.eval(1, "shape := Shape new sides: 3. Shape count: 7. shape describe"));
    // Same fields: the class is the same object, its methods the new ones
    // (a method the new text leaves out is gone), class state kept.
    let r = c.call(
        2,
        json!({ "op": "define", "source": "Shape = ( | sides | sides: n = ( sides := n ) describe = ( ^'new ' + sides printString ) slowSides = ( (Delay forMilliseconds: 1500) wait. ^sides ) ---- | count | count = ( ^count ) count: n = ( count := n ) )" }),
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(ok_value(&c.eval(3, "shape describe")), "'new 3'");
    assert_eq!(ok_value(&c.eval(4, "shape class == Shape")), "true");
    assert_eq!(ok_value(&c.eval(5, "Shape count")), "7");
    // Changed fields: the instances that exist are migrated (fields
    // matched by name, new ones nil), the class keeps its identity and its
    // class-side state, and an activation of an old method that was
    // running finishes in its old version with the fields it knew.
    c.send_raw(&json!({ "id": 6, "op": "eval", "source": "shape slowSides" }).to_string());
    std::thread::sleep(Duration::from_millis(100));
    let (r, slow) = c.call_and_reply(
        7,
        json!({ "op": "define", "source": "Shape = ( | colour sides | colour: c = ( colour := c ) describe = ( ^colour printString + ' ' + sides printString ) ---- | count | count = ( ^count ) count: n = ( count := n ) )" }),
        6,
    );
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["edit"].as_str().unwrap().contains("1 instances migrated"), "{r}");
    assert_eq!(ok_value(&slow), "3");
    assert_eq!(ok_value(&c.eval(8, "shape describe")), "'nil 3'");
    assert_eq!(ok_value(&c.eval(9, "shape colour: #red. shape describe")), "'#red 3'");
    assert_eq!(ok_value(&c.eval(10, "shape class == Shape and: [ Shape count = 7 ]")), "true");
    assert_eq!(ok_value(&c.eval(11, "(Shape new colour: 1) describe")), "'1 nil'");
    // Kernel classes and classes with subclasses keep their fields.
    let r = c.call(12, json!({ "op": "define", "source": "Pair = ( | a b c | )" }));
    assert_eq!(error_kind(&r), "refused", "{r}");
    // A new class, from a file, with the client.
    std::fs::write(
        s.0.join("Circle.som"),
        "Circle = Shape ( | radius | radius: r = ( radius := r ) area = ( ^colour * 100 + (radius ifNil: [ 0 ]) ) slowArea = ( (Delay forMilliseconds: 1500) wait. ^self area ) )",
    )
    .expect("file");
    let out = s.connect(&[&p.pid(), "--file", s.0.join("Circle.som").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("defined class Circle"), "{}", text(&out.stdout));
    assert_eq!(ok_value(&c.eval(20, "(Circle new colour: 2) area")), "200");
    assert_eq!(ok_value(&c.eval(40, "circle := Circle new colour: 2. circle radius: 7. circle area")), "207");
    // Fields added to the superclass: the subclass is re-laid out (its own
    // fields after the new ones), its instances migrated, its methods
    // compiled again from its file.
    let shape3 = "Shape = ( | colour sides size | colour: c = ( colour := c ) size = ( ^size ) size: s = ( size := s ) ---- | count | count = ( ^count ) count: n = ( count := n ) )";
    let r = c.call(41, json!({ "op": "define", "source": shape3 }));
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["methods"].as_array().unwrap().contains(&json!("Circle (re-laid out)")), "{r}");
    assert_eq!(ok_value(&c.eval(42, "circle area")), "207");
    assert_eq!(ok_value(&c.eval(43, "circle size: 4. circle size + circle area")), "211");
    assert_eq!(ok_value(&c.eval(44, "shape size: 1. shape size")), "1");
    // Not while a method of the subclass runs: its fields would move.
    c.send_raw(&json!({ "id": 45, "op": "eval", "source": "circle slowArea" }).to_string());
    std::thread::sleep(Duration::from_millis(200));
    let shape4 = "Shape = ( | colour sides size depth | colour: c = ( colour := c ) size = ( ^size ) size: s = ( size := s ) ---- | count | count = ( ^count ) count: n = ( count := n ) )";
    let (r, slow) = c.call_and_reply(46, json!({ "op": "define", "source": shape4 }), 45);
    assert_eq!(error_kind(&r), "refused", "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("subclass Circle is running"), "{r}");
    assert_eq!(ok_value(&slow), "207");
    let r = c.call(47, json!({ "op": "define", "source": shape4 }));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(ok_value(&c.eval(48, "circle area + circle size")), "211");
    // Removing it, and undoing that.
    assert_eq!(c.call(22, json!({ "op": "remove", "class": "Circle" }))["ok"], true);
    assert_eq!(ok_value(&c.eval(23, "Circle")), "nil");
    assert_eq!(c.call(24, json!({ "op": "revert" }))["ok"], true);
    assert_eq!(ok_value(&c.eval(25, "(Circle new colour: 1) area")), "100");
    assert_eq!(error_kind(&c.call(26, json!({ "op": "remove", "class": "Integer" }))), "refused");
    // A field dropped while an old method that reads it runs: that
    // activation still reads it (a hidden slot), new code cannot.
    let temp =
        "Temp = ( | keep drop | set = ( keep := 1. drop := 2 ) slow = ( (Delay forMilliseconds: 1500) wait. ^drop ) )";
    assert_eq!(c.call(50, json!({ "op": "define", "source": temp }))["ok"], true);
    ok_value(&c.eval(51, "t := Temp new. t set. t"));
    c.send_raw(&json!({ "id": 52, "op": "eval", "source": "t slow" }).to_string());
    std::thread::sleep(Duration::from_millis(200));
    let (r, slow) =
        c.call_and_reply(53, json!({ "op": "define", "source": "Temp = ( | keep | slow = ( ^keep ) )" }), 52);
    assert!(r["edit"].as_str().unwrap().contains("1 instances migrated"), "{r}");
    assert_eq!(ok_value(&slow), "2");
    assert_eq!(ok_value(&c.eval(54, "t slow")), "1");
    let r = c.call(55, json!({ "op": "class", "class": "Temp" }));
    assert_eq!(r["class"]["fields"], json!(["keep"]), "{r}");
    c.eval(27, "Idle stop: true");
    assert!(p.wait().success());
}

#[test]
fn the_client_evaluates_lists_speaks_json_and_says_what_is_wrong() {
    let s = scratch("client");
    s.class("Idle", IDLE);
    let mut p = s.start(&["--jit=on"], "Idle");
    p.connect();
    let pid = p.pid();
    let out = s.connect(&[&pid, "--eval", "(1 to: 5) inject: 0 into: [:a :b | a + b]"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "15\n");
    let out = s.connect(&[&pid, "--eval", "#() first"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error:"), "{}", text(&out.stderr));
    let out = s.connect(&["--list"]);
    assert!(text(&out.stdout).contains(&pid) && text(&out.stdout).contains("Idle"), "{}", text(&out.stdout));
    let mut json_client = Command::new(env!("CARGO_BIN_EXE_mica"))
        .env("MICA_LIVE_DIR", s.sockets())
        .args(["connect", &pid, "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("mica connect --json");
    json_client
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"{\"id\": 1, \"op\": \"eval\", \"source\": \"(Delay forMilliseconds: 50) wait. 6 * 7\"}\nbad\n")
        .expect("write");
    let out = json_client.wait_with_output().expect("output");
    let lines: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines[0]["event"], "hello");
    assert!(lines.iter().any(|l| l["id"] == 1 && l["value"] == "42"), "{lines:?}");
    assert!(lines.iter().any(|l| l["error"]["kind"] == "badRequest"), "{lines:?}");
    // The session, its input piped (no terminal: no line editing, the
    // same commands).
    let mut session = Command::new(env!("CARGO_BIN_EXE_mica"))
        .env("MICA_LIVE_DIR", s.sockets())
        .args(["connect", &pid])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mica connect");
    session
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"#(1 2\n 3) size\n:method Idle class twice: x = (\n ^x * 2 )\nIdle twice: 21\n:remove Idle class>>twice:\nIdle twice: 1\n:revert\nIdle twice: 5\n:stats\n:fly\n:quit\n",
        )
        .expect("write");
    let out = session.wait_with_output().expect("session");
    let stdout = text(&out.stdout);
    for line in [
        "\n3\n",
        "defined Idle class>>twice:",
        "\n42\n",
        "removed Idle class>>twice:",
        "reverted: removed Idle class>>twice:",
        "\n10\n",
        "3 edits",
    ] {
        assert!(stdout.contains(line), "{line:?} not in {stdout}");
    }
    assert!(text(&out.stderr).contains("twice: not found"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("unknown command :fly"), "{}", text(&out.stderr));
    // Bad use of the client.
    for (args, what) in [
        (vec!["12x"], "not a process id"),
        (vec![], "process id"),
        (vec![pid.as_str(), "--eval"], "one expression"),
        (vec![pid.as_str(), "--fly"], "unknown option"),
    ] {
        let out = s.connect(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(what), "{args:?}: {}", text(&out.stderr));
    }
    let out = s.connect(&["999999999", "--eval", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no process"), "{}", text(&out.stderr));
    assert!(s.connect(&["--help"]).status.success());
    s.connect(&[&pid, "--eval", "Idle stop: true"]);
    assert!(p.wait().success());
    // The socket is gone with the program.
    assert!(!p.socket.exists());
}

#[test]
fn live_off_sealed_bundles_and_other_users_get_no_connection() {
    let s = scratch("closed");
    s.class("Idle", IDLE);
    let mut p = s.start(&["--live=off"], "Idle");
    p.wait_for_output("started");
    let out = s.connect(&[&p.pid(), "--eval", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("accepts no live connection"), "{}", text(&out.stderr));
    drop(p);
    // A sealed bundle.
    let pkg = s.0.join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    std::fs::write(pkg.join("mica.toml"), "[package]\nname = \"Waiter\"\nversion = \"1.0.0\"\nmain = \"Waiter\"\n")
        .expect("manifest");
    std::fs::write(
        pkg.join("Waiter.som"),
        "Waiter = ( run = ( 'up' println. [ true ] whileTrue: [ (Delay forMilliseconds: 10) wait ] ) )",
    )
    .expect("class");
    let mica = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mica")).current_dir(&s.0).args(args).output().expect("mica");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    mica(&["build", "pkg", "-o", "w.mimg"]);
    mica(&["bundle", "w.mimg", "-o", "sealed-app", "--sealed"]);
    mica(&["bundle", "w.mimg", "-o", "open-app"]);
    for (app, sealed) in [("sealed-app", true), ("open-app", false)] {
        let out_file = s.0.join(format!("{app}.out"));
        let child = Command::new(s.0.join(app))
            .env("MICA_LIVE_DIR", s.sockets())
            .stdout(std::fs::File::create(&out_file).expect("out"))
            .spawn()
            .expect("the bundle runs");
        let mut p = Program {
            socket: s.sockets().join(format!("{}.sock", child.id())),
            child,
            out: out_file,
            err: PathBuf::new(),
        };
        p.wait_for_output("up");
        if sealed {
            std::thread::sleep(Duration::from_millis(200));
            let out = s.connect(&[&p.pid(), "--eval", "1"]);
            assert_eq!(out.status.code(), Some(1));
            assert!(text(&out.stderr).contains("sealed"), "{}", text(&out.stderr));
            assert!(!p.socket.exists());
        } else {
            p.connect();
            let out = s.connect(&[&p.pid(), "--eval", "3 + 4"]);
            assert_eq!(text(&out.stdout), "7\n", "{}", text(&out.stderr));
        }
    }
    // Another user cannot reach the socket (run as nobody, when the tests
    // run as root and so may change user).
    if nix::unistd::geteuid().is_root() {
        let mut p = s.start(&[], "Idle");
        p.connect();
        let pid = p.pid();
        let out = Command::new(env!("CARGO_BIN_EXE_mica"))
            .env("MICA_LIVE_DIR", s.sockets())
            .args(["connect", &pid, "--eval", "Idle stop: true"])
            .uid(65534)
            .gid(65534)
            .output()
            .expect("mica connect as nobody");
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(!text(&out.stdout).contains("true"));
        // The program was not stopped by it.
        std::thread::sleep(Duration::from_millis(100));
        assert!(p.child.try_wait().expect("wait").is_none(), "the other user's request ran");
    }
}

#[test]
fn output_is_flushed_in_time_and_on_signals() {
    let s = scratch("flush");
    s.class("Quiet", "Quiet = ( run = ( | n | 'first line' println. n := 0. [ true ] whileTrue: [ n := n + 1 ] ) )");
    for mode in MODES {
        let mut p = s.start(&[mode, "--live=off"], "Quiet");
        // Seen although the program never prints again nor waits.
        p.wait_for_output("first line");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.child.id() as i32), nix::sys::signal::Signal::SIGTERM)
            .expect("kill");
        let status = p.wait();
        assert_eq!(status.code(), Some(143), "{mode}: {status:?} {}", p.stderr());
        assert_eq!(p.stdout(), "first line\n");
    }
    s.class(
        "Chatty",
        "Chatty = ( run = ( | n | n := 0. [ true ] whileTrue: [ n := n + 1. n % 1000 = 0 ifTrue: [ n println ] ] ) )",
    );
    let mut p = s.start(&["--jit=on"], "Chatty");
    p.wait_for_output("5000\n");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .expect("kill");
    let status = p.wait();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(status.signal(), None);
    // Every line whole: the buffer was flushed, not cut.
    let out = p.stdout();
    assert!(out.ends_with('\n'), "{out}");
    assert!(!Path::new(&p.socket).exists(), "the socket stays after SIGINT");
}

#[test]
fn edits_are_saved_and_applied_at_the_next_start() {
    let s = scratch("save");
    s.class("Idle", IDLE);
    s.class("Greeter", "Greeter = ( | name | greet = ( ^'hello' ) spare = ( ^0 ) )");
    s.class("Main", "Main = ( run = ( Greeter new greet println. Greeter motto println. 21 double println. (Greeter new respondsTo: #spare) println ) )");
    let mut p = s.start(&["--jit=on"], "Idle");
    let mut c = p.connect();
    for (id, request) in [
        json!({ "op": "define", "class": "Greeter", "source": "greet = ( ^'bonjour' )" }),
        json!({ "op": "define", "class": "Integer", "source": "double = ( ^self * 2 )" }),
        json!({ "op": "define", "source": "Helper = ( help = ( ^42 double ) )" }),
        json!({ "op": "define", "class": "Greeter", "classSide": true, "source": "motto = ( ^Helper new help )" }),
        json!({ "op": "remove", "class": "Greeter", "selector": "spare" }),
        json!({ "op": "define", "class": "Greeter", "source": "temporary = ( ^0 )" }),
        json!({ "op": "revert" }),
    ]
    .into_iter()
    .enumerate()
    {
        let r = c.call(id as u64 + 1, request);
        assert_eq!(r["ok"], true, "{r}");
    }
    let edits = s.0.join("edits.mimg");
    let out = s.connect(&[&p.pid(), "--save", edits.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("saved 5 edits to {}\n", edits.display()));
    c.eval(9, "Idle stop: true");
    assert!(p.wait().success());
    // The file is a mini-image.
    let info = Command::new(env!("CARGO_BIN_EXE_mica")).args(["info", edits.to_str().unwrap()]).output().expect("info");
    assert!(text(&info.stdout).contains("MicaEdits"), "{}", text(&info.stdout));
    let expected = "bonjour\n84\n42\nfalse\n";
    for mode in MODES {
        let out = Command::new(env!("CARGO_BIN_EXE_mica"))
            .current_dir(&s.0)
            .args([mode, "--live=off", "--load", "edits.mimg", "-cp", "src", "Main"])
            .output()
            .expect("mica --load");
        assert_eq!(text(&out.stdout), expected, "{mode}: {}", text(&out.stderr));
    }
    // Without it, the program is as it was.
    let out =
        Command::new(env!("CARGO_BIN_EXE_mica")).current_dir(&s.0).args(["-cp", "src", "Main"]).output().expect("mica");
    assert!(text(&out.stdout).starts_with("hello\n"), "{}", text(&out.stdout));
    // A program run from an image, its edits saved, applied over the
    // image: mica run app.mimg edits.mimg.
    let pkg = s.0.join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    std::fs::write(pkg.join("mica.toml"), "[package]\nname = \"Greetings\"\nversion = \"1.0.0\"\nmain = \"Waiter\"\n")
        .expect("toml");
    std::fs::write(
        pkg.join("Waiter.som"),
        "Waiter = ( run = ( [ Waiter done ] whileFalse: [ (Delay forMilliseconds: 5) wait ]. Waiter new greet println ) greet = ( ^'hello' ) ---- | done | done = ( ^done ifNil: [ false ] ) finish = ( done := true ) )",
    )
    .expect("class");
    let mica_in =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_mica")).current_dir(&s.0).args(args).output().expect("mica");
    let build = mica_in(&["build", "pkg", "-o", "app.mimg"]);
    assert!(build.status.success(), "{}", text(&build.stderr));
    let out_file = s.0.join("app.out");
    let child = Command::new(env!("CARGO_BIN_EXE_mica"))
        .env("MICA_LIVE_DIR", s.sockets())
        .current_dir(&s.0)
        .args(["run", "app.mimg"])
        .stdout(std::fs::File::create(&out_file).expect("out"))
        .spawn()
        .expect("mica run");
    let mut app =
        Program { socket: s.sockets().join(format!("{}.sock", child.id())), child, out: out_file, err: PathBuf::new() };
    let mut c = app.connect();
    let r = c.call(1, json!({ "op": "define", "class": "Waiter", "source": "greet = ( ^'hello from the edits' )" }));
    assert_eq!(r["ok"], true, "{r}");
    let app_edits = s.0.join("app-edits.mimg");
    assert_eq!(c.call(2, json!({ "op": "save", "path": app_edits.to_str().unwrap() }))["edits"], 1);
    c.eval(3, "Waiter finish");
    assert!(app.wait().success());
    assert_eq!(app.stdout(), "hello from the edits\n");
    let again = Command::new(env!("CARGO_BIN_EXE_mica"))
        .current_dir(&s.0)
        .env("MICA_LIVE_DIR", s.sockets())
        .args(["run", "app.mimg", "app-edits.mimg"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mica run");
    let pid = again.id().to_string();
    let mut again = Program {
        socket: s.sockets().join(format!("{pid}.sock")),
        child: again,
        out: PathBuf::new(),
        err: PathBuf::new(),
    };
    let mut c = again.connect();
    assert_eq!(ok_value(&c.eval(1, "Waiter new greet")), "'hello from the edits'");
    c.eval(2, "Waiter finish");
    assert!(again.wait().success());
    let out = mica_in(&["run", "app-edits.mimg"]);
    assert!(text(&out.stderr).contains("needs the images it edits"), "{}", text(&out.stderr));
    // Over a class whose fields changed since: refused, nothing runs.
    s.class("Greeter", "Greeter = ( | name age | greet = ( ^'hello' ) spare = ( ^0 ) )");
    let out = Command::new(env!("CARGO_BIN_EXE_mica"))
        .current_dir(&s.0)
        .args(["--load", "edits.mimg", "-cp", "src", "Main"])
        .output()
        .expect("mica --load");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("saved against Greeter with the fields (name)"), "{}", text(&out.stderr));
    // Files that are not edits.
    let out = Command::new(env!("CARGO_BIN_EXE_mica"))
        .current_dir(&s.0)
        .args(["--load", "app.mimg", "-cp", "src", "Main"])
        .output()
        .expect("mica --load");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a file of live edits"), "{}", text(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_mica")).current_dir(&s.0).args(["--load"]).output().expect("mica");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_program_that_waits_for_a_client_is_not_deadlocked_while_one_is_connected() {
    let s = scratch("deadlock");
    s.class(
        "Waits",
        "Waits = ( run = ( (Delay forMilliseconds: 1500) wait. 'waiting' println. Waits sem wait. 'woken' println. Waits sem wait. 'never' println ) ---- | sem | sem = ( ^sem ifNil: [ sem := Semaphore new ] ) )",
    );
    for mode in MODES {
        // Connected before the program waits: it stays.
        let mut p = s.start(&[mode, "--live=on"], "Waits");
        let mut c = p.connect();
        p.wait_for_output("waiting");
        std::thread::sleep(Duration::from_millis(200));
        assert!(p.child.try_wait().expect("wait").is_none(), "{mode}: ended while a client was connected");
        assert_eq!(ok_value(&c.eval(1, "Waits sem signal. #signalled")), "#signalled");
        p.wait_for_output("woken");
        // The client leaves while the program waits again: now nothing can
        // wake it.
        drop(c);
        let status = p.wait();
        assert_eq!(status.code(), Some(1), "{mode}");
        assert!(p.stdout().ends_with("woken\n"), "{}", p.stdout());
        assert!(p.stderr().contains("deadlock"), "{mode}: {}", p.stderr());
    }
}

#[test]
fn browsing_namespaces_classes_implementors_and_senders() {
    let s = scratch("browse");
    s.class("Idle", IDLE);
    s.class("Base", "Base = ( | a | describe = ( ^a printString ) ---- | count | )");
    s.class("Derived", "Derived = Base ( | b | describe = ( ^super describe + b printString ) total = ( ^a + b ) )");
    let mut p = s.start(&["--jit=on"], "Idle");
    let mut c = p.connect();
    ok_value(&c.eval(1, "Derived new. Base new"));
    let r = c.call(2, json!({ "op": "namespaces" }));
    let names: Vec<&str> = r["namespaces"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Kernel") && names.contains(&"Program"), "{r}");
    let r = c.call(3, json!({ "op": "classes", "namespace": "Program" }));
    let names: Vec<&str> = r["classes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Base", "Derived", "Idle"], "{r}");
    assert_eq!(error_kind(&c.call(4, json!({ "op": "classes", "namespace": "Nowhere" }))), "notFound");
    let r = c.call(5, json!({ "op": "class", "class": "Base" }));
    let class = &r["class"];
    assert_eq!(class["superclass"], "Object", "{r}");
    assert_eq!(class["fields"], json!(["a"]));
    assert_eq!(class["classFields"], json!(["count"]));
    assert_eq!(class["methods"], json!(["describe"]));
    assert_eq!(class["subclasses"], json!(["Derived"]));
    let r = c.call(6, json!({ "op": "implementors", "selector": "describe" }));
    let names: Vec<&str> = r["implementors"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Base>>describe", "Derived>>describe"], "{r}");
    // A send through the literals, and one through a special bytecode.
    let r = c.call(7, json!({ "op": "senders", "selector": "describe" }));
    assert!(r["senders"].as_array().unwrap().iter().any(|n| n["name"] == "Derived>>describe"), "{r}");
    let r = c.call(8, json!({ "op": "senders", "selector": "+" }));
    let names: Vec<&str> = r["senders"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Derived>>total") && names.contains(&"Derived>>describe"), "{r}");
    assert!(r["senders"].as_array().unwrap()[0]["detail"].as_str().unwrap().contains(".som:"), "{r}");
    c.eval(9, "Idle stop: true");
    assert!(p.wait().success());
}

/// The value of a field (or element) of an inspection.
fn slot<'a>(r: &'a Value, key: &str, name: Value) -> &'a Value {
    let list = r[key].as_array().unwrap_or_else(|| panic!("no {key}: {r}"));
    list.iter()
        .find(|f| f[if key == "fields" { "name" } else { "index" }] == name)
        .unwrap_or_else(|| panic!("{name}: {r}"))
}

#[test]
fn objects_are_inspected_and_set_through_handles_that_survive_collections() {
    let s = scratch("inspect");
    s.class("Idle", IDLE);
    s.class(
        "Couple",
        "Couple = ( | left right | left: l right: r = ( left := l. right := r ) sum = ( ^left + right ) )",
    );
    for mode in MODES {
        let mut p = s.start(&[mode], "Idle");
        let mut c = p.connect();
        let r = c.eval(1, "Couple new left: 3 right: (Array with: 'two' with: nil with: 4.5)");
        let pair = r["handle"].as_u64().unwrap_or_else(|| panic!("{mode}: no handle: {r}"));
        assert_eq!(r["class"], "Couple", "{mode}: {r}");
        // A full collection moves what the handles hold; they follow.
        ok_value(&c.eval(2, "system fullGC. (1 to: 20000) collect: [ :i | Array new: 8 ]. nil"));
        let r = c.call(3, json!({ "op": "inspect", "handle": pair }));
        assert_eq!(r["ok"], true, "{mode}: {r}");
        assert_eq!(r["object"]["class"], "Couple", "{r}");
        assert_eq!(slot(&r, "fields", json!("left"))["value"], "3", "{r}");
        let right = slot(&r, "fields", json!("right"));
        assert_eq!(right["class"], "Array", "{r}");
        let array = right["handle"].as_u64().expect("a handle for each field");
        let r = c.call(4, json!({ "op": "inspect", "handle": array, "offset": 1, "count": 5 }));
        assert_eq!(r["size"], 3, "{r}");
        assert_eq!(r["elements"].as_array().map(Vec::len), Some(2), "a page from the second element: {r}");
        assert_eq!(slot(&r, "elements", json!(2))["value"], "nil", "{r}");
        assert_eq!(slot(&r, "elements", json!(3))["value"], "4.5", "{r}");
        // Set a field and an element from expressions; the program sees them.
        let r = c.call(5, json!({ "op": "set", "handle": pair, "field": "left", "source": "40 + 2" }));
        assert_eq!(ok_value(&r), "42", "{mode}: {r}");
        let r = c.call(6, json!({ "op": "set", "handle": array, "index": 1, "source": "'on' + 'e'" }));
        assert_eq!(r["ok"], true, "{r}");
        let r = c.call(7, json!({ "op": "inspect", "handle": array }));
        assert_eq!(slot(&r, "elements", json!(1))["value"], "'one'", "{r}");
        let r = c.call(8, json!({ "op": "inspect", "handle": pair }));
        let left = slot(&r, "fields", json!("left"))["handle"].as_u64().unwrap();
        let r = c.call(9, json!({ "op": "inspect", "handle": left }));
        assert_eq!((r["object"]["value"].clone(), r["size"].clone()), (json!("42"), json!(0)), "{r}");
        // Bad slots and handles say so; nothing changes.
        for (id, req, kind) in [
            (10, json!({ "op": "set", "handle": pair, "field": "middle", "source": "1" }), "notFound"),
            (11, json!({ "op": "set", "handle": array, "index": 4, "source": "1" }), "notFound"),
            (12, json!({ "op": "set", "handle": left, "index": 1, "source": "1" }), "refused"),
            (13, json!({ "op": "set", "handle": pair, "field": "left", "source": "1 +" }), "compile"),
            (14, json!({ "op": "inspect", "handle": 999_999 }), "notFound"),
            (15, json!({ "op": "set", "handle": pair, "source": "1" }), "badRequest"),
        ] {
            assert_eq!(error_kind(&c.call(id, req)), kind, "{mode}: request {id}");
        }
        let r = c.call(16, json!({ "op": "inspect", "handle": pair }));
        assert_eq!(slot(&r, "fields", json!("left"))["value"], "42", "{r}");
        // A printString that fails does not spoil the others.
        c.call(17, json!({ "op": "define", "class": "Couple", "source": "printString = ( ^self error: 'no' )" }));
        let r = c.eval(18, "Array with: Couple new with: 7");
        let r = c.call(19, json!({ "op": "inspect", "handle": r["handle"] }));
        let broken = slot(&r, "elements", json!(1))["value"].as_str().unwrap().to_string();
        assert!(broken.contains("printString failed"), "{r}");
        assert_eq!(slot(&r, "elements", json!(2))["value"], "7", "{r}");
        // Released handles are gone; another client's are not this one's.
        let r = c.call(20, json!({ "op": "release", "handles": [pair] }));
        assert_eq!(r["released"], 1, "{r}");
        assert_eq!(error_kind(&c.call(21, json!({ "op": "inspect", "handle": pair }))), "notFound");
        let mut other = p.connect();
        assert_eq!(error_kind(&other.call(1, json!({ "op": "inspect", "handle": array }))), "notFound");
        assert!(c.call(22, json!({ "op": "release" }))["released"].as_u64().unwrap() > 3);
        c.eval(23, "Idle stop: true");
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert_eq!(p.stdout(), "started\nstopped\n", "the program's own output stays its own");
    }
}

/// A program with a worker process that counts in a loop with a Delay,
/// inside a method with an argument and temporaries, and a main process
/// that runs until told to stop.
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
        | total label |
        label := 'total'.
        total := 0.
        [ [ true ] whileTrue: [
            total := total + step.
            Workers count: Workers count + 1.
            (Delay forMilliseconds: 2) wait ] ] ensure: [ 'cleaned up' println ]
    )
    ----
    | count stop |
    count = ( ^count )
    count: n = ( count := n )
    stop: b = ( stop := b )
    stopped = ( ^stop == true )
)";

#[test]
fn processes_are_listed_suspended_resumed_terminated_and_their_stacks_shown() {
    let s = scratch("processes");
    s.class("Workers", WORKERS);
    for mode in MODES {
        let mut p = s.start(&[mode], "Workers");
        let mut c = p.connect();
        p.wait_for_output("started");
        let count = |c: &mut Conn, id: u64| ok_value(&c.eval(id, "Workers count")).parse::<i64>().expect("a count");
        let start = Instant::now();
        while count(&mut c, 1) < 3 {
            assert!(start.elapsed() < Duration::from_secs(20), "the worker does not count");
        }
        let r = c.call(2, json!({ "op": "processes" }));
        let list = r["processes"].as_array().unwrap_or_else(|| panic!("{r}"));
        let find =
            |name: &str| list.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name}: {r}")).clone();
        let (main, worker) = (find("main"), find("counter"));
        assert_eq!(worker["priority"], 40, "{r}");
        assert!(worker["top"].as_str().unwrap().contains(".som:"), "where it stands: {r}");
        let id = worker["id"].as_u64().unwrap();
        // Its stack: the frames down to the block it started with, the
        // argument and temporaries by name.
        let r = c.call(3, json!({ "op": "stack", "process": id }));
        let frames = r["frames"].as_array().unwrap_or_else(|| panic!("{mode}: {r}"));
        let work = frames.iter().find(|f| f["method"] == "Workers>>work:").unwrap_or_else(|| panic!("{mode}: {r}"));
        assert_eq!(work["file"], "src/Workers.som", "{r}");
        assert!((15..=20).contains(&work["line"].as_u64().unwrap()), "{r}");
        assert_eq!(
            work["arguments"],
            json!([{ "name": "step", "value": "5", "class": "Integer", "handle": work["arguments"][0]["handle"] }])
        );
        let temps = work["temporaries"].as_array().unwrap();
        let temp = |n: &str| temps.iter().find(|t| t["name"] == n).unwrap_or_else(|| panic!("{n}: {work}"));
        assert_eq!(temp("label")["value"], "'total'", "{work}");
        assert!(temp("total")["value"].as_str().unwrap().parse::<i64>().unwrap() % 5 == 0, "{work}");
        assert_eq!(work["receiver"]["class"], "Workers", "{work}");
        let r = c.call(4, json!({ "op": "inspect", "handle": temp("label")["handle"] }));
        assert_eq!(r["object"]["value"], "'total'", "stack values are handles: {r}");
        // Suspended, it stops counting; resumed, it goes on.
        let r = c.call(5, json!({ "op": "suspend", "process": id }));
        assert_eq!(r["processes"][0]["state"], "suspended", "{mode}: {r}");
        let before = count(&mut c, 6);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(count(&mut c, 7), before, "{mode}: a suspended process does not run");
        let r = c.call(8, json!({ "op": "processes" }));
        assert!(r["processes"].as_array().unwrap().iter().any(|p| p["id"] == id && p["state"] == "suspended"), "{r}");
        let r = c.call(9, json!({ "op": "resume", "process": id }));
        assert_ne!(r["processes"][0]["state"], "suspended", "{r}");
        let start = Instant::now();
        while count(&mut c, 10) <= before {
            assert!(start.elapsed() < Duration::from_secs(20), "{mode}: the resumed process does not count");
        }
        // Terminated, its unwind blocks run; the main process cannot be.
        let r = c.call(11, json!({ "op": "terminate", "process": id }));
        // The process unwinds at once, at the requester's priority, ahead
        // of the answer.
        assert_eq!(r["processes"][0]["state"], "terminated", "{mode}: {r}");
        p.wait_for_output("cleaned up");
        let r = c.call(12, json!({ "op": "terminate", "process": main["id"] }));
        assert!(r["error"]["message"].as_str().unwrap().contains("main process cannot be terminated"), "{r}");
        assert_eq!(error_kind(&c.call(13, json!({ "op": "stack", "process": 424_242 }))), "notFound");
        assert_eq!(error_kind(&c.call(14, json!({ "op": "suspend" }))), "badRequest");
        c.eval(15, "Workers stop: true");
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert_eq!(p.stdout(), "started\ncleaned up\nstopped\n", "{mode}");
    }
}

/// A program that waits for a client's go-ahead, then computes with a bug
/// (a division by zero), twice.
const CALC: &str = "Calc = (
    run = (
        [ Calc go ] whileFalse: [ (Delay forMilliseconds: 2) wait ].
        ('ratio ' + (self ratio: 10 over: 0) printString) println.
        ('second ' + (self second: 3) printString) println
    )
    ratio: n over: d = ( | scaled | scaled := n * 10. ^scaled / d )
    second: x = ( ^self broken: x + 1 )
    broken: y = ( ^y foo )
    ----
    | go |
    go = ( ^go == true )
    go: b = ( go := b )
)";

/// The next event of `c` (replies skipped).
fn event(c: &mut Conn) -> Value {
    loop {
        let v = c.line();
        if v.get("event").is_some() {
            return v;
        }
    }
}

fn frame_index(stack: &Value, method: &str) -> u64 {
    let frames = stack["frames"].as_array().unwrap_or_else(|| panic!("{stack}"));
    frames.iter().find(|f| f["method"] == method).unwrap_or_else(|| panic!("no {method}: {stack}"))["index"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_process_stopped_at_an_error_is_fixed_restarted_and_finishes() {
    let s = scratch("debug");
    s.class("Calc", CALC);
    for mode in MODES {
        let mut p = s.start(&[mode], "Calc");
        let mut c = p.connect();
        c.eval(1, "Calc go: true");
        let e = event(&mut c);
        assert_eq!((e["event"].as_str(), e["reason"].as_str()), (Some("stopped"), Some("error")), "{mode}: {e}");
        assert!(e["message"].as_str().unwrap().contains("zero"), "{e}");
        let id = e["process"].as_u64().unwrap();
        let r = c.call(2, json!({ "op": "processes" }));
        let main = r["processes"].as_array().unwrap().iter().find(|p| p["id"] == id).cloned().unwrap();
        assert_eq!((main["name"].as_str(), main["state"].as_str()), (Some("main"), Some("stopped")), "{r}");
        assert_eq!(main["message"], e["message"], "{r}");
        let stack = c.call(3, json!({ "op": "stack", "process": id }));
        let k = frame_index(&stack, "Calc>>ratio:over:");
        // The frame's variables are in scope of an evaluation there.
        let r = c.call(4, json!({ "op": "eval", "process": id, "frame": k, "source": "scaled + n + d" }));
        assert_eq!(ok_value(&r), "110", "{mode}: {r}");
        // Fix the method, restart its frame, let the process go on.
        let r = c.call(5, json!({ "op": "define", "class": "Calc", "source": "ratio: n over: d = ( ^d = 0 ifTrue: [ n * 0 + 5 ] ifFalse: [ n / d ] )" }));
        assert_eq!(r["ok"], true, "{r}");
        let r = c.call(6, json!({ "op": "restart", "process": id, "frame": k }));
        assert_eq!(
            r["processes"][0]["top"].as_str().map(|t| t.starts_with("Calc>>ratio:over:")),
            Some(true),
            "{mode}: {r}"
        );
        c.call(8, json!({ "op": "continue", "process": id }));
        p.wait_for_output("ratio 5");
        // The second error: return a value from the failing frame instead.
        let e = event(&mut c);
        assert_eq!((e["reason"].as_str(), e["process"].as_u64()), (Some("error"), Some(id)), "{e}");
        let stack = c.call(9, json!({ "op": "stack", "process": id }));
        let k = frame_index(&stack, "Calc>>broken:");
        let r = c.call(10, json!({ "op": "return", "process": id, "frame": k, "source": "6 * 7" }));
        assert_eq!(ok_value(&r), "42", "{mode}: {r}");
        c.call(11, json!({ "op": "continue", "process": id }));
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert_eq!(p.stdout(), "ratio 5\nsecond 42\n", "{mode}");
    }
}

#[test]
fn a_hot_loop_is_paused_and_continued_and_a_stopped_process_ends_when_its_client_leaves() {
    let s = scratch("pause");
    s.class("Idle", IDLE);
    s.class("Ticker", "Ticker = ( run = ( [ true ] whileTrue: [ 'tick' println. (Delay forMilliseconds: 5) wait ] ) )");
    s.class("Calc", CALC);
    for mode in MODES {
        let mut p = s.start(&[mode], "Idle");
        let mut c = p.connect();
        let r = c.call(1, json!({ "op": "processes" }));
        let id =
            r["processes"].as_array().unwrap().iter().find(|p| p["name"] == "main").unwrap()["id"].as_u64().unwrap();
        // The event and the reply come in either order.
        c.send_raw(&json!({ "id": 2, "op": "pause", "process": id }).to_string());
        let (mut reply, mut stopped) = (None, None);
        while reply.is_none() || stopped.is_none() {
            let v = c.line();
            if v["id"] == 2 {
                reply = Some(v);
            } else if v["event"] == "stopped" {
                stopped = Some(v);
            }
        }
        let (r, e) = (reply.unwrap(), stopped.unwrap());
        assert_eq!(r["processes"][0]["state"], "suspended", "{mode}: {r}");
        assert_eq!((e["reason"].as_str(), e["process"].as_u64()), (Some("pause"), Some(id)), "{e}");
        let stack = c.call(3, json!({ "op": "stack", "process": id }));
        assert!(stack["frames"].as_array().unwrap().iter().any(|f| f["method"] == "Idle>>run"), "{mode}: {stack}");
        let r = c.call(4, json!({ "op": "continue", "process": id }));
        assert_ne!(r["processes"][0]["state"], "suspended", "{r}");
        c.eval(5, "Idle stop: true");
        assert!(p.wait().success(), "{mode}: {}", p.stderr());

        // Paused, a process goes on by itself when its client leaves.
        let mut p = s.start(&[mode], "Ticker");
        let mut c = p.connect();
        p.wait_for_output("tick");
        let r = c.call(1, json!({ "op": "processes" }));
        let id =
            r["processes"].as_array().unwrap().iter().find(|p| p["name"] == "main").unwrap()["id"].as_u64().unwrap();
        let r = c.call(2, json!({ "op": "pause", "process": id }));
        assert_eq!(r["processes"][0]["state"], "suspended", "{mode}: {r}");
        // Output is flushed within 100 ms: what it printed before is out by then.
        std::thread::sleep(Duration::from_millis(200));
        let ticks = p.stdout().lines().count();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(p.stdout().lines().count(), ticks, "{mode}: a paused process does not run");
        drop(c);
        let start = Instant::now();
        while p.stdout().lines().count() <= ticks {
            assert!(start.elapsed() < Duration::from_secs(20), "{mode}: the paused process stays paused");
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = p.child.kill();

        // Nobody left to look at it: the stopped main process ends the
        // program with the report, as without a client.
        let mut p = s.start(&[mode], "Calc");
        let mut c = p.connect();
        c.eval(1, "Calc go: true");
        assert_eq!(event(&mut c)["reason"], "error");
        drop(c);
        let status = p.wait();
        assert_eq!(status.code(), Some(1), "{mode}: {}", p.stderr());
        assert!(p.stderr().contains("Calc>>ratio:over:"), "{mode}: {}", p.stderr());
    }
}

#[test]
fn a_method_is_edited_in_the_users_editor_and_a_draft_that_does_not_compile_is_kept() {
    let s = scratch("edit");
    s.class("Idle", IDLE);
    // An "editor" that breaks the method the first time and fixes its
    // draft the second.
    let editor = s.0.join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nif grep -q '\\^ *)' \"$1\"; then sed -i 's/\\^ *)/^9 )/' \"$1\"; else sed -i 's/\\^1/^ /' \"$1\"; fi\n")
        .expect("editor");
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("mode");
    let mut p = s.start(&["--jit=on"], "Idle");
    let mut c = p.connect();
    let mut session = Command::new(env!("CARGO_BIN_EXE_mica"))
        .env("MICA_LIVE_DIR", s.sockets())
        .env_remove("VISUAL")
        .env("EDITOR", &editor)
        .args(["connect", &p.pid()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mica connect");
    session
        .stdin
        .take()
        .expect("stdin")
        .write_all(b":edit Idle class>>tick\nIdle tick\n:edit Idle class>>tick\nIdle tick\n:quit\n")
        .expect("write");
    let out = session.wait_with_output().expect("session");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stderr.contains("compile") && stderr.contains(":edit Idle class>>tick opens it again"), "{stderr}");
    assert!(stdout.contains("\n1\n"), "the broken text changed nothing: {stdout}");
    assert!(stdout.contains("defined Idle class>>tick") && stdout.ends_with("9\n"), "{stdout}{stderr}");
    assert_eq!(ok_value(&c.eval(1, "Idle tick")), "9");
    c.eval(2, "Idle stop: true");
    assert!(p.wait().success());
}

/// A program whose `work` stops at an error on its first line.
const STEPPER: &str = "Stepper = (
    run = (
        [ Stepper go ] whileFalse: [ (Delay forMilliseconds: 2) wait ].
        ('sum ' + self work printString) println.
        'done' println
    )
    work = (
        | a b |
        a := self oops.
        b := 2.
        ^a + b
    )
    oops = ( ^nil foo )
    ----
    | go |
    go = ( ^go == true )
    go: b = ( go := b )
)";

/// Sends `request` with `id`; answers its reply and the next `stopped`
/// event, which come in either order.
fn call_and_stop(c: &mut Conn, id: u64, mut request: Value) -> (Value, Value) {
    request["id"] = json!(id);
    c.send_raw(&request.to_string());
    let (mut reply, mut stopped) = (None, None);
    while reply.is_none() || stopped.is_none() {
        let v = c.line();
        if v["id"] == json!(id) {
            reply = Some(v);
        } else if v["event"] == "stopped" {
            stopped = Some(v);
        }
    }
    (reply.unwrap(), stopped.unwrap())
}

/// The innermost frame of the process `id` that is not the kernel's.
fn top_frame(c: &mut Conn, request: u64, id: u64) -> Value {
    let stack = c.call(request, json!({ "op": "stack", "process": id }));
    let frames = stack["frames"].as_array().unwrap_or_else(|| panic!("{stack}"));
    frames.iter().find(|f| f["hidden"] == false).cloned().unwrap_or_else(|| panic!("{stack}"))
}

#[test]
fn a_stopped_process_is_stepped_over_and_out_by_source_line() {
    let s = scratch("step");
    s.class("Stepper", STEPPER);
    for mode in MODES {
        let mut p = s.start(&[mode], "Stepper");
        let mut c = p.connect();
        c.eval(1, "Stepper go: true");
        let e = event(&mut c);
        assert_eq!(e["reason"], "error", "{mode}: {e}");
        let id = e["process"].as_u64().unwrap();
        let stack = c.call(2, json!({ "op": "stack", "process": id }));
        let k = frame_index(&stack, "Stepper>>oops");
        let r = c.call(3, json!({ "op": "return", "process": id, "frame": k, "source": "40" }));
        assert_eq!(ok_value(&r), "40", "{r}");
        let f = top_frame(&mut c, 4, id);
        assert_eq!((f["method"].as_str(), f["line"].as_u64()), (Some("Stepper>>work"), Some(9)), "{mode}: {f}");
        // Over: the next line of the same frame.
        let (r, e) = call_and_stop(&mut c, 5, json!({ "op": "step", "process": id, "kind": "over" }));
        assert_eq!(
            (r["ok"].as_bool(), e["reason"].as_str(), e["process"].as_u64()),
            (Some(true), Some("step"), Some(id)),
            "{mode}: {r} {e}"
        );
        let f = top_frame(&mut c, 6, id);
        assert_eq!((f["method"].as_str(), f["line"].as_u64()), (Some("Stepper>>work"), Some(10)), "{mode}: {f}");
        let a = f["temporaries"].as_array().unwrap().iter().find(|t| t["name"] == "a").cloned().unwrap();
        assert_eq!(a["value"], "40", "the returned value was stored: {f}");
        // A frame's variable set from an expression.
        let r = c.call(50, json!({ "op": "set", "process": id, "frame": f["index"], "name": "a", "source": "99 + 1" }));
        assert_eq!(ok_value(&r), "100", "{mode}: {r}");
        let r = c.call(51, json!({ "op": "set", "process": id, "frame": f["index"], "name": "zz", "source": "1" }));
        assert_eq!(error_kind(&r), "notFound", "{r}");
        call_and_stop(&mut c, 7, json!({ "op": "step", "process": id, "kind": "over" }));
        let f = top_frame(&mut c, 8, id);
        assert_eq!(f["line"], 11, "{mode}: {f}");
        // Out: back in the caller, after the send.
        call_and_stop(&mut c, 9, json!({ "op": "step", "process": id, "kind": "out" }));
        let f = top_frame(&mut c, 10, id);
        assert_eq!((f["method"].as_str(), f["line"].as_u64()), (Some("Stepper>>run"), Some(4)), "{mode}: {f}");
        assert_eq!(p.stdout(), "", "{mode}: nothing ran past the step");
        c.call(11, json!({ "op": "continue", "process": id }));
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert_eq!(p.stdout(), "sum 102\ndone\n", "{mode}");
    }
}
