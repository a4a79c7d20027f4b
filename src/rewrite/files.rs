//! Finding the `.tf` and `.tfvars` files under the given paths.
//!
//! Rules: directories are walked recursively in sorted order; hidden directories
//! (`.terraform/`, `.git/`, any `.name/`) are skipped, and so are the files Terraform
//! itself ignores (`.name`, `name~`, `#name#`). A symlink is followed only when its
//! target lies inside the tree being scanned; symlinked directories are never followed
//! (their target is inside the tree and scanned directly, or outside and skipped). A
//! file reached twice (directly and through a symlink) is scanned once, and edits are
//! written to the real file, never over the link.
//!
//! A file larger than [`MAX_FILE_BYTES`] is refused without being read.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use super::error::Error;
use super::scan::FileKind;
use super::write::is_temp_file_name;

/// The largest file tf-pin reads (16 MiB). Parsing costs about 20 times a file's size in
/// memory (hcl-edit's syntax tree keeps every token with its whitespace and comments), so
/// this bounds a run's memory; real configurations, even generated ones, stay far below.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a discovered file. Anything but a regular file (a named pipe, a socket, a device)
/// is refused without opening it, and one larger than [`MAX_FILE_BYTES`] without reading
/// it (reading stops at the limit if the file grows meanwhile).
pub fn read(entry: &FileEntry) -> Result<Vec<u8>, Error> {
    let error = |source| Error::Read {
        path: entry.display.clone(),
        source,
    };
    // Opening a named pipe blocks until something writes to it: look before opening.
    if !fs::metadata(&entry.real).map_err(error)?.is_file() {
        return Err(error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a named pipe, socket or device), so tf-pin did not open it and left it alone; replace it with a regular file or leave it out of the paths",
        )));
    }
    let file = fs::File::open(&entry.real).map_err(error)?;
    let size = file.metadata().map_err(error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(error(too_large(size)));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(error(too_large(bytes.len() as u64)));
    }
    Ok(bytes)
}

fn too_large(size: u64) -> io::Error {
    const MIB: f64 = 1024.0 * 1024.0;
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "the file is {:.1} MiB, more than the {} MiB tf-pin reads (parsing takes about 20 times a file's size in memory), so it was left alone; split it into smaller .tf files",
            size as f64 / MIB,
            MAX_FILE_BYTES / (1024 * 1024)
        ),
    )
}

/// A file to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The path as reached from the arguments (shown in reports).
    pub display: PathBuf,
    /// The canonical path (read and written).
    pub real: PathBuf,
    /// `.tf` or `.tfvars`.
    pub kind: FileKind,
    /// Whether it was reached through a symlink.
    pub via_symlink: bool,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files to scan, sorted by display path.
    pub files: Vec<FileEntry>,
    /// Paths not followed, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Leftover `.tf-pin-*.tmp` files from an interrupted run.
    pub leftovers: Vec<PathBuf>,
    /// Directories or files that could not be read.
    pub errors: Vec<Error>,
}

/// Walks `paths`. Fails, before touching anything, when a path does not exist.
pub fn discover(paths: &[PathBuf]) -> Result<Discovery, Vec<Error>> {
    let missing: Vec<Error> = paths
        .iter()
        .filter(|path| fs::metadata(path).is_err())
        .map(|path| Error::PathNotFound { path: path.clone() })
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let mut found = Discovery::default();
    for path in paths {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(_) => {
                found
                    .errors
                    .push(Error::PathNotFound { path: path.clone() });
                continue;
            }
        };
        let real = match fs::canonicalize(path) {
            Ok(real) => real,
            Err(source) => {
                found.errors.push(Error::Read {
                    path: path.clone(),
                    source,
                });
                continue;
            }
        };
        if meta.is_dir() {
            walk_dir(path, &real, &mut found);
        } else {
            match FileKind::of_path(path) {
                Some(kind) => found.files.push(FileEntry {
                    display: path.clone(),
                    real,
                    kind,
                    via_symlink: false,
                }),
                None => found
                    .errors
                    .push(Error::NotTerraform { path: path.clone() }),
            }
        }
    }
    found.files.sort_by(|a, b| a.display.cmp(&b.display));
    found.files = dedupe(std::mem::take(&mut found.files));
    found.skipped.sort();
    found.leftovers.sort();
    found.leftovers.dedup();
    Ok(found)
}

/// Keeps one entry per real file, preferring one not reached through a symlink.
fn dedupe(files: Vec<FileEntry>) -> Vec<FileEntry> {
    let mut out: Vec<FileEntry> = Vec::with_capacity(files.len());
    // Indexed by real path: a linear search here made discovery quadratic (10,000 files
    // meant 50 million path comparisons).
    let mut index: std::collections::HashMap<PathBuf, usize> =
        std::collections::HashMap::with_capacity(files.len());
    for file in files {
        match index.get(&file.real) {
            Some(&i) if out[i].via_symlink && !file.via_symlink => out[i] = file,
            Some(_) => {}
            None => {
                index.insert(file.real.clone(), out.len());
                out.push(file);
            }
        }
    }
    out.sort_by(|a, b| a.display.cmp(&b.display));
    out
}

