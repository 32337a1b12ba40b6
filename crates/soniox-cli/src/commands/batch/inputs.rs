//! What a batch transcribes: the files of a directory, or the paths listed in a file, each
//! with the name its output is written under.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use crate::failure::Failure;

/// One file to transcribe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Input {
    /// Where the audio is.
    pub(super) path: PathBuf,
    /// Its file name: the uploaded file's name, and the stem of its outputs.
    pub(super) name: String,
}

/// The regular files directly in `source` (hidden ones skipped) when it is a directory, or
/// the paths listed in it, one a line (blank lines and `#` comments skipped, relative paths
/// taken from the list's directory), in a stable order.
///
/// # Errors
/// A usage failure when `source` cannot be read, a listed file is missing, or two inputs
/// share a file name (their outputs would collide).
pub(super) fn read(source: &Path) -> Result<Vec<Input>, Failure> {
    let metadata =
        std::fs::metadata(source).map_err(|error| Failure::io(source.display(), &error))?;
    let mut paths = if metadata.is_dir() {
        let entries =
            std::fs::read_dir(source).map_err(|error| Failure::io(source.display(), &error))?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| Failure::io(source.display(), &error))?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && entry.file_type().is_ok_and(|kind| kind.is_file()) {
                paths.push(entry.path());
            }
        }
        paths.sort();
        paths
    } else {
        let list = std::fs::read_to_string(source)
            .map_err(|error| Failure::io(source.display(), &error))?;
        let base = source.parent().unwrap_or(Path::new(""));
        list.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| base.join(line))
            .collect()
    };
    let mut names = HashSet::new();
    let mut inputs = Vec::with_capacity(paths.len());
    for path in paths.drain(..) {
        if !path.is_file() {
            return Err(Failure::usage(format!("{}: not a file", path.display())));
        }
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| Failure::usage(format!("{}: no file name", path.display())))?;
        if name.contains('\n') {
            return Err(Failure::usage(format!(
                "{}: a file name with a line break",
                path.display()
            )));
        }
        if !names.insert(name.clone()) {
            return Err(Failure::usage(format!(
                "two inputs are named {name}; their outputs would collide"
            )));
        }
        inputs.push(Input { path, name });
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_and_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["b.wav", "a.wav", ".hidden"] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let names: Vec<String> = read(dir.path())
            .expect("reads")
            .into_iter()
            .map(|input| input.name)
            .collect();
        assert_eq!(names, ["a.wav", "b.wav"]);

        let list = dir.path().join("sub/list.txt");
        std::fs::write(&list, "# audio\n../a.wav\n\n  ../b.wav \n").expect("write");
        let inputs = read(&list).expect("reads");
        assert_eq!(inputs[1].path, dir.path().join("sub/../b.wav"));

        std::fs::write(&list, "../a.wav\n../missing.wav\n").expect("write");
        assert!(read(&list).is_err());
        std::fs::write(dir.path().join("sub/a.wav"), b"x").expect("write");
        std::fs::write(&list, "../a.wav\na.wav\n").expect("write");
        assert!(read(&list).is_err(), "two outputs named a");
        assert!(read(&dir.path().join("nope")).is_err());
    }
}
