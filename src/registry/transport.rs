//! HTTP for registries: scheme choice, retries with backoff, capped bodies, request logs.
//!
//! Scheme choice follows Docker: HTTPS with verification everywhere; hosts on loopback
//! (`localhost`, `127.0.0.0/8`, `::1`) and `--insecure-registry` hosts try HTTPS first and
//! fall back to plain HTTP when the TLS connection cannot be made. As with Docker's
//! `insecure-registries`, an `--insecure-registry` host's certificate is not verified
//! (loopback hosts still verify theirs: `--ca-file` or the flag). Cross-host redirects drop
//! the `Authorization` header (reqwest's redirect policy strips sensitive headers whenever
//! the host, port or scheme changes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};

use super::Failure;

/// Largest manifest accepted; containerd refuses bigger ones too.
pub const MANIFEST_SIZE_LIMIT: u64 = 4 * 1024 * 1024;
const MAX_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How to reach one registry host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// TLS, verified against the system roots plus `--ca-file`.
    Https,
    /// Plain HTTP: loopback or `--insecure-registry` hosts only.
    Http,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// Transport settings.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Hosts allowed over plain HTTP, as `host[:port]`.
    pub insecure_hosts: Vec<String>,
    /// PEM CA certificates to trust, already read.
    pub extra_roots: Vec<reqwest::Certificate>,
    /// Connect + whole-response timeout per request.
    pub timeout: Duration,
    /// Log every request as a `tracing` event (target `tf_pin::http`).
    pub verbose: bool,
}

/// TLS settings for one host that differ from the shared client's (containerd's per-host
/// `ca` and `skip_verify` in hosts.toml).
#[derive(Debug, Clone, Default)]
pub struct HostTls {
    /// CA certificates trusted for this host, on top of the shared roots.
    pub extra_roots: Vec<reqwest::Certificate>,
    /// Accept any certificate (no chain or host name verification).
    pub skip_verify: bool,
}

/// A shared HTTP client with per-host scheme memory.
pub struct Transport {
    client: reqwest::Client,
    options: TransportOptions,
    schemes: Mutex<HashMap<String, Scheme>>,
    /// Dedicated clients for hosts with their own TLS settings ([`Transport::set_host_tls`]).
    host_clients: Mutex<HashMap<String, reqwest::Client>>,
}

/// A request to send; rebuilt on every retry.
pub struct Request<'a> {
    /// HTTP method.
    pub method: Method,
    /// Full URL.
    pub url: &'a str,
    /// Extra headers (Accept, Authorization).
    pub headers: HeaderMap,
    /// Form body for POST token requests.
    pub form: Option<&'a [(&'a str, &'a str)]>,
}

impl Transport {
    /// Builds the client; TLS roots are loaded here, once per process.
    pub fn new(options: TransportOptions) -> Result<Transport, reqwest::Error> {
        let transport = Transport {
            client: client_builder(&options).build()?,
            options,
            schemes: Mutex::new(HashMap::new()),
            host_clients: Mutex::new(HashMap::new()),
        };
        // Marking a host insecure accepts an unverified certificate, as the TLS error hint
        // (`with_tls_hint`) promises; without this the flag could only ever add plain HTTP.
        let unverified = HostTls {
            extra_roots: Vec::new(),
            skip_verify: true,
        };
        for host in &transport.options.insecure_hosts {
            transport.set_host_tls(host, &unverified)?;
        }
        Ok(transport)
    }

    /// Gives `host` (`host[:port]` as it appears in URLs) a dedicated HTTP client with the
    /// shared settings plus `tls`; every later request to that host uses it.
    pub fn set_host_tls(&self, host: &str, tls: &HostTls) -> Result<(), reqwest::Error> {
        let mut builder = client_builder(&self.options);
        for root in &tls.extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        if tls.skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder.build()?;
        if let Ok(mut clients) = self.host_clients.lock() {
            clients.insert(host.to_owned(), client);
        }
        Ok(())
    }

    /// The client for a URL: the host's dedicated one, else the shared one.
    fn client_for(&self, url: &str) -> reqwest::Client {
        self.host_clients
            .lock()
            .ok()
            .and_then(|clients| clients.get(host_of(url)).cloned())
            .unwrap_or_else(|| self.client.clone())
    }

    /// Whether plain HTTP may be used for `host` (loopback or marked insecure).
    pub fn allows_plain_http(&self, host: &str) -> bool {
        is_loopback(host)
            || self
                .options
                .insecure_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
    }

    /// The scheme already chosen for `host`, if any request has reached it.
    pub fn known_scheme(&self, host: &str) -> Option<Scheme> {
        self.schemes.lock().ok()?.get(host).copied()
    }

