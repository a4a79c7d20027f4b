//! `tf-pin mirror-check`: is a registry mirror handing out a stale digest for a tag?
//!
//! References come from the command line or, with `--from PATH`, from the image slots the
//! rewrite scanner finds in `.tf`/`.tfvars` files ([`targets_from_files`]); a reference
//! written identically in several places is checked once and reported with every place.
//!
//! Kubernetes nodes pull through the mirrors that containerd's
//! `certs.d/<registry>/hosts.toml` names. A pull-through cache answers a tag with whatever
//! it cached, and CNCF distribution's proxy does so silently whenever its upstream is
//! unreachable or refuses it. This module asks, for each reference, the upstream registry
//! and every mirror containerd would ask (the way containerd asks a mirror:
//! `/v2/<name>/manifests/<tag>?ns=<upstream host>`, see [`crate::registry::mirror`]) and
//! compares the digests.
//!
//! # Which mirrors
//!
//! In this order, duplicates (same URL endpoint) dropped:
//! 1. every `--mirror URL`, for every reference;
//! 2. the `[host."URL"]` entries (then `server`, when it is another host) of every
//!    `--hosts-toml FILE`, for every reference (as containerd's `_default` would);
//! 3. the containerd configuration directory (`--containerd-dir`, default
//!    `/etc/containerd/certs.d`), looked up per reference the way containerd does it (see
//!    [`hosts`]). The default directory is only read when neither `--mirror` nor
//!    `--hosts-toml` is given, and then only if it exists.
//!
//! A host that is the upstream itself (containerd's `isProxy` is false, e.g.
//! `registry-1.docker.io` in `docker.io/hosts.toml`) is not a mirror and is not checked. A
//! host whose `capabilities` lack `resolve` is skipped with a note: containerd never asks
//! it for a tag, only for content by digest, so it cannot serve a stale tag.
//!
//! # Statuses (one per reference and mirror)
//!
//! * `fresh`: the mirror answers the upstream's digest.
//! * `stale`: the mirror answers another digest (or still serves a tag the upstream no
//!   longer has). Both digests are reported, and whether the digest pinned in the
//!   reference (if any) is the upstream's.
//! * `missing`: the mirror has no such tag (HTTP 404); containerd falls through to the next
//!   host, so nothing stale is served.
//! * `unverified`: the mirror answered but the upstream could not be asked (unreachable,
//!   refused, …): tf-pin cannot tell whether the mirror is stale.
//! * `mirror-error`: the mirror could not be asked (unreachable, refused, not a registry).
//!
//! # Exit codes
//!
//! `2` for input errors, reported before any request (bad references, unreadable or
//! invalid hosts.toml, no mirror configured for any reference); otherwise `1` when any
//! check is `stale` (a definite finding wins over errors elsewhere); else `3` when any
//! check is `unverified` or `mirror-error` (tf-pin cannot vouch for that mirror, so it does
//! not claim success); else `0` (every check `fresh` or `missing`).
//!
//! # TLS: `ca` and `skip_verify`
//!
//! As in containerd, they apply to one host only: a mirror host with `ca` files or
//! `skip_verify = true` gets its own HTTP client (the shared settings plus its CA
//! certificates, or with certificate verification off), used for every request to that
//! `host:port` ([`crate::registry::transport::Transport::set_host_tls`]). A token server on
//! another host still uses the shared client (`--ca-file`). When several entries name the
//! same host, the first entry's TLS settings win.

pub mod hosts;

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use futures_util::stream::{self, StreamExt};
use serde_json::json;

use crate::exit;
use crate::reference::{Digest, Reference};
use crate::registry::mirror::MirrorEndpoint;
use crate::registry::transport::HostTls;
use crate::registry::{Failure, RegistryError};
use crate::resolver::{Resolution, Resolver};

pub use hosts::{ContainerdDir, DEFAULT_CONTAINERD_DIR, HostEntry, HostsFile};

/// Everything that stops a mirror check before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MirrorError {
    /// A configuration file could not be read.
    #[error("cannot read {}: {detail}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        detail: String,
    },
    /// The containerd configuration directory could not be read.
    #[error(
        "cannot read the containerd host configuration directory {}: {detail}; pass the directory that containerd's registry `config_path` names with --containerd-dir, or name mirrors with --mirror URL",
        dir.display()
    )]
    ContainerdDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        detail: String,
    },
    /// hosts.toml is not valid TOML.
    #[error(
        "{}{}: {detail}; containerd cannot parse this file either, so it ignores its mirrors and pulls from the registry itself: fix the TOML syntax",
        path.display(),
        line.map(|l| format!(":{l}")).unwrap_or_default()
    )]
    HostsSyntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// The parser's message.
        detail: String,
    },
    /// A hosts.toml setting has the wrong type or value.
    #[error("{}: `{key}` {detail}", path.display())]
    HostsField {
        /// The file.
        path: PathBuf,
        /// The setting, e.g. `host."https://m".capabilities`.
        key: String,
        /// What is wrong and what is expected.
        detail: String,
    },
    /// A hosts.toml host or server URL is unusable.
    #[error("{}: `{key}` URL {url:?} {detail}", path.display())]
    HostsUrl {
        /// The file.
        path: PathBuf,
        /// `server` or `host."…"`.
        key: String,
        /// The URL as written.
        url: String,
        /// What is wrong and what is expected.
        detail: String,
    },
    /// A `--mirror` URL is unusable.
    #[error("--mirror {url:?} {detail}")]
    MirrorFlag {
        /// The URL as given.
        url: String,
        /// What is wrong and what is expected.
        detail: String,
    },
    /// A `ca` file is unreadable or holds no certificate.
    #[error(
        "cannot use the CA file {} that {} names: {detail}; point `ca` at a PEM file holding the mirror's CA certificate",
        ca.display(),
        hosts_file.display()
    )]
    CaFile {
        /// The CA file.
        ca: PathBuf,
        /// The hosts.toml naming it.
        hosts_file: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// No reference has a mirror to check.
    #[error("no mirror to check: {detail}")]
    NoMirrors {
        /// Where tf-pin looked, and the fix.
        detail: String,
    },
    /// A `--from` path could not be read or scanned (the rewrite scanner's message, which
    /// names the file and line).
    #[error("{detail}")]
    Terraform {
        /// The message.
        detail: String,
    },
    /// The reference cannot be written against the mirror's host (name too long).
    #[error("{reference}: cannot be asked at mirror {mirror}: {detail}")]
    MirrorReference {
        /// The reference.
        reference: String,
        /// The mirror URL.
        mirror: String,
        /// The reference grammar's complaint.
        detail: String,
    },
}

