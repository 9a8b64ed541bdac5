//! The client's end of a connection (`mica connect`): a Unix socket, or
//! TCP, plain or TLS, with the token as its first line.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::tls::{self, TlsPipe, TlsWriter};
use super::{Address, TimedSocket, is_loopback, token};

/// How long connecting, the TLS handshake and the `hello` may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The socket under a client's connection, for timeouts and the end.
pub enum Socket {
    /// A program's Unix socket.
    Unix(UnixStream),
    /// A TCP endpoint, plain.
    Tcp(TcpStream),
    /// A TCP endpoint, over TLS.
    Tls(Arc<TlsPipe>),
}

impl Socket {
    /// Sets the read timeout (`None`: reads wait as long as they must).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.set_read_timeout(timeout),
            Socket::Tcp(s) => s.set_read_timeout(timeout),
            Socket::Tls(p) => p.set_read_timeout(timeout),
        }
    }

    /// Ends the connection (over TLS, with a `close_notify`).
    pub fn close(&self) {
        match self {
            Socket::Unix(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Socket::Tcp(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Socket::Tls(p) => {
                p.close_notify();
                p.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// An open connection's two halves (used from two threads by `--json`).
pub struct Link {
    /// What the program sends.
    pub reader: Box<dyn Read + Send>,
    /// Where requests go (write each line with one `write_all`).
    pub writer: Box<dyn Write + Send>,
    /// The socket.
    pub socket: Socket,
}

impl Link {
    /// A link over a program's Unix socket.
    pub fn unix(stream: UnixStream) -> io::Result<Link> {
        Ok(Link {
            reader: Box::new(stream.try_clone()?),
            writer: Box::new(stream.try_clone()?),
            socket: Socket::Unix(stream),
        })
    }
}

/// The options of `mica connect HOST:PORT`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `--token-file FILE`: the program's token.
    pub token_file: Option<PathBuf>,
    /// `--tls`: speak TLS (trusting the usual web roots).
    pub tls: bool,
    /// `--tls-ca FILE`: speak TLS, trusting the certificates in FILE.
    pub ca: Option<PathBuf>,
}

/// Whether `target` names a TCP endpoint (`HOST:PORT`) rather than a
/// process id.
pub fn is_address(target: &str) -> bool {
    target.contains(':')
}

/// Takes the options of a TCP connection out of `args` (anywhere but
/// in the place of `--eval`'s expression): them, and the other arguments.
pub fn split_options(args: &[String]) -> Result<(Options, Vec<String>), String> {
    let mut options = Options::default();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let mut value = |name: &str| -> Result<PathBuf, String> {
            i += 1;
            args.get(i).map(PathBuf::from).ok_or_else(|| format!("{name} needs a file"))
        };
        match arg {
            "--token-file" => options.token_file = Some(value(arg)?),
            "--tls-ca" => options.ca = Some(value(arg)?),
            "--tls" => options.tls = true,
            "--eval" | "--save" => {
                rest.extend(args[i..].iter().take(2).cloned());
                i += 1;
            }
            _ => {
                if let Some(file) = arg.strip_prefix("--token-file=") {
                    options.token_file = Some(PathBuf::from(file));
                } else if let Some(file) = arg.strip_prefix("--tls-ca=") {
                    options.ca = Some(PathBuf::from(file));
                } else {
                    rest.push(arg.to_string());
                }
            }
        }
        i += 1;
    }
    if options.token_file.is_none() {
        return Err(
            "connecting to HOST:PORT needs --token-file FILE (the program printed its path when it started)".into()
        );
    }
    Ok((options, rest))
}

fn connect_any(addresses: &[SocketAddr], address: &Address) -> Result<TcpStream, String> {
    let mut last = None;
    for a in addresses {
        match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    let e = last.map(|e| e.to_string()).unwrap_or_default();
    let hint = if e.contains("refused") { " (is a program listening there, started with --listen?)" } else { "" };
    Err(format!("cannot connect to {address}: {e}{hint}"))
}

fn handshake_error(address: &Address, e: &io::Error) -> String {
    let text = e.to_string();
    let hint = if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
        format!(" (no answer within {} seconds)", CONNECT_TIMEOUT.as_secs())
    } else if text.contains("certificate") {
        " (the program's certificate is not trusted: give it, or the authority that signed it, with --tls-ca FILE)"
            .into()
    } else if text.contains("corrupt message") || text.contains("InvalidContentType") {
        " (does the program listen over TLS? Without --tls-cert it does not: connect without --tls)".into()
    } else {
        String::new()
    };
    format!("the TLS handshake with {address} failed: {text}{hint}")
}

/// Connects to the TCP endpoint `target` (`HOST:PORT`) and sends the
/// token; the program's first line (its `hello`, or `refused`) is next to
/// read, within [`CONNECT_TIMEOUT`] (the read timeout set).
pub fn connect(target: &str, options: &Options) -> Result<Link, String> {
    let address = Address::parse(target)?;
    let Some(token_file) = &options.token_file else {
        return Err(format!("connecting to {address} needs --token-file FILE"));
    };
    let token = token::read_file(token_file)?;
    let tls = match options.tls || options.ca.is_some() {
        true => Some(tls::client_config(options.ca.as_deref())?),
        false => None,
    };
    let addresses = address.resolve()?;
    if tls.is_none() && !addresses.iter().all(|a| is_loopback(a.ip())) {
        return Err(format!(
            "{address} is not a loopback address: connect with --tls (or --tls-ca FILE), so that the token does \
             not cross the network as clear text"
        ));
    }
    let stream = connect_any(&addresses, &address)?;
    let broken = |e: io::Error| format!("{address}: {e}");
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(CONNECT_TIMEOUT)).map_err(broken)?;
    let mut link = match tls {
        None => Link {
            reader: Box::new(stream.try_clone().map_err(broken)?),
            writer: Box::new(stream.try_clone().map_err(broken)?),
            socket: Socket::Tcp(stream),
        },
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(address.host.clone())
                .map_err(|_| format!("'{}' is not a host name TLS can check", address.host))?;
            let conn = rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
            let mut conn = rustls::Connection::from(conn);
            stream.set_write_timeout(Some(CONNECT_TIMEOUT)).map_err(broken)?;
            let mut socket = TimedSocket::new(stream, None);
            tls::handshake(&mut conn, &mut socket).map_err(|e| handshake_error(&address, &e))?;
            socket.socket().set_write_timeout(None).map_err(broken)?;
            let (pipe, reader) = TlsPipe::new(conn, socket).map_err(broken)?;
            Link { reader: Box::new(reader), writer: Box::new(TlsWriter(Arc::clone(&pipe))), socket: Socket::Tls(pipe) }
        }
    };
    let line = format!("{}\n", json!({ "op": "authenticate", "token": token }));
    link.writer.write_all(line.as_bytes()).map_err(|e| format!("{address} closed the connection ({e})"))?;
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_go_anywhere_but_in_place_of_an_expression() {
        let (o, rest) = split_options(&args(&["--eval", "--tls", "--token-file", "t", "--tls-ca=ca.pem"])).unwrap();
        assert_eq!(o, Options { token_file: Some("t".into()), tls: false, ca: Some("ca.pem".into()) });
        assert_eq!(rest, ["--eval", "--tls"]);
        let (o, rest) = split_options(&args(&["--tls", "--json", "--token-file=x"])).unwrap();
        assert!(split_options(&args(&["--tls"])).unwrap_err().contains("needs --token-file"));
        assert_eq!((o.tls, o.token_file), (true, Some("x".into())));
        assert_eq!(rest, ["--json"]);
        assert!(split_options(&args(&["--token-file"])).unwrap_err().contains("needs a file"));
    }
}
