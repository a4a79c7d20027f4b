//! `tf-pin rewrite`: flags for the byte-preserving .tf editor.

use std::io::Write;
use std::path::PathBuf;

use clap::{ArgGroup, Args};

use super::resolve::Format;
use super::{MirrorWarnings, RegistryArgs};
use crate::exit;
use crate::reference::{Digest, Reference};
use crate::resolver::Resolution;
use crate::resolver::Resolver;
use crate::rewrite::{self, Mode, Output};
use crate::rewrite::{DigestSource, LookupError};

/// Flags of `tf-pin rewrite`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("mode").args(["check", "update", "unpin"])))]
#[command(group(ArgGroup::new("output").args(["diff", "dry_run", "check"])))]
pub struct RewriteArgs {
    /// Files or directories to scan for .tf and .tfvars files [default: .].
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Write nothing; list unpinned and stale references and exit 1 if there are any.
    #[arg(long)]
    check: bool,
    /// With --check: only check that every reference is pinned, without the registry.
    #[arg(long, requires = "check")]
    offline: bool,
    /// Re-resolve pinned references and replace the digest of every tag that moved.
    #[arg(long)]
    update: bool,
    /// Remove digests: NAME:TAG@sha256:… becomes NAME:TAG again.
    #[arg(long)]
    unpin: bool,
    /// Print a unified diff of the changes instead of writing them.
    #[arg(long)]
    diff: bool,
    /// Report what would change without writing.
    #[arg(long)]
    dry_run: bool,
    /// When some references fail to resolve, still write the others (exit stays non-zero).
    #[arg(long)]
    keep_going: bool,
    /// Also treat attributes and object keys with this name as images; repeatable.
    #[arg(long = "attribute", value_name = "NAME")]
    pub(super) attributes: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    pub(super) registry: RegistryArgs,
    /// The config file's `[ignore]` rules.
    #[arg(skip)]
    pub(super) ignore: rewrite::IgnoreRules,
}

impl RewriteArgs {
    fn options(&self) -> rewrite::Options {
        let mode = if self.check {
            Mode::Check {
                offline: self.offline,
            }
        } else if self.update {
            Mode::Update
        } else if self.unpin {
            Mode::Unpin
        } else {
            Mode::Pin
        };
        let output = if self.diff {
            Output::Diff
        } else if self.dry_run {
            Output::DryRun
        } else {
            Output::Write
        };
        rewrite::Options {
            paths: if self.paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                self.paths.clone()
            },
            mode,
            output,
            strip_tag: self.registry.strip_tag,
            keep_going: self.keep_going,
            extra_attributes: self.attributes.clone(),
            format: match self.format {
                Format::Text => rewrite::Format::Text,
                Format::Json => rewrite::Format::Json,
            },
            verbose: self.registry.verbose,
            quiet: self.registry.quiet,
            ignore: self.ignore.clone(),
        }
    }
}

pub(super) fn run(args: &RewriteArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let options = args.options();
    let needs_registry = !matches!(options.mode, Mode::Unpin | Mode::Check { offline: true });
    if !needs_registry {
        return rewrite::run(&options, None, out, err);
    }
    match args.registry.resolver() {
        Ok(resolver) => {
            let source = WarnAboutMirrors {
                resolver,
                warnings: MirrorWarnings::load(&args.registry),
            };
            rewrite::run(&options, Some(&source), out, err)
        }
        Err(error) => {
            let _ = writeln!(err, "tf-pin: error: {error}");
            exit::INPUT
        }
    }
}

/// The real resolver, warning first about references that name a known mirror.
struct WarnAboutMirrors {
    resolver: Resolver,
    warnings: MirrorWarnings,
}

impl DigestSource for WarnAboutMirrors {
    fn resolve_many(&self, references: &[Reference]) -> Vec<Result<Resolution, LookupError>> {
        self.warnings.check(references);
        DigestSource::resolve_many(&self.resolver, references)
    }

    fn manifest_exists(&self, items: &[(Reference, Digest)]) -> Vec<Result<bool, LookupError>> {
        DigestSource::manifest_exists(&self.resolver, items)
    }
}