impl MirrorError {
    /// The process exit code: every variant is an input error.
    pub fn exit_code(&self) -> i32 {
        exit::INPUT
    }
}

/// Where mirrors come from (the command-line flags).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--mirror URL`, for every reference.
    pub mirrors: Vec<String>,
    /// `--hosts-toml FILE`, for every reference.
    pub hosts_toml: Vec<PathBuf>,
    /// `--containerd-dir DIR`, when given.
    pub containerd_dir: Option<PathBuf>,
}

/// Where a mirror entry was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `--mirror`.
    Flag,
    /// A hosts.toml file.
    File(PathBuf),
}

impl Origin {
    fn text(&self) -> String {
        match self {
            Origin::Flag => "--mirror".to_owned(),
            Origin::File(path) => path.display().to_string(),
        }
    }
}

/// The mirror configuration that was read.
#[derive(Debug)]
pub struct MirrorConfig {
    flag_mirrors: Vec<HostEntry>,
    files: Vec<HostsFile>,
    containerd: Option<ContainerdDir>,
}

impl MirrorConfig {
    /// Reads the flags' mirrors and files, and the containerd directory (see the module docs).
    pub fn load(sources: &Sources) -> Result<MirrorConfig, MirrorError> {
        let flag_mirrors = sources
            .mirrors
            .iter()
            .map(|url| hosts::parse_mirror_flag(url))
            .collect::<Result<Vec<_>, _>>()?;
        let mut files = Vec::new();
        for path in &sources.hosts_toml {
            let text = std::fs::read_to_string(path).map_err(|e| MirrorError::ReadFile {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            files.push(hosts::parse_hosts_toml(&text, path)?);
        }
        let containerd = match &sources.containerd_dir {
            Some(dir) => Some(ContainerdDir::read(dir)?),
            None if flag_mirrors.is_empty() && files.is_empty() => {
                let dir = Path::new(DEFAULT_CONTAINERD_DIR);
                if dir.exists() {
                    Some(ContainerdDir::read(dir)?)
                } else {
                    None
                }
            }
            None => None,
        };
        Ok(MirrorConfig {
            flag_mirrors,
            files,
            containerd,
        })
    }

    /// The mirrors containerd would ask for `registry`, in order, with their origin and
    /// the hosts.toml warnings that apply. Hosts that are the registry itself are left out.
    fn entries_for(
        &self,
        registry: &str,
        notes: &mut Vec<String>,
    ) -> Result<Vec<(HostEntry, Origin)>, MirrorError> {
        let mut entries: Vec<(HostEntry, Origin)> = self
            .flag_mirrors
            .iter()
            .map(|e| (e.clone(), Origin::Flag))
            .collect();
        let file_entries = |file: &HostsFile, notes: &mut Vec<String>| {
            notes.extend(file.warnings.iter().cloned());
            file.hosts
                .iter()
                .chain(&file.server)
                .map(|e| (e.clone(), Origin::File(file.path.clone())))
                .collect::<Vec<_>>()
        };
        for file in &self.files {
            entries.extend(file_entries(file, notes));
        }
        if let Some(dir) = &self.containerd {
            if let hosts::Lookup::Found(namespace) = dir.lookup(registry) {
                match &namespace.hosts {
                    Some(Ok(file)) => entries.extend(file_entries(file, notes)),
                    Some(Err(error)) => return Err(error.clone()),
                    None => {}
                }
            }
        }
        entries.retain(|(entry, _)| entry.endpoint.is_mirror_of(registry));
        Ok(entries)
    }

    /// Where tf-pin looked for `registry`'s mirrors, for the "no mirror" message.
    fn looked_in(&self, registry: &str) -> String {
        let mut places = Vec::new();
        if !self.flag_mirrors.is_empty() {
            places.push("--mirror".to_owned());
        }
        places.extend(self.files.iter().map(|f| f.path.display().to_string()));
        if let Some(dir) = &self.containerd {
            places.push(dir.candidates_text(registry));
        }
        if places.is_empty() {
            format!(
                "{DEFAULT_CONTAINERD_DIR} (which does not exist); pass --mirror URL, --hosts-toml FILE or --containerd-dir DIR"
            )
        } else {
            places.join(", ")
        }
    }

    /// The hosts this configuration lists as mirrors (for [`unmapped_mirror_warning`]).
    pub fn known_mirrors(&self) -> KnownMirrors {
        let mut known = KnownMirrors::default();
        for file in &self.files {
            known.add_file(file, None);
        }
        if let Some(dir) = &self.containerd {
            known.add_dir(dir);
        }
        known
    }
}

/// Hosts that a containerd configuration lists as `[host."URL"]` mirrors.
#[derive(Debug, Clone, Default)]
pub struct KnownMirrors {
    /// (mirror host, upstream registry or `None` for every registry, hosts.toml)
    entries: Vec<(String, Option<String>, PathBuf)>,
}

impl KnownMirrors {
    /// Reads every hosts.toml under a containerd configuration directory; a directory that
    /// does not exist has no mirrors, and files that do not parse are skipped.
    pub fn from_containerd_dir(dir: &Path) -> Result<KnownMirrors, MirrorError> {
        let mut known = KnownMirrors::default();
        match ContainerdDir::read(dir) {
            Ok(read) => known.add_dir(&read),
            Err(_) if !dir.exists() => {}
            Err(error) => return Err(error),
        }
        Ok(known)
    }

    fn add_dir(&mut self, dir: &ContainerdDir) {
        for namespace in &dir.namespaces {
            if let Some(Ok(file)) = &namespace.hosts {
                self.add_file(file, hosts::namespace_registry(&namespace.name));
            }
        }
    }

    fn add_file(&mut self, file: &HostsFile, upstream: Option<String>) {
        for entry in &file.hosts {
            let is_mirror = upstream
                .as_deref()
                .is_none_or(|registry| entry.endpoint.is_mirror_of(registry));
            if is_mirror {
                self.entries.push((
                    entry.endpoint.host.clone(),
                    upstream.clone(),
                    file.path.clone(),
                ));
            }
        }
    }

    /// Whether no mirror is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A warning when `reference` names a host that the containerd configuration lists as a
/// mirror and no `--registry-map` entry maps that host: resolving a tag at a mirror can pin
/// the mirror's stale digest. The text names the file and the `--registry-map` to pass.
pub fn unmapped_mirror_warning(
    reference: &Reference,
    known: &KnownMirrors,
    registry_map: &[(String, String)],
) -> Option<String> {
    let host = reference.registry();
    if registry_map
        .iter()
        .any(|(mirror, _)| mirror.eq_ignore_ascii_case(host))
    {
        return None;
    }
    let (_, upstream, file) = known
        .entries
        .iter()
        .find(|(mirror, _, _)| mirror.eq_ignore_ascii_case(host))?;
    let (of, target) = match upstream {
        Some(upstream) => (format!("a mirror of {upstream}"), upstream.clone()),
        None => (
            "a mirror for every registry (_default)".to_owned(),
            "UPSTREAM".to_owned(),
        ),
    };
    Some(format!(
        "{reference} names {host}, which {} configures as {of}: a mirror can answer a tag with a stale digest; pass --registry-map {host}={target} to resolve it at the upstream",
        file.display()
    ))
}

/// Where a reference was found (`--from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as displayed.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

/// One reference to check, with where it was written.
#[derive(Debug, Clone)]
pub struct Target {
    /// The parsed reference (its digest, if any, is the pinned one).
    pub reference: Reference,
    /// Where it was found; empty for command-line references.
    pub locations: Vec<Location>,
}

/// The image references in the `.tf`/`.tfvars` files under `paths`, found by the rewrite
/// scanner (the slots `tf-pin rewrite` would pin; skipped slots are not checked). All
/// unreadable or unparseable files are reported.
pub fn targets_from_files(paths: &[PathBuf]) -> Result<Vec<Target>, Vec<MirrorError>> {
    let to_error = |error: crate::rewrite::Error| MirrorError::Terraform {
        detail: error.to_string(),
    };
    let discovery = crate::rewrite::discover(paths)
        .map_err(|errors| errors.into_iter().map(to_error).collect::<Vec<_>>())?;
    let mut errors: Vec<MirrorError> = discovery.errors.into_iter().map(to_error).collect();
    let options = crate::rewrite::ScanOptions::default();
    let mut targets = Vec::new();
    for entry in &discovery.files {
        let bytes = match std::fs::read(&entry.real) {
            Ok(bytes) => bytes,
            Err(source) => {
                errors.push(to_error(crate::rewrite::Error::Read {
                    path: entry.display.clone(),
                    source,
                }));
                continue;
            }
        };
        match crate::rewrite::scan_source(&bytes, entry.kind, &options) {
            Ok(scan) => targets.extend(scan.targets.into_iter().map(|target| Target {
                reference: target.reference,
                locations: vec![Location {
                    file: entry.display.clone(),
                    line: target.line,
                }],
            })),
            Err(source) => errors.push(to_error(crate::rewrite::Error::Source {
                path: entry.display.clone(),
                source,
            })),
        }
    }
    if errors.is_empty() {
        Ok(targets)
    } else {
        Err(errors)
    }
}

/// A mirror to ask, with the settings that reach it.
#[derive(Debug, Clone)]
struct Mirror {
    url: String,
    origin: Origin,
    endpoint: MirrorEndpoint,
    tls: Option<HostTls>,
}

/// One reference with the mirrors to ask.
#[derive(Debug, Clone)]
struct Planned {
    target: Target,
    upstream: Reference,
    /// (index into `Plan::mirrors`, the reference written against that mirror)
    mirrors: Vec<(usize, Reference)>,
}

/// The checks to run, decided before any request.
#[derive(Debug)]
pub struct Plan {
    items: Vec<Planned>,
    mirrors: Vec<Mirror>,
    /// Notes for the user: ignored settings, skipped hosts, references without mirrors.
    pub warnings: Vec<String>,
}

/// Decides which mirrors to ask for each target (merging targets written identically),
/// reading `ca` files. `registry_map` maps a reference naming a mirror to its upstream
/// (callers warn about unmapped ones with [`unmapped_mirror_warning`]).
pub fn plan(
    targets: Vec<Target>,
    config: &MirrorConfig,
    registry_map: &[(String, String)],
) -> Result<Plan, MirrorError> {
    let mut warnings: Vec<String> = Vec::new();
    let mut merged: Vec<Target> = Vec::new();
    for target in targets {
        match merged
            .iter_mut()
            .find(|t| t.reference.to_string() == target.reference.to_string())
        {
            Some(existing) => existing.locations.extend(target.locations),
            None => merged.push(target),
        }
    }
    let mut mirrors: Vec<Mirror> = Vec::new();
    let mut items = Vec::new();
    let mut without: Vec<String> = Vec::new();
    for target in merged {
        let upstream = upstream_of(&target.reference, registry_map);
        let registry = upstream.registry().to_owned();
        let mut notes = Vec::new();
        let entries = config.entries_for(&registry, &mut notes)?;
        for note in notes {
            push_once(&mut warnings, note);
        }
        let mut planned_mirrors = Vec::new();
        for (entry, origin) in entries {
            if !entry.capabilities.resolve {
                push_once(
                    &mut warnings,
                    format!(
                        "skipping mirror {} ({}): its capabilities lack \"resolve\", so containerd never asks it for a tag, only for content by digest",
                        entry.url,
                        origin.text()
                    ),
                );
                continue;
            }
            let index = match mirrors.iter().position(|m| m.endpoint == entry.endpoint) {
                Some(index) => index,
                None => {
                    let tls = host_tls(&entry, &origin, &mirrors)?;
                    mirrors.push(Mirror {
                        url: entry.url.clone(),
                        origin,
                        endpoint: entry.endpoint.clone(),
                        tls,
                    });
                    mirrors.len() - 1
                }
            };
            if planned_mirrors.iter().any(|(i, _)| *i == index) {
                continue;
            }
            let at_mirror = entry.endpoint.reference_at(&upstream).map_err(|e| {
                MirrorError::MirrorReference {
                    reference: target.reference.to_string(),
                    mirror: entry.url.clone(),
                    detail: e.to_string(),
                }
            })?;
            planned_mirrors.push((index, at_mirror));
        }
        if planned_mirrors.is_empty() {
            without.push(format!(
                "{} (looked in {})",
                target.reference,
                config.looked_in(&registry)
            ));
        }
        items.push(Planned {
            target,
            upstream,
            mirrors: planned_mirrors,
        });
    }
    if items.iter().all(|item| item.mirrors.is_empty()) {
        return Err(MirrorError::NoMirrors {
            detail: if without.is_empty() {
                "no reference given".to_owned()
            } else {
                format!(
                    "no mirror is configured for {}; pass --mirror URL, --hosts-toml FILE or --containerd-dir DIR",
                    without.join("; ")
                )
            },
        });
    }
    for reference in without {
        warnings.push(format!("no mirror is configured for {reference}"));
    }
    Ok(Plan {
        items,
        mirrors,
        warnings,
    })
}

fn push_once(list: &mut Vec<String>, text: String) {
    if !list.contains(&text) {
        list.push(text);
    }
}

/// The reference to ask the upstream about: the same rule as `--registry-map` in the resolver.
fn upstream_of(reference: &Reference, registry_map: &[(String, String)]) -> Reference {
    registry_map
        .iter()
        .find(|(mirror, _)| mirror.eq_ignore_ascii_case(reference.registry()))
        .and_then(|(_, upstream)| reference.with_registry(upstream).ok())
        .unwrap_or_else(|| reference.clone())
}

/// The dedicated TLS settings of a mirror host, unless an earlier mirror on the same host
/// already set them (the first entry wins) or there are none.
fn host_tls(
    entry: &HostEntry,
    origin: &Origin,
    mirrors: &[Mirror],
) -> Result<Option<HostTls>, MirrorError> {
    if mirrors
        .iter()
        .any(|m| m.endpoint.host == entry.endpoint.host && m.tls.is_some())
    {
        return Ok(None);
    }
    let skip_verify = entry.skip_verify == Some(true);
    if entry.ca.is_empty() && !skip_verify {
        return Ok(None);
    }
    let hosts_file = match origin {
        Origin::File(path) => path.clone(),
        Origin::Flag => PathBuf::from("--mirror"),
    };
    let mut extra_roots = Vec::new();
    for ca in &entry.ca {
        let ca_error = |detail: String| MirrorError::CaFile {
            ca: ca.clone(),
            hosts_file: hosts_file.clone(),
            detail,
        };
        let pem = std::fs::read(ca).map_err(|e| ca_error(e.to_string()))?;
        let certificates =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
        if certificates.is_empty() {
            return Err(ca_error("it contains no PEM certificate".to_owned()));
        }
        extra_roots.extend(certificates);
    }
    Ok(Some(HostTls {
        extra_roots,
        skip_verify,
    }))
}

/// The outcome of one reference at one mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Same digest as the upstream.
    Fresh,
    /// Another digest than the upstream's.
    Stale,
    /// The mirror has no such tag.
    Missing,
    /// The upstream could not be asked.
    Unverified,
    /// The mirror could not be asked.
    MirrorError,
}

impl Status {
    /// The word printed for it.
    pub fn word(self) -> &'static str {
        match self {
            Status::Fresh => "fresh",
            Status::Stale => "stale",
            Status::Missing => "missing",
            Status::Unverified => "unverified",
            Status::MirrorError => "mirror-error",
        }
    }

    const ALL: [Status; 5] = [
        Status::Stale,
        Status::Fresh,
        Status::Missing,
        Status::Unverified,
        Status::MirrorError,
    ];
}

/// One reference checked at one mirror.
#[derive(Debug, Clone)]
pub struct Check {
    /// The outcome.
    pub status: Status,
    /// The reference as written.
    pub reference: Reference,
    /// Where it was written (`--from`).
    pub locations: Vec<Location>,
    /// The reference asked at the upstream (differs under `--registry-map`).
    pub upstream: Reference,
    /// The mirror URL as configured.
    pub mirror: String,
    /// `--mirror` or the hosts.toml that names the mirror.
    pub mirror_origin: String,
    /// The manifest URL asked at the mirror.
    pub request: String,
    /// What the upstream answered.
    pub upstream_digest: Option<Digest>,
    /// What the mirror answered.
    pub mirror_digest: Option<Digest>,
    /// `os/arch[/variant]` when `--platform` chose one manifest of an index.
    pub platform: Option<String>,
    /// The failure behind `missing`, `unverified` and `mirror-error`, or the note on a
    /// `stale` tag that the upstream no longer has.
    pub detail: Option<String>,
}

impl Check {
    /// Whether the reference's own digest is the upstream's (`None` when unpinned or the
    /// upstream is unknown).
    pub fn pinned_matches_upstream(&self) -> Option<bool> {
        let pinned = self.reference.digest()?;
        Some(Some(pinned) == self.upstream_digest.as_ref())
    }

