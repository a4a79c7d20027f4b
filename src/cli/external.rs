//! `tf-pin external`: the Terraform external data source adapter's flags.

use std::io::{self, Write};

use clap::Args;

use super::RegistryArgs;
use crate::resolver::Resolver;

#[derive(Debug, Args)]
pub struct ExternalArgs {
    /// Map each key to the bare digest (sha256:…) instead of the pinned reference.
    #[arg(long, conflicts_with = "strip_tag")]
    digest_only: bool,
    #[command(flatten)]
    pub(super) registry: RegistryArgs,
}

pub(super) fn run(args: &ExternalArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let options = crate::external::Options {
        strip_tag: args.registry.strip_tag,
        digest_only: args.digest_only,
    };
    let resolver = || Resolver::new(args.registry.settings());
    crate::external::run(&options, resolver, &mut io::stdin().lock(), out, err)
}
