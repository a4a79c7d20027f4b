//! A tiny blocking HTTP/1.1 server and message codec shared by [`TokenServer`] and
//! [`FaultProxy`]: one thread per connection, keep-alive, `Content-Length` and chunked
//! bodies. Dropping a [`Server`] stops the accept thread, shuts every open connection
//! down and joins all threads.
//!
//! [`TokenServer`]: super::TokenServer
//! [`FaultProxy`]: super::FaultProxy

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::lock;

const MAX_HEAD: usize = 64 * 1024;

/// A parsed request (or, with `method` empty, a response head: see [`read_response`]).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path plus `?query`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
    /// Decoded `key=value` pairs of the query string, repeated keys kept in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_pairs(self.query())
    }
    /// Serialise for sending upstream with `Connection: close` and an explicit length.
    pub fn to_upstream_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (k, v) in &self.headers {
            let lk = k.to_ascii_lowercase();
            if !matches!(
                lk.as_str(),
                "connection" | "keep-alive" | "transfer-encoding" | "content-length"
            ) {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("Connection: close\r\n\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// A response. Headers are written verbatim: set `Content-Length` yourself or use
/// [`Response::with_length`] (done by [`Response::new`]'s helpers).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.set_header(k, v);
        self
    }
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status)
            .header("Content-Type", "application/json")
            .body(body)
    }
    /// Sets the body and a matching `Content-Length`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        let len = self.body.len().to_string();
        self.set_header("Content-Length", len);
        self
    }
    pub fn get_header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
    pub fn set_header(&mut self, k: &str, v: impl Into<String>) {
        self.remove_header(k);
        self.headers.push((k.to_string(), v.into()));
    }
    pub fn remove_header(&mut self, k: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
    }
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.head_bytes();
        b.extend_from_slice(&self.body);
        b
    }
}

/// What a handler wants written back.
pub enum Reply {
    /// Write the response and keep the connection alive (unless the client said close).
    Send(Response),
    /// Write these exact bytes, then keep going, close (FIN) or reset (RST).
    Raw { bytes: Vec<u8>, then: After },
    /// Close without writing anything; with `reset`, abort with a TCP RST (SO_LINGER 0).
    Close { reset: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    KeepAlive,
    Close,
    Reset,
}

/// Passed to handlers so long waits can end early when the server is dropped.
#[derive(Clone)]
pub struct Ctx {
    stop: Arc<AtomicBool>,
}

impl Ctx {
    /// Sleeps for `d` in small steps; returns false if the server is stopping.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(10)));
        }
        !self.stop.load(Ordering::SeqCst)
    }
}

pub type Handler = Arc<dyn Fn(&Request, &Ctx) -> Reply + Send + Sync>;

/// Open connections (a clone of each stream, so Drop can shut it down) and their threads.
/// A connection thread removes its own clone when it ends, so a reset really closes.
#[derive(Default)]
struct ConnSet {
    next: u64,
    streams: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

type Conns = Arc<Mutex<ConnSet>>;

/// A listener on 127.0.0.1:0 with a thread per connection.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    conns: Conns,
}

impl Server {
    pub fn start(name: &str, handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Conns = Arc::default();
        let (stop2, conns2) = (stop.clone(), conns.clone());
        let accept = std::thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let Ok(clone) = stream.try_clone() else {
                        continue;
                    };
                    let (h, ctx) = (
                        handler.clone(),
                        Ctx {
                            stop: stop2.clone(),
                        },
                    );
                    let mut set = lock(&conns2);
                    let id = set.next;
                    set.next += 1;
                    set.streams.insert(id, clone);
                    let conns3 = conns2.clone();
                    let t = std::thread::spawn(move || {
                        serve_conn(stream, &h, &ctx);
                        lock(&conns3).streams.remove(&id);
                    });
                    set.threads.retain(|t| !t.is_finished());
                    set.threads.push(t);
                }
            })
            .expect("spawn accept thread");
        Server {
            addr,
            stop,
            accept: Some(accept),
            conns,
        }
    }

    pub fn addr(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        let (streams, threads) = {
            let mut set = lock(&self.conns);
            (
                std::mem::take(&mut set.streams),
                std::mem::take(&mut set.threads),
            )
        };
        for s in streams.values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        drop(streams);
        for t in threads {
            let _ = t.join();
        }
    }
}

