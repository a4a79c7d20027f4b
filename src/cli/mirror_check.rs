//! `tf-pin mirror-check`: compare what each registry mirror answers for a tag with what
//! the upstream answers (see [`crate::mirror`] for statuses and exit codes).

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;

use super::RegistryArgs;
use super::resolve::Format;
use crate::exit;
use crate::mirror::{self, MirrorConfig, Sources, Target};
use crate::reference::Reference;
use crate::resolver::Resolver;

#[derive(Debug, Args)]
#[command(
    after_help = "Statuses: fresh (same digest), stale (the mirror serves another digest), missing (the mirror has no such tag), unverified (the upstream could not be asked), mirror-error (the mirror could not be asked).\n\nExit status: 0 every check fresh or missing; 1 some mirror is stale; 2 input error (nothing checked); 3 no stale mirror found, but some check failed (unverified or mirror-error)."
)]
pub struct MirrorCheckArgs {
    /// Image references to check, e.g. registry.example.com/team/app:latest.
    #[arg(
        value_name = "REF",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    references: Vec<String>,
    /// Check the image references in the .tf/.tfvars files under PATH; repeatable.
    #[arg(long = "from", value_name = "PATH")]
    from: Vec<PathBuf>,
    /// Ask this mirror for every reference (http[s]://HOST[:PORT][/PATH]); repeatable.
    #[arg(long = "mirror", value_name = "URL")]
    mirrors: Vec<String>,
    /// containerd's registry host directory (its `config_path`) [default:
    /// /etc/containerd/certs.d, read only when neither --mirror nor --hosts-toml is given].
    #[arg(long, value_name = "DIR")]
    containerd_dir: Option<PathBuf>,
    /// Apply the mirrors of this hosts.toml to every reference; repeatable.
    #[arg(long = "hosts-toml", value_name = "FILE")]
    hosts_toml: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    pub(super) registry: RegistryArgs,
}

pub(super) fn run(args: &MirrorCheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let quiet = args.registry.quiet;
    let targets = match targets(args, err) {
        Ok(targets) => targets,
        Err(code) => return code,
    };
    let sources = Sources {
        mirrors: args.mirrors.clone(),
        hosts_toml: args.hosts_toml.clone(),
        containerd_dir: args.containerd_dir.clone(),
    };
    let registry_map = &args.registry.registry_map;
    let plan = match MirrorConfig::load(&sources).and_then(|config| {
        if !quiet {
            let known = config.known_mirrors();
            for target in &targets {
                if let Some(warning) =
                    mirror::unmapped_mirror_warning(&target.reference, &known, registry_map)
                {
                    let _ = writeln!(err, "tf-pin: warning: {warning}");
                }
            }
        }
        mirror::plan(targets, &config, registry_map)
    }) {
        Ok(plan) => plan,
        Err(error) => {
            let _ = writeln!(err, "tf-pin: error: {error}");
            return error.exit_code();
        }
    };
    if !quiet {
        for warning in &plan.warnings {
            let _ = writeln!(err, "tf-pin: warning: {warning}");
        }
    }
    let resolver = match Resolver::new(args.registry.settings()) {
        Ok(resolver) => resolver,
        Err(error) => {
            let _ = writeln!(err, "tf-pin: error: {error}");
            return exit::INPUT;
        }
    };
    let report = mirror::check(&resolver, &plan);
    let written = match args.format {
        Format::Text => report.write_text(out, quiet),
        Format::Json => serde_json::to_writer_pretty(&mut *out, &report.to_json())
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
    };
    if let Err(error) = written {
        if error.kind() != io::ErrorKind::BrokenPipe {
            let _ = writeln!(err, "tf-pin: error: cannot write the output: {error}");
            return exit::INPUT;
        }
    }
    if !quiet && args.format == Format::Text {
        let _ = writeln!(err, "tf-pin: mirror-check: {}", report.summary());
    }
    report.exit_code()
}

/// The references from the command line or the files under `--from`; on input errors
/// (all reported) the exit code.
fn targets(args: &MirrorCheckArgs, err: &mut dyn Write) -> Result<Vec<Target>, i32> {
    if !args.from.is_empty() {
        return from_files(&args.from, err);
    }
    let mut targets = Vec::with_capacity(args.references.len());
    let mut failed = false;
    for input in &args.references {
        match Reference::parse(input) {
            Ok(reference) => targets.push(Target {
                reference,
                locations: Vec::new(),
            }),
            Err(error) => {
                let _ = writeln!(err, "tf-pin: error: {error}");
                failed = true;
            }
        }
    }
    if failed {
        Err(exit::INPUT)
    } else {
        Ok(targets)
    }
}

fn from_files(paths: &[PathBuf], err: &mut dyn Write) -> Result<Vec<Target>, i32> {
    match mirror::targets_from_files(paths) {
        Ok(targets) if targets.is_empty() => {
            let _ = writeln!(
                err,
                "tf-pin: error: no image reference found in the .tf/.tfvars files under {}: mirror-check reads the literal references that rewrite would pin; pass references as arguments instead",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Err(exit::INPUT)
        }
        Ok(targets) => Ok(targets),
        Err(errors) => {
            for error in &errors {
                let _ = writeln!(err, "tf-pin: error: {error}");
            }
            Err(exit::INPUT)
        }
    }
}
