//! Remote access: with `--listen=HOST:PORT` a program also accepts TCP
//! connections (over TLS with `--tls-cert`/`--tls-key`), from clients
//! that know its token. `docs/design/remote-access.md` says why it is
//! shaped so; `docs/live-protocol.md` is the reference.
//!
//! ```text
//!  client                                      program
//!  TCP connect, TLS handshake (if TLS) ──────▶ accept thread ── a thread per connection
//!  {"op":"authenticate","token":"…"}\n ──────▶ the first line: within 5 s, at most 1 KiB,
//!                                              the token compared in constant time
//!  ◀─────────────────────── {"event":"hello"}  then the connection is served as the Unix
//!                                              socket's are (`super::connection`)
//!  ◀───────────── {"event":"refused",…}, end   or nothing after that line is decoded, and
//!                                              the program never sees the connection
//! ```

pub mod client;
mod tls;
pub mod token;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Shared, StreamOutgoing, Writer};
use token::Token;

/// How long a client has, from its connection, to finish the TLS
/// handshake and send its authentication line.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest authentication line accepted (the token is 64 digits).
pub const AUTH_LINE_MAX: usize = 1024;

/// At most this many connections may be authenticating at once; more are
/// closed at once (a flood of idle connections cannot pile up threads).
const MAX_AUTHENTICATING: usize = 16;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// A `HOST:PORT` as `--listen` and `mica connect` take it: an IPv4
/// address or a name, or an IPv6 address in brackets (`[::1]:7000`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The host: an address (IPv6 without its brackets) or a name.
    pub host: String,
    /// The port (0: any free one, when listening).
    pub port: u16,
}

impl Address {
    /// Reads `HOST:PORT`.
    pub fn parse(text: &str) -> Result<Address, String> {
        let form = "HOST:PORT (127.0.0.1:7000, localhost:7000, [::1]:7000)";
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, port) = rest.split_once("]:").ok_or_else(|| format!("'{text}' is not {form}"))?;
            host.parse::<std::net::Ipv6Addr>().map_err(|_| format!("'{host}' is not an IPv6 address"))?;
            (host, port)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(|| format!("'{text}' is not {form}"))?;
            if host.contains(':') {
                return Err(format!("'{text}': an IPv6 address goes in brackets, as in [::1]:7000"));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(format!("'{text}' has no host: {form}"));
        }
        let port = port.parse::<u16>().map_err(|_| format!("'{port}' is not a port number (0 to 65535)"))?;
        Ok(Address { host: host.to_string(), port })
    }

    /// The socket addresses the host names.
    fn resolve(&self) -> Result<Vec<SocketAddr>, String> {
        let addresses: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .collect();
        if addresses.is_empty() {
            return Err(format!("{} names no address", self.host));
        }
        Ok(addresses)
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Why a TCP endpoint could not be opened at start.
#[derive(Debug)]
pub struct StartError {
    /// What went wrong, and what to do.
    pub message: String,
    /// Whether the command line asked for something refused (exit status
    /// 2), rather than the system failing it (1).
    pub usage: bool,
}

/// A bound TCP endpoint and its token, waiting for the program's
/// connections to be shared ([`Listener::serve`]). Dropping it removes
/// the token file.
pub struct Listener {
    socket: Option<TcpListener>,
    address: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    token: Arc<Token>,
    token_file: PathBuf,
}

impl Listener {
    /// Binds `address` (a `HOST:PORT`) and writes a new token to its file;
    /// `tls` is the certificate chain and key files. A host that is not a
    /// loopback address is refused without TLS.
    pub fn open(address: &str, tls: Option<(&Path, &Path)>) -> Result<Listener, StartError> {
        let usage = |message: String| StartError { message, usage: true };
        let system = |message: String| StartError { message, usage: false };
        let given = Address::parse(address).map_err(|e| usage(format!("--listen: {e}")))?;
        let addresses = given.resolve().map_err(|e| system(format!("--listen: {e}")))?;
        if tls.is_none() && !addresses.iter().all(|a| is_loopback(a.ip())) {
            return Err(usage(format!(
                "--listen={given}: not a loopback address, and without TLS the token and everything after it \
                 would cross the network as clear text; give --tls-cert FILE --tls-key FILE to listen there \
                 over TLS, or listen on 127.0.0.1 or [::1]"
            )));
        }
        let tls = match tls {
            Some((cert, key)) => Some(tls::server_config(cert, key).map_err(system)?),
            None => None,
        };
        let socket = TcpListener::bind(&addresses[..]).map_err(|e| system(format!("cannot listen on {given}: {e}")))?;
        let address = socket.local_addr().map_err(|e| system(format!("cannot listen on {given}: {e}")))?;
        let dir = super::socket_dir();
        super::ensure_private_dir(&dir).map_err(system)?;
        let token = Token::generate().map_err(system)?;
        let token_file = token::token_path(std::process::id());
        token.write_file(&token_file).map_err(system)?;
        Ok(Listener { socket: Some(socket), address, tls, token: Arc::new(token), token_file })
    }

    /// The file the token is in.
    pub fn token_file(&self) -> &Path {
        &self.token_file
    }

    /// The line printed on standard error at start.
    pub fn announcement(&self) -> String {
        format!(
            "mica: live connections on {}{} (token: {})",
            self.address,
            if self.tls.is_some() { " over TLS" } else { "" },
            self.token_file.display()
        )
    }

    /// Accepts connections on a thread of its own, for `shared`.
    pub(super) fn serve(&mut self, shared: Arc<Shared>) {
        let Some(socket) = self.socket.take() else { return };
        let server = Arc::new(Server {
            tls: self.tls.clone(),
            token: Arc::clone(&self.token),
            authenticating: AtomicUsize::new(0),
        });
        let spawned =
            std::thread::Builder::new().name("mica-remote".into()).spawn(move || accept(socket, server, shared));
        if let Err(e) = spawned {
            eprintln!("mica: the TCP live connection is not available: {e}");
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.token_file);
    }
}

/// What every connection of a TCP endpoint needs.
struct Server {
    tls: Option<Arc<rustls::ServerConfig>>,
    token: Arc<Token>,
    authenticating: AtomicUsize,
}

/// Counts a connection among those authenticating while it lives.
struct Authenticating<'a>(&'a AtomicUsize);

