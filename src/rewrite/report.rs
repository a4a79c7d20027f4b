//! Rendering an [`Outcome`] as text (stdout: the primary output; stderr: diagnostics and
//! the summary) or as one JSON document on stdout.

use std::io::{self, Write};

use serde::Serialize;

use super::driver::{Entry, Note, Outcome};
use super::plan::{Action, Mode};
use super::{Format, Options, Output};

/// Counts per action, in report order.
const ORDER: &[(Action, &str)] = &[
    (Action::Pinned, "pinned"),
    (Action::Updated, "updated"),
    (Action::Unpinned, "unpinned"),
    (Action::Unchanged, "unchanged"),
    (Action::Stale, "stale"),
    (Action::UnpinnedReference, "not pinned"),
    (Action::Missing, "missing"),
    (Action::Failed, "failed"),
    (Action::Skipped, "skipped"),
];

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The one-line human summary, e.g. `pinned 12, updated 1, unchanged 40, skipped 3 in 31
/// files`.
pub fn summary(options: &Options, outcome: &Outcome) -> String {
    let counts: Vec<String> = ORDER
        .iter()
        .filter_map(|(action, label)| {
            let n = outcome
                .entries
                .iter()
                .filter(|e| e.action == *action)
                .count();
            (n > 0).then(|| format!("{label} {n}"))
        })
        .collect();
    let mut line = if counts.is_empty() {
        "no image references".to_owned()
    } else {
        counts.join(", ")
    };
    line.push_str(&format!(" in {}", plural(outcome.files_scanned, "file")));
    if outcome.files_scanned == 0 {
        line.push_str(" (no .tf or .tfvars files found)");
    }
    let failed_files = outcome
        .errors
        .iter()
        .filter(|e| matches!(e, super::Error::Source { .. } | super::Error::Read { .. }))
        .count();
    if failed_files > 0 {
        line.push_str(&format!(
            ", {} could not be read or parsed",
            plural(failed_files, "file")
        ));
    }
    let is_check = matches!(options.mode, Mode::Check { .. });
    if outcome.withheld {
        line.push_str(" (nothing written: some references could not be resolved)");
    } else if !is_check {
        match options.output {
            Output::Write if !outcome.written.is_empty() => {
                line.push_str(&format!(
                    " ({} rewritten)",
                    plural(outcome.written.len(), "file")
                ));
            }
            Output::Write => {}
            Output::DryRun => line.push_str(&format!(
                " (dry run: {} would change, nothing written)",
                plural(outcome.would_change.len(), "file")
            )),
            Output::Diff => line.push_str(&format!(
                " (diff: {} would change, nothing written)",
                plural(outcome.would_change.len(), "file")
            )),
        }
    }
    line
}

fn position(entry: &Entry) -> String {
    format!("{}:{}:{}", entry.file.display(), entry.line, entry.column)
}

/// Writes the report and returns the exit code.
pub fn render(
    options: &Options,
    outcome: &Outcome,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let code = outcome.exit_code(options.mode);
    let written = match options.format {
        super::Format::Text => render_text(options, outcome, stdout, stderr),
        Format::Json => render_json(options, outcome, code, stdout),
    };
    // A closed pipe or full disk on our own output cannot be reported anywhere else.
    let _ = written;
    code
}

