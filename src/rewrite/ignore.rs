//! Ignore rules (from the `[ignore]` table of `.tf-pin.toml`, see [`crate::config`]):
//! globs over image references and over file paths.
//!
//! * A **reference** pattern is matched against the reference as written without its
//!   digest (`registry.internal/team/app:1.0`), its written name (`registry.internal/team/app`),
//!   and the normalised forms (`docker.io/library/nginx`, `docker.io/library/nginx:1.25`).
//!   `*` matches any characters, `/` included: `registry.internal/*` covers every image of
//!   that registry, `*:dev` every `dev` tag. A matching target is reported as skipped
//!   ("ignored by pattern … in FILE") and never resolved, pinned, updated or checked.
//! * A **path** pattern is matched against the path relative to the directory holding the
//!   config file, with `/` separators; `*` stays within one path segment and `**` crosses
//!   segments. A pattern without `/` matches any file or directory of that name at any
//!   depth (`*.auto.tfvars`, `legacy`); a pattern with `/` is anchored at the config's
//!   directory (`modules/legacy`, `envs/*/old.tf`). Matching a directory ignores
//!   everything under it. Files outside the config's directory are never ignored by path.
//!   Ignored files are not read at all (not even when named on the command line, as
//!   pre-commit does).

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use super::files::Discovery;
use super::scan::{Scan, SkipKind, Skipped};
use crate::reference::Reference;

/// One glob and the file it was written in.
#[derive(Debug, Clone)]
pub struct IgnorePattern {
    text: String,
    origin: PathBuf,
    matcher: GlobMatcher,
    anchored: bool,
}

impl PartialEq for IgnorePattern {
    fn eq(&self, other: &IgnorePattern) -> bool {
        self.text == other.text && self.origin == other.origin
    }
}

impl Eq for IgnorePattern {}

impl IgnorePattern {
    /// The glob as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The file the glob comes from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The skip reason shown in reports.
    pub fn reason(&self) -> String {
        format!(
            "ignored by pattern {:?} in {}",
            self.text,
            self.origin.display()
        )
    }
}

/// A glob that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid glob {pattern:?}: {detail}")]
pub struct PatternError {
    /// The glob as written.
    pub pattern: String,
    /// What is wrong with it.
    pub detail: String,
}

/// Reference and path ignore rules; empty by default (nothing ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreRules {
    references: Vec<IgnorePattern>,
    paths: Vec<IgnorePattern>,
    /// Absolute directory that path patterns are relative to.
    base: PathBuf,
}

impl IgnoreRules {
    /// No rules yet; path patterns will be relative to `base` (made absolute against the
    /// working directory).
    pub fn new(base: &Path) -> IgnoreRules {
        IgnoreRules {
            references: Vec::new(),
            paths: Vec::new(),
            base: absolute(base),
        }
    }

    /// Whether there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.references.is_empty() && self.paths.is_empty()
    }

    /// Adds a reference glob written in `origin`.
    pub fn add_reference(&mut self, pattern: &str, origin: &Path) -> Result<(), PatternError> {
        let matcher = compile(pattern, false)?;
        self.references.push(IgnorePattern {
            text: pattern.to_owned(),
            origin: origin.to_path_buf(),
            matcher,
            anchored: false,
        });
        Ok(())
    }

    /// Adds a path glob written in `origin`.
    pub fn add_path(&mut self, pattern: &str, origin: &Path) -> Result<(), PatternError> {
        let trimmed = pattern.trim_end_matches('/');
        let anchored = trimmed.contains('/');
        let trimmed = trimmed.trim_start_matches('/');
        if trimmed.is_empty() {
            return Err(PatternError {
                pattern: pattern.to_owned(),
                detail: "it matches no path".to_owned(),
            });
        }
        let matcher = compile(trimmed, true)?;
        self.paths.push(IgnorePattern {
            text: pattern.to_owned(),
            origin: origin.to_path_buf(),
            matcher,
            anchored,
        });
        Ok(())
    }

    /// The first reference pattern that matches `reference`.
    pub fn reference_match(&self, reference: &Reference) -> Option<&IgnorePattern> {
        if self.references.is_empty() {
            return None;
        }
        let canonical = reference.canonical_name();
        let tag = reference.tag_or_default();
        let candidates = [
            reference.unpinned(),
            reference.written_name().to_owned(),
            format!("{}:{tag}", reference.written_name()),
            format!("{canonical}:{tag}"),
            canonical,
        ];
        self.references
            .iter()
            .find(|p| candidates.iter().any(|c| p.matcher.is_match(c)))
    }

    /// The first path pattern that matches `path` (relative to the working directory or
    /// absolute), or `None` when `path` is outside the rules' base directory.
    pub fn path_match(&self, path: &Path) -> Option<&IgnorePattern> {
        if self.paths.is_empty() {
            return None;
        }
        let full = absolute(path);
        let relative = full.strip_prefix(&self.base).ok()?;
        let segments: Vec<String> = relative
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if segments.is_empty() {
            return None;
        }
        let prefixes: Vec<String> = (1..=segments.len())
            .map(|n| segments[..n].join("/"))
            .collect();
        self.paths.iter().find(|p| {
            if p.anchored {
                prefixes.iter().any(|prefix| p.matcher.is_match(prefix))
            } else {
                segments.iter().any(|segment| p.matcher.is_match(segment))
            }
        })
    }
}

