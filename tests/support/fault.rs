//! [`FaultProxy`]: a fault-injecting HTTP/1.1 reverse proxy on 127.0.0.1.
//!
//! Client side: keep-alive connections, a thread each (see [`super::http`]). Upstream side:
//! a fresh `Connection: close` connection per request; the whole upstream response is read
//! (chunked bodies are de-chunked into a `Content-Length` body, HEAD keeps the upstream
//! `Content-Length`), the active fault is applied, and the result written back. The
//! upstream must speak plain HTTP (put the proxy in front of a non-TLS [`Registry`]).
//!
//! Faults come from an ordered rule list: the first rule matching the request's method and
//! path substring applies and, if limited, uses up one of its `times`. Rules can be changed
//! at any time from the test thread. [`FaultProxy::cut_off`] overrides all rules: every
//! request is answered with a TCP reset, until [`FaultProxy::restore`].
//!
//! A [`RedirectTarget`] is just a `FaultProxy` without rules: it forwards to the registry and
//! records whether each request carried `Authorization`.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::{After, Ctx, Reply, Request, Response, Server, read_response};
use super::registry::Registry;
use super::{lock, sha256_digest};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `status` (not forwarded), with `Retry-After: <retry_after>` if set.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Reset the connection (RST) without answering.
    Reset,
    /// Close the connection (FIN) without answering.
    Close,
    /// Forward, then send the headers and half of the body, then reset the connection.
    CloseMidBody,
    /// Sleep this long, then forward normally.
    Delay(Duration),
    /// Forward, but drop `Docker-Content-Digest`.
    StripDigest,
    /// Forward, but replace `Docker-Content-Digest` with a valid-looking wrong digest.
    WrongDigest,
    /// Forward, but send only half the body under the original `Content-Length`, then close.
    TruncateBody,
    /// Forward, but send `Content-Length: <actual + delta>`, then close.
    ContentLengthDelta(i64),
    /// Forward, but replace the body (Content-Length fixed, digest header untouched).
    ReplaceBody(Vec<u8>),
    /// Not forwarded: a 200 manifest of this many bytes (OCI manifest content type, correct
    /// digest header); HEAD gets the headers and the big `Content-Length` only.
    Oversized(usize),
    /// Not forwarded: `307 Location: http://<host:port><same path and query>`.
    Redirect(String),
}

impl Fault {
    /// 429 with `Retry-After: secs`.
    pub fn too_many_requests(secs: u64) -> Fault {
        Fault::Status {
            status: 429,
            retry_after: Some(secs.to_string()),
        }
    }
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
        }
    }
}

/// Which requests a fault applies to, and how many times.
#[derive(Debug, Clone)]
pub struct Rule {
    pub fault: Fault,
    pub method: Option<String>,
    pub path_contains: Option<String>,
    /// `None` = forever.
    pub times: Option<usize>,
}

impl Rule {
    /// Every request, forever (narrow it with the builders).
    pub fn new(fault: Fault) -> Rule {
        Rule {
            fault,
            method: None,
            path_contains: None,
            times: None,
        }
    }
    pub fn method(mut self, m: &str) -> Rule {
        self.method = Some(m.to_ascii_uppercase());
        self
    }
    /// Matches when the request target (path + query) contains `s`, e.g. "/manifests/".
    pub fn path(mut self, s: &str) -> Rule {
        self.path_contains = Some(s.to_string());
        self
    }
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }
    fn matches(&self, req: &Request) -> bool {
        self.times != Some(0)
            && self.method.as_deref().is_none_or(|m| m == req.method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| req.target.contains(p))
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub had_authorization: bool,
    /// The fault applied (`None` = forwarded untouched; cut-off shows as `Some(Reset)`).
    pub fault: Option<Fault>,
}

struct State {
    upstream: String,
    rules: Mutex<Vec<Rule>>,
    cut: AtomicBool,
    seen: Mutex<Vec<Seen>>,
}

pub struct FaultProxy {
    state: Arc<State>,
    server: Server,
}

/// A second listener to redirect to; records whether requests carried Authorization.
pub type RedirectTarget = FaultProxy;

impl FaultProxy {
    /// Proxies to `upstream` ("127.0.0.1:PORT", plain HTTP).
    pub fn start(upstream: &str) -> FaultProxy {
        let state = Arc::new(State {
            upstream: upstream.to_string(),
            rules: Mutex::default(),
            cut: AtomicBool::new(false),
            seen: Mutex::default(),
        });
        let st = state.clone();
        let server = Server::start(
            "fault-proxy",
            Arc::new(move |req: &Request, ctx: &Ctx| handle(&st, req, ctx)),
        );
        FaultProxy { state, server }
    }
    pub fn in_front_of(registry: &Registry) -> FaultProxy {
        assert!(
            registry.scheme() == "http",
            "FaultProxy needs a plain-HTTP upstream"
        );
        FaultProxy::start(registry.addr())
    }
    pub fn addr(&self) -> String {
        self.server.addr()
    }
    /// Same as [`FaultProxy::addr`]: the host to use in image references.
    pub fn host(&self) -> String {
        self.addr()
    }
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }
    /// `127.0.0.1:PORT/repo:tag` through the proxy.
    pub fn image(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.addr())
    }
    /// Replace all rules with: every request gets `fault`, forever.
    pub fn set(&self, fault: Fault) {
        *lock(&self.state.rules) = vec![Rule::new(fault)];
    }
    /// The next `times` requests (any) get `fault`; appended after existing rules.
    pub fn next(&self, fault: Fault, times: usize) {
        self.add(Rule::new(fault).times(times));
    }
    /// Append a rule (first matching rule wins).
    pub fn add(&self, rule: Rule) {
        lock(&self.state.rules).push(rule);
    }
    /// Remove all rules (cut-off is separate: see [`FaultProxy::restore`]).
    pub fn clear(&self) {
        lock(&self.state.rules).clear();
    }
    /// Reset every connection/request until [`FaultProxy::restore`].
    pub fn cut_off(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
    }
    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.state.seen).clone()
    }
    pub fn request_count(&self) -> usize {
        lock(&self.state.seen).len()
    }
    pub fn clear_requests(&self) {
        lock(&self.state.seen).clear();
    }
}