/// Files Terraform itself does not load.
fn is_ignored_file_name(name: &str) -> bool {
    name.starts_with('.') || name.ends_with('~') || (name.starts_with('#') && name.ends_with('#'))
}

fn join(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    if dir == Path::new(".") {
        PathBuf::from(name)
    } else {
        dir.join(name)
    }
}

fn walk_dir(dir: &Path, root: &Path, found: &mut Discovery) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) => {
            found.errors.push(Error::Read {
                path: dir.to_path_buf(),
                source,
            });
            return;
        }
    };
    let mut entries: Vec<fs::DirEntry> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let file_name = entry.file_name();
        let name = file_name.to_string_lossy();
        let display = join(dir, &file_name);
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if !name.starts_with('.') {
                walk_dir(&display, root, found);
            }
            continue;
        }
        if name.starts_with('.') {
            if file_type.is_file() && is_temp_file_name(&name) {
                found.leftovers.push(display);
            }
            continue;
        }
        if is_ignored_file_name(&name) {
            continue;
        }
        if file_type.is_symlink() {
            symlink(display, root, found);
            continue;
        }
        if let Some(kind) = FileKind::of_path(&display) {
            let real = fs::canonicalize(&display).unwrap_or_else(|_| display.clone());
            found.files.push(FileEntry {
                display,
                real,
                kind,
                via_symlink: false,
            });
        }
    }
}

fn symlink(display: PathBuf, root: &Path, found: &mut Discovery) {
    let target = match fs::canonicalize(&display) {
        Ok(target) => target,
        Err(err) => {
            let reason = if err.kind() == io::ErrorKind::NotFound {
                "dangling symlink: its target does not exist".to_owned()
            } else {
                // A loop (ELOOP) or an unreadable directory on the way.
                format!("symlink not followed: its target cannot be resolved ({err})")
            };
            found.skipped.push((display, reason));
            return;
        }
    };
    if !target.starts_with(root) {
        let reason = format!(
            "symlink to {}, outside the scanned tree {}: not followed",
            target.display(),
            root.display()
        );
        found.skipped.push((display, reason));
        return;
    }
    if target.is_dir() {
        let reason = format!(
            "symlink to the directory {} inside the scanned tree: not followed (the directory is scanned directly)",
            target.display()
        );
        found.skipped.push((display, reason));
        return;
    }
    if let Some(kind) = FileKind::of_path(&display) {
        found.files.push(FileEntry {
            display,
            real: target,
            kind,
            via_symlink: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &Path) -> FileEntry {
        FileEntry {
            display: path.to_path_buf(),
            real: path.to_path_buf(),
            kind: FileKind::Terraform,
            via_symlink: false,
        }
    }

    #[test]
    fn a_file_over_the_limit_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.tf");
        // Sparse: the size is what counts, not what is on disk.
        let file = fs::File::create(&path).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = read(&entry(&path)).unwrap_err();
        let Error::Read {
            path: named,
            source,
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!(named, &path);
        assert_eq!(source.kind(), io::ErrorKind::FileTooLarge);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "{}: cannot read: the file is 16.0 MiB, more than the 16 MiB",
                path.display()
            )) && message.ends_with("split it into smaller .tf files"),
            "{message}"
        );

        file.set_len(MAX_FILE_BYTES).unwrap();
        assert_eq!(read(&entry(&path)).unwrap().len() as u64, MAX_FILE_BYTES);
    }

    #[cfg(unix)]
    #[test]
    fn a_named_pipe_is_refused_without_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe.tf");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        // Before the fix, this blocked forever in open(2).
        let err = read(&entry(&path)).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{}: cannot read: not a regular file (a named pipe, socket or device)",
                path.display()
            )),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_skipped_as_unresolvable_not_as_dangling() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.tf"), dir.path().join("b.tf"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone.tf"), dir.path().join("c.tf")).unwrap();
        let found = discover(&[dir.path().to_path_buf()]).unwrap();
        assert!(found.files.is_empty());
        let reasons: Vec<(String, &str)> = found
            .skipped
            .iter()
            .map(|(path, reason)| {
                (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    reason.as_str(),
                )
            })
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        for (name, reason) in &reasons[..2] {
            assert!(
                reason.starts_with("symlink not followed: its target cannot be resolved (")
                    && reason.contains("symbolic links"),
                "{name}: {reason}"
            );
        }
        assert_eq!(reasons[2].0, "c.tf");
        assert_eq!(reasons[2].1, "dangling symlink: its target does not exist");
    }
}