fn compile(pattern: &str, literal_separator: bool) -> Result<GlobMatcher, PatternError> {
    if pattern.is_empty() {
        return Err(PatternError {
            pattern: pattern.to_owned(),
            detail: "an empty pattern matches nothing".to_owned(),
        });
    }
    GlobBuilder::new(pattern)
        .literal_separator(literal_separator)
        .backslash_escape(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|e| PatternError {
            pattern: pattern.to_owned(),
            detail: e.kind().to_string(),
        })
}

/// `path` made absolute against the working directory, with `.` and `..` resolved
/// lexically (no file system access, so it also works for paths that do not exist).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Drops ignored files (and the leftovers and symlink notes under ignored paths) from a
/// discovery; returns each dropped file with the reason.
pub(crate) fn filter_discovery(
    rules: &IgnoreRules,
    discovery: &mut Discovery,
) -> Vec<(PathBuf, String)> {
    let mut dropped = Vec::new();
    if rules.paths.is_empty() {
        return dropped;
    }
    discovery
        .files
        .retain(|file| match rules.path_match(&file.display) {
            Some(pattern) => {
                dropped.push((file.display.clone(), pattern.reason()));
                false
            }
            None => true,
        });
    discovery
        .leftovers
        .retain(|path| rules.path_match(path).is_none());
    discovery
        .skipped
        .retain(|(path, _)| rules.path_match(path).is_none());
    dropped
}

/// Turns every target whose reference matches a reference pattern into a skip.
pub(crate) fn filter_targets<'a>(rules: &IgnoreRules, scans: impl Iterator<Item = &'a mut Scan>) {
    if rules.references.is_empty() {
        return;
    }
    for scan in scans {
        let targets = std::mem::take(&mut scan.targets);
        for target in targets {
            match rules.reference_match(&target.reference) {
                Some(pattern) => scan.skipped.push(Skipped {
                    line: target.line,
                    column: target.column,
                    context: target.context,
                    path: target.path,
                    value: target.value,
                    kind: SkipKind::Ignored,
                    reason: pattern.reason(),
                    notable: false,
                    uses: None,
                }),
                None => scan.targets.push(target),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> IgnoreRules {
        let mut rules = IgnoreRules::new(Path::new("/repo"));
        let origin = Path::new("/repo/.tf-pin.toml");
        for pattern in ["registry.internal/*", "*:dev", "docker.io/library/busybox"] {
            rules.add_reference(pattern, origin).unwrap();
        }
        for pattern in [
            "legacy",
            "*.auto.tfvars",
            "envs/*/old.tf",
            "/vendor/",
            "a/**/z",
        ] {
            rules.add_path(pattern, origin).unwrap();
        }
        rules
    }

    #[test]
    fn reference_patterns() {
        let rules = rules();
        let table: &[(&str, Option<&str>)] = &[
            (
                "registry.internal/team/app:1.0",
                Some("registry.internal/*"),
            ),
            (
                "registry.internal/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                Some("registry.internal/*"),
            ),
            ("ghcr.io/acme/app:dev", Some("*:dev")),
            ("busybox:1.36", Some("docker.io/library/busybox")),
            ("busybox", Some("docker.io/library/busybox")),
            ("nginx:1.25", None),
            ("registry.internal.example.com/app:1", None),
            ("ghcr.io/acme/app:develop", None),
        ];
        for (reference, expected) in table {
            let parsed = Reference::parse(reference).unwrap();
            assert_eq!(
                rules.reference_match(&parsed).map(IgnorePattern::text),
                *expected,
                "{reference}"
            );
        }
    }

    #[test]
    fn path_patterns() {
        let rules = rules();
        let table: &[(&str, Option<&str>)] = &[
            ("/repo/legacy/main.tf", Some("legacy")),
            ("/repo/modules/legacy/main.tf", Some("legacy")),
            ("/repo/prod.auto.tfvars", Some("*.auto.tfvars")),
            ("/repo/envs/prod/x.auto.tfvars", Some("*.auto.tfvars")),
            ("/repo/envs/prod/old.tf", Some("envs/*/old.tf")),
            ("/repo/envs/prod/eu/old.tf", None),
            ("/repo/vendor/mod/main.tf", Some("/vendor/")),
            ("/repo/sub/vendor/main.tf", None),
            ("/repo/a/b/c/z/main.tf", Some("a/**/z")),
            ("/repo/main.tf", None),
            ("/elsewhere/legacy/main.tf", None),
            ("/repo/./legacy/../main.tf", None),
        ];
        for (path, expected) in table {
            assert_eq!(
                rules.path_match(Path::new(path)).map(IgnorePattern::text),
                *expected,
                "{path}"
            );
        }
    }

    #[test]
    fn bad_patterns_are_errors() {
        let mut rules = IgnoreRules::new(Path::new("/repo"));
        let origin = Path::new("/repo/.tf-pin.toml");
        assert!(rules.add_reference("registry.internal/[a", origin).is_err());
        assert!(rules.add_reference("", origin).is_err());
        assert!(rules.add_path("/", origin).is_err());
        assert!(rules.add_path("{a,b", origin).is_err());
        assert!(rules.is_empty());
    }

    #[test]
    fn reason_names_pattern_and_file() {
        let rules = rules();
        let reference = Reference::parse("registry.internal/app:1").unwrap();
        assert_eq!(
            rules.reference_match(&reference).unwrap().reason(),
            "ignored by pattern \"registry.internal/*\" in /repo/.tf-pin.toml"
        );
    }
}
