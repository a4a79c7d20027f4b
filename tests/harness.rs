//! Self-tests of the integration-test harness in `tests/support/`, against the real
//! distribution 2.8.2 server (`/usr/bin/docker-registry`) and skopeo.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use support::http::{Response, read_response};
use support::push::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use support::*;

type Client = reqwest::blocking::Client;

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn digest_header(r: &reqwest::blocking::Response) -> Option<String> {
    r.headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn header(r: &reqwest::blocking::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn get_manifest(
    c: &Client,
    base: &str,
    repo: &str,
    reference: &str,
    auth: Option<&str>,
) -> reqwest::blocking::Response {
    let mut rb = c
        .get(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("Accept", push::ALL_MANIFEST_TYPES);
    if let Some(a) = auth {
        rb = rb.header("Authorization", a);
    }
    rb.send().unwrap()
}

/// Asserts GET by tag returns exactly `p.bytes` with the right digest and content type.
fn assert_serves(c: &Client, base: &str, p: &Pushed, auth: Option<&str>) {
    let r = get_manifest(c, base, &p.repo, &p.tag, auth);
    assert_eq!(r.status().as_u16(), 200, "{}", p.reference);
    assert_eq!(digest_header(&r).as_deref(), Some(p.digest.as_str()));
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some(p.media_type.as_str())
    );
    assert_eq!(r.bytes().unwrap().as_ref(), p.bytes.as_slice());
}

#[test]
fn plain_registry_push_and_pull_exact_bytes() {
    let reg = Registry::start(RegistryConfig::plain());
    assert!(reg.addr().starts_with("127.0.0.1:"));
    assert_eq!(reg.base_url(), format!("http://{}", reg.addr()));
    let c = client();
    let oci = reg.push_oci_image("app", "oci", 1);
    let docker = reg.push_docker_image("team/app", "docker", 1);
    let index = reg.push_oci_index("app", "index", 1);
    let list = reg.push_docker_manifest_list("app", "list", 1);
    assert_eq!(oci.media_type, OCI_MANIFEST);
    assert_eq!(docker.media_type, DOCKER_MANIFEST);
    assert_eq!(index.media_type, OCI_INDEX);
    assert_eq!(list.media_type, DOCKER_LIST);
    for p in [&oci, &docker, &index, &list] {
        assert_serves(&c, &reg.base_url(), p, None);
        assert_eq!(p.digest, sha256_digest(&p.bytes));
        // Not canonical: re-serialising the JSON changes the bytes (and so the digest).
        let v: serde_json::Value = serde_json::from_slice(&p.bytes).unwrap();
        assert_ne!(serde_json::to_vec(&v).unwrap(), p.bytes);
        assert_ne!(serde_json::to_vec_pretty(&v).unwrap(), p.bytes);
    }
    // Children: three platforms, each fetchable by digest; attestation annotated.
    for p in [&index, &list] {
        assert_eq!(p.children.len(), 3);
        for child in &p.children {
            let r = get_manifest(&c, &reg.base_url(), "app", &child.digest, None);
            assert_eq!(r.status().as_u16(), 200);
            assert_eq!(r.bytes().unwrap().as_ref(), child.bytes.as_slice());
        }
        let v: serde_json::Value = serde_json::from_slice(&p.bytes).unwrap();
        let att = &v["manifests"][2];
        assert_eq!(att["platform"]["os"], "unknown");
        assert_eq!(
            att["annotations"]["vnd.docker.reference.type"],
            "attestation-manifest"
        );
        assert_eq!(
            att["annotations"]["vnd.docker.reference.digest"],
            p.child("linux/amd64").digest.as_str()
        );
        assert_eq!(v["manifests"][1]["platform"]["variant"], "v8");
    }
    // HEAD gives the digest and length without a body.
    let r = reg.fetch_manifest("HEAD", "app", "index");
    assert_eq!(digest_header(&r).as_deref(), Some(index.digest.as_str()));
    assert_eq!(
        header(&r, "content-length"),
        Some(index.bytes.len().to_string())
    );
    // Re-pushing a tag with another seed moves it.
    let moved = reg.push_oci_index("app", "index", 2);
    assert_ne!(moved.digest, index.digest);
    assert_ne!(
        moved.child("linux/arm64/v8").digest,
        index.child("linux/arm64/v8").digest
    );
    assert_serves(&c, &reg.base_url(), &moved, None);
    // Deleting by digest works (storage.delete.enabled).
    reg.delete_manifest("app", &oci.digest);
    assert_eq!(
        get_manifest(&c, &reg.base_url(), "app", &oci.digest, None)
            .status()
            .as_u16(),
        404
    );
    // The access log is captured and parsed.
    let reqs = reg.requests();
    assert!(
        reqs.iter().any(|r| r == "GET /v2/app/manifests/index"),
        "{reqs:?}"
    );
    assert!(reqs.iter().any(|r| r.starts_with("PUT /v2/app/manifests/")));
}

#[test]
fn htpasswd_registry_rejects_anonymous_and_accepts_the_user() {
    let reg = Registry::start(RegistryConfig::htpasswd("alice", "s3cret"));
    let c = client();
    let r = c.get(format!("{}/v2/", reg.base_url())).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .starts_with("Basic realm=")
    );
    let wrong = c
        .get(format!("{}/v2/", reg.base_url()))
        .header("Authorization", basic("alice", "nope"))
        .send();
    assert_eq!(wrong.unwrap().status().as_u16(), 401);
    let ok = c
        .get(format!("{}/v2/", reg.base_url()))
        .header("Authorization", basic("alice", "s3cret"))
        .send();
    assert_eq!(ok.unwrap().status().as_u16(), 200);
    let p = reg.push_docker_manifest_list("private/app", "v1", 3);
    assert_eq!(
        get_manifest(&c, &reg.base_url(), "private/app", "v1", None)
            .status()
            .as_u16(),
        401
    );
    assert_serves(&c, &reg.base_url(), &p, Some(&basic("alice", "s3cret")));
    assert_eq!(reg.credentials(), Some(("alice".into(), "s3cret".into())));
}

#[test]
fn token_registry_end_to_end() {
    let reg = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "bob", "pw",
    )));
    let ts = reg.token_server().unwrap();
    let c = client();
    let p = reg.push_oci_index("org/app", "1", 1);
    let other = reg.push_oci_image("org/other", "1", 1);
    assert_eq!(
        ts.request_count(),
        0,
        "harness pushes mint tokens without HTTP"
    );

    // 1. anonymous → 401 with a Bearer challenge naming realm, service and scope.
    let r = get_manifest(&c, &reg.base_url(), "org/app", "1", None);
    assert_eq!(r.status().as_u16(), 401);
    let challenge = header(&r, "www-authenticate").unwrap();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer realm="{}",service="{}",scope="repository:org/app:pull""#,
            ts.realm(),
            ts.config().service
        )
    );

    // 2. token (GET, Basic credentials, two repeated scopes) → 200 for both repositories.
    let url = format!(
        "{}?service={}&scope=repository%3Aorg%2Fapp%3Apull&scope=repository:org/other:pull",
        ts.realm(),
        ts.config().service
    );
    let r = c
        .get(&url)
        .header("Authorization", basic("bob", "pw"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["expires_in"], 300);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));
    let bearer = format!("Bearer {}", body["token"].as_str().unwrap());
    assert_serves(&c, &reg.base_url(), &p, Some(&bearer));
    assert_serves(&c, &reg.base_url(), &other, Some(&bearer));
    let reqs = ts.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].scopes,
        ["repository:org/app:pull", "repository:org/other:pull"]
    );
    assert!(reqs[0].had_authorization);
    assert_eq!(reqs[0].user.as_deref(), Some("bob"));
    assert_eq!(
        reqs[0].service.as_deref(),
        Some(ts.config().service.as_str())
    );

    // A pull token does not allow pushing.
    let r = c
        .post(format!("{}/v2/org/app/blobs/uploads/", reg.base_url()))
        .header("Authorization", &bearer)
        .send();
    assert_eq!(r.unwrap().status().as_u16(), 401);

    // 3. wrong credentials → 401 from the token server.
    let r = c
        .get(&url)
        .header("Authorization", basic("bob", "wrong"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // 4. no credentials → a token with an empty access list, which the registry refuses.
    let r = c.get(&url).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let anon: serde_json::Value = r.json().unwrap();
    let anon_bearer = format!("Bearer {}", anon["token"].as_str().unwrap());
    let r = get_manifest(&c, &reg.base_url(), "org/app", "1", Some(&anon_bearer));
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );

    // 5. oauth2 POST (password grant, then refresh token).
    let form = format!(
        "grant_type=password&username=bob&password=pw&service={}&scope=repository:org/app:pull&client_id=tf-pin",
        ts.config().service
    );
    let r = c
        .post(ts.realm())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().unwrap();
    assert!(body.get("token").is_none());
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    assert_serves(
        &c,
        &reg.base_url(),
        &p,
        Some(&format!(
            "Bearer {}",
            body["access_token"].as_str().unwrap()
        )),
    );
    let form = format!(
        "grant_type=refresh_token&refresh_token={refresh}&service={}&scope=repository:org/app:pull",
        ts.config().service
    );
    let r = c.post(ts.realm()).body(form).send().unwrap();
    let body: serde_json::Value = r.json().unwrap();
    assert_serves(
        &c,
        &reg.base_url(),
        &p,
        Some(&format!(
            "Bearer {}",
            body["access_token"].as_str().unwrap()
        )),
    );
    assert_eq!(
        ts.requests().last().unwrap().grant_type.as_deref(),
        Some("refresh_token")
    );

    // 6. The registry really checks tokens: expired or wrong-audience tokens are refused.
    let expired = ts.mint_custom(&["repository:org/app:pull"], |c| {
        c["exp"] = serde_json::json!(1_000_000);
        c["nbf"] = serde_json::json!(999_000);
    });
    let wrong_aud = ts.mint_custom(&["repository:org/app:pull"], |c| {
        c["aud"] = serde_json::json!("elsewhere")
    });
    for t in [expired, wrong_aud] {
        let r = get_manifest(
            &c,
            &reg.base_url(),
            "org/app",
            "1",
            Some(&format!("Bearer {t}")),
        );
        assert_eq!(r.status().as_u16(), 401);
    }
}

