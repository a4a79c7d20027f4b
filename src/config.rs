//! The project configuration file, `.tf-pin.toml`.
//!
//! Found by walking up from the working directory (the first one wins; `--config PATH`
//! names one explicitly, `--no-config` skips it). Every key is optional; unknown keys are
//! an error naming the key and the file, so a typo never silently changes nothing.
//!
//! ```toml
//! # Attribute and object-key names that hold images besides `image` (rewrite).
//! attributes = ["container_image", "sidecar_image"]
//! # Pin as NAME@sha256:… instead of NAME:TAG@sha256:….
//! strip_tag = false
//! # Pick this platform's manifest out of multi-platform indexes.
//! platform = "linux/amd64"
//! # Registries reached over plain HTTP.
//! insecure_registries = ["registry.local:5000"]
//! # Requests in flight at once, and seconds to wait for each.
//! jobs = 8
//! timeout = 30
//! # Extra CA certificates (relative to this file's directory).
//! ca_files = ["certs/internal-ca.pem"]
//! # Resolve a mirror's references at its upstream (MIRROR=UPSTREAM).
//! registry_map = ["mirror.local:5000=docker.io"]
//!
//! [ignore]
//! # References rewrite leaves alone (`*` also matches `/`).
//! references = ["registry.internal/*", "*:dev"]
//! # Files and directories rewrite does not read (relative to this file's directory).
//! paths = ["legacy", "envs/*/scratch.tf"]
//! ```
//!
//! Command-line flags win over the file: a flag given on the command line replaces the
//! file's value for single values (`--platform`, `--jobs`, `--timeout`, `--strip-tag` /
//! `--no-strip-tag`); flags that can be repeated add to the file's list
//! (`--attribute`, `--insecure-registry`, `--ca-file`, `--registry-map`, where a flag's
//! mapping of the same mirror wins).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::registry::Platform;
use crate::rewrite::IgnoreRules;

/// The configuration file's name.
pub const FILE_NAME: &str = ".tf-pin.toml";

/// The contents of a `.tf-pin.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Attribute and object-key names that hold images besides `image` (`rewrite`).
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Pin as `NAME@sha256:…` instead of `NAME:TAG@sha256:…`.
    pub strip_tag: Option<bool>,
    /// Default platform (`OS/ARCH[/VARIANT]`) picked out of multi-platform indexes.
    pub platform: Option<String>,
    /// Registries (`HOST[:PORT]`) reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// Requests in flight at once (1–256; see [`Config::jobs`]).
    pub jobs: Option<i64>,
    /// Seconds to wait for each registry request (0–3600).
    pub timeout: Option<f64>,
    /// PEM CA certificate files to trust; relative paths are relative to the config
    /// file's directory (made absolute by [`Config::load`]).
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// `MIRROR=UPSTREAM` pairs, as `--registry-map`.
    #[serde(default)]
    pub registry_map: Vec<String>,
    /// What `rewrite` leaves alone.
    #[serde(default)]
    pub ignore: Ignore,
}

/// The `[ignore]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    /// Globs over image references (see [`crate::rewrite::IgnoreRules`]).
    #[serde(default)]
    pub references: Vec<String>,
    /// Globs over file paths relative to the config file's directory.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// A config file that cannot be used; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value is out of range.
    #[error("invalid config file {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line when known.
        message: String,
    },
}

impl ConfigError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Read { path, .. } | ConfigError::Invalid { path, .. } => path,
        }
    }
}

