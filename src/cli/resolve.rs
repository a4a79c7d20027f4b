//! `tf-pin resolve`: print the pinned form of each reference, all or nothing.

use std::io::{self, Write};

use clap::{Args, ValueEnum};

use super::RegistryArgs;
use crate::exit;
use crate::reference::Reference;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One line per reference.
    Text,
    /// A JSON document.
    Json,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Image references, e.g. nginx:1.25 or registry.example.com/team/app:latest.
    #[arg(required = true, value_name = "REF")]
    references: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    pub(super) registry: RegistryArgs,
}

pub(super) fn run(args: &ResolveArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
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
    let resolver = match args.registry.resolver() {
        Ok(resolver) => resolver,
        Err(error) => {
            let _ = writeln!(err, "tf-pin: error: {error}");
            return exit::INPUT;
        }
    };
    super::MirrorWarnings::load(&args.registry).check(&parsed);
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