#[test]
fn token_server_options_and_bad_input() {
    let open = TokenServer::start(TokenServerConfig {
        shape: TokenShape::TokenOnly,
        ..Default::default()
    });
    let c = client();
    let b: serde_json::Value = c
        .get(format!("{}?scope=repository:a:pull", open.realm()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(b.get("token").is_some() && b.get("access_token").is_none());

    let cfg = TokenServerConfig {
        shape: TokenShape::AccessTokenOnly,
        anonymous_pull: true,
        oauth_post: false,
        ..TokenServerConfig::with_credentials("u", "p")
    };
    let ts = TokenServer::start(cfg);
    let b: serde_json::Value = c
        .get(format!("{}?scope=repository:a:pull,push", ts.realm()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(b.get("token").is_none());
    let claims = b["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_string();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["access"],
        serde_json::json!([{"type": "repository", "name": "a", "actions": ["pull"]}])
    );
    assert_eq!(
        c.post(ts.realm())
            .body("grant_type=password")
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    // Garbage must not panic the server: it keeps answering afterwards.
    for target in [
        "/token?scope=%zz%&service=%",
        "/token?scope=:::&scope=repository::",
        "/nope",
        "/token?%%%",
    ] {
        let s = c
            .get(format!("http://{}{target}", ts.addr()))
            .send()
            .unwrap()
            .status()
            .as_u16();
        assert!(s < 500, "{target}: {s}");
    }
    let _ = c
        .get(ts.realm())
        .header("Authorization", "Basic !!!notbase64")
        .send()
        .unwrap();
    let _ = c
        .get(ts.realm())
        .header("Authorization", "Bearer x")
        .send()
        .unwrap();
    let mut raw = TcpStream::connect(ts.addr()).unwrap();
    raw.write_all(b"\x00\x01garbage\r\n\r\n").unwrap();
    let mut sink = Vec::new();
    let _ = raw.read_to_end(&mut sink);
    assert_eq!(c.get(ts.realm()).send().unwrap().status().as_u16(), 200);
}

#[test]
fn tls_registry_with_its_own_ca() {
    let reg = Registry::start(RegistryConfig::htpasswd("alice", "pw").with_tls());
    assert!(reg.base_url().starts_with("https://127.0.0.1:"));
    let ca = std::fs::read(reg.ca_file().unwrap()).unwrap();
    assert!(String::from_utf8_lossy(&ca).contains("BEGIN CERTIFICATE"));
    let p = reg.push_oci_image("secure/app", "1", 1);
    let trusted = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    assert_serves(&trusted, &reg.base_url(), &p, Some(&basic("alice", "pw")));
    // The certificate is valid for "localhost" too.
    let via_name = reg.base_url().replace("127.0.0.1", "localhost");
    assert_serves(&trusted, &via_name, &p, Some(&basic("alice", "pw")));
    // Without the CA the handshake fails.
    assert!(
        client()
            .get(format!("{}/v2/", reg.base_url()))
            .send()
            .is_err()
    );
}

/// Distribution 2.8.2 as a pull-through mirror (documented on `support::registry`):
/// upstream reachable → tags are resolved upstream (a moved tag is seen at once);
/// upstream cut off → the mirror answers from its cache, i.e. a stale digest for a tag that
/// moved, while tags it never fetched fail.
#[test]
fn mirror_serves_upstream_and_stale_cache_when_cut_off() {
    let upstream = Registry::start(RegistryConfig::plain());
    let proxy = FaultProxy::in_front_of(&upstream);
    let mirror = Registry::start(RegistryConfig::mirror_of(&proxy.addr()));
    let c = client();
    let v1 = upstream.push_oci_index("library/app", "1", 1);
    upstream.push_oci_image("library/never", "1", 1);
    assert_serves(&c, &mirror.base_url(), &v1, None);
    assert!(proxy.request_count() > 0, "mirror went through the proxy");

    // Tag moves upstream: a reachable upstream is consulted, the mirror follows at once.
    let v2 = upstream.push_oci_index("library/app", "1", 2);
    assert_serves(&c, &mirror.base_url(), &v2, None);
    let r = mirror.fetch_manifest("HEAD", "library/app", "1");
    assert_eq!(digest_header(&r).as_deref(), Some(v2.digest.as_str()));

    // Tag moves again, then the upstream becomes unreachable: the mirror serves v2 (stale).
    let v3 = upstream.push_oci_index("library/app", "1", 3);
    proxy.cut_off();
    let r = get_manifest(&c, &mirror.base_url(), "library/app", "1", None);
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(digest_header(&r).as_deref(), Some(v2.digest.as_str()));
    assert_ne!(v2.digest, v3.digest);
    assert_eq!(r.bytes().unwrap().as_ref(), v2.bytes.as_slice());
    let r = mirror.fetch_manifest("HEAD", "library/app", "1");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(digest_header(&r).as_deref(), Some(v2.digest.as_str()));
    // Never-fetched content fails: a child manifest by digest 500, a tag 404.
    let child = &v2.child("linux/amd64").digest;
    assert_eq!(
        get_manifest(&c, &mirror.base_url(), "library/app", child, None)
            .status()
            .as_u16(),
        500
    );
    assert_eq!(
        get_manifest(&c, &mirror.base_url(), "library/never", "1", None)
            .status()
            .as_u16(),
        404
    );
    assert!(
        proxy
            .requests()
            .iter()
            .any(|s| s.fault == Some(Fault::Reset))
    );

    // Restored: the mirror sees v3.
    proxy.restore();
    assert_serves(&c, &mirror.base_url(), &v3, None);

    // An upstream answering 503 (reachable but failing) also makes it serve its cache.
    let v4 = upstream.push_oci_index("library/app", "1", 4);
    proxy.add(Rule::new(Fault::status(503)).path("/manifests/"));
    assert_serves(&c, &mirror.base_url(), &v3, None);
    proxy.clear();
    assert_serves(&c, &mirror.base_url(), &v4, None);

    // So does an upstream where the tag no longer exists (404): the deleted tag lives on.
    upstream.delete_manifest("library/app", &v4.digest);
    assert_eq!(
        get_manifest(&c, &upstream.base_url(), "library/app", "1", None)
            .status()
            .as_u16(),
        404
    );
    assert_serves(&c, &mirror.base_url(), &v4, None);

    // Pushing to a mirror is refused.
    let r = c
        .post(format!(
            "{}/v2/library/app/blobs/uploads/",
            mirror.base_url()
        ))
        .send()
        .unwrap();
    assert!(r.status().as_u16() >= 400);
}

/// Distribution 2.8.2's proxy only uses `proxy.username/password` for *bearer* upstreams
/// (it keys them by the token realm found at start-up); against a Basic-auth upstream it
/// sends no credentials and the mirror answers 404 (falls back to its empty cache).
#[test]
fn mirror_of_authenticated_upstreams() {
    let token_up = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "up", "pw",
    )));
    let basic_up = Registry::start(RegistryConfig::htpasswd("up", "pw"));
    let m1 = Registry::start(
        RegistryConfig::mirror_of(token_up.addr()).upstream_credentials("up", "pw"),
    );
    let m2 = Registry::start(
        RegistryConfig::mirror_of(basic_up.addr()).upstream_credentials("up", "pw"),
    );
    let c = client();
    let a = token_up.push_docker_manifest_list("x/app", "1", 1);
    assert_serves(&c, &m1.base_url(), &a, None);
    let ts = token_up.token_server().unwrap();
    assert!(
        ts.requests()
            .iter()
            .any(|r| r.user.as_deref() == Some("up") && r.status == 200)
    );

    basic_up.push_docker_image("x/app", "1", 1);
    assert_eq!(
        get_manifest(&c, &m2.base_url(), "x/app", "1", None)
            .status()
            .as_u16(),
        404
    );
    assert!(
        basic_up
            .requests()
            .iter()
            .any(|r| r == "GET /v2/x/app/manifests/1")
    );
}

#[test]
fn skopeo_reads_the_pushed_bytes() {
    if !skopeo_available() {
        return;
    }
    let reg = Registry::start(RegistryConfig::plain());
    let p = reg.push_oci_index("bench/app", "1", 9);
    let raw = skopeo_inspect_raw(&p.reference, &[]).unwrap();
    assert_eq!(raw, p.bytes);
    let pinned =
        skopeo_inspect_raw(&format!("{}/bench/app@{}", reg.host(), p.digest), &[]).unwrap();
    assert_eq!(pinned, p.bytes);
}

fn proxied() -> (Registry, FaultProxy, Pushed) {
    let reg = Registry::start(RegistryConfig::plain());
    let p = reg.push_oci_image("f/app", "1", 1);
    let proxy = FaultProxy::in_front_of(&reg);
    (reg, proxy, p)
}

#[test]
fn fault_statuses_retry_after_and_rules() {
    let (_reg, proxy, p) = proxied();
    let c = client();
    let base = proxy.base_url();
    // Keep-alive: all of these reuse one client (and its pooled connection).
    proxy.next(Fault::too_many_requests(7), 2);
    for _ in 0..2 {
        let r = get_manifest(&c, &base, "f/app", "1", None);
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(header(&r, "retry-after").as_deref(), Some("7"));
    }
    assert_serves(&c, &base, &p, None);
    for code in [502, 503, 504] {
        proxy.next(Fault::status(code), 1);
        assert_eq!(
            get_manifest(&c, &base, "f/app", "1", None)
                .status()
                .as_u16(),
            code
        );
        assert_serves(&c, &base, &p, None);
    }
    proxy.set(Fault::status(500));
    for _ in 0..3 {
        assert_eq!(
            get_manifest(&c, &base, "f/app", "1", None)
                .status()
                .as_u16(),
            500
        );
    }
    proxy.clear();
    // Rules match on method and path.
    proxy.add(
        Rule::new(Fault::status(503))
            .method("HEAD")
            .path("/manifests/")
            .times(1),
    );
    assert_serves(&c, &base, &p, None);
    let head = c
        .head(format!("{base}/v2/f/app/manifests/1"))
        .send()
        .unwrap();
    assert_eq!(head.status().as_u16(), 503);
    let head = c
        .head(format!("{base}/v2/f/app/manifests/1"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(digest_header(&head).as_deref(), Some(p.digest.as_str()));
    assert_eq!(
        header(&head, "content-length"),
        Some(p.bytes.len().to_string())
    );
    let seen = proxy.requests();
    assert_eq!(seen.len(), proxy.request_count());
    assert!(seen.iter().all(|s| !s.had_authorization));
    assert_eq!(
        seen.iter().filter(|s| s.fault.is_some()).count(),
        2 + 3 + 3 + 1
    );
    // Delay.
    proxy.set(Fault::Delay(Duration::from_millis(300)));
    let t = Instant::now();
    assert_serves(&c, &base, &p, None);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[test]
fn fault_connection_level() {
    let (_reg, proxy, p) = proxied();
    let c = client();
    let base = proxy.base_url();
    for f in [Fault::Reset, Fault::Close] {
        proxy.set(f.clone());
        assert!(
            c.get(format!("{base}/v2/f/app/manifests/1"))
                .send()
                .is_err(),
            "{f:?}"
        );
    }
    for f in [
        Fault::CloseMidBody,
        Fault::TruncateBody,
        Fault::ContentLengthDelta(10),
    ] {
        proxy.set(f.clone());
        let r = get_manifest(&c, &base, "f/app", "1", None);
        assert_eq!(r.status().as_u16(), 200, "{f:?}");
        assert_eq!(
            header(&r, "content-length"),
            Some(
                (p.bytes.len()
                    + if f == Fault::ContentLengthDelta(10) {
                        10
                    } else {
                        0
                    })
                .to_string()
            )
        );
        assert!(r.bytes().is_err(), "{f:?}: body should fail");
    }
    proxy.set(Fault::ContentLengthDelta(-10));
    let r = get_manifest(&c, &base, "f/app", "1", None);
    let body = r.bytes().unwrap();
    assert_eq!(body.as_ref(), &p.bytes[..p.bytes.len() - 10]);
    // Cut off and restore.
    proxy.clear();
    proxy.cut_off();
    let err = c.get(format!("{base}/v2/")).send().unwrap_err();
    eprintln!("cut off: {err:?}");
    proxy.restore();
    assert_serves(&c, &base, &p, None);
}

#[test]
fn fault_header_and_body_tampering() {
    let (_reg, proxy, p) = proxied();
    let c = client();
    let base = proxy.base_url();
    proxy.set(Fault::StripDigest);
    let r = get_manifest(&c, &base, "f/app", "1", None);
    assert!(digest_header(&r).is_none());
    assert_eq!(r.bytes().unwrap().as_ref(), p.bytes.as_slice());
    proxy.set(Fault::WrongDigest);
    let r = get_manifest(&c, &base, "f/app", "1", None);
    let d = digest_header(&r).unwrap();
    assert!(d.starts_with("sha256:") && d.len() == 71 && d != p.digest);
    proxy.set(Fault::ReplaceBody(b"{\"schemaVersion\":2}".to_vec()));
    let r = get_manifest(&c, &base, "f/app", "1", None);
    assert_eq!(digest_header(&r).as_deref(), Some(p.digest.as_str()));
    assert_eq!(r.bytes().unwrap().as_ref(), b"{\"schemaVersion\":2}");
    // Oversized: 5 MiB GET body, big Content-Length on HEAD.
    let big = 5 << 20;
    proxy.set(Fault::Oversized(big));
    let r = get_manifest(&c, &base, "f/app", "1", None);
    assert_eq!(header(&r, "content-type").as_deref(), Some(OCI_MANIFEST));
    let body = r.bytes().unwrap();
    assert_eq!(body.len(), big);
    serde_json::from_slice::<serde_json::Value>(&body).unwrap();
    let r = c
        .head(format!("{base}/v2/f/app/manifests/1"))
        .send()
        .unwrap();
    assert_eq!(header(&r, "content-length"), Some(big.to_string()));
}

#[test]
fn fault_redirect_to_a_target_that_records_authorization() {
    let (reg, proxy, p) = proxied();
    let target = RedirectTarget::in_front_of(&reg);
    proxy.add(Rule::new(Fault::Redirect(target.addr())).path("/manifests/"));
    let c = client();
    let r = get_manifest(&c, &proxy.base_url(), "f/app", "1", Some("Bearer secret"));
    assert_eq!(r.status().as_u16(), 307);
    let location = header(&r, "location").unwrap();
    assert_eq!(
        location,
        format!("{}/v2/f/app/manifests/1", target.base_url())
    );
    // A client following the redirect to another host:port drops Authorization (reqwest does).
    let following = Client::new();
    let r = following
        .get(format!("{}/v2/f/app/manifests/1", proxy.base_url()))
        .header("Accept", OCI_MANIFEST)
        .header("Authorization", "Bearer secret")
        .send()
        .unwrap();
    assert_eq!(r.bytes().unwrap().as_ref(), p.bytes.as_slice());
    // And one that forwards it is seen doing so.
    let _ = get_manifest(&c, &target.base_url(), "f/app", "1", Some("Bearer secret"));
    let seen: Vec<bool> = target
        .requests()
        .iter()
        .map(|s| s.had_authorization)
        .collect();
    assert_eq!(seen, [false, true]);
    // Non-manifest requests are not redirected.
    assert_eq!(
        c.get(format!("{}/v2/", proxy.base_url()))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn http_codec_handles_chunked_and_eof_bodies() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: v\r\n\r\n";
    let r: Response = read_response(&mut &chunked[..], "GET").unwrap();
    assert_eq!(r.body, b"hello world");
    assert_eq!(r.get_header("content-length"), Some("11"));
    assert!(r.get_header("transfer-encoding").is_none() && r.get_header("connection").is_none());
    let eof = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil eof";
    assert_eq!(
        read_response(&mut &eof[..], "GET").unwrap().body,
        b"until eof"
    );
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
    let r = read_response(&mut &head[..], "HEAD").unwrap();
    assert!(r.body.is_empty());
    assert_eq!(r.get_header("content-length"), Some("1234"));
    assert!(
        read_response(
            &mut &b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"[..],
            "GET"
        )
        .is_err()
    );
}

#[test]
fn credential_fixtures() {
    let mut creds = CredEnv::new();
    creds
        .docker_auth("127.0.0.1:5000", "alice", "pw")
        .docker_cred_helper("127.0.0.1:6000", "tfpin-ok")
        .docker_creds_store("tfpin-fail")
        .podman_auth("127.0.0.1:7000", "carol", "pw3")
        .helper(
            "tfpin-ok",
            HelperBehavior::Serve(vec![("127.0.0.1:6000".into(), "bob".into(), "pw2".into())]),
        )
        .helper("tfpin-fail", HelperBehavior::NotFound)
        .helper("tfpin-hang", HelperBehavior::Hang)
        .helper("tfpin-garbage", HelperBehavior::Garbage);
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(creds.docker_config_path()).unwrap()).unwrap();
    assert_eq!(cfg["auths"]["127.0.0.1:5000"]["auth"], "YWxpY2U6cHc=");
    assert_eq!(cfg["credHelpers"]["127.0.0.1:6000"], "tfpin-ok");
    assert_eq!(cfg["credsStore"], "tfpin-fail");
    let podman: serde_json::Value =
        serde_json::from_slice(&std::fs::read(creds.podman_auth_path()).unwrap()).unwrap();
    assert_eq!(podman["auths"]["127.0.0.1:7000"]["auth"], "Y2Fyb2w6cHcz");
    let envs = creds.envs();
    let names: Vec<&str> = envs.iter().map(|(k, _)| k.as_str()).collect();
    for k in ["HOME", "DOCKER_CONFIG", "PATH", "REGISTRY_AUTH_FILE"] {
        assert!(names.contains(&k), "{k}");
    }

    let run = |helper: &str, input: &str| {
        let mut cmd = std::process::Command::new(format!("docker-credential-{helper}"));
        creds.apply(&mut cmd);
        let mut child = cmd
            .arg("get")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child
    };
    let out = run("tfpin-ok", "https://127.0.0.1:6000\n")
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["Username"].as_str(), v["Secret"].as_str()),
        (Some("bob"), Some("pw2"))
    );
    let out = run("tfpin-ok", "127.0.0.1:6000")
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    let out = run("tfpin-ok", "127.0.0.1:9999")
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        creds.helper_calls("tfpin-ok"),
        ["https://127.0.0.1:6000", "127.0.0.1:6000", "127.0.0.1:9999"]
    );
    let out = run("tfpin-fail", "127.0.0.1:6000")
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("credentials not found in native keychain")
    );
    let out = run("tfpin-garbage", "x").wait_with_output().unwrap();
    assert!(
        out.status.success() && serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err()
    );
    let mut hang = run("tfpin-hang", "x");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        hang.try_wait().unwrap().is_none(),
        "hanging helper still running"
    );
    hang.kill().unwrap();
    hang.wait().unwrap();
}

#[test]
fn handles_clean_up_on_drop() {
    let reg = Registry::start(RegistryConfig::token(TokenServerConfig::default()));
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c).contains(&reg.dir().to_string_lossy().to_string())
            })
        })
        .expect("registry process");
    let proxy = FaultProxy::in_front_of(&reg);
    proxy.set(Fault::Delay(Duration::from_secs(30)));
    // A request stuck in a 30 s delay must not hold up the drop.
    let addr = proxy.addr();
    let stuck = std::thread::spawn(move || {
        client()
            .get(format!("http://{addr}/v2/"))
            .send()
            .map(|r| r.status())
    });
    std::thread::sleep(Duration::from_millis(100));
    let (proxy_addr, token_addr, dir) = (
        proxy.addr(),
        reg.token_server().unwrap().addr(),
        reg.dir().to_path_buf(),
    );
    let t = Instant::now();
    drop(proxy);
    drop(reg);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        t.elapsed()
    );
    assert!(stuck.join().unwrap().is_err());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "registry process reaped"
    );
    assert!(TcpStream::connect(proxy_addr).is_err());
    assert!(TcpStream::connect(token_addr).is_err());
    assert!(!dir.exists());
}
