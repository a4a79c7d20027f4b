//! A small bearer-token server for distribution's `auth.token` mode.
//!
//! * `GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...]` — the docker token
//!   protocol. Repeated `scope` parameters are honoured, and so are several scopes inside
//!   one parameter separated by spaces. Credentials come from HTTP Basic.
//! * `POST /token` with a form body — the minimal oauth2 flavour containerd uses:
//!   `grant_type=password` (`username`, `password`) or `grant_type=refresh_token`
//!   (`refresh_token`), plus `service` and `scope`. Answers `access_token`, `expires_in`,
//!   `issued_at`, `scope`, and `refresh_token` for a password grant. With
//!   [`TokenServerConfig::oauth_post`] set to false, POST answers 404 (so clients must fall
//!   back to GET).
//!
//! Access rules: with no user configured everybody gets what they ask for. With a user
//! configured: right credentials → every requested action; wrong credentials → 401;
//! no credentials → an anonymous token whose access list is empty (the registry then
//! answers 401/`insufficient_scope` on pulls), or `pull` only when
//! [`TokenServerConfig::anonymous_pull`] is set.
//!
//! Tokens are JWTs signed ES256 with a P-256 key whose self-signed certificate is the
//! registry's `rootcertbundle`; the header carries that certificate in `x5c`, which is
//! what distribution 2.8's `registry/auth/token` verifies (chain to a root in the bundle,
//! `iss` = issuer, `aud` = service as a string, exp/nbf with 60 s leeway, then the JOSE
//! r||s signature). Every request is recorded (see [`TokenServer::requests`]); nothing in
//! here panics on bad input.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;
use tempfile::TempDir;

use super::http::{Ctx, Reply, Request, Response, Server, form_pairs};
use super::lock;

/// Which fields the JSON token response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenShape {
    /// `token` and `access_token` (Docker Hub does this).
    Both,
    TokenOnly,
    AccessTokenOnly,
}

#[derive(Debug, Clone)]
pub struct TokenServerConfig {
    /// The `service` / audience; the registry's `auth.token.service`.
    pub service: String,
    pub issuer: String,
    /// Required Basic credentials; `None` = anybody gets any scope.
    pub credentials: Option<(String, String)>,
    /// With credentials configured, let anonymous callers pull (never push).
    pub anonymous_pull: bool,
    pub shape: TokenShape,
    pub expires_in: u64,
    /// Serve the oauth2 POST flow (true) or answer POST with 404 (false).
    pub oauth_post: bool,
}

impl Default for TokenServerConfig {
    fn default() -> Self {
        TokenServerConfig {
            service: "tf-pin-test-registry".into(),
            issuer: "tf-pin-test-issuer".into(),
            credentials: None,
            anonymous_pull: false,
            shape: TokenShape::Both,
            expires_in: 300,
            oauth_post: true,
        }
    }
}

impl TokenServerConfig {
    pub fn with_credentials(user: &str, password: &str) -> Self {
        TokenServerConfig {
            credentials: Some((user.into(), password.into())),
            ..Default::default()
        }
    }
}

/// One request the token server saw.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub method: String,
    /// Path plus query, as sent.
    pub target: String,
    /// Every requested scope, one entry per scope (repeated params and space-separated
    /// lists flattened), e.g. `repository:app:pull`.
    pub scopes: Vec<String>,
    pub service: Option<String>,
    pub had_authorization: bool,
    /// The Basic user, if one was sent.
    pub user: Option<String>,
    pub grant_type: Option<String>,
    pub status: u16,
}

struct State {
    config: TokenServerConfig,
    cert_der: Vec<u8>,
    key: EcdsaKeyPair,
    requests: Mutex<Vec<TokenRequest>>,
    jti: AtomicU64,
}

pub struct TokenServer {
    state: Arc<State>,
    server: Server,
    cert_path: PathBuf,
    _dir: TempDir,
}

