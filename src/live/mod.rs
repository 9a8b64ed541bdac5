//! The live connection: the endpoint a running program opens so that the
//! same user can connect to it (`mica connect PID`), and the client.
//!
//! ```text
//!  $XDG_RUNTIME_DIR/mica/ or /tmp/mica-UID/     (mode 0700, owned by the user)
//!      PID.sock                                 (one per running program)
//!      PID.token                                (with --listen: its TCP token)
//!
//!  accept thread ── per connection: a reader thread (decodes lines,
//!                   answers describe, hands the rest to the program's
//!                   thread) and a writer thread (encodes its replies)
//! ```
//!
//! The socket lives in a directory only its user can enter, and every
//! connection's peer user id (SO_PEERCRED) must be the program's: nobody
//! else gets a byte through. Opening the endpoint happens on the accept
//! thread, so start-up does not wait for it. With `--listen`, a TCP
//! endpoint (optionally TLS) serves the same protocol to clients that
//! give the token first ([`remote`]).

pub mod client;
pub mod protocol;
pub mod remote;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use interp::live::{LiveHandle, LiveOp, LiveRequest};
use serde_json::{Value, json};

/// The environment variable that moves the socket directory (tests use
/// it; both the program and `mica connect` read it).
pub const DIR_VARIABLE: &str = "MICA_LIVE_DIR";

/// The directory the endpoints of this user's programs are in.
pub fn socket_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_VARIABLE).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let runtime = PathBuf::from(runtime);
        let ours = std::fs::metadata(&runtime).is_ok_and(|m| m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw());
        if ours {
            return runtime.join("mica");
        }
    }
    PathBuf::from(format!("/tmp/mica-{}", nix::unistd::geteuid().as_raw()))
}

/// Makes the socket directory if it is missing, and checks it is a
/// directory of this user that nobody else may enter.
pub fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot make {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(format!("{} belongs to another user", dir.display()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!("{} may be entered by other users (mode {:o})", dir.display(), meta.mode() & 0o777));
    }
    Ok(())
}

/// The socket of the program with process id `pid`.
pub fn socket_path(pid: u32) -> PathBuf {
    socket_dir().join(format!("{pid}.sock"))
}

/// What `describe` tells of the program.
#[derive(Clone, Debug)]
pub struct ProgramInfo {
    /// The main class (or image) run.
    pub program: String,
    /// The JIT mode.
    pub jit: String,
    /// When it started.
    pub started: Instant,
}

/// The sending side of a connection, shared by its reader and writer
/// threads and by the endpoint (which ends reading when the program ends).
/// A Unix socket and plain TCP write under a lock; TLS encrypts under one.
trait Outgoing: Send + Sync {
    /// Writes `line` and its `\n`; false once the connection is broken.
    fn write_line(&self, line: &str) -> bool;
    /// Ends the reading side: the connection's reader sees the end of its
    /// input. Never waits for a write in progress.
    fn end_reading(&self);
    /// Ends the connection (what was written goes first).
    fn close(&self);
}

type Writer = Arc<dyn Outgoing>;

/// A stream socket (Unix or TCP) that can be shut down through a shared
/// reference.
trait Socket: Write + Send + Sync + 'static {
    /// `shutdown(2)`.
    fn shut(&self, how: std::net::Shutdown);
}

impl Socket for UnixStream {
    fn shut(&self, how: std::net::Shutdown) {
        let _ = self.shutdown(how);
    }
}

impl Socket for std::net::TcpStream {
    fn shut(&self, how: std::net::Shutdown) {
        let _ = self.shutdown(how);
    }
}

/// A plain socket's sending side: the locked stream, and a handle of the
/// same socket to shut it down with while a write holds the lock.
struct StreamOutgoing<S> {
    stream: Mutex<S>,
    control: S,
}

impl<S: Socket> Outgoing for StreamOutgoing<S> {
    fn write_line(&self, line: &str) -> bool {
        let Ok(mut s) = self.stream.lock() else { return false };
        s.write_all(format!("{line}\n").as_bytes()).is_ok()
    }

    fn end_reading(&self) {
        self.control.shut(std::net::Shutdown::Read);
    }

    fn close(&self) {
        self.control.shut(std::net::Shutdown::Both);
    }
}

/// What every connection of a program shares, whichever endpoint it
/// came through.
struct Shared {
    handle: LiveHandle,
    info: ProgramInfo,
    connections: Mutex<Vec<Writer>>,
    /// Set when the program ends: its exit status.
    closing: Mutex<Option<i32>>,
    /// The next connection's number (unique across endpoints: the program
    /// tells clients apart by it).
    next_client: AtomicU64,
}