impl Drop for Authenticating<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn accept(socket: TcpListener, server: Arc<Server>, shared: Arc<Shared>) {
    for stream in socket.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(_) => {
                // Out of file descriptors, say: no spinning meanwhile.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if server.authenticating.fetch_add(1, Ordering::AcqRel) >= MAX_AUTHENTICATING {
            server.authenticating.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let (ours, shared) = (Arc::clone(&server), Arc::clone(&shared));
        let spawned = std::thread::Builder::new().name("mica-remote-conn".into()).spawn(move || {
            let guard = Authenticating(&ours.authenticating);
            connection(stream, &ours, &shared, guard);
        });
        if spawned.is_err() {
            server.authenticating.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A TCP socket's reading side, with a deadline while the client
/// authenticates (a client sending a byte now and then gains nothing).
pub struct TimedSocket {
    socket: TcpStream,
    deadline: Option<Instant>,
}

impl TimedSocket {
    /// Reads `socket`, before `deadline` if one is given.
    pub fn new(socket: TcpStream, deadline: Option<Instant>) -> TimedSocket {
        TimedSocket { socket, deadline }
    }

    /// The socket.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Ends the deadline: reads wait as long as they must.
    pub fn clear_deadline(&mut self) {
        self.deadline = None;
        let _ = self.socket.set_read_timeout(None);
        let _ = self.socket.set_write_timeout(None);
    }

    fn time_left(&self) -> std::io::Result<Option<Duration>> {
        let Some(deadline) = self.deadline else { return Ok(None) };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() { Err(std::io::ErrorKind::TimedOut.into()) } else { Ok(Some(left)) }
    }
}

impl Read for TimedSocket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(left) = self.time_left()? {
            self.socket.set_read_timeout(Some(left))?;
        }
        self.socket.read(buf)
    }
}

impl Write for TimedSocket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(left) = self.time_left()? {
            self.socket.set_write_timeout(Some(left))?;
        }
        self.socket.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.socket.flush()
    }
}

/// The reading side of an accepted connection, plain or TLS.
enum Incoming {
    Plain(TimedSocket),
    Tls(tls::TlsReader),
}

impl Incoming {
    fn clear_deadline(&mut self) {
        match self {
            Incoming::Plain(s) => s.clear_deadline(),
            Incoming::Tls(r) => r.socket_mut().clear_deadline(),
        }
    }
}

impl Read for Incoming {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Incoming::Plain(s) => s.read(buf),
            Incoming::Tls(r) => r.read(buf),
        }
    }
}

/// An accepted connection before it is authenticated.
struct Opened {
    reader: BufReader<Incoming>,
    writer: Writer,
    tls: Option<Arc<tls::TlsPipe>>,
    control: TcpStream,
}

