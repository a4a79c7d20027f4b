//! Merging `.tf-pin.toml` (see [`crate::config`]) into the parsed flags: a flag given on
//! the command line wins; repeatable flags add to the file's lists.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;

use super::{Command, RegistryArgs};
use crate::config::{Config, ConfigError};
use crate::exit;

/// The config file for this run: `--config PATH`, else the nearest `.tf-pin.toml` from
/// the working directory up, unless `--no-config`.
pub(super) fn load(
    explicit: Option<&Path>,
    no_config: bool,
) -> Result<Option<(PathBuf, Config)>, ConfigError> {
    if no_config {
        return Ok(None);
    }
    if let Some(path) = explicit {
        return Config::load(path).map(|config| Some((path.to_path_buf(), config)));
    }
    match std::env::current_dir() {
        Ok(dir) => Config::discover(&dir),
        // No working directory (deleted under us): nothing to discover.
        Err(_) => Ok(None),
    }
}

/// Applies the config file to the command's flags; on error reports it and returns the
/// exit code.
pub(super) fn apply(
    command: &mut Command,
    matches: Option<&ArgMatches>,
    explicit: Option<&Path>,
    no_config: bool,
    err: &mut dyn Write,
) -> Result<(), i32> {
    let registry = match command {
        Command::Resolve(args) => &mut args.registry,
        Command::External(args) => &mut args.registry,
        Command::Rewrite(args) => &mut args.registry,
        Command::MirrorCheck(args) => &mut args.registry,
        Command::Completions(_) | Command::Man(_) => return Ok(()),
    };
    let fail = |err: &mut dyn Write, error: ConfigError| {
        let _ = writeln!(err, "tf-pin: error: {error}");
        exit::INPUT
    };
    let (path, config) = match load(explicit, no_config) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(()),
        Err(error) => return Err(fail(err, error)),
    };
    if registry.verbose {
        tracing::debug!(target: "tf_pin::config", "config file {}", path.display());
    }
    let Some(matches) = matches else {
        return Ok(());
    };
    apply_registry(&config, &path, registry, matches).map_err(|e| fail(err, e))?;
    if let Command::Rewrite(args) = command {
        let mut attributes = config.attributes.clone();
        attributes.append(&mut args.attributes);
        args.attributes = attributes;
        args.ignore = config.ignore_rules(&path).map_err(|e| fail(err, e))?;
    }
    Ok(())
}

fn from_command_line(matches: &ArgMatches, id: &str) -> bool {
    matches
        .try_get_raw(id)
        .is_ok_and(|_| matches.value_source(id) == Some(ValueSource::CommandLine))
}

