//! TLS for the TCP endpoint and its client (rustls, with the `ring`
//! provider): configurations from PEM files, and one TLS connection used
//! from two threads.
//!
//! A TLS connection is one state machine, so it cannot be split into a
//! reading and a writing half as a socket can. [`TlsPipe`] keeps it under a
//! lock that no thread holds while it waits on the socket:
//!
//! ```text
//!   reader thread                         writer threads (replies, events)
//!   socket.read ─▶ bytes    (no lock)     lock out ─┬─ lock conn: encrypt, take records
//!   lock conn: decrypt, take plaintext              └─ socket.write (out still held,
//!   (records it must send: `pending`,                  so records go in order)
//!    flushed by whoever holds `out` next)
//! ```
//!
//! So the reader never waits for a write (a client that reads no replies
//! while it sends requests blocks only the writers, as on the Unix
//! socket), and the records leave in the order the connection made them.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::TimedSocket;

/// The crypto provider: ring (no C toolchain beyond a C compiler needed).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate (a PEM file with BEGIN CERTIFICATE)", path.display()));
    }
    Ok(certs)
}

/// The server's configuration: the certificate chain in `cert` (PEM, the
/// program's own certificate first) and its private key in `key` (PEM:
/// PKCS#8, PKCS#1 or SEC1), checked to match.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain = certificates(cert)?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            format!("{} holds no private key (a PEM file with BEGIN PRIVATE KEY)", key.display())
        }
        e => format!("cannot read the private key file {}: {e}", key.display()),
    })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                format!("the private key {} does not match the certificate {}", key.display(), cert.display())
            }
            e => format!("the certificate {} or its key {}: {e}", cert.display(), key.display()),
        })?;
    Ok(Arc::new(config))
}

/// The client's configuration: trusting the certificates in `ca` (PEM:
/// the program's own certificate, or the authority that signed it), or
/// without it the usual web roots (`webpki-roots`).
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let Some(path) = ca else {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        return Ok(Arc::new(builder.with_root_certificates(roots).with_no_client_auth()));
    };
    let pinned = certificates(path)?;
    let mut roots = RootCertStore::empty();
    for cert in &pinned {
        roots.add(cert.clone()).map_err(|e| format!("{}: not a usable certificate: {e}", path.display()))?;
    }
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let verifier = Arc::new(Pinned { pinned, webpki });
    Ok(Arc::new(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth()))
}

/// Trusts a server whose certificate is one of `pinned`, exactly (a
/// self-signed certificate made with `openssl req -x509` says it is an
/// authority, which path validation refuses for a server), and otherwise
/// one whose certificate `webpki` validates against them as authorities.
/// The handshake's signatures are checked with the certificate's key in
/// both cases.
#[derive(Debug)]
struct Pinned {
    pinned: Vec<CertificateDer<'static>>,
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Runs the handshake of `conn` over `socket` (within its deadline).
pub fn handshake(conn: &mut rustls::Connection, socket: &mut TimedSocket) -> io::Result<()> {
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(socket) {
            // The alert saying why, if one is queued, tells the peer.
            while conn.wants_write() && conn.write_tls(socket).is_ok_and(|n| n > 0) {}
            return Err(e);
        }
    }
    Ok(())
}

fn broken() -> io::Error {
    io::Error::other("the TLS connection broke (a thread using it panicked)")
}

/// One TLS connection shared by a reader and any number of writers.
pub struct TlsPipe {
    conn: Mutex<rustls::Connection>,
    /// The socket's writing side; held while records are taken and sent.
    out: Mutex<TcpStream>,
    /// For shutting the socket down while a write holds `out`.
    control: TcpStream,
    /// The reader made records to send (a handshake or alert message).
    pending: AtomicBool,
}