    /// Sends `GET https://host/v2/` (falling back to HTTP where allowed) and remembers the
    /// scheme that worked. This is the registry "ping" that also reveals the auth challenge.
    pub async fn ping(&self, host: &str) -> Result<(Scheme, Response), Failure> {
        if let Some(scheme) = self.known_scheme(host) {
            let url = format!("{}://{host}/v2/", scheme.as_str());
            return Ok((scheme, self.send(request(Method::GET, &url)).await?));
        }
        let https_url = format!("https://{host}/v2/");
        // Only one HTTPS attempt where HTTP is allowed: a plain-HTTP server fails the TLS
        // handshake every time, so retrying it would only delay the fallback.
        let https_attempts = if self.allows_plain_http(host) {
            1
        } else {
            MAX_ATTEMPTS
        };
        let first = self
            .send_with_attempts(request(Method::GET, &https_url), https_attempts)
            .await;
        let (scheme, response) = match first {
            // A certificate error means the server does speak TLS: falling back to HTTP
            // would only trade a clear TLS error for a confusing 400.
            Err(ref failure) if self.allows_plain_http(host) && may_be_plain_http(failure) => {
                let http_url = format!("http://{host}/v2/");
                (
                    Scheme::Http,
                    self.send(request(Method::GET, &http_url)).await?,
                )
            }
            Err(failure) => return Err(with_tls_hint(failure, host)),
            Ok(response) => (Scheme::Https, response),
        };
        if let Ok(mut schemes) = self.schemes.lock() {
            schemes.insert(host.to_owned(), scheme);
        }
        Ok((scheme, response))
    }

    /// Fixes the scheme for `host` (e.g. from a mirror's configured URL), skipping probing.
    pub fn remember_scheme(&self, host: &str, scheme: Scheme) {
        if let Ok(mut schemes) = self.schemes.lock() {
            schemes.insert(host.to_owned(), scheme);
        }
    }

    /// `scheme://host` for a host already pinged.
    pub fn base_url(&self, host: &str) -> String {
        let scheme = self.known_scheme(host).unwrap_or(Scheme::Https);
        format!("{}://{host}", scheme.as_str())
    }

    /// Sends a request, retrying 429/502/503/504 and connection errors with backoff
    /// (honouring `Retry-After`). Returns the last response for any other status.
    pub async fn send(&self, req: Request<'_>) -> Result<Response, Failure> {
        self.send_with_attempts(req, MAX_ATTEMPTS).await
    }

    async fn send_with_attempts(
        &self,
        req: Request<'_>,
        max_attempts: u32,
    ) -> Result<Response, Failure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let mut builder = self
                .client_for(req.url)
                .request(req.method.clone(), req.url)
                .headers(req.headers.clone());
            if let Some(form) = req.form {
                builder = builder.form(form);
            }
            let outcome = builder.send().await;
            let elapsed = started.elapsed();
            let retry_wait = match &outcome {
                Ok(response) => {
                    self.log(&req, &response.status().to_string(), elapsed);
                    if !is_retryable_status(response.status()) {
                        return outcome.map_err(|e| self.classify(&e, req.url));
                    }
                    retry_after(response.headers()).unwrap_or_else(|| backoff(attempt))
                }
                Err(error) => {
                    self.log(&req, "failed", elapsed);
                    // A name that does not resolve will not resolve in 250 ms either.
                    if error.is_timeout()
                        || !error.is_connect()
                        || error_chain(error).contains("dns error")
                    {
                        return Err(self.classify(error, req.url));
                    }
                    backoff(attempt)
                }
            };
            if attempt >= max_attempts {
                return match outcome {
                    Ok(response) => Err(Failure::Unavailable {
                        host: host_of(req.url).to_owned(),
                        status: response.status().as_u16(),
                        attempts: attempt,
                    }),
                    Err(error) => Err(self.classify(&error, req.url)),
                };
            }
            tokio::time::sleep(retry_wait.min(MAX_RETRY_AFTER)).await;
        }
    }

    fn log(&self, req: &Request<'_>, status: &str, elapsed: Duration) {
        if self.options.verbose {
            // The URL never carries credentials (they only travel in headers), but token
            // requests may carry an account name as a query parameter: drop the query.
            let shown = without_userinfo(req.url.split('?').next().unwrap_or(req.url));
            tracing::debug!(
                target: "tf_pin::http",
                "{} {shown} -> {status} ({:.1} ms)",
                req.method,
                elapsed.as_secs_f64() * 1000.0
            );
        }
    }

    fn classify(&self, error: &reqwest::Error, url: &str) -> Failure {
        if error.is_timeout() {
            return Failure::Timeout {
                host: host_of(url).to_owned(),
                seconds: self.options.timeout.as_secs_f64(),
            };
        }
        let mut detail = error_chain(error);
        // Say what to do; a certificate error gets its own advice from `with_tls_hint`.
        if error.is_connect() && !is_certificate_error(&detail) {
            detail.push_str("; check the host name and port, and that the registry is running");
        } else if !error.is_connect() {
            detail.push_str("; the connection broke off, try again");
        }
        Failure::Network {
            url: url.split('?').next().unwrap_or(url).to_owned(),
            detail,
        }
    }
}

