//! The run: discover files, scan them in parallel, link, resolve every distinct
//! reference in one batch, plan, then write (or diff, or report).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::Error;
use super::files::{self, FileEntry};
use super::link::{self, ScannedFile};
use super::plan::{self, Action, Decision, LookupError, Lookups, Mode};
use super::scan::{self, Scan, ScanOptions};
use super::source_trait::DigestSource;
use super::splice;
use super::write;
use super::{Options, Output};
use crate::exit;

/// One image slot in the report: a target with its decision, or a skip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The file as shown.
    pub file: PathBuf,
    /// One-based line.
    pub line: usize,
    /// One-based column.
    pub column: usize,
    /// The enclosing block (`kubernetes_deployment.app`).
    pub context: String,
    /// The slot inside the block (`spec.template.spec.container.image`).
    pub path: String,
    /// The value: the decoded reference for targets; for skipped slots the source text
    /// as written (first line, shortened), e.g. `var.image` or `"${var.registry}/app:1"`.
    pub before: String,
    /// The new value, when the action changes it.
    pub after: Option<String>,
    /// What happened.
    pub action: Action,
    /// Why.
    pub reason: Option<String>,
    /// A warning about the change (e.g. `lifecycle.ignore_changes` covers it).
    pub warning: Option<String>,
    /// Whether the default text report mentions it.
    #[serde(skip)]
    pub notable: bool,
    /// The exit code a failed lookup maps to.
    #[serde(skip)]
    pub failure_exit_code: Option<i32>,
}

/// A note about the run that is not tied to an image slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What happened.
    pub message: String,
}

/// Everything a run did, ready to be rendered.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Files scanned (parsed or not).
    pub files_scanned: usize,
    /// Every image slot, sorted by file, line and column.
    pub entries: Vec<Entry>,
    /// Errors (input, parse, write, configuration).
    pub errors: Vec<Error>,
    /// Paths not followed (symlinks).
    pub skipped_paths: Vec<Note>,
    /// Leftover temporary files found or removed.
    pub leftovers: Vec<Note>,
    /// Unified diffs of the files that would change (diff output).
    pub diffs: Vec<(PathBuf, String)>,
    /// Files rewritten (write output).
    pub written: Vec<PathBuf>,
    /// Files that would change (dry-run and diff output).
    pub would_change: Vec<PathBuf>,
    /// Lookups failed and keep-going was off, so nothing was written.
    pub withheld: bool,
}

impl Outcome {
    /// The process exit code: the worst of registry errors (3), input errors (2) and
    /// check findings (1).
    pub fn exit_code(&self, mode: Mode) -> i32 {
        let mut code = exit::OK;
        for error in &self.errors {
            code = code.max(error.exit_code());
        }
        for entry in &self.entries {
            if let Some(failure) = entry.failure_exit_code {
                code = code.max(failure);
            }
            if matches!(mode, Mode::Check { .. }) && entry.action.fails_check() {
                code = code.max(exit::CHECK_FAILED);
            }
        }
        code
    }
}

struct FileState {
    entry: FileEntry,
    bytes: Vec<u8>,
    scan: Scan,
}