impl TlsPipe {
    /// Shares `conn` (its handshake done) over `socket`: the pipe (for
    /// writing) and its reader.
    pub fn new(mut conn: rustls::Connection, socket: TimedSocket) -> io::Result<(Arc<TlsPipe>, TlsReader)> {
        // Replies are queued whole (as the Unix socket's writer does).
        conn.set_buffer_limit(None);
        let out = socket.socket().try_clone()?;
        let control = socket.socket().try_clone()?;
        let pipe = Arc::new(TlsPipe { conn: Mutex::new(conn), out: Mutex::new(out), control, pending: false.into() });
        let reader = TlsReader { pipe: Arc::clone(&pipe), socket, buf: vec![0; 1 << 16], start: 0, end: 0, eof: false };
        Ok((pipe, reader))
    }

    fn conn(&self) -> io::Result<MutexGuard<'_, rustls::Connection>> {
        self.conn.lock().map_err(|_| broken())
    }

    /// The records the connection has ready to send.
    fn take_records(&self, conn: &mut rustls::Connection) -> io::Result<Vec<u8>> {
        self.pending.store(false, Ordering::Release);
        let mut records = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut records)?;
        }
        Ok(records)
    }

    /// Encrypts `bytes` and sends them (and whatever else is ready).
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = self.out.lock().map_err(|_| broken())?;
        let mut rest = bytes;
        loop {
            let records = {
                let mut conn = self.conn()?;
                let n = if rest.is_empty() { 0 } else { conn.writer().write(rest)? };
                rest = &rest[n..];
                let records = self.take_records(&mut conn)?;
                if n == 0 && records.is_empty() && !rest.is_empty() {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                records
            };
            out.write_all(&records)?;
            if rest.is_empty() {
                break;
            }
        }
        drop(out);
        self.flush_pending()
    }

    /// Sends the records the reader left, unless a writer holds the socket
    /// (it sends them when it lets go: every holder of `out` calls this
    /// after it).
    fn flush_pending(&self) -> io::Result<()> {
        while self.pending.load(Ordering::Acquire) {
            let Ok(mut out) = self.out.try_lock() else { return Ok(()) };
            let records = self.take_records(&mut *self.conn()?)?;
            out.write_all(&records)?;
        }
        Ok(())
    }

    /// Sends a `close_notify` alert (after what was written before).
    pub fn close_notify(&self) {
        if let Ok(mut conn) = self.conn() {
            conn.send_close_notify();
        }
        let _ = self.send(&[]);
    }

    /// Shuts the socket down (`how`), not waiting for a write in progress.
    pub fn shutdown(&self, how: std::net::Shutdown) {
        let _ = self.control.shutdown(how);
    }

    /// Sets the socket's read timeout (the client polls for Ctrl-C so).
    pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.control.set_read_timeout(timeout)
    }
}

impl super::super::Outgoing for TlsPipe {
    fn write_line(&self, line: &str) -> bool {
        self.send(format!("{line}\n").as_bytes()).is_ok()
    }

    fn end_reading(&self) {
        self.shutdown(std::net::Shutdown::Read);
    }

    fn close(&self) {
        self.close_notify();
        self.shutdown(std::net::Shutdown::Both);
    }
}

/// The plaintext a TLS connection receives. A TCP end of input without
/// the peer's `close_notify` is an error (a cut line is never taken for
/// a whole one).
pub struct TlsReader {
    pipe: Arc<TlsPipe>,
    socket: TimedSocket,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl TlsReader {
    /// The socket it reads (for its deadline).
    pub fn socket_mut(&mut self) -> &mut TimedSocket {
        &mut self.socket
    }
}

impl Read for TlsReader {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut conn = self.pipe.conn()?;
                match conn.reader().read(into) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if self.start < self.end || self.eof {
                    let mut records = &self.buf[self.start..self.end];
                    self.start += conn.read_tls(&mut records)?;
                    let state = conn.process_new_packets();
                    if conn.wants_write() {
                        self.pipe.pending.store(true, Ordering::Release);
                    }
                    drop(conn);
                    // An alert for a bad record goes out before the error.
                    let flushed = self.pipe.flush_pending();
                    state.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    flushed?;
                    continue;
                }
            }
            let n = self.socket.read(&mut self.buf)?;
            (self.start, self.end, self.eof) = (0, n, n == 0);
        }
    }
}

/// The writing end of a TLS connection, as the client uses it.
pub struct TlsWriter(pub Arc<TlsPipe>);

impl Write for TlsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