impl Shared {
    /// A number for a new connection.
    fn next_client(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed)
    }
}

/// An open endpoint; dropping it closes it (the socket file goes, and the
/// token file of a TCP endpoint).
pub struct Endpoint {
    path: PathBuf,
    shared: Arc<Shared>,
    remote: Option<remote::Listener>,
}

impl Endpoint {
    /// Opens the endpoint of this program (on a thread of its own) for
    /// requests to `handle`, and serves `remote` too if given (bound
    /// already); the thread runs `setup` first (work taken off the
    /// program's start).
    pub fn open(
        handle: LiveHandle,
        info: ProgramInfo,
        mut remote: Option<remote::Listener>,
        setup: impl FnOnce() + Send + 'static,
    ) -> Endpoint {
        let path = socket_path(std::process::id());
        let shared = Arc::new(Shared {
            handle,
            info,
            connections: Mutex::default(),
            closing: Mutex::default(),
            next_client: AtomicU64::new(1),
        });
        if let Some(r) = remote.as_mut() {
            r.serve(Arc::clone(&shared));
        }
        let (p, s) = (path.clone(), Arc::clone(&shared));
        let spawned = std::thread::Builder::new().name("mica-live".into()).spawn(move || {
            setup();
            if let Err(e) = serve(&p, s) {
                eprintln!("mica: the live connection is not available: {e}");
            }
        });
        if let Err(e) = spawned {
            eprintln!("mica: the live connection is not available: {e}");
        }
        Endpoint { path, shared, remote }
    }

    /// Closes when the program ends with `status` (after
    /// [`interp::Interpreter::disable_live`]): every client gets the replies
    /// already made, then an `exit` event, then the end of the connection.
    pub fn close(self, status: i32) {
        if let Ok(mut c) = self.shared.closing.lock() {
            *c = Some(status);
        }
        let writers = self.shared.connections.lock().map(|w| w.clone()).unwrap_or_default();
        for w in writers {
            w.end_reading();
        }
        // The connection threads finish their replies (a moment at most).
        let start = Instant::now();
        while self.shared.connections.lock().is_ok_and(|c| !c.is_empty()) && start.elapsed().as_millis() < 1000 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        // The TCP endpoint's token file goes with it.
        drop(self.remote.take());
    }
}

fn serve(path: &Path, shared: Arc<Shared>) -> Result<(), String> {
    let dir = path.parent().expect("the socket is in a directory");
    ensure_private_dir(dir)?;
    // A file of this pid is a left-over of an earlier process.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let client = shared.next_client();
        let shared = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name(format!("mica-live-{client}"))
            .spawn(move || unix_connection(stream, client, &shared));
    }
    Ok(())
}

/// Whether the peer of `stream` runs as this program's user.
fn same_user(stream: &UnixStream) -> Result<(), String> {
    let cred = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(|e| format!("cannot read the peer's credentials: {e}"))?;
    let me = nix::unistd::geteuid().as_raw();
    if cred.uid() == me {
        Ok(())
    } else {
        Err(format!("user {} may not connect to a program of user {me}", cred.uid()))
    }
}

fn write_line(w: &Writer, line: &str) -> bool {
    w.write_line(line)
}

/// The line of a `refused` event.
fn refused_line(why: &str) -> String {
    json!({ "event": "refused", "message": why }).to_string()
}

fn unix_connection(stream: UnixStream, client: u64, shared: &Shared) {
    let (Ok(write_half), Ok(control)) = (stream.try_clone(), stream.try_clone()) else { return };
    let writer: Writer = Arc::new(StreamOutgoing { stream: Mutex::new(write_half), control });
    if let Err(why) = same_user(&stream) {
        write_line(&writer, &refused_line(&why));
        return;
    }
    connection(BufReader::new(stream), writer, client, shared);
}