/// Why a connection is not served.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Told to the client in a `refused` event (and logged).
    Tell(String),
    /// Not told: the client left, said nothing, or its TLS handshake
    /// failed (it can read nothing but TLS alerts); logged if given.
    Quiet(Option<String>),
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

fn no_authentication() -> Refusal {
    Refusal::Tell(format!("no authentication within {} seconds", AUTH_TIMEOUT.as_secs()))
}

/// Looks at the first byte: a TLS handshake on a plain endpoint, or
/// anything else on a TLS one, is refused in plain text (the client can
/// read nothing else).
fn check_first_byte(stream: &TcpStream, tls: bool, deadline: Instant) -> Result<(), Refusal> {
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let _ = stream.set_read_timeout(Some(left));
    let mut first = [0u8; 1];
    match stream.peek(&mut first) {
        Ok(0) => Err(Refusal::Quiet(None)),
        Ok(_) if tls && first[0] != TLS_HANDSHAKE => {
            Err(Refusal::Tell("this endpoint speaks TLS: connect with --tls (or --tls-ca FILE)".into()))
        }
        Ok(_) if !tls && first[0] == TLS_HANDSHAKE => {
            Err(Refusal::Tell("this endpoint does not speak TLS: connect without --tls".into()))
        }
        Ok(_) => Ok(()),
        Err(e) if timed_out(&e) => Err(no_authentication()),
        Err(_) => Err(Refusal::Quiet(None)),
    }
}

/// Makes the connection's reader and writer (the TLS handshake done).
fn open(stream: TcpStream, server: &Server, deadline: Instant) -> Result<Opened, (Refusal, TcpStream)> {
    let fail = |stream: TcpStream, why: Refusal| Err((why, stream));
    if let Err(why) = check_first_byte(&stream, server.tls.is_some(), deadline) {
        return fail(stream, why);
    }
    let (Ok(read_half), Ok(control), Ok(shut)) = (stream.try_clone(), stream.try_clone(), stream.try_clone()) else {
        return fail(stream, Refusal::Quiet(None));
    };
    let mut timed = TimedSocket::new(read_half, Some(deadline));
    let Some(config) = &server.tls else {
        let writer: Writer = Arc::new(StreamOutgoing { stream: Mutex::new(stream), control: shut });
        return Ok(Opened { reader: BufReader::new(Incoming::Plain(timed)), writer, tls: None, control });
    };
    let Ok(conn) = rustls::ServerConnection::new(Arc::clone(config)) else { return fail(stream, Refusal::Quiet(None)) };
    let mut conn = rustls::Connection::from(conn);
    if let Err(e) = tls::handshake(&mut conn, &mut timed) {
        let why = if timed_out(&e) { no_authentication() } else { Refusal::Quiet(Some(format!("TLS: {e}"))) };
        return fail(stream, why);
    }
    match tls::TlsPipe::new(conn, timed) {
        Ok((pipe, reader)) => {
            let writer: Writer = Arc::clone(&pipe) as Writer;
            Ok(Opened { reader: BufReader::new(Incoming::Tls(reader)), writer, tls: Some(pipe), control })
        }
        Err(_) => fail(stream, Refusal::Quiet(None)),
    }
}

/// Reads the authentication line: `Ok` if it carries the token.
fn authenticate(reader: &mut impl BufRead, token: &Token) -> Result<(), Refusal> {
    let mut line = Vec::new();
    match reader.take(AUTH_LINE_MAX as u64 + 1).read_until(b'\n', &mut line) {
        Ok(0) => return Err(Refusal::Quiet(None)),
        Ok(_) => {}
        Err(e) if timed_out(&e) => return Err(no_authentication()),
        Err(_) => return Err(Refusal::Quiet(None)),
    }
    if line.len() > AUTH_LINE_MAX {
        return Err(Refusal::Tell(format!(
            "the first line must be an authentication request of at most {AUTH_LINE_MAX} bytes"
        )));
    }
    let request: Option<Value> = serde_json::from_slice(&line).ok();
    let Some(request) = request.as_ref().and_then(Value::as_object) else {
        return Err(Refusal::Tell(
            "the first line must be an authentication request: {\"op\":\"authenticate\",\"token\":\"...\"}".into(),
        ));
    };
    if request.get("op").and_then(Value::as_str) != Some("authenticate") {
        return Err(Refusal::Tell(
            "authenticate first: the first line must be {\"op\":\"authenticate\",\"token\":\"...\"}".into(),
        ));
    }
    let Some(given) = request.get("token").and_then(Value::as_str) else {
        return Err(Refusal::Tell("the authentication request has no \"token\" (a string)".into()));
    };
    if token.matches(given) { Ok(()) } else { Err(Refusal::Tell("wrong token".into())) }
}