fn serve_conn(stream: TcpStream, handler: &Handler, ctx: &Ctx) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // A TLS ClientHello (record type 0x16) never ends in a blank line, so read_request would
    // wait for one until the client gives up. Real plain-HTTP servers (docker-registry's Go
    // net/http, nginx) reject it at once; do the same, so a client's HTTPS probe of a
    // plain-HTTP host fails fast here too.
    if reader
        .fill_buf()
        .is_ok_and(|buf| buf.first() == Some(&0x16))
    {
        let _ = writer.write_all(&Response::new(400).body("bad request\n").to_bytes());
        return;
    }
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(_) => {
                let _ = writer.write_all(&Response::new(400).body("bad request\n").to_bytes());
                return;
            }
        };
        if ctx.stop.load(Ordering::SeqCst) {
            return;
        }
        let client_close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match handler(&req, ctx) {
            Reply::Send(resp) => {
                // A HEAD response carries the headers (Content-Length included) but no body.
                let bytes = if req.method == "HEAD" {
                    resp.head_bytes()
                } else {
                    resp.to_bytes()
                };
                if writer
                    .write_all(&bytes)
                    .and_then(|_| writer.flush())
                    .is_err()
                    || client_close
                {
                    return;
                }
            }
            Reply::Raw { bytes, then } => {
                let ok = writer
                    .write_all(&bytes)
                    .and_then(|_| writer.flush())
                    .is_ok();
                match then {
                    After::KeepAlive if ok && !client_close => {}
                    After::Reset => {
                        // Give the client a moment to read what was written, then RST.
                        ctx.sleep(Duration::from_millis(50));
                        let _ = socket2::SockRef::from(&writer).set_linger(Some(Duration::ZERO));
                        return;
                    }
                    _ => {
                        let _ = writer.shutdown(Shutdown::Both);
                        return;
                    }
                }
            }
            Reply::Close { reset } => {
                if reset {
                    let _ = socket2::SockRef::from(&writer).set_linger(Some(Duration::ZERO));
                } else {
                    let _ = writer.shutdown(Shutdown::Both);
                }
                return;
            }
        }
    }
}

/// Reads one request; `Ok(None)` on a clean EOF before any byte.
pub fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let Some(lines) = read_head(r)? else {
        return Ok(None);
    };
    let mut parts = lines[0].split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(bad("malformed request line"));
    };
    let headers = parse_headers(&lines[1..])?;
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body: Vec::new(),
    };
    req.body = read_body(r, &req.headers, false, false)?;
    Ok(Some(req))
}

/// Reads a full response to a request with the given method. Chunked bodies are decoded
/// and `Transfer-Encoding` replaced by `Content-Length`; hop-by-hop headers are dropped.
/// For HEAD the upstream `Content-Length` is kept as sent.
pub fn read_response(r: &mut impl BufRead, method: &str) -> io::Result<Response> {
    let lines = read_head(r)?.ok_or_else(|| bad("upstream closed before responding"))?;
    let status: u16 = lines[0]
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("malformed status line"))?;
    let headers = parse_headers(&lines[1..])?;
    let no_body =
        method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
    let body = read_body(r, &headers, no_body, true)?;
    let chunked = header(&headers, "transfer-encoding").is_some();
    let mut resp = Response {
        status,
        headers,
        body,
    };
    for h in ["connection", "keep-alive", "transfer-encoding"] {
        resp.remove_header(h);
    }
    if chunked || (resp.get_header("content-length").is_none() && !no_body) {
        let len = resp.body.len().to_string();
        resp.set_header("Content-Length", len);
    }
    Ok(resp)
}

fn read_head(r: &mut impl BufRead) -> io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = Vec::new();
        let n = r
            .by_ref()
            .take(MAX_HEAD as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return if lines.is_empty() {
                Ok(None)
            } else {
                Err(bad("eof in head"))
            };
        }
        total += n;
        if total > MAX_HEAD {
            return Err(bad("head too large"));
        }
        let line = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // tolerate stray CRLF between keep-alive requests
            }
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn parse_headers(lines: &[String]) -> io::Result<Vec<(String, String)>> {
    lines
        .iter()
        .map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| bad("malformed header"))
        })
        .collect()
}

fn read_body(
    r: &mut impl BufRead,
    headers: &[(String, String)],
    no_body: bool,
    to_eof: bool,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if no_body {
        return Ok(body);
    }
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // trailers, up to the blank line
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(len) = header(headers, "content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        r.by_ref().take(len as u64).read_to_end(&mut body)?;
        if body.len() != len {
            return Err(bad("body shorter than content-length"));
        }
    } else if to_eof {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Parses `application/x-www-form-urlencoded` (also used for query strings).
pub fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1]).unwrap_or(0) * 16 + hex(b[i + 2]).unwrap_or(0));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (c as char).to_string()
            }
            _ => format!("%{c:02X}"),
        })
        .collect()
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