    fn pinned_note(&self) -> Option<String> {
        let pinned = self.reference.digest()?;
        Some(if Some(pinned) == self.upstream_digest.as_ref() {
            "pinned digest is the upstream's".to_owned()
        } else if Some(pinned) == self.mirror_digest.as_ref() {
            "pinned digest is the mirror's stale one".to_owned()
        } else {
            format!("pinned digest {pinned} is neither")
        })
    }

    fn detail_text(&self) -> String {
        let digest = |d: &Option<Digest>| d.as_ref().map_or("-".to_owned(), Digest::to_string);
        let mut text = match self.status {
            Status::Fresh => digest(&self.mirror_digest),
            Status::Stale => match &self.upstream_digest {
                Some(_) => format!(
                    "mirror {}  upstream {}",
                    digest(&self.mirror_digest),
                    digest(&self.upstream_digest)
                ),
                None => format!(
                    "mirror {}  upstream has no such tag",
                    digest(&self.mirror_digest)
                ),
            },
            Status::Missing => format!(
                "the mirror has no tag {:?}{}",
                self.upstream.tag_or_default(),
                self.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
            Status::Unverified => format!(
                "mirror {}  upstream unreachable: {}",
                digest(&self.mirror_digest),
                self.detail.as_deref().unwrap_or("-")
            ),
            Status::MirrorError => self.detail.clone().unwrap_or_default(),
        };
        if matches!(self.status, Status::Stale | Status::Fresh) {
            if let Some(note) = self.pinned_note() {
                text.push_str("  (");
                text.push_str(&note);
                text.push(')');
            }
        }
        if !self.locations.is_empty() {
            let places: Vec<String> = self
                .locations
                .iter()
                .map(|l| format!("{}:{}", l.file.display(), l.line))
                .collect();
            text.push_str("  [");
            text.push_str(&places.join(", "));
            text.push(']');
        }
        text
    }

    fn to_json(&self) -> serde_json::Value {
        let digest = |d: &Option<Digest>| d.as_ref().map(|d| d.to_string());
        json!({
            "status": self.status.word(),
            "reference": self.reference.to_string(),
            "locations": self.locations.iter().map(|l| json!({
                "file": l.file.display().to_string(),
                "line": l.line,
            })).collect::<Vec<_>>(),
            "upstream": self.upstream.unpinned(),
            "mirror": self.mirror,
            "mirror_origin": self.mirror_origin,
            "request": self.request,
            "upstream_digest": digest(&self.upstream_digest),
            "mirror_digest": digest(&self.mirror_digest),
            "pinned_digest": self.reference.digest().map(|d| d.to_string()),
            "pinned_matches_upstream": self.pinned_matches_upstream(),
            "platform": self.platform,
            "detail": self.detail,
        })
    }
}

/// Every check of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// One per reference and mirror, in input order, mirrors in configuration order.
    pub checks: Vec<Check>,
    /// Notes for the user (from the plan).
    pub warnings: Vec<String>,
}

impl Report {
    /// The exit code (see the module docs).
    pub fn exit_code(&self) -> i32 {
        let any = |status: Status| self.checks.iter().any(|c| c.status == status);
        if any(Status::Stale) {
            exit::CHECK_FAILED
        } else if any(Status::Unverified) || any(Status::MirrorError) {
            exit::REGISTRY
        } else {
            exit::OK
        }
    }