impl Config {
    /// Looks for [`FILE_NAME`] in `start_dir` and each of its ancestors; loads the first
    /// one found.
    pub fn discover(start_dir: &Path) -> Result<Option<(PathBuf, Config)>, ConfigError> {
        for dir in start_dir.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                let config = Config::load(&candidate)?;
                return Ok(Some((candidate, config)));
            }
        }
        Ok(None)
    }

    /// Reads and validates one file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for file in &mut config.ca_files {
            if file.is_relative() {
                *file = dir.join(&*file);
            }
        }
        config.ignore_rules(path)?;
        Ok(config)
    }

    /// Parses and validates the text of a config file; the error is a message with the
    /// line number when known.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| describe(text, &e))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(platform) = &self.platform {
            Platform::parse(platform).map_err(|e| format!("platform: {e}"))?;
        }
        if let Some(jobs) = self.jobs {
            if !(1..=256).contains(&jobs) {
                return Err(format!("jobs: {jobs} is not between 1 and 256"));
            }
        }
        if let Some(timeout) = self.timeout {
            if !(timeout > 0.0 && timeout <= 3600.0) {
                return Err(format!(
                    "timeout: {timeout} is not a number of seconds between 0 and 3600"
                ));
            }
        }
        for (key, values) in [
            ("attributes", &self.attributes),
            ("insecure_registries", &self.insecure_registries),
        ] {
            if let Some(empty) = values.iter().position(|v| v.trim().is_empty()) {
                return Err(format!("{key}: entry {} is empty", empty + 1));
            }
        }
        Ok(())
    }

    /// `jobs`, checked (validated by [`Config::load`]).
    pub fn jobs(&self) -> Option<u16> {
        self.jobs.and_then(|jobs| u16::try_from(jobs).ok())
    }

    /// The platform, parsed (validated by [`Config::load`]).
    pub fn platform(&self) -> Option<Platform> {
        self.platform
            .as_deref()
            .and_then(|text| Platform::parse(text).ok())
    }

    /// The `[ignore]` globs compiled; path globs are relative to `path`'s directory and
    /// every skip reason names `path`.
    pub fn ignore_rules(&self, path: &Path) -> Result<IgnoreRules, ConfigError> {
        let invalid = |key: &str, error: crate::rewrite::PatternError| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!("ignore.{key}: {error}"),
        };
        let mut rules = IgnoreRules::new(path.parent().unwrap_or(Path::new(".")));
        for pattern in &self.ignore.references {
            rules
                .add_reference(pattern, path)
                .map_err(|e| invalid("references", e))?;
        }
        for pattern in &self.ignore.paths {
            rules
                .add_path(pattern, path)
                .map_err(|e| invalid("paths", e))?;
        }
        Ok(rules)
    }
}

/// toml's message on one line, with the line and column, and "key" for "field".
fn describe(text: &str, error: &toml::de::Error) -> String {
    let message = error
        .message()
        .trim()
        .replace("unknown field", "unknown key");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn full_example_parses() {
        let config = Config::parse(
            r#"
attributes = ["container_image"]
strip_tag = true
platform = "linux/arm64"
insecure_registries = ["registry.local:5000"]
jobs = 4
timeout = 12
ca_files = ["ca.pem"]
registry_map = ["mirror.local:5000=docker.io"]

[ignore]
references = ["registry.internal/*"]
paths = ["legacy"]
"#,
        )
        .unwrap();
        assert_eq!(config.attributes, ["container_image"]);
        assert_eq!(config.strip_tag, Some(true));
        assert_eq!(config.platform().unwrap().to_string(), "linux/arm64/v8");
        assert_eq!(config.jobs, Some(4));
        assert_eq!(config.timeout, Some(12.0));
        assert_eq!(config.jobs(), Some(4));
        assert_eq!(config.ignore.references, ["registry.internal/*"]);
        assert_eq!(config.ignore.paths, ["legacy"]);
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let error = Config::parse("jobs = 2\nstrip-tag = true\n").unwrap_err();
        assert!(error.contains("unknown key `strip-tag`"), "{error}");
        assert!(error.starts_with("line 2, column 1:"), "{error}");
        let error = Config::parse("[ignore]\nreference = []\n").unwrap_err();
        assert!(error.contains("unknown key `reference`"), "{error}");
    }

    #[test]
    fn values_are_checked() {
        for (text, expected) in [
            ("jobs = 0", "jobs: 0 is not between 1 and 256"),
            ("jobs = 100000", "jobs: 100000 is not between 1 and 256"),
            ("jobs = -1", "jobs: -1 is not"),
            ("timeout = 0", "timeout: 0 is not"),
            ("platform = \"linux\"", "platform:"),
            ("strip_tag = \"yes\"", "invalid type"),
            ("attributes = [\"\"]", "attributes: entry 1 is empty"),
        ] {
            let error = Config::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
