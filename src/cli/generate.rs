//! `tf-pin completions SHELL` and `tf-pin man`: shell completion scripts and the manual
//! page, both generated from the clap definitions so they never drift from the flags.

use std::io::{self, Write};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::exit;

/// Flags of `tf-pin completions`.
#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    tf-pin completions bash > ~/.local/share/bash-completion/completions/tf-pin\n  \
    tf-pin completions zsh > ~/.zfunc/_tf-pin   # with fpath+=(~/.zfunc) before compinit\n  \
    tf-pin completions fish > ~/.config/fish/completions/tf-pin.fish\n  \
    tf-pin completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

/// Flags of `tf-pin man`.
#[derive(Debug, Args)]
#[command(
    after_help = "Read it with `tf-pin man | man -l -`, or install it:\n  \
    tf-pin man > /usr/local/share/man/man1/tf-pin.1"
)]
pub struct ManArgs {}

pub(super) fn completions(args: &CompletionsArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    finish(out.write_all(&completion_script(args.shell)), err)
}

/// The completion script for `shell`.
pub(crate) fn completion_script(shell: Shell) -> Vec<u8> {
    let mut command = super::Cli::command();
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut command, "tf-pin", &mut buffer);
    if shell == Shell::Bash {
        // clap_complete 4.6 spells the state of a hyphenated binary two ways: the loop
        // that walks the words arrives at `tf__pin__subcmd__rewrite`, while the case arms
        // are labelled `tf__subcmd__pin__subcmd__rewrite`, so no subcommand's options ever
        // complete (clap-rs/clap#6421). Label the arms the way the loop spells them; once
        // clap_complete is fixed the pattern no longer occurs and this does nothing.
        let script = String::from_utf8_lossy(&buffer).replace("tf__subcmd__pin", "tf__pin");
        buffer = script.into_bytes();
    }
    buffer
}

pub(super) fn man(_args: &ManArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut buffer = Vec::new();
    let rendered = render_man(&mut buffer);
    finish(rendered.and_then(|()| out.write_all(&buffer)), err)
}

fn finish(written: io::Result<()>, err: &mut dyn Write) -> i32 {
    match written {
        Ok(()) => exit::OK,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(error) => {
            let _ = writeln!(err, "tf-pin: error: cannot write the output: {error}");
            exit::INPUT
        }
    }
}

/// The tf-pin(1) page: the top-level options and commands, then one subsection per
/// command with its synopsis, description and options, then configuration, environment,
/// exit status and examples. The version is in the title line.
pub(crate) fn render_man(w: &mut dyn Write) -> io::Result<()> {
    let mut command = super::Cli::command();
    command.build();
    let page = clap_mangen::Man::new(command.clone()).manual("tf-pin manual");
    page.render_title(w)?;
    page.render_name_section(w)?;
    page.render_synopsis_section(w)?;
    page.render_description_section(w)?;
    w.write_all(DESCRIPTION.as_bytes())?;
    page.render_options_section(w)?;
    let subcommands: Vec<&clap::Command> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    writeln!(w, ".SH COMMANDS")?;
    for sub in &subcommands {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(
            w,
            ".TP\n\\fBtf\\-pin {}\\fR\n{}",
            escape(sub.get_name()),
            escape(&about)
        )?;
    }
    writeln!(
        w,
        ".PP\nEach command's options are described in its own section below."
    )?;
    for sub in subcommands {
        let name = format!("tf-pin {}", sub.get_name());
        writeln!(w, ".SH \"{}\"", name.to_uppercase())?;
        let sub_page = clap_mangen::Man::new(sub.clone());
        let mut text = Vec::new();
        sub_page.render_synopsis_section(&mut text)?;
        sub_page.render_description_section(&mut text)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            sub_page.render_options_section(&mut text)?;
        }
        if sub.get_after_help().is_some() {
            sub_page.render_extra_section(&mut text)?;
        }
        w.write_all(&demote_sections(&String::from_utf8_lossy(&text)).into_bytes())?;
    }
    w.write_all(TRAILER.as_bytes())
}

/// Text for a roff line: `-` and `\\` escaped, never starting with a control character.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// `.SH NAME` → `.SS NAME` (subsections inside a command's section); EXTRA becomes NOTES.
fn demote_sections(roff: &str) -> String {
    roff.lines()
        .map(|line| match line.strip_prefix(".SH ") {
            Some("EXTRA") => ".SS NOTES".to_owned(),
            Some(rest) => format!(".SS {rest}"),
            None => line.to_owned(),
        })
        .map(|line| line + "\n")
        .collect()
}

