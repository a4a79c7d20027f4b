//! Deciding what happens to each target. Pure: the registry's answers come in as a
//! [`Lookups`] table, so planning is testable (and fuzzable) without a network.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::literal;
use super::scan::Target;
use super::splice::Edit;
use crate::reference::{Digest, Reference};

/// What the run does to references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `NAME[:TAG]` → `NAME:TAG@sha256:…`; pinned references stay as they are.
    #[default]
    Pin,
    /// Re-resolve the tag of pinned references and replace moved digests; pin the rest.
    Update,
    /// `NAME:TAG@sha256:…` → `NAME:TAG`; digest-only references stay.
    Unpin,
    /// Report unpinned and stale references; never write.
    Check {
        /// Only check that every reference is pinned; no registry access.
        offline: bool,
    },
}

impl Mode {
    /// The mode's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Pin => "pin",
            Mode::Update => "update",
            Mode::Unpin => "unpin",
            Mode::Check { offline: false } => "check",
            Mode::Check { offline: true } => "check-offline",
        }
    }
}

/// The outcome for one image slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// An unpinned reference got a digest.
    Pinned,
    /// A pinned reference's digest was replaced because its tag moved.
    Updated,
    /// A pinned reference lost its digest.
    Unpinned,
    /// Nothing to do.
    Unchanged,
    /// Check: the tag now points to a different digest.
    Stale,
    /// Check: the reference carries no digest.
    UnpinnedReference,
    /// Check: the registry does not have the pinned digest.
    Missing,
    /// The registry lookup failed.
    Failed,
    /// Not a target (see the reason).
    Skipped,
}

impl Action {
    /// The action's name in reports (`unpinned-reference`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Pinned => "pinned",
            Action::Updated => "updated",
            Action::Unpinned => "unpinned",
            Action::Unchanged => "unchanged",
            Action::Stale => "stale",
            Action::UnpinnedReference => "unpinned-reference",
            Action::Missing => "missing",
            Action::Failed => "failed",
            Action::Skipped => "skipped",
        }
    }

    /// Whether the action changes the file.
    pub fn changes_file(self) -> bool {
        matches!(self, Action::Pinned | Action::Updated | Action::Unpinned)
    }

    /// Whether a check reports it as a problem (exit code 1).
    pub fn fails_check(self) -> bool {
        matches!(
            self,
            Action::Stale | Action::UnpinnedReference | Action::Missing
        )
    }
}

/// A failed registry lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
    /// What the registry client said.
    pub message: String,
    /// The exit code the failure maps to (3 for registry errors).
    pub exit_code: i32,
}

/// The registry's answers, keyed by normalised name so that `nginx` and
/// `docker.io/library/nginx:latest` share one lookup.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    tags: HashMap<String, Result<Digest, LookupError>>,
    manifests: HashMap<String, Result<bool, LookupError>>,
}

fn tag_key(reference: &Reference) -> String {
    format!(
        "{}:{}",
        reference.canonical_name(),
        reference.tag_or_default()
    )
}

fn manifest_key(reference: &Reference, digest: &Digest) -> String {
    format!("{}@{}", reference.canonical_name(), digest)
}

impl Lookups {
    /// Records what the reference's tag resolves to (a digest in `reference` is ignored).
    pub fn set_tag(&mut self, reference: &Reference, result: Result<Digest, LookupError>) {
        self.tags.insert(tag_key(reference), result);
    }

    /// Records whether the reference's repository has a manifest with `digest`.
    pub fn set_manifest(
        &mut self,
        reference: &Reference,
        digest: &Digest,
        result: Result<bool, LookupError>,
    ) {
        self.manifests
            .insert(manifest_key(reference, digest), result);
    }

    /// What the reference's tag resolves to, if looked up.
    pub fn tag(&self, reference: &Reference) -> Option<&Result<Digest, LookupError>> {
        self.tags.get(&tag_key(reference))
    }

    /// Whether the manifest exists, if looked up.
    pub fn manifest(
        &self,
        reference: &Reference,
        digest: &Digest,
    ) -> Option<&Result<bool, LookupError>> {
        self.manifests.get(&manifest_key(reference, digest))
    }
}

/// The lookups a set of targets needs in a mode, each distinct one once, in first-seen
/// order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// References whose tag must be resolved.
    pub tags: Vec<Reference>,
    /// `(reference, digest)` pairs whose manifest must exist (check mode).
    pub manifests: Vec<(Reference, Digest)>,
}

impl Needs {
    /// Whether nothing needs the registry.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.manifests.is_empty()
    }

    /// Number of lookups.
    pub fn len(&self) -> usize {
        self.tags.len() + self.manifests.len()
    }
}

/// Collects the lookups the targets need in `mode`.
pub fn needs<'a>(targets: impl IntoIterator<Item = &'a Target>, mode: Mode) -> Needs {
    let mut out = Needs::default();
    let mut seen_tags = HashSet::new();
    let mut seen_manifests = HashSet::new();
    for target in targets {
        let reference = &target.reference;
        let wants_tag = match mode {
            Mode::Pin => !reference.is_pinned(),
            Mode::Update => !reference.is_digest_only(),
            Mode::Check { offline: false } => reference.is_pinned() && !reference.is_digest_only(),
            Mode::Unpin | Mode::Check { offline: true } => false,
        };
        if wants_tag && seen_tags.insert(tag_key(reference)) {
            out.tags.push(reference.clone());
        }
        if let (Mode::Check { offline: false }, Some(digest)) = (mode, reference.digest()) {
            if seen_manifests.insert(manifest_key(reference, digest)) {
                out.manifests.push((reference.clone(), digest.clone()));
            }
        }
    }
    out
}