fn render_text(
    options: &Options,
    outcome: &Outcome,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<()> {
    let is_check = matches!(options.mode, Mode::Check { .. });
    let loud = !options.quiet;
    for error in &outcome.errors {
        writeln!(stderr, "error: {error}")?;
    }
    for entry in &outcome.entries {
        if entry.action == Action::Failed {
            writeln!(
                stderr,
                "error: {}: {}: {}",
                position(entry),
                entry.before,
                entry.reason.as_deref().unwrap_or_default()
            )?;
        }
    }
    if outcome.withheld {
        writeln!(
            stderr,
            "error: nothing was written because some references could not be resolved; fix them or use --keep-going to write the rest"
        )?;
    }
    if loud {
        for note in outcome.skipped_paths.iter().chain(&outcome.leftovers) {
            writeln!(stderr, "note: {}: {}", note.path.display(), note.message)?;
        }
    }
    for entry in &outcome.entries {
        match entry.action {
            Action::Skipped if (loud && entry.notable) || options.verbose => writeln!(
                stderr,
                "{}: skipped {}: {}",
                position(entry),
                entry.before,
                entry.reason.as_deref().unwrap_or_default()
            )?,
            Action::Unchanged if options.verbose => writeln!(
                stderr,
                "{}: unchanged {}: {}",
                position(entry),
                entry.before,
                entry.reason.as_deref().unwrap_or_default()
            )?,
            action if action.fails_check() && is_check => writeln!(
                stdout,
                "{}: {}: {}",
                position(entry),
                entry.before,
                entry.reason.as_deref().unwrap_or_default()
            )?,
            action if action.changes_file() => {
                let line = format!(
                    "{}: {} {} -> {}",
                    position(entry),
                    action.name(),
                    entry.before,
                    entry.after.as_deref().unwrap_or_default()
                );
                // With diff output the diff itself shows each change.
                if options.output != Output::Diff {
                    if outcome.withheld {
                        if options.verbose {
                            writeln!(stderr, "{line} (not written)")?;
                        }
                    } else if loud {
                        writeln!(stdout, "{line}")?;
                    }
                }
                if let (Some(warning), true) = (&entry.warning, loud) {
                    writeln!(
                        stderr,
                        "warning: {}: {}: {warning}",
                        position(entry),
                        entry.before
                    )?;
                }
            }
            _ => {}
        }
    }
    for (_, diff) in &outcome.diffs {
        write!(stdout, "{diff}")?;
    }
    if loud {
        writeln!(stderr, "{}", summary(options, outcome))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonError {
    file: Option<String>,
    message: String,
}

#[derive(Serialize)]
struct JsonDiff<'a> {
    file: String,
    diff: &'a str,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    mode: &'static str,
    output: &'static str,
    exit_code: i32,
    summary: String,
    files_scanned: usize,
    counts: serde_json::Map<String, serde_json::Value>,
    targets: &'a [Entry],
    errors: Vec<JsonError>,
    skipped_paths: &'a [Note],
    leftover_temp_files: &'a [Note],
    written: Vec<String>,
    would_change: Vec<String>,
    withheld: bool,
    diffs: Vec<JsonDiff<'a>>,
}

fn render_json(
    options: &Options,
    outcome: &Outcome,
    exit_code: i32,
    stdout: &mut dyn Write,
) -> io::Result<()> {
    let mut counts = serde_json::Map::new();
    for (action, _) in ORDER {
        let n = outcome
            .entries
            .iter()
            .filter(|e| e.action == *action)
            .count();
        counts.insert(action.name().to_owned(), n.into());
    }
    let mut errors: Vec<JsonError> = outcome
        .errors
        .iter()
        .map(|error| JsonError {
            file: error.path().map(|p| p.display().to_string()),
            message: error.to_string(),
        })
        .collect();
    if outcome.withheld {
        errors.push(JsonError {
            file: None,
            message: "nothing was written because some references could not be resolved".to_owned(),
        });
    }
    let paths = |list: &[std::path::PathBuf]| -> Vec<String> {
        list.iter().map(|p| p.display().to_string()).collect()
    };
    let report = JsonReport {
        mode: options.mode.name(),
        output: match options.output {
            Output::Write => "write",
            Output::Diff => "diff",
            Output::DryRun => "dry-run",
        },
        exit_code,
        summary: summary(options, outcome),
        files_scanned: outcome.files_scanned,
        counts,
        targets: &outcome.entries,
        errors,
        skipped_paths: &outcome.skipped_paths,
        leftover_temp_files: &outcome.leftovers,
        written: paths(&outcome.written),
        would_change: paths(&outcome.would_change),
        withheld: outcome.withheld,
        diffs: outcome
            .diffs
            .iter()
            .map(|(file, diff)| JsonDiff {
                file: file.display().to_string(),
                diff,
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *stdout, &report).map_err(io::Error::other)?;
    writeln!(stdout)
}
