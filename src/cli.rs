//! Command-line layer: flag definitions and dispatch. No logic lives here beyond turning
//! flags into each front end's options and printing what they return.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit;
use crate::reference::Reference;
use crate::registry::Platform;
use crate::resolver::{Resolver, Settings};

/// Pin container image references to registry digests.
#[derive(Debug, Parser)]
#[command(name = "tf-pin", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the pinned form (NAME:TAG@sha256:…) of each reference.
    Resolve(ResolveArgs),
    /// Terraform `external` data source: JSON query on stdin, pinned references on stdout.
    External(ExternalArgs),
}

/// Options shared by every subcommand that talks to a registry.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Pick this platform's manifest from a multi-platform index (OS/ARCH[/VARIANT]).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    platform: Option<Platform>,
    /// Write NAME@sha256:… instead of NAME:TAG@sha256:….
    #[arg(long)]
    strip_tag: bool,
    /// Allow plain HTTP (and HTTPS fallback to HTTP) for this registry; repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registries: Vec<String>,
    /// Trust the CA certificates in this PEM file; repeatable.
    #[arg(long = "ca-file", value_name = "PATH")]
    ca_files: Vec<PathBuf>,
    /// Seconds to wait for each registry request.
    #[arg(long, value_name = "SECS", default_value_t = 20.0, value_parser = parse_timeout)]
    timeout: f64,
    /// Requests in flight at once.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// Log every registry request (method, URL, status, time) to stderr.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Print errors only.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    quiet: bool,
}

impl RegistryArgs {
    fn settings(&self) -> Settings {
        Settings {
            platform: self.platform.clone(),
            insecure_registries: self.insecure_registries.clone(),
            ca_files: self.ca_files.clone(),
            timeout: Duration::from_secs_f64(self.timeout),
            jobs: usize::from(self.jobs),
            verbose: self.verbose,
            registry_map: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct ResolveArgs {
    /// Image references, e.g. nginx:1.25 or registry.example.com/team/app:latest.
    #[arg(required = true, value_name = "REF")]
    references: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
struct ExternalArgs {
    /// Map each key to the bare digest (sha256:…) instead of the pinned reference.
    #[arg(long, conflicts_with = "strip_tag")]
    digest_only: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

fn parse_platform(text: &str) -> Result<Platform, String> {
    Platform::parse(text).map_err(|e| e.to_string())
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                exit::INPUT
            } else {
                exit::OK
            };
        }
    };
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let code = match cli.command {
        Command::Resolve(args) => resolve(&args, &mut out, &mut err),
        Command::External(args) => {
            let options = crate::external::Options {
                strip_tag: args.registry.strip_tag,
                digest_only: args.digest_only,
            };
            let resolver = || Resolver::new(args.registry.settings());
            crate::external::run(
                &options,
                resolver,
                &mut io::stdin().lock(),
                &mut out,
                &mut err,
            )
        }
    };
    let _ = out.flush();
    code
}

fn resolve(args: &ResolveArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut parsed = Vec::with_capacity(args.references.len());
    let mut code = exit::OK;
    for input in &args.references {
        match Reference::parse(input) {
            Ok(reference) => parsed.push(reference),
            Err(error) => {
                let _ = writeln!(err, "tf-pin: error: {error}");
                code = exit::INPUT;
            }
        }
    }
    let resolver = match Resolver::new(args.registry.settings()) {
        Ok(resolver) => resolver,
        Err(error) => {
            let _ = writeln!(err, "tf-pin: error: {error}");
            return exit::INPUT;
        }
    };
    let results = resolver.resolve_many(&parsed);
    for result in &results {
        if let Err(error) = result {
            let _ = writeln!(err, "tf-pin: error: {error}");
            if code == exit::OK {
                code = error.exit_code();
            }
        }
    }
    if code != exit::OK {
        // All or nothing: a partial list would misalign output lines with inputs.
        return code;
    }
    let strip_tag = args.registry.strip_tag;
    let written =
        match args.format {
            Format::Text => parsed
                .iter()
                .zip(&results)
                .try_for_each(|(reference, result)| match result {
                    Ok(resolution) => {
                        writeln!(out, "{}", reference.pinned(&resolution.digest, strip_tag))
                    }
                    Err(_) => Ok(()),
                }),
            Format::Json => {
                let items: Vec<serde_json::Value> = parsed
                    .iter()
                    .zip(&results)
                    .filter_map(|(reference, result)| {
                        let resolution = result.as_ref().ok()?;
                        let mut item = serde_json::json!({
                            "input": reference.to_string(),
                            "pinned": reference.pinned(&resolution.digest, strip_tag),
                            "registry": reference.registry(),
                            "repository": reference.repository(),
                            "tag": reference.tag_or_default(),
                            "digest": resolution.digest.as_str(),
                            "media_type": resolution.media_type,
                        });
                        if let Some(platform) = &resolution.platform {
                            item["platform"] = platform.clone().into();
                        }
                        Some(item)
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut *out, &items)
                    .map_err(io::Error::from)
                    .and_then(|()| writeln!(out))
            }
        };
    match written {
        Ok(()) => exit::OK,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(error) => {
            let _ = writeln!(err, "tf-pin: error: cannot write the output: {error}");
            exit::INPUT
        }
    }
}