/// Runs everything but the rendering.
pub fn execute(options: &Options, source: Option<&dyn DigestSource>) -> Outcome {
    let mut outcome = Outcome::default();
    let default_paths = [PathBuf::from(".")];
    let paths: &[PathBuf] = if options.paths.is_empty() {
        &default_paths
    } else {
        &options.paths
    };
    let mut discovery = match files::discover(paths) {
        Ok(discovery) => discovery,
        Err(errors) => {
            outcome.errors = errors;
            return outcome;
        }
    };
    let ignored_files = super::ignore::filter_discovery(&options.ignore, &mut discovery);
    outcome.errors.extend(discovery.errors);
    outcome.skipped_paths = discovery
        .skipped
        .into_iter()
        .chain(ignored_files.into_iter().filter(|_| options.verbose))
        .map(|(path, message)| Note { path, message })
        .collect();
    let writes = options.output == Output::Write && !matches!(options.mode, Mode::Check { .. });
    if writes {
        let (removed, errors) = write::remove_leftovers(&discovery.leftovers);
        outcome.leftovers = removed
            .into_iter()
            .map(|path| Note {
                path,
                message: "removed a temporary file left by an interrupted tf-pin run".to_owned(),
            })
            .collect();
        outcome.errors.extend(errors);
    } else {
        outcome.leftovers = discovery
            .leftovers
            .into_iter()
            .map(|path| Note {
                path,
                message: "temporary file left by an interrupted tf-pin run; the next run that writes removes it".to_owned(),
            })
            .collect();
    }

    outcome.files_scanned = discovery.files.len();
    let scan_options = ScanOptions {
        extra_attributes: options.extra_attributes.clone(),
    };
    let mut states = Vec::new();
    for (entry, result) in scan_all(discovery.files, &scan_options) {
        match result {
            Ok((bytes, scan)) => states.push(FileState { entry, bytes, scan }),
            Err(error) => outcome.errors.push(error),
        }
    }
    link_states(&mut states);
    super::ignore::filter_targets(&options.ignore, states.iter_mut().map(|s| &mut s.scan));

    let needs = plan::needs(states.iter().flat_map(|s| &s.scan.targets), options.mode);
    let lookups = match lookup(&needs, source) {
        Ok(lookups) => lookups,
        Err(error) => {
            outcome.errors.push(error);
            return outcome;
        }
    };

    let decisions: Vec<Vec<Decision>> = states
        .iter()
        .map(|state| {
            state
                .scan
                .targets
                .iter()
                .map(|target| plan::plan(target, options.mode, options.strip_tag, &lookups))
                .collect()
        })
        .collect();
    let any_failed = decisions
        .iter()
        .flatten()
        .any(|d| d.action == Action::Failed);
    outcome.withheld =
        any_failed && !options.keep_going && !matches!(options.mode, Mode::Check { .. });

    for (state, decisions) in states.iter().zip(&decisions) {
        collect_entries(state, decisions, &mut outcome.entries);
        if outcome.withheld || matches!(options.mode, Mode::Check { .. }) {
            continue;
        }
        let edits: Vec<splice::Edit> = state
            .scan
            .targets
            .iter()
            .zip(decisions)
            .filter_map(|(target, decision)| plan::edit_for(target, decision))
            .collect();
        if edits.is_empty() {
            continue;
        }
        let new_bytes = match splice::apply_edits(&state.bytes, &edits) {
            Ok(bytes) => bytes,
            Err(err) => {
                outcome.errors.push(Error::Internal(format!(
                    "{}: {err}",
                    state.entry.display.display()
                )));
                continue;
            }
        };
        if new_bytes == state.bytes {
            continue;
        }
        let display = &state.entry.display;
        match options.output {
            Output::Write => {
                match write::replace_file(&state.entry.real, display, &state.bytes, &new_bytes) {
                    Ok(()) => outcome.written.push(display.clone()),
                    Err(error) => outcome.errors.push(error),
                }
            }
            Output::Diff => {
                outcome.diffs.push((
                    display.clone(),
                    unified_diff(display, &state.bytes, &new_bytes),
                ));
                outcome.would_change.push(display.clone());
            }
            Output::DryRun => outcome.would_change.push(display.clone()),
        }
    }
    outcome
}

fn collect_entries(state: &FileState, decisions: &[Decision], entries: &mut Vec<Entry>) {
    let file = &state.entry.display;
    let mut found: Vec<Entry> = Vec::new();
    for (target, decision) in state.scan.targets.iter().zip(decisions) {
        let warning = match (&target.lifecycle, decision.action.changes_file()) {
            (Some(explanation), true) => Some(format!(
                "{explanation}: Terraform ignores changes to it, so it will not roll out the new value; remove it from ignore_changes or apply with -replace"
            )),
            _ => None,
        };
        found.push(Entry {
            file: file.clone(),
            line: target.line,
            column: target.column,
            context: target.context.clone(),
            path: target.path.clone(),
            before: target.value.clone(),
            after: decision.after.clone(),
            action: decision.action,
            reason: decision.reason.clone(),
            warning,
            notable: true,
            failure_exit_code: decision.failure.as_ref().map(|f| f.exit_code),
        });
    }
    for skipped in &state.scan.skipped {
        found.push(Entry {
            file: file.clone(),
            line: skipped.line,
            column: skipped.column,
            context: skipped.context.clone(),
            path: skipped.path.clone(),
            before: skipped.value.clone(),
            after: None,
            action: Action::Skipped,
            reason: Some(skipped.reason.clone()),
            warning: None,
            notable: skipped.notable,
            failure_exit_code: None,
        });
    }
    found.sort_by_key(|entry| (entry.line, entry.column));
    entries.extend(found);
}