/// The decision for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What happens.
    pub action: Action,
    /// The new value when the action changes the file.
    pub after: Option<String>,
    /// Why, when it is not obvious from the action.
    pub reason: Option<String>,
    /// The registry failure behind [`Action::Failed`].
    pub failure: Option<LookupError>,
}

impl Decision {
    fn new(action: Action, after: Option<String>, reason: Option<String>) -> Decision {
        Decision {
            action,
            after,
            reason,
            failure: None,
        }
    }

    fn unchanged(reason: &str) -> Decision {
        Decision::new(Action::Unchanged, None, Some(reason.to_owned()))
    }

    fn failed(error: &LookupError) -> Decision {
        Decision {
            action: Action::Failed,
            after: None,
            reason: Some(error.message.clone()),
            failure: Some(error.clone()),
        }
    }

    fn not_looked_up() -> Decision {
        Decision::failed(&LookupError {
            message: "no registry answer was recorded for this reference".to_owned(),
            exit_code: crate::exit::REGISTRY,
        })
    }
}

/// Decides what happens to one target in `mode`, given the registry's answers.
pub fn plan(target: &Target, mode: Mode, strip_tag: bool, lookups: &Lookups) -> Decision {
    let reference = &target.reference;
    let resolved = || lookups.tag(reference);
    match mode {
        Mode::Pin if reference.is_pinned() => Decision::unchanged("already pinned"),
        Mode::Pin => match resolved() {
            Some(Ok(digest)) => Decision::new(
                Action::Pinned,
                Some(reference.pinned(digest, strip_tag)),
                None,
            ),
            Some(Err(error)) => Decision::failed(error),
            None => Decision::not_looked_up(),
        },
        Mode::Update if reference.is_digest_only() => {
            Decision::unchanged("digest-only reference: there is no tag to follow")
        }
        Mode::Update => match (resolved(), reference.digest()) {
            (Some(Ok(digest)), Some(current)) if digest == current => {
                Decision::unchanged("the tag still points to this digest")
            }
            (Some(Ok(digest)), Some(current)) => Decision::new(
                Action::Updated,
                Some(reference.pinned(digest, strip_tag)),
                Some(format!(
                    "tag {} moved from {current} to {digest}",
                    reference.tag_or_default()
                )),
            ),
            (Some(Ok(digest)), None) => Decision::new(
                Action::Pinned,
                Some(reference.pinned(digest, strip_tag)),
                None,
            ),
            (Some(Err(error)), _) => Decision::failed(error),
            (None, _) => Decision::not_looked_up(),
        },
        Mode::Unpin if reference.is_digest_only() => Decision::unchanged(
            "digest-only reference: there is no tag to fall back to, so it stays pinned",
        ),
        Mode::Unpin if reference.is_pinned() => {
            Decision::new(Action::Unpinned, Some(reference.unpinned()), None)
        }
        Mode::Unpin => Decision::unchanged("not pinned"),
        Mode::Check { offline } => check(reference, offline, lookups),
    }
}

fn check(reference: &Reference, offline: bool, lookups: &Lookups) -> Decision {
    let Some(digest) = reference.digest() else {
        return Decision::new(
            Action::UnpinnedReference,
            None,
            Some("not pinned to a digest; run `tf-pin rewrite` to pin it".to_owned()),
        );
    };
    if offline {
        return Decision::unchanged("pinned (not verified: offline)");
    }
    match lookups.manifest(reference, digest) {
        Some(Ok(true)) => {}
        Some(Ok(false)) => {
            return Decision::new(
                Action::Missing,
                None,
                Some(format!(
                    "the registry has no manifest {digest} in {}; the pin is broken: run `tf-pin rewrite --update` or pin a digest that exists",
                    reference.written_name()
                )),
            );
        }
        Some(Err(error)) => return Decision::failed(error),
        None => return Decision::not_looked_up(),
    }
    if reference.is_digest_only() {
        return Decision::unchanged("pinned to a digest that exists (no tag to compare)");
    }
    match lookups.tag(reference) {
        Some(Ok(current)) if current == digest => Decision::unchanged("pinned and up to date"),
        Some(Ok(current)) => Decision::new(
            Action::Stale,
            None,
            Some(format!(
                "stale: tag {} now points to {current}; run `tf-pin rewrite --update`",
                reference.tag_or_default()
            )),
        ),
        Some(Err(error)) => Decision::failed(error),
        None => Decision::not_looked_up(),
    }
}

/// The edit a decision implies: the new value, escaped, between the original quotes.
pub fn edit_for(target: &Target, decision: &Decision) -> Option<Edit> {
    if !decision.action.changes_file() {
        return None;
    }
    let after = decision.after.as_deref()?;
    Some(Edit {
        range: target.content.clone(),
        replacement: literal::encode(after),
    })
}