/// `url` without a `user:password@` part (mirror URLs may carry one).
fn without_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]).into(),
        None => url.into(),
    }
}

/// The shared client settings, TLS roots included.
fn client_builder(options: &TransportOptions) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("tf-pin/", env!("CARGO_PKG_VERSION")))
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::limited(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .use_rustls_tls();
    for root in &options.extra_roots {
        builder = builder.add_root_certificate(root.clone());
    }
    builder
}

/// The `host[:port]` part of a URL, for messages.
pub fn host_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .split(['/', '?'])
        .next()
        .unwrap_or(after_scheme)
}

/// A GET/HEAD request with no extra headers.
pub fn request(method: Method, url: &str) -> Request<'_> {
    Request {
        method,
        url,
        headers: HeaderMap::new(),
        form: None,
    }
}

/// Reads a body of at most `limit` bytes; fails early on a larger `Content-Length` and
/// on a body that ends before its announced length.
pub async fn read_capped(mut response: Response, limit: u64) -> Result<Vec<u8>, Failure> {
    let announced = response.content_length();
    if let Some(length) = announced {
        if length > limit {
            return Err(Failure::ManifestTooLarge { size: Some(length) });
        }
    }
    let mut body = Vec::with_capacity(announced.unwrap_or(4096).min(limit) as usize);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if (body.len() + chunk.len()) as u64 > limit {
                    return Err(Failure::ManifestTooLarge { size: None });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                return Err(Failure::BrokenBody {
                    detail: error_chain(&error),
                });
            }
        }
    }
    if let Some(length) = announced {
        if body.len() as u64 != length {
            return Err(Failure::BrokenBody {
                detail: format!(
                    "received {} bytes but Content-Length said {length}",
                    body.len()
                ),
            });
        }
    }
    Ok(body)
}

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The causes of an error, joined: reqwest's own top-level message ("error sending request
/// for url (…)", "client error (Connect)") repeats the URL the caller already names and
/// hides the cause, so it is dropped when there is a cause to show.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(cause) = current {
        let text = cause.to_string();
        let wrapper = text.starts_with("error sending request")
            || text.starts_with("client error")
            || text.starts_with("error decoding response body");
        if !wrapper && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

fn may_be_plain_http(failure: &Failure) -> bool {
    match failure {
        Failure::Network { detail, .. } => !is_certificate_error(detail),
        Failure::Timeout { .. } => true,
        _ => false,
    }
}

fn is_certificate_error(detail: &str) -> bool {
    detail.contains("certificate") || detail.contains("UnknownIssuer")
}

fn with_tls_hint(failure: Failure, host: &str) -> Failure {
    match failure {
        Failure::Network { url, detail } if is_certificate_error(&detail) => Failure::Network {
            url,
            detail: format!(
                "{detail} (the TLS certificate of {host} is not trusted: pass its CA with --ca-file, or --insecure-registry {host} if you accept an unverified connection)"
            ),
        },
        other => other,
    }
}

/// Whether `host[:port]` names the loopback interface, where Docker allows plain HTTP.
pub fn is_loopback(host: &str) -> bool {
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// A header value from a string that may contain anything; invalid bytes are dropped.
pub fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

/// Shares a transport between the client's tasks.
pub type SharedTransport = Arc<Transport>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_urls_never_carry_userinfo() {
        assert_eq!(
            without_userinfo("https://u:p@mirror.local:5000/v2/app/manifests/1"),
            "https://mirror.local:5000/v2/app/manifests/1"
        );
        assert_eq!(
            without_userinfo("http://mirror.local/v2/a@b/x"),
            "http://mirror.local/v2/a@b/x"
        );
        assert_eq!(without_userinfo("no scheme"), "no scheme");
    }

    #[test]
    fn loopback_hosts_allow_plain_http() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "registry.example.com",
            "10.0.0.1:5000",
            "localhost.example.com",
            "[::2]:80",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn retry_after_seconds_and_backoff() {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(3), Duration::from_millis(1000));
    }
}