    /// How many checks had each status, stale first.
    pub fn counts(&self) -> Vec<(Status, usize)> {
        Status::ALL
            .iter()
            .map(|&s| (s, self.checks.iter().filter(|c| c.status == s).count()))
            .collect()
    }

    /// One aligned line per check, status word first; with `problems_only`, only the
    /// `stale`, `unverified` and `mirror-error` lines.
    pub fn write_text(&self, out: &mut dyn Write, problems_only: bool) -> io::Result<()> {
        let shown: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| !problems_only || !matches!(c.status, Status::Fresh | Status::Missing))
            .collect();
        let references: Vec<String> = shown.iter().map(|c| c.reference.unpinned()).collect();
        let width = |texts: &mut dyn Iterator<Item = usize>| texts.max().unwrap_or(0);
        let status_width = width(&mut shown.iter().map(|c| c.status.word().len()));
        let reference_width = width(&mut references.iter().map(String::len));
        let mirror_width = width(&mut shown.iter().map(|c| c.mirror.len()));
        for (check, reference) in shown.iter().zip(&references) {
            let line = format!(
                "{:<status_width$}  {reference:<reference_width$}  {:<mirror_width$}  {}",
                check.status.word(),
                check.mirror,
                check.detail_text(),
            );
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// The summary line, e.g. `1 stale, 2 fresh, 0 missing, 0 unverified, 0 mirror-error`.
    pub fn summary(&self) -> String {
        self.counts()
            .iter()
            .map(|(status, n)| format!("{n} {}", status.word()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The JSON document of `--format json`.
    pub fn to_json(&self) -> serde_json::Value {
        let counts: serde_json::Map<String, serde_json::Value> = self
            .counts()
            .iter()
            .map(|(status, n)| (status.word().to_owned(), json!(n)))
            .collect();
        json!({
            "checks": self.checks.iter().map(Check::to_json).collect::<Vec<_>>(),
            "counts": counts,
            "warnings": self.warnings,
            "exit_code": self.exit_code(),
        })
    }
}

/// Runs the plan: each distinct upstream tag once (through the resolver, so
/// `--registry-map`, `--platform` and de-duplication apply as for `resolve`), then each
/// distinct (mirror, repository, tag) once, with at most `--jobs` requests in flight.
pub fn check(resolver: &Resolver, plan: &Plan) -> Report {
    let originals: Vec<Reference> = plan
        .items
        .iter()
        .map(|item| item.target.reference.clone())
        .collect();
    let upstream_results = resolver.resolve_many(&originals);
    let platform = resolver.settings().platform.clone();
    let jobs = resolver.settings().jobs.max(1);
    let client = resolver.client();

    // Distinct (mirror, upstream name, tag) pairs, asked once each.
    let mut slot_of: HashMap<(usize, String, String), usize> = HashMap::new();
    let mut queries: Vec<(usize, &Reference, &Reference)> = Vec::new();
    let mut slots: Vec<Vec<usize>> = Vec::new();
    for item in &plan.items {
        let mut item_slots = Vec::new();
        for (index, at_mirror) in &item.mirrors {
            let key = (
                *index,
                item.upstream.canonical_name(),
                item.upstream.tag_or_default().to_owned(),
            );
            let slot = *slot_of.entry(key).or_insert_with(|| {
                queries.push((*index, &item.upstream, at_mirror));
                queries.len() - 1
            });
            item_slots.push(slot);
        }
        slots.push(item_slots);
    }
    let mirror_results: Vec<Result<Resolution, Failure>> = resolver.block_on(async {
        let prepared: Vec<Result<(), Failure>> = plan
            .mirrors
            .iter()
            .map(|mirror| {
                client
                    .prepare_mirror(&mirror.endpoint, mirror.tls.as_ref())
                    .map_err(|e| Failure::Network {
                        url: mirror.url.clone(),
                        detail: format!(
                            "cannot set up its TLS settings: {}",
                            crate::registry::transport::error_chain(&e)
                        ),
                    })
            })
            .collect();
        let mut done: Vec<(usize, Result<Resolution, Failure>)> =
            stream::iter(queries.iter().enumerate())
                .map(|(slot, (index, upstream, at_mirror))| {
                    let prepared = &prepared[*index];
                    let endpoint = &plan.mirrors[*index].endpoint;
                    let platform = platform.as_ref();
                    async move {
                        let result = match prepared {
                            Err(failure) => Err(failure.clone()),
                            Ok(()) => {
                                client
                                    .resolve_at_mirror(endpoint, upstream, at_mirror, platform)
                                    .await
                            }
                        };
                        (slot, result)
                    }
                })
                .buffer_unordered(jobs)
                .collect()
                .await;
        done.sort_by_key(|(slot, _)| *slot);
        done.into_iter().map(|(_, result)| result).collect()
    });

    let mut checks = Vec::new();
    for ((item, item_slots), upstream_result) in
        plan.items.iter().zip(&slots).zip(&upstream_results)
    {
        for ((index, _), slot) in item.mirrors.iter().zip(item_slots) {
            let mirror = &plan.mirrors[*index];
            checks.push(classify(
                item,
                mirror,
                upstream_result,
                &mirror_results[*slot],
            ));
        }
    }
    Report {
        checks,
        warnings: plan.warnings.clone(),
    }
}

fn classify(
    item: &Planned,
    mirror: &Mirror,
    upstream: &Result<Resolution, RegistryError>,
    at_mirror: &Result<Resolution, Failure>,
) -> Check {
    let upstream_missing = matches!(
        upstream,
        Err(RegistryError {
            failure: Failure::NotFound { .. },
            ..
        })
    );
    let (status, upstream_digest, mirror_digest, detail) = match (upstream, at_mirror) {
        (_, Err(Failure::NotFound { .. })) => (
            Status::Missing,
            upstream.as_ref().ok().map(|r| r.digest.clone()),
            None,
            Some(if upstream_missing {
                "HTTP 404; the upstream has no such tag either".to_owned()
            } else {
                "HTTP 404; containerd falls through to the next host".to_owned()
            }),
        ),
        (_, Err(failure)) => (
            Status::MirrorError,
            upstream.as_ref().ok().map(|r| r.digest.clone()),
            None,
            Some(failure.to_string()),
        ),
        (Ok(up), Ok(at)) => (
            if up.digest == at.digest {
                Status::Fresh
            } else {
                Status::Stale
            },
            Some(up.digest.clone()),
            Some(at.digest.clone()),
            None,
        ),
        (Err(_), Ok(at)) if upstream_missing => (
            Status::Stale,
            None,
            Some(at.digest.clone()),
            Some(format!(
                "the upstream has no tag {:?} any more, the mirror still serves it",
                item.upstream.tag_or_default()
            )),
        ),
        (Err(error), Ok(at)) => (
            Status::Unverified,
            None,
            Some(at.digest.clone()),
            Some(error.failure.to_string()),
        ),
    };
    let platform = match at_mirror {
        Ok(resolution) => resolution.platform.clone(),
        Err(_) => upstream.as_ref().ok().and_then(|r| r.platform.clone()),
    };
    Check {
        status,
        reference: item.target.reference.clone(),
        locations: item.target.locations.clone(),
        upstream: item.upstream.clone(),
        mirror: mirror.url.clone(),
        mirror_origin: mirror.origin.text(),
        request: mirror
            .endpoint
            .manifest_url(&item.upstream, item.upstream.tag_or_default()),
        upstream_digest,
        mirror_digest,
        platform,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> Target {
        Target {
            reference: Reference::parse(text).unwrap(),
            locations: Vec::new(),
        }
    }

    fn config(dir: &Path, files: &[(&str, &str)], mirrors: &[&str]) -> MirrorConfig {
        for (namespace, text) in files {
            let d = dir.join(namespace);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("hosts.toml"), text).unwrap();
        }
        MirrorConfig::load(&Sources {
            mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
            hosts_toml: Vec::new(),
            containerd_dir: Some(dir.to_owned()),
        })
        .unwrap()
    }

    fn urls(plan: &Plan, item: usize) -> Vec<String> {
        plan.items[item]
            .mirrors
            .iter()
            .map(|(i, _)| {
                let m = &plan.mirrors[*i];
                m.endpoint.manifest_url(
                    &plan.items[item].upstream,
                    plan.items[item].upstream.tag_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn plans_mirrors_per_namespace_in_containerd_order() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[
                (
                    "docker.io",
                    "server = \"https://registry-1.docker.io\"\n[host.\"https://m1.example\"]\n[host.\"https://registry-1.docker.io\"]\n[host.\"https://pull-only.example\"]\ncapabilities = [\"pull\"]\n",
                ),
                (
                    "r.example_5000_",
                    "server = \"https://only-mirror.example\"\n[host.\"http://127.0.0.1:7000/prefix\"]\n",
                ),
                ("_default", "[host.\"https://catch-all.example\"]\n"),
            ],
            &["http://flag.example:5000"],
        );
        let plan = plan(
            vec![
                target("nginx:1.25"),
                target("r.example:5000/app:1"),
                target("ghcr.io/o/r:2"),
                target("nginx:1.25"),
            ],
            &config,
            &[],
        )
        .unwrap();
        assert_eq!(plan.items.len(), 3, "identical references merge");
        assert_eq!(
            urls(&plan, 0),
            [
                "http://flag.example:5000/v2/library/nginx/manifests/1.25?ns=docker.io",
                "https://m1.example/v2/library/nginx/manifests/1.25?ns=docker.io",
            ]
        );
        assert_eq!(
            urls(&plan, 1),
            [
                "http://flag.example:5000/v2/app/manifests/1?ns=r.example%3A5000",
                "http://127.0.0.1:7000/prefix/v2/app/manifests/1?ns=r.example%3A5000",
                "https://only-mirror.example/v2/app/manifests/1?ns=r.example%3A5000",
            ]
        );
        assert_eq!(
            urls(&plan, 2),
            [
                "http://flag.example:5000/v2/o/r/manifests/2?ns=ghcr.io",
                "https://catch-all.example/v2/o/r/manifests/2?ns=ghcr.io",
            ]
        );
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("skipping mirror https://pull-only.example")),
            "{:?}",
            plan.warnings
        );
        // The mirror's own name decides credentials.
        assert_eq!(plan.items[0].mirrors[1].1.registry(), "m1.example");
        assert_eq!(plan.items[0].mirrors[1].1.repository(), "library/nginx");
    }

    #[test]
    fn no_mirror_anywhere_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &[("quay.io", "[host.\"https://m\"]\n")], &[]);
        let error = plan(vec![target("ghcr.io/o/r:1")], &config, &[]).unwrap_err();
        assert_eq!(error.exit_code(), exit::INPUT);
        let text = error.to_string();
        assert!(
            text.contains("no mirror is configured for ghcr.io/o/r:1"),
            "{text}"
        );
        assert!(text.contains("_default"), "{text}");
        // A broken file is reported when a reference needs it.
        let config = config_broken(dir.path());
        let error = plan(vec![target("broken.example/a:1")], &config, &[]).unwrap_err();
        assert!(matches!(error, MirrorError::HostsSyntax { .. }), "{error}");
    }

    fn config_broken(dir: &Path) -> MirrorConfig {
        let d = dir.join("broken.example");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("hosts.toml"), "[host\n").unwrap();
        MirrorConfig::load(&Sources {
            containerd_dir: Some(dir.to_owned()),
            ..Sources::default()
        })
        .unwrap()
    }

    #[test]
    fn warns_when_a_reference_names_a_mirror() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[
                (
                    "registry.example.com",
                    "[host.\"http://mirror.local:5000\"]\n",
                ),
                ("_default", "[host.\"https://all.example\"]\n"),
                ("docker.io", "[host.\"https://registry-1.docker.io\"]\n"),
            ],
            &[],
        );
        let known = config.known_mirrors();
        let warn = |text: &str, map: &[(String, String)]| {
            unmapped_mirror_warning(&Reference::parse(text).unwrap(), &known, map)
        };
        let warning = warn("mirror.local:5000/team/app:1", &[]).unwrap();
        assert!(
            warning.contains("pass --registry-map mirror.local:5000=registry.example.com"),
            "{warning}"
        );
        assert!(
            warning.contains("registry.example.com/hosts.toml"),
            "{warning}"
        );
        let map = [(
            "mirror.local:5000".to_owned(),
            "registry.example.com".to_owned(),
        )];
        assert_eq!(warn("mirror.local:5000/team/app:1", &map), None);
        assert!(
            warn("all.example/x:1", &[])
                .unwrap()
                .contains("--registry-map all.example=UPSTREAM")
        );
        assert_eq!(warn("registry-1.docker.io/library/nginx:1", &[]), None);
        assert_eq!(warn("registry.example.com/team/app:1", &[]), None);
        // Under the map, the check goes to the upstream's mirrors.
        let plan = plan(vec![target("mirror.local:5000/team/app:1")], &config, &map).unwrap();
        assert_eq!(plan.items[0].upstream.registry(), "registry.example.com");
        assert_eq!(
            urls(&plan, 0)[0],
            "http://mirror.local:5000/v2/team/app/manifests/1?ns=registry.example.com"
        );
        assert!(plan.warnings.iter().all(|w| !w.contains("--registry-map")));
    }