fn link_states(states: &mut [FileState]) {
    let mut scanned: Vec<ScannedFile> = states
        .iter_mut()
        .map(|state| ScannedFile {
            display: state.entry.display.clone(),
            scan: std::mem::take(&mut state.scan),
        })
        .collect();
    link::link(&mut scanned);
    for (state, file) in states.iter_mut().zip(scanned) {
        state.scan = file.scan;
    }
}

/// Asks the registry everything at once: one `resolve_many`, one `manifest_exists`.
fn lookup(needs: &plan::Needs, source: Option<&dyn DigestSource>) -> Result<Lookups, Error> {
    let mut lookups = Lookups::default();
    if needs.is_empty() {
        return Ok(lookups);
    }
    let Some(source) = source else {
        return Err(Error::NoRegistry { count: needs.len() });
    };
    let no_answer = || LookupError {
        message: "the registry client returned no answer for this reference".to_owned(),
        exit_code: exit::REGISTRY,
    };
    if !needs.tags.is_empty() {
        let mut answers = source.resolve_many(&needs.tags).into_iter();
        for reference in &needs.tags {
            let answer = answers.next().unwrap_or_else(|| Err(no_answer()));
            lookups.set_tag(reference, answer.map(|resolution| resolution.digest));
        }
    }
    if !needs.manifests.is_empty() {
        let mut answers = source.manifest_exists(&needs.manifests).into_iter();
        for (reference, digest) in &needs.manifests {
            let answer = answers.next().unwrap_or_else(|| Err(no_answer()));
            lookups.set_manifest(reference, digest, answer);
        }
    }
    Ok(lookups)
}

type ScanResult = Result<(Vec<u8>, Scan), Error>;

fn scan_file(entry: &FileEntry, options: &ScanOptions) -> ScanResult {
    let bytes = files::read(entry)?;
    match scan::scan_source(&bytes, entry.kind, options) {
        Ok(scan) => Ok((bytes, scan)),
        Err(source) => Err(Error::Source {
            path: entry.display.clone(),
            source,
        }),
    }
}

/// Reads and scans files on all cores, keeping their order.
fn scan_all(files: Vec<FileEntry>, options: &ScanOptions) -> Vec<(FileEntry, ScanResult)> {
    const STACK: usize = 32 * 1024 * 1024;
    if files.is_empty() {
        return Vec::new();
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(files.len());
    let chunk_size = files.len().div_ceil(workers);
    let results: Vec<ScanResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk_size)
            .map(|chunk| {
                let work = move || {
                    chunk
                        .iter()
                        .map(|entry| scan_file(entry, options))
                        .collect::<Vec<_>>()
                };
                (
                    chunk,
                    std::thread::Builder::new()
                        .stack_size(STACK)
                        .spawn_scoped(scope, work),
                )
            })
            .collect();
        let mut results = Vec::with_capacity(files.len());
        for (chunk, handle) in handles {
            let chunk_results = match handle {
                Ok(handle) => handle.join().unwrap_or_else(|_| {
                    chunk
                        .iter()
                        .map(|entry| {
                            Err(Error::Internal(format!(
                                "{}: scanning panicked (please report it)",
                                entry.display.display()
                            )))
                        })
                        .collect()
                }),
                // No thread available: scan this chunk here.
                Err(_) => chunk
                    .iter()
                    .map(|entry| scan_file(entry, options))
                    .collect(),
            };
            results.extend(chunk_results);
        }
        results
    });
    files.into_iter().zip(results).collect()
}

/// A unified diff with `--- a/PATH` / `+++ b/PATH` headers.
pub fn unified_diff(display: &Path, old: &[u8], new: &[u8]) -> String {
    let name = display.to_string_lossy().replace('\\', "/");
    let name = name.trim_start_matches('/');
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
    diff.unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}
