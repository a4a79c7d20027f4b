//! Command-line layer: flag definitions and dispatch, one file per subcommand. No logic
//! lives here beyond turning flags into each front end's options and printing results.

mod config;
mod external;
mod generate;
mod mirror_check;
mod output;
mod resolve;
mod rewrite;

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::exit;
use crate::registry::Platform;
use crate::resolver::{Resolver, Settings, SettingsError};

/// Pin container image references to registry digests.
#[derive(Debug, Parser)]
#[command(name = "tf-pin", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Read this config file instead of the nearest .tf-pin.toml.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        conflicts_with = "no_config",
        help_heading = "Global options"
    )]
    config: Option<PathBuf>,
    /// Read no config file.
    #[arg(long, global = true, help_heading = "Global options")]
    no_config: bool,
    /// Colour on stderr: auto (a terminal and NO_COLOR unset), always or never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = output::ColorChoice::Auto, help_heading = "Global options")]
    color: output::ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the pinned form (NAME:TAG@sha256:…) of each reference.
    Resolve(resolve::ResolveArgs),
    /// Terraform `external` data source: JSON query on stdin, pinned references on stdout.
    External(external::ExternalArgs),
    /// Pin image references in .tf and .tfvars files, touching nothing but those literals.
    Rewrite(rewrite::RewriteArgs),
    /// Compare what each registry mirror answers for a tag with the upstream's digest.
    MirrorCheck(mirror_check::MirrorCheckArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(generate::CompletionsArgs),
    /// Print the manual page (roff).
    Man(generate::ManArgs),
}

/// Options shared by every subcommand that talks to a registry.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Pick this platform's manifest from a multi-platform index (OS/ARCH[/VARIANT]).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    pub(crate) platform: Option<Platform>,
    /// Write NAME@sha256:… instead of NAME:TAG@sha256:….
    #[arg(long, overrides_with = "no_strip_tag")]
    pub(crate) strip_tag: bool,
    /// Write NAME:TAG@sha256:… even when the config file says strip_tag = true.
    #[arg(long, overrides_with = "strip_tag")]
    pub(crate) no_strip_tag: bool,
    /// Allow plain HTTP (and HTTPS fallback to HTTP) for this registry; repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub(crate) insecure_registries: Vec<String>,
    /// Trust the CA certificates in this PEM file; repeatable.
    #[arg(long = "ca-file", value_name = "PATH")]
    pub(crate) ca_files: Vec<PathBuf>,
    /// Seconds to wait for each registry request.
    #[arg(long, value_name = "SECS", default_value_t = 20.0, value_parser = parse_timeout)]
    pub(crate) timeout: f64,
    /// Requests in flight at once.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) jobs: u16,
    /// Log every registry request (method, URL, status, time) to stderr.
    #[arg(long, short = 'v')]
    pub(crate) verbose: bool,
    /// Resolve references naming MIRROR at UPSTREAM and keep MIRROR in the output; repeatable.
    #[arg(long = "registry-map", value_name = "MIRROR=UPSTREAM", value_parser = parse_registry_map)]
    pub(crate) registry_map: Vec<(String, String)>,
    /// Print errors only.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Colour and progress-bar decisions, made after parsing.
    #[arg(skip)]
    pub(crate) ui: output::Ui,
}

impl RegistryArgs {
    pub(crate) fn settings(&self) -> Settings {
        Settings {
            platform: self.platform.clone(),
            insecure_registries: self.insecure_registries.clone(),
            ca_files: self.ca_files.clone(),
            timeout: Duration::from_secs_f64(self.timeout),
            jobs: usize::from(self.jobs),
            verbose: self.verbose,
            registry_map: self.registry_map.clone(),
        }
    }

    /// A resolver with these settings, drawing a progress bar when [`output::Ui`] says so.
    pub(crate) fn resolver(&self) -> Result<Resolver, SettingsError> {
        let resolver = Resolver::new(self.settings())?;
        Ok(match self.ui.progress() {
            Some(progress) => resolver.with_progress(progress),
            None => resolver,
        })
    }
}

fn parse_platform(text: &str) -> Result<Platform, String> {
    Platform::parse(text).map_err(|e| e.to_string())
}