/// Serves one accepted connection (its peer checked or authenticated):
/// `hello`, then requests from `reader` until it ends, then what is left
/// of the replies and, if the program ends, the `exit` event.
fn connection(mut reader: impl BufRead, writer: Writer, client: u64, shared: &Shared) {
    let Shared { handle, info, connections, closing, .. } = shared;
    handle.clients.fetch_add(1, Ordering::AcqRel);
    if let Ok(mut c) = connections.lock() {
        c.push(Arc::clone(&writer));
    }
    write_line(
        &writer,
        &json!({
            "event": "hello",
            "protocol": protocol::VERSION,
            "mica": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
            "program": info.program,
        })
        .to_string(),
    );
    // The client's ids by the program's request numbers.
    let ids: Arc<Mutex<HashMap<u64, Value>>> = Arc::default();
    let (reply_tx, reply_rx) = std::sync::mpsc::channel::<interp::live::LiveReply>();
    let writer_thread = {
        let (writer, ids) = (Arc::clone(&writer), Arc::clone(&ids));
        std::thread::spawn(move || {
            for reply in reply_rx {
                let id = ids.lock().ok().and_then(|mut m| m.remove(&reply.id)).unwrap_or(Value::Null);
                if !write_line(&writer, &protocol::reply_line(&id, &reply)) {
                    break;
                }
            }
        })
    };
    // From now on the client gets the program's events.
    let _ = handle.send(LiveRequest { id: 0, client, op: LiveOp::Connected, reply: reply_tx.clone() });
    let mut next = 1u64;
    loop {
        let line = match read_line(&mut reader) {
            Ok(Some(Ok(line))) => line,
            Ok(Some(Err(why))) => {
                write_line(&writer, &protocol::error_line(&Value::Null, "badRequest", &why, ""));
                continue;
            }
            Ok(None) | Err(_) => break,
        };
        if line.trim().is_empty() {
            continue;
        }
        let (id, request) = match protocol::decode(&line) {
            Ok(r) => r,
            Err(bad) => {
                write_line(&writer, &protocol::error_line(&protocol::id_of(&line), "badRequest", &bad.0, ""));
                continue;
            }
        };
        let op = match request {
            protocol::Request::Describe => {
                let reply = json!({
                    "id": id,
                    "ok": true,
                    "protocol": protocol::VERSION,
                    "mica": env!("CARGO_PKG_VERSION"),
                    "program": info.program,
                    "pid": std::process::id(),
                    "jit": info.jit,
                    "uptimeMs": info.started.elapsed().as_millis() as u64,
                    "operations": protocol::OPERATIONS,
                    "errors": protocol::ERROR_KINDS,
                });
                write_line(&writer, &reply.to_string());
                continue;
            }
            protocol::Request::Program(LiveOp::Interrupt { .. }) => {
                // The target is the client's id of an earlier eval.
                let target = protocol::interrupt_target(&line);
                let internal = target.and_then(|t| {
                    ids.lock().ok().and_then(|m| m.iter().find(|(_, v)| **v == t).map(|(k, _)| *k)).or(Some(0))
                });
                LiveOp::Interrupt { target: internal }
            }
            protocol::Request::Program(op) => op,
        };
        let n = next;
        next += 1;
        if let Ok(mut m) = ids.lock() {
            m.insert(n, id);
        }
        if !handle.send(LiveRequest { id: n, client, op, reply: reply_tx.clone() }) {
            break;
        }
    }
    // The client left (or the program ends): its evaluations stop, and
    // nothing else of it stays.
    let _ = handle.send(LiveRequest { id: 0, client, op: LiveOp::Disconnected, reply: reply_tx.clone() });
    handle.clients.fetch_sub(1, Ordering::AcqRel);
    // Wakes a program waiting only because a client was connected.
    handle.interrupts.request(vm::interrupts::LIVE);
    drop(reply_tx);
    // The replies made before come first.
    let _ = writer_thread.join();
    if let Some(status) = closing.lock().ok().and_then(|c| *c) {
        write_line(&writer, &json!({ "event": "exit", "status": status }).to_string());
    }
    writer.close();
    if let Ok(mut c) = connections.lock() {
        c.retain(|w| !Arc::ptr_eq(w, &writer));
    }
}

/// Reads one line of at most [`protocol::MAX_LINE`] bytes: `None` at the
/// end of input; an inner error for a line too long or not UTF-8 (the
/// rest of that line is skipped).
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<Result<String, String>>> {
    let mut buf = Vec::new();
    let n = reader.by_ref().take(protocol::MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') && buf.len() > protocol::MAX_LINE {
        // Skip to the end of the line.
        loop {
            let mut rest = Vec::new();
            let m = reader.by_ref().take(1 << 16).read_until(b'\n', &mut rest)?;
            if m == 0 || rest.last() == Some(&b'\n') {
                break;
            }
        }
        return Ok(Some(Err(format!("a line may hold at most {} bytes", protocol::MAX_LINE))));
    }
    match String::from_utf8(buf) {
        Ok(s) => Ok(Some(Ok(s))),
        Err(_) => Ok(Some(Err("a line must be UTF-8 text".into()))),
    }
}
