//! Remote access end to end: programs started with `--listen` on a
//! loopback address, reached over TCP and TLS by raw clients and by
//! `mica connect`, with right, wrong and missing tokens, in every JIT
//! mode. TLS certificates are made here (rcgen). Each test keeps its
//! sockets and token files in a directory of its own (`MICA_LIVE_DIR`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const MODES: [&str; 3] = ["--jit=off", "--jit=on", "--jit=eager"];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A program that runs until told to stop (`Idle stop: true`).
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
    let dir = std::env::temp_dir().join(format!("mica-remote-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).expect("scratch dir");
    std::fs::write(dir.join("src/Idle.som"), IDLE).expect("class file");
    Scratch(dir)
}

impl Scratch {
    fn sockets(&self) -> PathBuf {
        self.0.join("sockets")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn mica(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mica"));
        cmd.env("MICA_LIVE_DIR", self.sockets()).current_dir(&self.0).args(args);
        cmd
    }

    /// Starts `mica ARGS` and waits for it to say where it listens.
    fn start(&self, args: &[&str]) -> Program {
        let out = self.0.join("program.out");
        let err = self.0.join("program.err");
        let child = self
            .mica(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&err).expect("err"))
            .spawn()
            .expect("mica starts");
        let mut p = Program { child, out, err, address: String::new(), token: PathBuf::new() };
        let start = Instant::now();
        let line = loop {
            if let Some(line) = p.stderr().lines().find(|l| l.contains("live connections on ")) {
                break line.to_string();
            }
            if let Some(status) = p.child.try_wait().expect("wait") {
                panic!("the program ended ({status}) before it listened: {}", p.stderr());
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no address announced: {}", p.stderr());
            std::thread::sleep(Duration::from_millis(5));
        };
        // mica: live connections on 127.0.0.1:41234[ over TLS] (token: /dir/4242.token)
        let rest = line.split("live connections on ").nth(1).expect("address");
        p.address = rest.split(' ').next().expect("address").to_string();
        let token = rest.split("(token: ").nth(1).and_then(|t| t.strip_suffix(')')).expect("token file");
        p.token = PathBuf::from(token);
        p
    }

    /// Runs `mica ARGS` that must end by itself (within a minute).
    fn run(&self, args: &[&str]) -> Output {
        let mut child =
            self.mica(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("mica");
        let start = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("mica {args:?} did not end");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.wait_with_output().expect("output")
    }

    /// Runs `mica connect ARGS`.
    fn connect(&self, args: &[&str]) -> Output {
        let mut all = vec!["connect"];
        all.extend_from_slice(args);
        self.run(&all)
    }
}

struct Program {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    /// Where it listens (HOST:PORT).
    address: String,
    token: PathBuf,
}

impl Program {
    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    fn token(&self) -> String {
        std::fs::read_to_string(&self.token).expect("token file").trim().to_string()
    }

    fn token_file(&self) -> &str {
        self.token.to_str().expect("a UTF-8 path")
    }

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

    fn alive(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw client: lines over any stream (plain TCP, or TLS).
struct Raw<S: Read + Write> {
    reader: BufReader<S>,
}

impl<S: Read + Write> Raw<S> {
    fn send(&mut self, line: &str) {
        let stream = self.reader.get_mut();
        stream.write_all(format!("{line}\n").as_bytes()).expect("write");
        stream.flush().expect("flush");
    }

    /// The next line, or `None` at the end of the connection.
    fn line(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))),
        }
    }

    fn reply(&mut self, id: u64) -> Value {
        loop {
            let v = self.line().expect("a reply");
            if v["id"] == json!(id) {
                return v;
            }
        }
    }
}

fn tcp(address: &str) -> Raw<TcpStream> {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    Raw { reader: BufReader::new(stream) }
}

fn auth(token: &str) -> String {
    json!({ "id": 0, "op": "authenticate", "token": token }).to_string()
}

fn eval(id: u64, source: &str) -> String {
    json!({ "id": id, "op": "eval", "source": source }).to_string()
}

/// Connects with the right token: the hello comes only after it.
fn authenticated(p: &Program) -> Raw<TcpStream> {
    let mut c = tcp(&p.address);
    c.send(&auth(&p.token()));
    let hello = c.line().expect("hello");
    assert_eq!(hello["event"], "hello", "{hello}");
    c
}

fn refusal(line: Option<Value>) -> String {
    let line = line.expect("a refused event");
    assert_eq!(line["event"], "refused", "{line}");
    line["message"].as_str().expect("a message").to_string()
}

#[test]
fn the_right_token_evaluates_in_every_mode_and_the_token_file_is_private() {
    let s = scratch("right");
    for mode in MODES {
        let mut p = s.start(&[mode, "--listen=127.0.0.1:0", "-cp", "src", "Idle"]);
        assert!(p.address.starts_with("127.0.0.1:") && !p.address.ends_with(":0"), "{}", p.address);
        // The token: 64 hex digits in a file only the user may read, in
        // the private directory, named after the process.
        let meta = std::fs::metadata(&p.token).expect("token file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dir = std::fs::metadata(s.sockets()).expect("dir");
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
        assert_eq!(p.token.file_name().unwrap().to_str().unwrap(), format!("{}.token", p.child.id()));
        let token = p.token();
        assert!(token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
        assert!(!p.stderr().contains(&token), "the token is printed");
        // A raw client: nothing comes before it authenticates.
        let mut c = tcp(&p.address);
        c.reader.get_ref().set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
        let mut byte = [0u8; 1];
        let early = c.reader.get_mut().read(&mut byte);
        assert!(early.is_err(), "{mode}: the program spoke before the client authenticated: {early:?}");
        c.reader.get_ref().set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        c.send(&auth(&token));
        assert_eq!(c.line().expect("hello")["event"], "hello");
        c.send(&eval(1, "3 + 4"));
        let r = c.reply(1);
        assert_eq!((r["ok"].clone(), r["value"].clone()), (json!(true), json!("7")), "{mode}: {r}");
        // mica connect, every way it has.
        let out = s.connect(&[&p.address, "--token-file", p.token_file(), "--eval", "3 + 4"]);
        assert!(out.status.success(), "{mode}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "7\n");
        std::fs::write(s.path("Extra.som"), "Extra = ( twice: x = ( ^x * 2 ) )").expect("class");
        let out = s.connect(&[&p.address, "--file", "Extra.som", "--token-file", p.token_file()]);
        assert!(out.status.success(), "{mode}: {}", text(&out.stderr));
        let out =
            s.connect(&[&p.address, &format!("--token-file={}", p.token_file()), "--eval", "Extra new twice: 21"]);
        assert_eq!(text(&out.stdout), "42\n", "{mode}: {}", text(&out.stderr));
        let mut json_client = s
            .mica(&["connect", &p.address, "--token-file", p.token_file(), "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("mica connect --json");
        json_client
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{}\n{{\"id\":2,\"op\":\"describe\"}}\n", eval(1, "6 * 7")).as_bytes())
            .expect("write");
        let out = json_client.wait_with_output().expect("output");
        let lines: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
        assert_eq!(lines[0]["event"], "hello", "{lines:?}");
        assert!(lines.iter().any(|l| l["id"] == 1 && l["value"] == "42"), "{lines:?}");
        assert!(lines.iter().any(|l| l["id"] == 2 && l["jit"] == mode.trim_start_matches("--jit=")), "{lines:?}");
        // The session, its input piped.
        let mut session = s
            .mica(&["connect", &p.address, "--token-file", p.token_file()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("mica connect");
        session.stdin.take().expect("stdin").write_all(b"#(1 2\n 3) size\n:stats\n:quit\n").expect("write");
        let out = session.wait_with_output().expect("session");
        assert!(text(&out.stdout).contains("\n3\n"), "{mode}: {}", text(&out.stdout));
        c.send(&eval(2, "Idle stop: true"));
        c.reply(2);
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        let exit = std::iter::from_fn(|| c.line()).find(|l| l.get("event").is_some_and(|e| e == "exit"));
        assert_eq!(exit.map(|e| e["status"].clone()), Some(json!(0)), "{mode}");
        assert!(!p.token.exists(), "{mode}: the token file stays after the program");
    }
}

#[test]
fn a_wrong_missing_or_late_token_is_refused_and_nothing_runs() {
    let s = scratch("wrong");
    for mode in ["--jit=off", "--jit=eager"] {
        let mut p = s.start(&[mode, "--listen=127.0.0.1:0", "-cp", "src", "Idle"]);
        p.wait_for_output("started");
        let intruder = "'INTRUDER' println. Idle stop: true";
        // A wrong token, with requests right behind it.
        let mut c = tcp(&p.address);
        c.send(&format!("{}\n{}\n{}", auth(&"0".repeat(64)), eval(1, intruder), eval(2, intruder)));
        assert_eq!(refusal(c.line()), "wrong token");
        assert!(c.line().is_none(), "the connection stays open");
        // No token: the first line is a request.
        let mut c = tcp(&p.address);
        c.send(&eval(1, intruder));
        assert!(refusal(c.line()).contains("authenticate"));
        assert!(c.line().is_none());
        // A token of the wrong shape, an authentication without one, a
        // line too long, a line that is not JSON.
        for (first, why) in [
            (auth("not hex at all"), "wrong token"),
            (json!({ "op": "authenticate" }).to_string(), "no \"token\""),
            (json!({ "op": "authenticate", "token": 7 }).to_string(), "no \"token\""),
            (format!("{{\"op\":\"authenticate\",\"token\":\"{}\"}}", "a".repeat(4000)), "at most 1024 bytes"),
            ("hello there".into(), "authentication request"),
        ] {
            let mut c = tcp(&p.address);
            c.send(&format!("{first}\n{}", eval(1, intruder)));
            let message = refusal(c.line());
            assert!(message.contains(why), "{first:.60}: {message}");
        }
        // mica connect with a wrong token file.
        std::fs::write(s.path("wrong.token"), format!("{}\n", "ab".repeat(32))).expect("token");
        std::fs::set_permissions(s.path("wrong.token"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let out = s.connect(&[&p.address, "--token-file", "wrong.token", "--eval", intruder]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("refused: wrong token"), "{}", text(&out.stderr));
        // Nothing ran: the program is still there, and an evaluation
        // made now is the first to print.
        let mut c = authenticated(&p);
        c.send(&eval(1, "'checked' println. 1"));
        c.reply(1);
        p.wait_for_output("checked");
        assert_eq!(p.stdout(), "started\nchecked\n", "{mode}");
        assert!(p.alive());
        assert!(p.stderr().contains("refused a live connection from 127.0.0.1:"), "{}", p.stderr());
        c.send(&eval(2, "Idle stop: true"));
        assert!(p.wait().success());
    }
    // A client that says nothing is refused after a few seconds.
    let mut p = s.start(&["--listen=127.0.0.1:0", "-cp", "src", "Idle"]);
    let mut c = tcp(&p.address);
    let start = Instant::now();
    assert!(refusal(c.line()).contains("no authentication within"));
    assert!(start.elapsed() >= Duration::from_secs(4), "{:?}", start.elapsed());
    assert!(p.alive());
    // So does one that sends a byte now and then (the limit is for the
    // whole line).
    let mut c = tcp(&p.address);
    let start = Instant::now();
    for _ in 0..3 {
        c.reader.get_mut().write_all(b"{").expect("write");
        std::thread::sleep(Duration::from_secs(2));
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    assert!(refusal(c.line()).contains("no authentication within"));
    assert!(p.alive());
}

#[test]
fn start_up_refuses_what_cannot_be_safe_or_done() {
    let s = scratch("start");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    std::fs::write(s.path("cert.pem"), cert.cert.pem()).expect("cert");
    std::fs::write(s.path("other-key.pem"), other.signing_key.serialize_pem()).expect("key");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let busy = format!("--listen={}", taken.local_addr().expect("address"));
    for (args, status, why) in [
        (vec!["--listen=0.0.0.0:0"], 2, "--tls-cert FILE --tls-key FILE"),
        (vec!["--listen=[::]:0"], 2, "not a loopback address"),
        (vec!["--listen=127.0.0.1"], 2, "HOST:PORT"),
        (vec!["--listen=::1:7000"], 2, "brackets"),
        (vec!["--listen=127.0.0.1:99999"], 2, "port number"),
        (vec!["--listen=127.0.0.1:0", "--live=off"], 2, "--live=off"),
        (vec!["--listen=127.0.0.1:0", "--tls-cert", "cert.pem"], 2, "go together"),
        (vec!["--tls-cert", "cert.pem", "--tls-key", "cert.pem"], 2, "go with --listen"),
        (vec![busy.as_str()], 1, "cannot listen on"),
        (vec!["--listen=127.0.0.1:0", "--tls-cert", "none.pem", "--tls-key", "none.pem"], 1, "none.pem"),
        (vec!["--listen=127.0.0.1:0", "--tls-cert", "src/Idle.som", "--tls-key", "other-key.pem"], 1, "no certificate"),
        (vec!["--listen=127.0.0.1:0", "--tls-cert", "cert.pem", "--tls-key", "cert.pem"], 1, "no private key"),
        (vec!["--listen=127.0.0.1:0", "--tls-cert", "cert.pem", "--tls-key", "other-key.pem"], 1, "does not match"),
    ] {
        let mut all = args.clone();
        all.extend(["-cp", "src", "Idle"]);
        let out = s.run(&all);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(why), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "", "{args:?}: the program ran");
        assert!(!text(&out.stderr).contains("panicked"), "{args:?}: {}", text(&out.stderr));
    }
    // No token file is left by a refused start.
    let left: Vec<_> = std::fs::read_dir(s.sockets()).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(left.iter().all(|e| !e.file_name().to_string_lossy().ends_with(".token")), "{left:?}");
    // mica run IMAGE listens too; a sealed bundle refuses.
    let pkg = s.path("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    std::fs::write(pkg.join("mica.toml"), "[package]\nname = \"Waiter\"\nversion = \"1.0.0\"\nmain = \"Waiter\"\n")
        .expect("manifest");
    std::fs::write(
        pkg.join("Waiter.som"),
        "Waiter = ( run = ( [ true ] whileTrue: [ (Delay forMilliseconds: 10) wait ] ) )",
    )
    .expect("class");
    for args in [&["build", "pkg", "-o", "w.mimg"][..], &["bundle", "w.mimg", "-o", "sealed-app", "--sealed"]] {
        let out = s.run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let p = s.start(&["run", "--listen", "127.0.0.1:0", "w.mimg"]);
    let out = s.connect(&[&p.address, "--token-file", p.token_file(), "--eval", "3 + 4"]);
    assert_eq!(text(&out.stdout), "7\n", "{}", text(&out.stderr));
    let out = s.run(&["run", "--listen=127.0.0.1:0", "sealed-app"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("sealed"), "{}", text(&out.stderr));
}

#[test]
fn the_client_says_what_is_wrong() {
    let s = scratch("client");
    let mut p = s.start(&["--listen=127.0.0.1:0", "-cp", "src", "Idle"]);
    let out = s.connect(&[&p.address, "--eval", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--token-file"), "{}", text(&out.stderr));
    let out = s.connect(&[&p.address, "--token-file", "missing.token", "--eval", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read the token file missing.token"), "{}", text(&out.stderr));
    let out = s.connect(&["nowhere", "--eval", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a process id nor HOST:PORT"), "{}", text(&out.stderr));
    // Nothing listens on a port just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("address");
    let out = s.connect(&[&free.to_string(), "--token-file", p.token_file(), "--eval", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot connect to"), "{}", text(&out.stderr));
    // TLS against a plain endpoint.
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    std::fs::write(s.path("cert.pem"), cert.cert.pem()).expect("cert");
    let out = s.connect(&[&p.address, "--token-file", p.token_file(), "--tls-ca", "cert.pem", "--eval", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("TLS handshake"), "{}", text(&out.stderr));
    assert!(p.alive());
    let help = s.connect(&["--help"]);
    assert!(text(&help.stdout).contains("--token-file") && text(&help.stdout).contains("--tls-ca"));
    let help = s.run(&["--help"]);
    assert!(text(&help.stdout).contains("--listen=HOST:PORT") && text(&help.stdout).contains("--tls-key"));
}

/// A certificate authority and a certificate it signed for 127.0.0.1,
/// localhost and ::1 (the files: ca.pem, cert.pem, key.pem), and a
/// self-signed one (self.pem, self-key.pem).
fn certificates(s: &Scratch) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("CA");
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string(), "::1".to_string()];
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(names.clone()).expect("params").signed_by(&key, &ca).expect("certificate");
    std::fs::write(s.path("ca.pem"), ca.pem()).expect("ca");
    std::fs::write(s.path("cert.pem"), cert.pem()).expect("cert");
    std::fs::write(s.path("key.pem"), key.serialize_pem()).expect("key");
    let own = rcgen::generate_simple_self_signed(names).expect("certificate");
    std::fs::write(s.path("self.pem"), own.cert.pem()).expect("cert");
    std::fs::write(s.path("self-key.pem"), own.signing_key.serialize_pem()).expect("key");
}

/// A raw TLS client trusting the certificates in the file `ca`.
fn tls_client(address: &str, ca: &Path) -> Raw<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).expect("ca");
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert).expect("a root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    Raw { reader: BufReader::new(rustls::StreamOwned::new(conn, stream)) }
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).collect::<Result<_, _>>().expect("PEM")
}

#[test]
fn tls_with_certificates_made_here() {
    let s = scratch("tls");
    certificates(&s);
    for mode in MODES {
        let mut p = s.start(&[
            mode,
            "--listen=127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
            "-cp",
            "src",
            "Idle",
        ]);
        assert!(p.stderr().contains(" over TLS (token: "), "{}", p.stderr());
        let token = p.token_file().to_string();
        for ca in ["ca.pem", "cert.pem"] {
            let out = s.connect(&[&p.address, "--token-file", &token, "--tls-ca", ca, "--eval", "3 + 4"]);
            assert!(out.status.success(), "{mode} {ca}: {}", text(&out.stderr));
            assert_eq!(text(&out.stdout), "7\n");
        }
        let host = p.address.replace("127.0.0.1", "localhost");
        let out = s.connect(&[&host, "--token-file", &token, "--tls-ca", "ca.pem", "--eval", "6 * 7"]);
        assert_eq!(text(&out.stdout), "42\n", "{mode}: {}", text(&out.stderr));
        // A raw TLS client: wrong token, then the right one.
        let mut c = tls_client(&p.address, &s.path("ca.pem"));
        c.send(&format!("{}\n{}", auth(&"1".repeat(64)), eval(1, "'INTRUDER' println")));
        assert_eq!(refusal(c.line()), "wrong token");
        let mut c = tls_client(&p.address, &s.path("ca.pem"));
        c.send(&auth(&p.token()));
        assert_eq!(c.line().expect("hello")["event"], "hello");
        c.send(&eval(1, "3 + 4"));
        assert_eq!(c.reply(1)["value"], "7");
        // A client that trusts neither this certificate nor its authority.
        for trust in [&["--tls"][..], &["--tls-ca", "self.pem"]] {
            let mut args = vec![p.address.as_str(), "--token-file", &token, "--eval", "'INTRUDER' println"];
            args.extend_from_slice(trust);
            let out = s.connect(&args);
            assert_eq!(out.status.code(), Some(1), "{trust:?}");
            let err = text(&out.stderr);
            assert!(err.contains("TLS handshake") && err.contains("not trusted"), "{trust:?}: {err}");
        }
        // The program says why it refused them.
        let start = Instant::now();
        while !p.stderr().contains("TLS: received fatal alert") {
            assert!(start.elapsed() < Duration::from_secs(10), "{}", p.stderr());
            std::thread::sleep(Duration::from_millis(5));
        }
        // Plain TCP against the TLS endpoint: refused, in plain text.
        let out = s.connect(&[&p.address, "--token-file", &token, "--eval", "'INTRUDER' println"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("speaks TLS"), "{}", text(&out.stderr));
        let mut raw = tcp(&p.address);
        raw.send(&format!("{}\n{}", auth(&p.token()), eval(1, "'INTRUDER' println")));
        assert!(refusal(raw.line()).contains("speaks TLS"));
        let mut raw = tcp(&p.address);
        raw.reader.get_mut().write_all(&[0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0]).expect("write");
        let mut rest = Vec::new();
        let _ = raw.reader.read_to_end(&mut rest);
        assert!(p.alive(), "{mode}: {}", p.stderr());
        c.send(&eval(2, "'checked' println. Idle stop: true"));
        assert!(p.wait().success(), "{mode}: {}", p.stderr());
        assert_eq!(p.stdout(), "started\nchecked\nstopped\n", "{mode}");
    }
    // A self-signed certificate given to the client as it is (pinned).
    let mut p =
        s.start(&["--listen=127.0.0.1:0", "--tls-cert", "self.pem", "--tls-key", "self-key.pem", "-cp", "src", "Idle"]);
    let out = s.connect(&[&p.address, "--token-file", p.token_file(), "--tls-ca", "self.pem", "--eval", "3 + 4"]);
    assert_eq!(text(&out.stdout), "7\n", "{}", text(&out.stderr));
    let out = s.connect(&[&p.address, "--token-file", p.token_file(), "--tls-ca", "ca.pem", "--eval", "3 + 4"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(p.alive());
}

/// Writes `requests` evaluations (each padded to some 64 KiB, each
/// answering some 40 to 80 KiB)
/// without reading, then reads every reply: the program writes replies
/// while the client still sends, and neither side waits for the other.
fn flood<S: Read + Write>(c: &mut Raw<S>, requests: u64) {
    let padding = format!("\"{}\"", "p".repeat(64 << 10));
    let mut batch = String::new();
    for id in 1..=requests {
        // An error's message is sent whole (a value's printString is cut).
        batch.push_str(&eval(id, &format!("{padding} Error signal: (Array new: 20000 withAll: {id}) printString")));
        batch.push('\n');
    }
    c.reader.get_mut().write_all(batch.as_bytes()).expect("write the requests");
    c.reader.get_mut().flush().expect("flush");
    let mut seen = 0;
    while seen < requests {
        let line = c.line().expect("a reply");
        if let Some(id) = line["id"].as_u64() {
            assert!(
                line["error"]["message"].as_str().is_some_and(|v| v.len() > 40000 && v.contains(&format!(" {id} "))),
                "{line:.200}"
            );
            seen += 1;
        }
    }
}

#[test]
fn many_replies_while_requests_keep_coming_do_not_deadlock() {
    let s = scratch("flood");
    certificates(&s);
    for tls in [false, true] {
        let mut args = vec!["--jit=on", "--listen=127.0.0.1:0", "-cp", "src", "Idle"];
        if tls {
            args.splice(2..2, ["--tls-cert", "cert.pem", "--tls-key", "key.pem"]);
        }
        let mut p = s.start(&args);
        let (address, token) = (p.address.clone(), p.token());
        let done = std::sync::mpsc::channel();
        let client = {
            let sender = done.0;
            let ca = s.path("ca.pem");
            std::thread::spawn(move || {
                if tls {
                    let mut c = tls_client(&address, &ca);
                    c.send(&auth(&token));
                    assert_eq!(c.line().expect("hello")["event"], "hello");
                    flood(&mut c, 300);
                } else {
                    let mut c = tcp(&address);
                    c.send(&auth(&token));
                    assert_eq!(c.line().expect("hello")["event"], "hello");
                    flood(&mut c, 300);
                }
                let _ = sender.send(());
            })
        };
        let finished = done.1.recv_timeout(Duration::from_secs(120));
        assert!(finished.is_ok(), "tls {tls}: the client and the program wait for each other: {}", p.stderr());
        client.join().expect("the client");
        assert!(p.alive());
    }
}

#[test]
fn ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let s = scratch("ipv6");
    let mut p = s.start(&["--listen=[::1]:0", "-cp", "src", "Idle"]);
    assert!(p.address.starts_with("[::1]:"), "{}", p.address);
    let out = s.connect(&[&p.address, "--token-file", p.token_file(), "--eval", "3 + 4"]);
    assert_eq!(text(&out.stdout), "7\n", "{}", text(&out.stderr));
    assert!(p.alive());
}

#[test]
fn the_token_file_goes_on_a_signal_too() {
    let s = scratch("signal");
    let mut p = s.start(&["--listen=127.0.0.1:0", "-cp", "src", "Idle"]);
    p.wait_for_output("started");
    assert!(p.token.exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("kill");
    let status = p.wait();
    assert_eq!(status.code(), Some(143), "{}", p.stderr());
    assert!(!p.token.exists());
    assert!(!Path::new(&p.token.with_extension("sock")).exists());
}