/// Fills the registry flags the command line left unset from `config`.
pub(super) fn apply_registry(
    config: &Config,
    path: &Path,
    args: &mut RegistryArgs,
    matches: &ArgMatches,
) -> Result<(), ConfigError> {
    if args.platform.is_none() {
        args.platform = config.platform();
    }
    if !from_command_line(matches, "strip_tag") && !from_command_line(matches, "no_strip_tag") {
        if let Some(strip_tag) = config.strip_tag {
            args.strip_tag = strip_tag;
        }
    }
    if let (Some(jobs), false) = (config.jobs(), from_command_line(matches, "jobs")) {
        args.jobs = jobs;
    }
    if let (Some(timeout), false) = (config.timeout, from_command_line(matches, "timeout")) {
        args.timeout = timeout;
    }
    args.insecure_registries = config
        .insecure_registries
        .iter()
        .cloned()
        .chain(std::mem::take(&mut args.insecure_registries))
        .collect();
    args.ca_files = config
        .ca_files
        .iter()
        .cloned()
        .chain(std::mem::take(&mut args.ca_files))
        .collect();
    for entry in &config.registry_map {
        let (mirror, upstream) =
            super::parse_registry_map(entry).map_err(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("registry_map: {message}"),
            })?;
        let mapped = args
            .registry_map
            .iter()
            .any(|(m, _)| m.eq_ignore_ascii_case(&mirror));
        if !mapped {
            args.registry_map.push((mirror, upstream));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;
    use crate::cli::Cli;

    /// Parses `argv`, applies `config` as if read from /repo/.tf-pin.toml, and returns the
    /// registry flags.
    fn merged(config: &str, argv: &[&str]) -> RegistryArgs {
        let config = Config::parse(config).unwrap();
        let matches = Cli::command()
            .try_get_matches_from(std::iter::once("tf-pin").chain(argv.iter().copied()))
            .unwrap();
        let mut cli = Cli::from_arg_matches(&matches).unwrap();
        let sub = matches.subcommand().unwrap().1;
        let Command::Resolve(args) = &mut cli.command else {
            panic!("resolve expected");
        };
        apply_registry(
            &config,
            Path::new("/repo/.tf-pin.toml"),
            &mut args.registry,
            sub,
        )
        .unwrap();
        args.registry.clone()
    }

    const FILE: &str = r#"
strip_tag = true
platform = "linux/arm64"
jobs = 3
timeout = 7
insecure_registries = ["file.local:5000"]
ca_files = ["/etc/file-ca.pem"]
registry_map = ["mirror.local=docker.io", "other.local=ghcr.io"]
"#;

    #[test]
    fn the_file_fills_what_the_command_line_left_unset() {
        let args = merged(FILE, &["resolve", "nginx"]);
        assert!(args.strip_tag);
        assert_eq!(args.platform.unwrap().to_string(), "linux/arm64/v8");
        assert_eq!(args.jobs, 3);
        assert_eq!(args.timeout, 7.0);
        assert_eq!(args.insecure_registries, ["file.local:5000"]);
        assert_eq!(args.ca_files, [PathBuf::from("/etc/file-ca.pem")]);
        assert_eq!(
            args.registry_map,
            [
                ("mirror.local".to_owned(), "docker.io".to_owned()),
                ("other.local".to_owned(), "ghcr.io".to_owned())
            ]
        );
    }

    #[test]
    fn command_line_flags_win() {
        let args = merged(
            FILE,
            &[
                "resolve",
                "--no-strip-tag",
                "--platform",
                "linux/amd64",
                "--jobs",
                "16",
                "--timeout",
                "20",
                "--insecure-registry",
                "flag.local",
                "--ca-file",
                "flag-ca.pem",
                "--registry-map",
                "mirror.local=quay.io",
                "nginx",
            ],
        );
        assert!(!args.strip_tag);
        assert_eq!(args.platform.unwrap().to_string(), "linux/amd64");
        // Equal to the defaults, but given: still the flag's.
        assert_eq!(args.jobs, 16);
        assert_eq!(args.timeout, 20.0);
        // Repeatable flags add to the file's lists.
        assert_eq!(args.insecure_registries, ["file.local:5000", "flag.local"]);
        assert_eq!(
            args.ca_files,
            [
                PathBuf::from("/etc/file-ca.pem"),
                PathBuf::from("flag-ca.pem")
            ]
        );
        // The flag's mapping of the same mirror wins.
        assert_eq!(
            args.registry_map,
            [
                ("mirror.local".to_owned(), "quay.io".to_owned()),
                ("other.local".to_owned(), "ghcr.io".to_owned())
            ]
        );
    }

    #[test]
    fn strip_tag_flags_override_each_other_and_the_file() {
        assert!(merged("strip_tag = false", &["resolve", "--strip-tag", "x"]).strip_tag);
        assert!(!merged("strip_tag = true", &["resolve", "--no-strip-tag", "x"]).strip_tag);
        let last_wins = merged("", &["resolve", "--no-strip-tag", "--strip-tag", "x"]);
        assert!(last_wins.strip_tag);
        let last_wins = merged("", &["resolve", "--strip-tag", "--no-strip-tag", "x"]);
        assert!(!last_wins.strip_tag);
        assert!(!merged("", &["resolve", "x"]).strip_tag);
    }

    #[test]
    fn a_bad_registry_map_names_the_file() {
        let config = Config::parse("registry_map = [\"nonsense\"]").unwrap();
        let matches = Cli::command()
            .try_get_matches_from(["tf-pin", "resolve", "x"])
            .unwrap();
        let mut cli = Cli::from_arg_matches(&matches).unwrap();
        let Command::Resolve(args) = &mut cli.command else {
            panic!("resolve expected");
        };
        let error = apply_registry(
            &config,
            Path::new("/repo/.tf-pin.toml"),
            &mut args.registry,
            matches.subcommand().unwrap().1,
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("/repo/.tf-pin.toml"), "{message}");
        assert!(message.contains("registry_map"), "{message}");
    }
}