fn handle(st: &State, req: &Request, ctx: &Ctx) -> Reply {
    let fault = if st.cut.load(Ordering::SeqCst) {
        Some(Fault::Reset)
    } else {
        let mut rules = lock(&st.rules);
        let hit = rules.iter_mut().find(|r| r.matches(req));
        hit.map(|r| {
            if let Some(n) = r.times.as_mut() {
                *n -= 1;
            }
            r.fault.clone()
        })
    };
    lock(&st.seen).push(Seen {
        method: req.method.clone(),
        target: req.target.clone(),
        had_authorization: req.header("authorization").is_some(),
        fault: fault.clone(),
    });
    let head = req.method == "HEAD";
    // Faults answered without asking the upstream.
    match &fault {
        Some(Fault::Reset) => return Reply::Close { reset: true },
        Some(Fault::Close) => return Reply::Close { reset: false },
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let body =
                format!(r#"{{"errors":[{{"code":"UNAVAILABLE","message":"injected {status}"}}]}}"#);
            let mut r = Response::json(*status, body);
            if let Some(s) = retry_after {
                r.set_header("Retry-After", s.clone());
            }
            return Reply::Send(r);
        }
        Some(Fault::Redirect(to)) => {
            return Reply::Send(
                Response::new(307)
                    .header("Location", format!("http://{to}{}", req.target))
                    .body(""),
            );
        }
        Some(Fault::Oversized(n)) => {
            let body = oversized_manifest(*n);
            let mut r = Response::new(200)
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .header("Docker-Content-Digest", sha256_digest(&body))
                .header("Docker-Distribution-Api-Version", "registry/2.0");
            r = r.body(body);
            return Reply::Send(r);
        }
        // Sleep, then forward; give up if the proxy is being dropped meanwhile.
        Some(Fault::Delay(d)) if !ctx.sleep(*d) => return Reply::Close { reset: false },
        _ => {}
    }
    let mut resp = match forward(&st.upstream, req) {
        Ok(r) => r,
        Err(e) => {
            return Reply::Send(
                Response::new(502).body(format!("fault proxy: upstream error: {e}\n")),
            );
        }
    };
    match fault {
        Some(Fault::StripDigest) => resp.remove_header("Docker-Content-Digest"),
        Some(Fault::WrongDigest) => {
            let wrong = sha256_digest(b"tf-pin fault proxy: not the digest of this body");
            resp.set_header("Docker-Content-Digest", wrong);
        }
        Some(Fault::ReplaceBody(b)) => {
            resp = Response {
                body: Vec::new(),
                ..resp
            }
            .body(b)
        }
        Some(Fault::TruncateBody) if !head => {
            let mut bytes = resp.head_bytes();
            bytes.extend_from_slice(&resp.body[..resp.body.len() / 2]);
            return Reply::Raw {
                bytes,
                then: After::Close,
            };
        }
        Some(Fault::CloseMidBody) if !head => {
            let mut bytes = resp.head_bytes();
            bytes.extend_from_slice(&resp.body[..resp.body.len() / 2]);
            return Reply::Raw {
                bytes,
                then: After::Reset,
            };
        }
        Some(Fault::ContentLengthDelta(d)) => {
            let len = (resp.body.len() as i64 + d).max(0);
            resp.set_header("Content-Length", len.to_string());
            let bytes = if head {
                resp.head_bytes()
            } else {
                resp.to_bytes()
            };
            return Reply::Raw {
                bytes,
                then: After::Close,
            };
        }
        _ => {}
    }
    Reply::Send(resp)
}

fn forward(upstream: &str, req: &Request) -> std::io::Result<Response> {
    let addr = upstream
        .parse()
        .map_err(|e| std::io::Error::other(format!("{upstream}: {e}")))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(&req.to_upstream_bytes())?;
    read_response(&mut BufReader::new(s), &req.method)
}

/// A syntactically valid OCI manifest padded with an annotation to exactly `n` bytes
/// (or the minimum it can be, if `n` is tiny).
pub fn oversized_manifest(n: usize) -> Vec<u8> {
    let head = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":""#;
    let tail = br#""}}"#;
    let pad = n.saturating_sub(head.len() + tail.len());
    let mut v = Vec::with_capacity(n);
    v.extend_from_slice(head);
    v.resize(head.len() + pad, b'x');
    v.extend_from_slice(tail);
    v
}