impl TokenServer {
    pub fn start(config: TokenServerConfig) -> TokenServer {
        let dir = tempfile::Builder::new()
            .prefix("tfpin-token-")
            .tempdir()
            .unwrap();
        let sc = super::certs::signing_cert(&config.issuer);
        let cert_path = dir.path().join("token-signing-cert.pem");
        std::fs::write(&cert_path, &sc.cert_pem).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &sc.key_pkcs8,
            &ring::rand::SystemRandom::new(),
        )
        .expect("load signing key");
        let state = Arc::new(State {
            config,
            cert_der: sc.cert_der,
            key,
            requests: Mutex::default(),
            jti: AtomicU64::new(1),
        });
        let st = state.clone();
        let server = Server::start(
            "token",
            Arc::new(move |req: &Request, _: &Ctx| Reply::Send(handle(&st, req))),
        );
        TokenServer {
            state,
            server,
            cert_path,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> String {
        self.server.addr()
    }
    /// `http://127.0.0.1:PORT/token` — the registry's `auth.token.realm`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr())
    }
    pub fn config(&self) -> &TokenServerConfig {
        &self.state.config
    }
    /// PEM of the signing certificate — the registry's `rootcertbundle`.
    pub fn root_cert_path(&self) -> &std::path::Path {
        &self.cert_path
    }
    pub fn requests(&self) -> Vec<TokenRequest> {
        lock(&self.state.requests).clone()
    }
    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }
    pub fn clear_requests(&self) {
        lock(&self.state.requests).clear();
    }
    /// Mints a token directly (not recorded), e.g. `mint(&["repository:app:pull,push"])`.
    /// Used by the push helpers; every listed action is granted.
    pub fn mint(&self, scopes: &[&str]) -> String {
        let access = scopes
            .iter()
            .filter_map(|s| parse_scope(s))
            .collect::<Vec<_>>();
        sign(&self.state, "harness", &access)
    }
    /// Mints a token with arbitrary claims edits applied last (for negative tests:
    /// expired, wrong audience, …). `edit` gets the claims object.
    pub fn mint_custom(
        &self,
        scopes: &[&str],
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> String {
        let access = scopes
            .iter()
            .filter_map(|s| parse_scope(s))
            .collect::<Vec<_>>();
        let mut claims = claims(&self.state, "harness", &access);
        edit(&mut claims);
        jwt(&self.state, &claims)
    }
}

type Access = (String, String, Vec<String>); // (type, name, actions)

/// `type:name:a,b` — the name may itself contain ':' (e.g. a port), so split at both ends.
fn parse_scope(s: &str) -> Option<Access> {
    let (ty, rest) = s.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    if ty.is_empty() || name.is_empty() {
        return None;
    }
    Some((
        ty.into(),
        name.into(),
        actions
            .split(',')
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect(),
    ))
}

fn handle(st: &State, req: &Request) -> Response {
    let mut rec = TokenRequest {
        method: req.method.clone(),
        target: req.target.clone(),
        scopes: Vec::new(),
        service: None,
        had_authorization: req.header("authorization").is_some(),
        user: None,
        grant_type: None,
        status: 0,
    };
    let resp = respond(st, req, &mut rec);
    rec.status = resp.status;
    lock(&st.requests).push(rec);
    resp
}

