//! Shared integration-test harness: real registries, no mocks.
//!
//! Include it from a test file with `mod support;`. Everything binds 127.0.0.1 only, picks
//! its own port and temp dir, and is stopped when its handle is dropped, so tests can run in
//! parallel.
//!
//! * [`Registry`] — Debian's `docker-registry` (distribution 2.8.2) as a child process:
//!   plain, htpasswd, bearer token ([`TokenServer`]), TLS with its own CA, pull-through mirror.
//! * [`push`] — Distribution API pushes: blobs, manifests, OCI/Docker images and indexes.
//! * [`FaultProxy`] — fault-injecting HTTP/1.1 proxy (429/5xx, resets, delays, digest and
//!   length tampering, oversized bodies, redirects, cut-off).
//! * [`CredEnv`] — docker/podman credential files and credential-helper scripts.
//!
//! ```ignore
//! mod support;
//! use support::*;
//!
//! let reg = Registry::start(RegistryConfig::htpasswd("alice", "s3cret"));
//! let img = reg.push_oci_index("app", "1", 7);
//! let mut creds = CredEnv::new();
//! creds.docker_auth(reg.host(), "alice", "s3cret");
//! let out = tf_pin().envs(creds.envs()).arg(&img.reference).output().unwrap();
//! ```
#![allow(dead_code, unused_imports)]

pub mod certs;
pub mod cli;
pub mod creds;
pub mod fault;
pub mod http;
pub mod push;
pub mod registry;
pub mod token;

pub use creds::{CredEnv, HelperBehavior};
pub use fault::{Fault, FaultProxy, RedirectTarget, Rule, Seen};
pub use push::{Pushed, PushedChild};
pub use registry::{Auth, ProxyUpstream, Registry, RegistryConfig};
pub use token::{TokenRequest, TokenServer, TokenServerConfig, TokenShape};

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use sha2::Digest as _;

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A currently free "127.0.0.1:PORT" (bind :0, read the port, release it).
pub fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().to_string()
}

/// A `Command` for the `tf-pin` binary under test, with proxy variables and the host's
/// registry credentials removed (add a [`CredEnv`] for credentials).
pub fn tf_pin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tf-pin"));
    for k in CredEnv::removed_vars() {
        cmd.env_remove(k);
    }
    cmd
}

pub const SKOPEO_BIN: &str = "/usr/bin/skopeo";

/// Whether skopeo is installed; prints a note when it is not (callers then skip).
pub fn skopeo_available() -> bool {
    let ok = Path::new(SKOPEO_BIN).exists();
    if !ok {
        eprintln!("note: {SKOPEO_BIN} not found; skipping the skopeo check");
    }
    ok
}

/// `skopeo inspect --raw --tls-verify=false docker://IMAGE`, with an empty HOME so no
/// host credentials or config are used. Returns the raw manifest bytes.
pub fn skopeo_inspect_raw(image: &str, extra_args: &[&str]) -> Result<Vec<u8>, String> {
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = Command::new(SKOPEO_BIN)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .args(extra_args)
        .arg(format!("docker://{image}"))
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Locks, ignoring poisoning (a panicking test must not take the harness down with it).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