    #[test]
    fn known_mirrors_from_a_containerd_dir_for_other_subcommands() {
        let dir = tempfile::tempdir().unwrap();
        let missing = KnownMirrors::from_containerd_dir(&dir.path().join("nope")).unwrap();
        assert!(missing.is_empty(), "a missing directory has no mirrors");
        let d = dir.path().join("ghcr.io");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("hosts.toml"),
            "[host.\"https://ghcr-cache.internal:8443\"]\n",
        )
        .unwrap();
        let b = dir.path().join("broken.example");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("hosts.toml"), "[host\n").unwrap();
        let known = KnownMirrors::from_containerd_dir(dir.path()).unwrap();
        let reference = Reference::parse("ghcr-cache.internal:8443/o/r:1").unwrap();
        let warning = unmapped_mirror_warning(&reference, &known, &[]).unwrap();
        assert!(
            warning.ends_with(
                "pass --registry-map ghcr-cache.internal:8443=ghcr.io to resolve it at the upstream"
            ),
            "{warning}"
        );
    }

    fn digest(c: char) -> Digest {
        Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    fn check_with(status: Status, pinned: Option<char>) -> Check {
        let text = match pinned {
            Some(c) => format!("r.example/app:1@{}", digest(c)),
            None => "r.example/app:1".to_owned(),
        };
        Check {
            status,
            reference: Reference::parse(&text).unwrap(),
            locations: Vec::new(),
            upstream: Reference::parse("r.example/app:1").unwrap(),
            mirror: "http://m.example".into(),
            mirror_origin: "--mirror".into(),
            request: "http://m.example/v2/app/manifests/1?ns=r.example".into(),
            upstream_digest: Some(digest('b')),
            mirror_digest: Some(digest('a')),
            platform: None,
            detail: None,
        }
    }

    #[test]
    fn exit_codes_rank_stale_over_errors() {
        let report = |statuses: &[Status]| Report {
            checks: statuses.iter().map(|&s| check_with(s, None)).collect(),
            warnings: Vec::new(),
        };
        let table: &[(&[Status], i32)] = &[
            (&[Status::Fresh, Status::Missing], exit::OK),
            (
                &[Status::Fresh, Status::Stale, Status::MirrorError],
                exit::CHECK_FAILED,
            ),
            (&[Status::Fresh, Status::Unverified], exit::REGISTRY),
            (&[Status::MirrorError], exit::REGISTRY),
            (&[], exit::OK),
        ];
        for (statuses, code) in table {
            assert_eq!(report(statuses).exit_code(), *code, "{statuses:?}");
        }
    }

    #[test]
    fn text_lines_are_aligned_and_status_first() {
        let mut long = check_with(Status::Fresh, Some('b'));
        long.mirror = "https://a-much-longer-mirror.example".into();
        long.mirror_digest = Some(digest('b'));
        let report = Report {
            checks: vec![check_with(Status::Stale, Some('b')), long],
            warnings: Vec::new(),
        };
        let mut out = Vec::new();
        report.write_text(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("stale  r.example/app:1  http://m.example   "),
            "{text}"
        );
        assert!(
            lines[1].starts_with("fresh  r.example/app:1  https://a-much-longer-mirror.example  "),
            "{text}"
        );
        assert!(lines[0].contains(&format!("mirror {}  upstream {}", digest('a'), digest('b'))));
        assert!(
            lines[0].ends_with("(pinned digest is the upstream's)"),
            "{text}"
        );
        let mut out = Vec::new();
        report.write_text(&mut out, true).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
        let json = report.to_json();
        assert_eq!(json["checks"][0]["pinned_matches_upstream"], true);
        assert_eq!(json["counts"]["stale"], 1);
        assert_eq!(json["exit_code"], 1);
    }
}
