//! The byte-preserving Terraform editor: pins container image references in `.tf` and
//! `.tfvars` files to registry digests (`repo:tag` → `repo:tag@sha256:…`).
//!
//! # Pipeline
//!
//! 1. [`discover`] the files (sorted; hidden directories, `.terraform/` and `.git/`
//!    skipped; symlinks out of the tree not followed).
//! 2. [`scan_source`] each file (in parallel): parse with hcl-edit, walk the tree with
//!    spans, and sort every image slot into a [`Target`] or a [`Skipped`] with its reason.
//! 3. [`link`] across files: point `var.x` / `local.x` skips at their literal; drop
//!    variables and locals that feed VM resources.
//! 4. Ask the [`DigestSource`] once for every distinct reference ([`needs`]), then
//!    [`plan`] each target (pure, given the [`Lookups`] table).
//! 5. [`apply_edits`]: splice new literal text between the original quotes, every other
//!    byte copied as is, then write atomically, print a diff, or just report.
//!
//! # What is an image slot
//!
//! * `image` attributes (plus [`Options::extra_attributes`]) in any block at any depth,
//!   and `image` keys (bare, quoted, `=` or `:`) in object expressions anywhere
//!   (`jsonencode`, `yamlencode`, locals, lists of objects, module inputs, tfvars).
//! * `name` of `resource "docker_image"` and `data "docker_registry_image"`.
//! * The `default` of a `variable` whose name contains `image`, a local whose name
//!   contains `image`, and a `.tfvars` value whose name contains `image` — only when the
//!   value is a full reference (contains `/`, a `:tag` or an `@digest`). A bare word
//!   (`nginx`, `latest`, `v1.25.0`) is ambiguous — a repository or a tag? — and is
//!   skipped with that reason. In a map or list under such a name, elements that look
//!   like full references are targeted and other strings ignored.
//!
//! # What is skipped (and reported)
//!
//! * VM images: `image` attributes in blocks of resource types on the
//!   [`VM_IMAGE_TYPES`] denylist (`google_compute_*`, `openstack_*`, `hcloud_*`,
//!   `digitalocean_droplet`, `azurerm_*virtual_machine*`, …), and variables/locals used
//!   as such attributes. Object keys *inside* attribute values of those resources are
//!   still targeted (a Container-Optimized OS declaration in `metadata`).
//! * Anything that is not a plain literal: interpolations, `var.x` / `local.x` (with a
//!   pointer to the literal when it is in the scanned files), function results,
//!   conditionals, heredocs (`image:` lines inside heredocs are reported too).
//! * Literals that are not valid references (URLs, paths, empty strings).
//! * Slots with a `# tf-pin:ignore` / `// tf-pin:ignore` comment on their line or alone on
//!   the line above.
//! * References and files matched by the config file's `[ignore]` globs
//!   ([`Options::ignore`], see [`IgnoreRules`]).
//!
//! # Round trips
//!
//! `pin` then `unpin` restores tagged input byte for byte. An untagged reference is
//! pinned as `NAME:latest@sha256:…` (the tag Docker pulls), so `unpin` then yields
//! `NAME:latest`, not `NAME`.

mod comments;
mod driver;
mod error;
mod files;
mod ignore;
mod lifecycle;
mod link;
mod literal;
mod plan;
mod report;
mod rules;
mod scan;
mod source;
mod source_trait;
mod splice;
mod write;

use std::io::Write;
use std::path::PathBuf;

pub use driver::{Entry, Note, Outcome, execute, unified_diff};
pub use error::{Error, SourceError};
pub use files::{Discovery, FileEntry, discover};
pub use ignore::{IgnorePattern, IgnoreRules, PatternError};
pub use lifecycle::IgnoreChanges;
pub use link::{ScannedFile, link};
pub use literal::{DecodeError, decode as decode_literal, encode as encode_literal};
pub use plan::{Action, Decision, LookupError, Lookups, Mode, Needs, edit_for, needs, plan};
pub use report::{render, summary};
pub use rules::{VM_IMAGE_TYPES, looks_like_full_reference, vm_image_rule};
pub use scan::{
    Definition, DefinitionKind, FileKind, IMAGE, Origin, Scan, ScanOptions, SkipKind, Skipped,
    SymbolKind, SymbolUse, Target, scan_source,
};
pub use source_trait::{DigestSource, MemorySource, derived_digest};
pub use splice::{Edit, EditError, apply_edits};
pub use write::{TEMP_PREFIX, is_temp_file_name};

/// What to do with the edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// Rewrite files in place, atomically.
    #[default]
    Write,
    /// Print a unified diff; write nothing.
    Diff,
    /// Report only; write nothing.
    DryRun,
}

/// Report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Lines for people; the summary on stderr.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Everything a rewrite run needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Files and directories to scan; empty means `.`.
    pub paths: Vec<PathBuf>,
    /// Pin, update, unpin or check.
    pub mode: Mode,
    /// Write, diff or dry-run (check mode never writes).
    pub output: Output,
    /// Pin as `NAME@sha256:…` instead of `NAME:TAG@sha256:…`.
    pub strip_tag: bool,
    /// When some lookups fail, still write what resolved (the exit code stays non-zero).
    pub keep_going: bool,
    /// Attribute / object-key names holding images besides `image`.
    pub extra_attributes: Vec<String>,
    /// Text or JSON.
    pub format: Format,
    /// Also report unchanged references and intentional skips.
    pub verbose: bool,
    /// Report only errors and the primary output (diffs, check findings, JSON).
    pub quiet: bool,
    /// References and paths to leave alone (the config file's `[ignore]` table).
    pub ignore: IgnoreRules,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            paths: vec![PathBuf::from(".")],
            mode: Mode::Pin,
            output: Output::Write,
            strip_tag: false,
            keep_going: false,
            extra_attributes: Vec::new(),
            format: Format::Text,
            verbose: false,
            quiet: false,
            ignore: IgnoreRules::default(),
        }
    }
}

/// Runs a rewrite and returns the process exit code (see [`crate::exit`]).
///
/// `source` answers the registry questions; pass `None` for modes that need none
/// (`unpin`, `check --offline`): a mode that needs lookups then fails with exit code 2.
/// The real client is [`crate::resolver::Resolver`], which implements [`DigestSource`].
pub fn run(
    options: &Options,
    source: Option<&dyn DigestSource>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let outcome = execute(options, source);
    render(options, &outcome, stdout, stderr)
}