const DESCRIPTION: &str = r#".PP
tf\-pin resolves container image tags to registry digests and pins them in Terraform
code (\fBrewrite\fR), prints them (\fBresolve\fR), serves them to Terraform's external
data source (\fBexternal\fR), or checks registry mirrors against their upstream
(\fBmirror\-check\fR). A pinned reference looks like
\fBregistry.example.com/team/app:1.4@sha256:...\fR: Terraform, Kubernetes and Docker pull
the digest, so a re\-pushed tag or a stale pull\-through mirror can never change what is
deployed without a reviewed change.
"#;

const TRAILER: &str = r#".SH CONFIGURATION
tf\-pin reads \fB.tf\-pin.toml\fR from the working directory or the nearest parent
directory that has one; \fB\-\-config\fR \fIPATH\fR names another file and
\fB\-\-no\-config\fR reads none. Unknown keys are an error. Command\-line flags win over the
file: single values given as flags replace the file's, repeatable flags add to its lists.
.PP
.nf
attributes = ["container_image"]          # image attributes besides `image`
strip_tag = false                         # pin as NAME@sha256:... when true
platform = "linux/amd64"                  # pick this platform out of indexes
insecure_registries = ["registry.local:5000"]
jobs = 8                                  # requests in flight
timeout = 30                              # seconds per request
ca_files = ["certs/ca.pem"]               # relative to the file's directory
registry_map = ["mirror.local:5000=docker.io"]

[ignore]
references = ["registry.internal/*"]      # rewrite leaves these alone
paths = ["legacy", "envs/*/scratch.tf"]   # rewrite does not read these
.fi
.PP
Reference globs match the reference as written (with or without its tag) and its
normalised form (\fBdocker.io/library/nginx\fR); \fB*\fR also matches \fB/\fR. Path globs
are relative to the file's directory: without a \fB/\fR they match a file or directory
name at any depth, with one they are anchored there. Ignores apply to \fBrewrite\fR only;
\fBresolve\fR and \fBexternal\fR always resolve what they are asked for.
.SH ENVIRONMENT
.TP
\fBDOCKER_CONFIG\fR, \fBHOME\fR
Docker's \fIconfig.json\fR (auths, credHelpers, credsStore) is read for registry
credentials.
.TP
\fBREGISTRY_AUTH_FILE\fR, \fBXDG_RUNTIME_DIR\fR
Podman's \fIauth.json\fR is read for registry credentials.
.TP
\fBTF_PIN_CREDENTIAL_HELPER_TIMEOUT\fR
Seconds a docker credential helper may run (default 10).
.TP
\fBTF_PIN_PARSE_TIMEOUT\fR
Seconds \fBrewrite\fR lets the HCL parser spend on one file (default 30); a file that
takes longer is reported and left alone.
.TP
\fBNO_COLOR\fR
When set and not empty, no colours with \fB\-\-color auto\fR.
.SH "EXIT STATUS"
.TP
\fB0\fR
Success; nothing to report.
.TP
\fB1\fR
A check found a problem (\fBrewrite \-\-check\fR found an unpinned, stale or missing
reference; \fBmirror\-check\fR found a stale mirror).
.TP
\fB2\fR
Usage or input error: bad flags, references, configuration or files.
.TP
\fB3\fR
Registry, network or authentication error.
.SH EXAMPLES
.TP
\fBtf\-pin rewrite\fR
Pin every image reference in the .tf and .tfvars files under the working directory.
.TP
\fBtf\-pin rewrite \-\-check \-\-offline\fR
Fail when a reference carries no digest (no network; the pre\-commit hook).
.TP
\fBtf\-pin rewrite \-\-update \-\-diff\fR
Show which pinned digests moved since they were pinned.
.TP
\fBtf\-pin resolve nginx:1.27 ghcr.io/acme/app:main\fR
Print the pinned form of each reference.
.TP
\fBtf\-pin completions bash\fR
Print the bash completion script.
.SH "SEE ALSO"
\fBterraform\fR(1), \fBdocker\fR(1), \fBskopeo\fR(1)
"#;
