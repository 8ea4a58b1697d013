//! `-f` as calicoctl reads it (its `file.Iter`): stdin, a file, or a directory whose `.yaml`,
//! `.yml` and `.json` files (any case) are read in name order, its subdirectories too with
//! `-R`; with `--skip-empty`, no documents is no error.

use std::path::Path;

use walkdir::WalkDir;

use super::{LoadError, Manifest, load};

/// Where `-f` points, and how to read it.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// A file, a directory, or `-` for stdin.
    pub(crate) filename: String,
    /// Into subdirectories of a directory.
    pub(crate) recursive: bool,
    /// No documents is no error.
    pub(crate) skip_empty: bool,
}

/// Why the documents cannot be had, in calicoctl's words.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// A file could not be read or parsed (calicoctl ends with "failed to execute command").
    #[error("failed to execute command: {0}")]
    Invalid(LoadError),
    /// The same, in a file found in a directory: which file says the path.
    #[error("failed to execute command: {path}: {source}")]
    InvalidInDirectory {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: LoadError,
    },
    /// A file has no documents.
    #[error("no resources specified in file {0}")]
    EmptyFile(String),
    /// A directory has no documents.
    #[error("no resources specified in directory {0}")]
    EmptyDirectory(String),
    /// A directory could not be walked.
    #[error("failed to execute command: {0}")]
    Walk(String),
}

/// The documents of `source`, in order; none only with `skip_empty`.
pub(crate) fn read(source: &Source) -> Result<Vec<Manifest>, SourceError> {
    let Source {
        filename,
        recursive,
        skip_empty,
    } = source;
    let is_dir = filename != "-" && Path::new(filename).is_dir();
    if !is_dir {
        let manifests = load(filename).map_err(SourceError::Invalid)?;
        if manifests.is_empty() && !skip_empty {
            return Err(SourceError::EmptyFile(filename.clone()));
        }
        return Ok(manifests);
    }
    let mut all = Vec::new();
    for path in manifest_files(filename, *recursive)? {
        let manifests = load(&path).map_err(|source| SourceError::InvalidInDirectory {
            path: path.clone(),
            source,
        })?;
        if manifests.is_empty() && !skip_empty {
            return Err(SourceError::EmptyFile(path));
        }
        all.extend(manifests);
    }
    if all.is_empty() && !skip_empty {
        return Err(SourceError::EmptyDirectory(filename.clone()));
    }
    Ok(all)
}

/// The manifest files of a directory in Go's filepath.Walk order (names sorted bytewise,
/// depth first); symbolic links are not followed into directories.
fn manifest_files(dir: &str, recursive: bool) -> Result<Vec<String>, SourceError> {
    let walk = WalkDir::new(dir)
        .sort_by_file_name()
        .max_depth(if recursive { usize::MAX } else { 1 });
    let mut files = Vec::new();
    for entry in walk {
        let entry = entry.map_err(|e| SourceError::Walk(e.to_string()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let path = entry.path();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(extension.as_deref(), Some("yaml" | "yml" | "json")) {
            files.push(path.to_string_lossy().into_owned());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: NAME\n";

    fn write(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn names(source: &Source) -> Vec<String> {
        read(source)
            .expect("readable")
            .into_iter()
            .map(|m| m.name)
            .collect()
    }

    fn source(dir: &Path, recursive: bool, skip_empty: bool) -> Source {
        Source {
            filename: dir.to_string_lossy().into_owned(),
            recursive,
            skip_empty,
        }
    }

    #[test]
    fn a_directory_is_read_in_name_order_subdirectories_with_recursive() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "b.yaml", &DOC.replace("NAME", "b"));
        write(
            dir.path(),
            "a.JSON",
            r#"{"kind": "HostEndpoint", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "a"}}"#,
        );
        write(dir.path(), "c.yml", &DOC.replace("NAME", "c"));
        write(dir.path(), "notes.txt", "not a manifest");
        write(dir.path(), "sub/d.yaml", &DOC.replace("NAME", "d"));
        assert_eq!(names(&source(dir.path(), false, false)), ["a", "b", "c"]);
        assert_eq!(
            names(&source(dir.path(), true, false)),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn empty_files_and_directories_are_errors_unless_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty_dir = source(dir.path(), false, false);
        assert_eq!(
            read(&empty_dir).expect_err("empty").to_string(),
            format!("no resources specified in directory {}", empty_dir.filename)
        );
        write(dir.path(), "a.yaml", "# nothing\n");
        let path = dir.path().join("a.yaml").to_string_lossy().into_owned();
        assert_eq!(
            read(&empty_dir).expect_err("empty file").to_string(),
            format!("no resources specified in file {path}")
        );
        assert!(names(&source(dir.path(), false, true)).is_empty());
    }
}