fn respond(st: &State, req: &Request, rec: &mut TokenRequest) -> Response {
    if req.path() != "/token" {
        return Response::json(404, r#"{"error":"not found"}"#);
    }
    let post = match req.method.as_str() {
        "GET" => false,
        "POST" if st.config.oauth_post => true,
        "POST" => return Response::json(404, r#"{"error":"POST not supported"}"#),
        _ => return Response::json(405, r#"{"error":"method not allowed"}"#),
    };
    let params = if post {
        form_pairs(&String::from_utf8_lossy(&req.body))
    } else {
        req.query_pairs()
    };
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    rec.service = param("service");
    rec.scopes = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    rec.grant_type = param("grant_type");

    // Who is asking: Basic header (GET), or the form (POST password grant / refresh token).
    let presented: Option<(String, String)> = if post {
        match rec.grant_type.as_deref() {
            Some("password") => Some((
                param("username").unwrap_or_default(),
                param("password").unwrap_or_default(),
            )),
            Some("refresh_token") => match param("refresh_token")
                .as_deref()
                .and_then(|t| t.strip_prefix("refresh:"))
            {
                Some(user) => st
                    .config
                    .credentials
                    .as_ref()
                    .filter(|(u, _)| u == user)
                    .cloned(),
                None => return Response::json(400, r#"{"error":"invalid_grant"}"#),
            },
            _ => return Response::json(400, r#"{"error":"unsupported_grant_type"}"#),
        }
    } else {
        req.header("authorization")
            .map(|h| basic_credentials(h).unwrap_or_default())
    };
    rec.user = presented.as_ref().map(|(u, _)| u.clone());
    if rec
        .service
        .as_deref()
        .is_some_and(|svc| svc != st.config.service)
    {
        return Response::json(400, r#"{"error":"unknown service"}"#);
    }

    let (subject, allowed): (String, &[&str]) = match (&st.config.credentials, &presented) {
        (None, p) => (
            p.as_ref().map(|(u, _)| u.clone()).unwrap_or_default(),
            &["pull", "push", "delete", "*"],
        ),
        (Some(want), Some(got)) if want == got => (got.0.clone(), &["pull", "push", "delete", "*"]),
        (Some(_), Some(_)) => {
            return Response::json(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid credentials"}]}"#,
            )
            .header("WWW-Authenticate", "Basic realm=\"tf-pin-test-token\"");
        }
        (Some(_), None) if st.config.anonymous_pull => (String::new(), &["pull"]),
        (Some(_), None) => (String::new(), &[]),
    };
    let access: Vec<Access> = rec
        .scopes
        .iter()
        .filter_map(|s| parse_scope(s))
        .map(|(ty, name, acts)| {
            let granted = acts
                .into_iter()
                .filter(|a| allowed.contains(&a.as_str()))
                .collect();
            (ty, name, granted)
        })
        .filter(|(_, _, acts): &Access| !acts.is_empty())
        .collect();
    let token = sign(st, &subject, &access);
    let issued_at = rfc3339(now());
    let mut body = json!({ "expires_in": st.config.expires_in, "issued_at": issued_at });
    if post {
        body["access_token"] = json!(token);
        body["scope"] = json!(rec.scopes.join(" "));
        if rec.grant_type.as_deref() == Some("password") {
            body["refresh_token"] = json!(format!("refresh:{subject}"));
        }
    } else {
        if st.config.shape != TokenShape::AccessTokenOnly {
            body["token"] = json!(token);
        }
        if st.config.shape != TokenShape::TokenOnly {
            body["access_token"] = json!(token);
        }
    }
    Response::json(200, body.to_string())
}

fn basic_credentials(h: &str) -> Option<(String, String)> {
    let (scheme, b64) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(b64.trim()).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (u, p) = raw.split_once(':')?;
    Some((u.into(), p.into()))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn claims(st: &State, subject: &str, access: &[Access]) -> serde_json::Value {
    let now = now();
    let access: Vec<_> = access
        .iter()
        .map(|(t, n, a)| json!({"type": t, "name": n, "actions": a}))
        .collect();
    json!({
        "iss": st.config.issuer,
        "sub": subject,
        "aud": st.config.service,
        "exp": now + st.config.expires_in,
        "nbf": now.saturating_sub(1),
        "iat": now,
        "jti": format!("tfpin-{}", st.jti.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    })
}

fn sign(st: &State, subject: &str, access: &[Access]) -> String {
    jwt(st, &claims(st, subject, access))
}

fn jwt(st: &State, claims: &serde_json::Value) -> String {
    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&st.cert_der)]});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = st
        .key
        .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
        .map(|s| URL_SAFE_NO_PAD.encode(s.as_ref()))
        .unwrap_or_default();
    format!("{signing_input}.{sig}")
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, no chrono needed).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
