//! Atomic replacement of a file: write a temporary file next to it, fsync, copy the
//! permissions, rename over the original. The temporary file is removed on any error.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use super::error::Error;

/// Prefix of tf-pin's temporary files.
pub const TEMP_PREFIX: &str = ".tf-pin-";
/// Suffix of tf-pin's temporary files.
pub const TEMP_SUFFIX: &str = ".tmp";
/// Number of random characters between prefix and suffix.
pub const TEMP_RANDOM_LEN: usize = 8;

/// Whether a file name is exactly the shape of tf-pin's temporary files:
/// `.tf-pin-` + 8 ASCII letters/digits + `.tmp`.
pub fn is_temp_file_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .is_some_and(|random| {
            random.len() == TEMP_RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Replaces `path` with `contents` atomically, provided the file still holds `expected`.
/// `display` names the file in errors.
pub fn replace_file(
    path: &Path,
    display: &Path,
    expected: &[u8],
    contents: &[u8],
) -> Result<(), Error> {
    let write_error = |source| Error::Write {
        path: display.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(write_error)?;
    if meta.permissions().readonly() {
        return Err(Error::ReadOnlyFile {
            path: display.to_path_buf(),
        });
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if fs::metadata(dir).is_ok_and(|dir_meta| dir_meta.permissions().readonly()) {
        return Err(Error::ReadOnlyDirectory {
            path: display.to_path_buf(),
        });
    }
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .rand_bytes(TEMP_RANDOM_LEN)
        .tempfile_in(dir)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::PermissionDenied => Error::ReadOnlyDirectory {
                path: display.to_path_buf(),
            },
            _ => write_error(source),
        })?;
    temp.write_all(contents).map_err(write_error)?;
    temp.as_file().sync_all().map_err(write_error)?;
    fs::set_permissions(temp.path(), meta.permissions()).map_err(write_error)?;
    // Last-moment check that nobody else changed the file since it was read.
    match fs::read(path) {
        Ok(current) if current == expected => {}
        Ok(_) => {
            return Err(Error::ChangedDuringRun {
                path: display.to_path_buf(),
            });
        }
        Err(source) => return Err(write_error(source)),
    }
    temp.persist(path).map_err(|err| write_error(err.error))?;
    // Make the rename durable; failure here does not lose data, so it is not an error.
    if let Ok(dir_handle) = fs::File::open(dir) {
        let _ = dir_handle.sync_all();
    }
    Ok(())
}

/// Removes leftover temporary files (exact name shape only, regular files only).
/// Returns the ones removed and the failures.
pub fn remove_leftovers(leftovers: &[std::path::PathBuf]) -> (Vec<std::path::PathBuf>, Vec<Error>) {
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    for path in leftovers {
        let is_ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_temp_file_name);
        let is_file = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
        if !is_ours || !is_file {
            continue;
        }
        match fs::remove_file(path) {
            Ok(()) => removed.push(path.clone()),
            Err(source) => errors.push(Error::Write {
                path: path.clone(),
                source,
            }),
        }
    }
    (removed, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_since_reading_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.tf");
        std::fs::write(&path, "edited meanwhile").unwrap();
        let err = replace_file(&path, &path, b"what we read", b"new").unwrap_err();
        assert!(matches!(err, Error::ChangedDuringRun { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"edited meanwhile");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "the temporary file is cleaned up");
    }

    #[cfg(unix)]
    #[test]
    fn replacing_keeps_the_mode_and_leaves_no_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.tf");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
        replace_file(&path, &path, b"old", b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o604);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temp_file_names_match_exactly() {
        let table: &[(&str, bool)] = &[
            (".tf-pin-a1B2c3D4.tmp", true),
            (".tf-pin-a1B2c3D.tmp", false),
            (".tf-pin-a1B2c3D45.tmp", false),
            (".tf-pin-a1B2-3D4.tmp", false),
            (".tf-pin-a1B2c3D4.tmpx", false),
            ("tf-pin-a1B2c3D4.tmp", false),
            (".tf-pin-notes.txt", false),
        ];
        for (name, expected) in table {
            assert_eq!(is_temp_file_name(name), *expected, "{name}");
        }
    }
}