fn parse_registry_map(text: &str) -> Result<(String, String), String> {
    let valid = |host: &str| {
        crate::reference::Reference::parse(&format!("{host}/x")).is_ok_and(|r| {
            r.registry() != crate::reference::DOCKER_HUB || host == crate::reference::DOCKER_HUB
        })
    };
    match text.split_once('=') {
        Some((mirror, upstream)) if valid(mirror) && valid(upstream) => {
            Ok((mirror.to_owned(), upstream.to_owned()))
        }
        _ => Err(format!(
            "{text:?} is not MIRROR=UPSTREAM with two registry hosts, e.g. mirror.local:5000=docker.io"
        )),
    }
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn run() -> i32 {
    let usage = |error: clap::Error| {
        let _ = error.print();
        if error.use_stderr() {
            exit::INPUT
        } else {
            exit::OK
        }
    };
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => return usage(error),
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => return usage(error),
    };
    let stdout = io::stdout();
    // Rust's stdout flushes every line; into a pipe that is one syscall per reference.
    // On a terminal, keep line order with stderr's findings and summary as it is.
    let mut out: Box<dyn Write> = if io::IsTerminal::is_terminal(&stdout) {
        Box::new(stdout.lock())
    } else {
        Box::new(io::BufWriter::with_capacity(64 * 1024, stdout.lock()))
    };
    // Not locked for the whole run: the progress bar's ticker thread writes to stderr too.
    let mut err = io::stderr();
    if let Err(code) = prepare(&mut cli, &matches, &mut err) {
        return code;
    }
    let code = match cli.command {
        Command::Resolve(args) => resolve::run(&args, &mut out, &mut err),
        Command::External(args) => external::run(&args, &mut out, &mut err),
        Command::Rewrite(args) => rewrite::run(&args, &mut out, &mut err),
        Command::MirrorCheck(args) => mirror_check::run(&args, &mut out, &mut err),
        Command::Completions(args) => generate::completions(&args, &mut out, &mut err),
        Command::Man(args) => generate::man(&args, &mut out, &mut err),
    };
    let _ = out.flush();
    code
}

/// After parsing: the `-v` log, the config file, then colour and progress decisions.
fn prepare(cli: &mut Cli, matches: &clap::ArgMatches, err: &mut dyn Write) -> Result<(), i32> {
    let external = matches!(cli.command, Command::External(_));
    let verbose = match &cli.command {
        Command::Resolve(args) => args.registry.verbose,
        Command::External(args) => args.registry.verbose,
        Command::Rewrite(args) => args.registry.verbose,
        Command::MirrorCheck(args) => args.registry.verbose,
        Command::Completions(_) | Command::Man(_) => return Ok(()),
    };
    if verbose {
        output::init_logging(output::Ui::detect(cli.color, false, true, external).color);
    }
    config::apply(
        &mut cli.command,
        matches.subcommand().map(|(_, m)| m),
        cli.config.as_deref(),
        cli.no_config,
        err,
    )?;
    let registry = match &mut cli.command {
        Command::Resolve(args) => &mut args.registry,
        Command::External(args) => &mut args.registry,
        Command::Rewrite(args) => &mut args.registry,
        Command::MirrorCheck(args) => &mut args.registry,
        Command::Completions(_) | Command::Man(_) => return Ok(()),
    };
    registry.ui = output::Ui::detect(cli.color, registry.quiet, registry.verbose, external);
    Ok(())
}

/// Warns, once per host, when a reference names a registry that the local containerd
/// configuration lists as a mirror and no `--registry-map` covers it: resolving a tag at a
/// pull-through mirror can pin the mirror's stale digest, the bug tf-pin exists to prevent.
pub(crate) struct MirrorWarnings {
    known: crate::mirror::KnownMirrors,
    registry_map: Vec<(String, String)>,
    warned: std::sync::Mutex<std::collections::HashSet<String>>,
    quiet: bool,
}

impl MirrorWarnings {
    /// Reads `$TF_PIN_CONTAINERD_DIR` or `/etc/containerd/certs.d`; a missing or unreadable
    /// configuration just means no warnings (`mirror-check` reports broken files).
    pub(crate) fn load(args: &RegistryArgs) -> MirrorWarnings {
        let dir = std::env::var_os("TF_PIN_CONTAINERD_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(crate::mirror::hosts::DEFAULT_CONTAINERD_DIR));
        MirrorWarnings {
            known: crate::mirror::KnownMirrors::from_containerd_dir(&dir).unwrap_or_default(),
            registry_map: args.registry_map.clone(),
            warned: Default::default(),
            quiet: args.quiet,
        }
    }

    /// Prints the warning for each newly seen mirror host among `references`.
    pub(crate) fn check(&self, references: &[crate::reference::Reference]) {
        if self.quiet || self.known.is_empty() {
            return;
        }
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        for reference in references {
            if warned.contains(reference.registry()) {
                continue;
            }
            if let Some(warning) =
                crate::mirror::unmapped_mirror_warning(reference, &self.known, &self.registry_map)
            {
                eprintln!("tf-pin: warning: {warning}");
                warned.insert(reference.registry().to_owned());
            }
        }
    }
}