/// Ends a refused connection: the refusal (if any), then the end of
/// output; input is read and dropped for a moment, so that the refusal is
/// not lost to a reset for requests the client sent after its first line.
fn refuse(control: &TcpStream, writer: Option<&Writer>, tls: Option<&tls::TlsPipe>, why: &Refusal) {
    if let Refusal::Tell(message) = why {
        let line = super::refused_line(message);
        match writer {
            Some(w) => {
                w.write_line(&line);
            }
            None => {
                let mut socket = control;
                let _ = socket.write_all(format!("{line}\n").as_bytes());
            }
        }
    }
    if let Some(pipe) = tls {
        pipe.close_notify();
    }
    let _ = control.shutdown(std::net::Shutdown::Write);
    let _ = control.set_read_timeout(Some(Duration::from_millis(200)));
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    let mut socket = control;
    while start.elapsed() < Duration::from_secs(1) && matches!(socket.read(&mut sink), Ok(n) if n > 0) {}
}

fn connection(stream: TcpStream, server: &Server, shared: &Shared, authenticating: Authenticating<'_>) {
    let deadline = Instant::now() + AUTH_TIMEOUT;
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(AUTH_TIMEOUT));
    let mut opened = match open(stream, server, deadline) {
        Ok(o) => o,
        Err((why, stream)) => {
            log_refusal(&peer, &why);
            refuse(&stream, None, None, &why);
            return;
        }
    };
    if let Err(why) = authenticate(&mut opened.reader, &server.token) {
        log_refusal(&peer, &why);
        refuse(&opened.control, Some(&opened.writer), opened.tls.as_deref(), &why);
        return;
    }
    drop(authenticating);
    opened.reader.get_mut().clear_deadline();
    let client = shared.next_client();
    super::connection(opened.reader, opened.writer, client, shared);
}

fn log_refusal(peer: &str, why: &Refusal) {
    if let Refusal::Tell(message) | Refusal::Quiet(Some(message)) = why {
        eprintln!("mica: refused a live connection from {peer}: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = |s: &str| Address::parse(s);
        assert_eq!(a("127.0.0.1:7000"), Ok(Address { host: "127.0.0.1".into(), port: 7000 }));
        assert_eq!(a("localhost:0"), Ok(Address { host: "localhost".into(), port: 0 }));
        assert_eq!(a("[::1]:7000"), Ok(Address { host: "::1".into(), port: 7000 }));
        assert_eq!(a("[::1]:7000").map(|x| x.to_string()), Ok("[::1]:7000".into()));
        assert!(a("::1:7000").unwrap_err().contains("brackets"));
        assert!(a("127.0.0.1").unwrap_err().contains("HOST:PORT"));
        assert!(a(":7000").unwrap_err().contains("no host"));
        assert!(a("host:70000").unwrap_err().contains("port number"));
        assert!(a("[zz]:1").unwrap_err().contains("IPv6"));
        assert!(is_loopback("127.0.0.2".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("0.0.0.0".parse().unwrap()));
        assert!(!is_loopback("::".parse().unwrap()));
    }

    #[test]
    fn the_first_line_must_carry_the_token() {
        let token = Token::generate().expect("random bytes");
        let line = |s: String| {
            authenticate(&mut std::io::Cursor::new(s.into_bytes()), &token).map_err(|r| match r {
                Refusal::Tell(m) => Some(m),
                Refusal::Quiet(_) => None,
            })
        };
        assert!(line(format!("{{\"op\":\"authenticate\",\"token\":\"{}\"}}\n", token.hex())).is_ok());
        assert!(line(format!("{{\"id\":0,\"op\":\"authenticate\",\"token\":\"{}\"}}\n", token.hex())).is_ok());
        let wrong = line(format!("{{\"op\":\"authenticate\",\"token\":\"{}\"}}\n", "0".repeat(64)));
        assert_eq!(wrong, Err(Some("wrong token".into())));
        assert!(
            line("{\"id\":1,\"op\":\"eval\",\"source\":\"3\"}\n".into()).unwrap_err().unwrap().contains("authenticate")
        );
        assert!(line("{\"op\":\"authenticate\"}\n".into()).unwrap_err().unwrap().contains("no \"token\""));
        assert!(line(format!("{}\n", "x".repeat(5000))).unwrap_err().unwrap().contains("at most"));
        assert!(line("nonsense\n".into()).unwrap_err().is_some());
        assert_eq!(line(String::new()), Err(None));
    }
}
