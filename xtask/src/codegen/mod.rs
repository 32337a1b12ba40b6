//! `cargo xtask codegen [--check]`: the code the crates would otherwise copy from the spec by
//! hand, written from `spec/soniox-api.json` and the facts of `spec/deviations.json`.
//!
//! Two kinds of output, each in folders of its own that hold nothing else:
//! - Rust sources (`types.rs`, `emulator.rs`): the limits, the open enums' known values, the
//!   fast decoder's key lists, the emulator's request field tables and its operation router.
//! - JSON Schemas of soniox-types' wire types (`schemas.rs`), written by soniox-types' own
//!   `json_schemas` example, since xtask cannot depend on the crate.
//!
//! `--check` writes nothing: it regenerates in memory (the schemas in a temporary folder) and
//! fails naming every stale, missing or extra file.

mod emulator;
mod facts;
mod rust;
mod schemas;
mod types;

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::project_root;

/// A folder `codegen` owns: every file in it is generated, and nothing else may be there.
pub(crate) struct Folder {
    /// Relative to the workspace root.
    pub(crate) path: &'static str,
    /// File names and contents, sorted by name.
    pub(crate) files: Vec<(String, String)>,
}

/// `codegen [--check]`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            return Err(format!(
                "unknown arguments {args:?} (expected `--check` or nothing)"
            ));
        }
    };
    let root = project_root();
    // The Rust sources come first: the schemas are written by an example that compiles them.
    let sources = sources(&root)?;
    let scratch = Scratch::new("schemas")?;
    if check {
        let mut problems = stale(&root, &sources);
        match schemas::generate(&scratch.0) {
            Ok(folder) => problems.extend(stale(&root, &[folder])),
            // Stale sources may be why the example does not build: name them first.
            Err(error) if !problems.is_empty() => {
                problems.push(format!("schemas not checked: {error}"));
            }
            Err(error) => return Err(error),
        }
        if problems.is_empty() {
            eprintln!("codegen: every generated file is up to date");
            return Ok(());
        }
        for problem in &problems {
            eprintln!("  {problem}");
        }
        return Err(format!(
            "codegen: {} generated file(s) out of date; run `cargo xtask codegen`",
            problems.len()
        ));
    }
    let mut written = 0;
    for folder in &sources {
        written += write(&root, folder)?;
    }
    written += write(&root, &schemas::generate(&scratch.0)?)?;
    eprintln!("codegen: {written} file(s) changed");
    Ok(())
}

/// The Rust sources, from the snapshot and deviation list under `root`.
///
/// # Errors
/// When the spec lacks a fact a table here names, or holds one the generator cannot express;
/// the message says which, and where.
pub(crate) fn sources(root: &Path) -> Result<Vec<Folder>, String> {
    let facts = facts::Facts::read(root)?;
    Ok(vec![types::generate(&facts)?, emulator::generate(&facts)?])
}

/// One line per file under `root` that differs from `folders`: stale, missing, or there but
/// not generated.
pub(crate) fn stale(root: &Path, folders: &[Folder]) -> Vec<String> {
    let mut problems = Vec::new();
    for folder in folders {
        let dir = root.join(folder.path);
        for (name, text) in &folder.files {
            let path = format!("{}/{name}", folder.path);
            match fs::read_to_string(dir.join(name)) {
                Ok(old) if old == *text => {}
                Ok(_) => problems.push(format!("stale: {path}")),
                Err(_) => problems.push(format!("missing: {path}")),
            }
        }
        for name in file_names(&dir) {
            if !folder.files.iter().any(|(generated, _)| *generated == name) {
                problems.push(format!("not generated: {}/{name}", folder.path));
            }
        }
    }
    problems
}

/// Writes `folder` under `root`, removing any file it does not hold; returns how many files
/// changed.
fn write(root: &Path, folder: &Folder) -> Result<usize, String> {
    let dir = root.join(folder.path);
    fs::create_dir_all(&dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let mut changed = 0;
    for name in file_names(&dir) {
        if !folder.files.iter().any(|(generated, _)| *generated == name) {
            let path = dir.join(&name);
            fs::remove_file(&path)
                .map_err(|error| format!("cannot remove {}: {error}", path.display()))?;
            changed += 1;
        }
    }
    for (name, text) in &folder.files {
        let path = dir.join(name);
        if fs::read_to_string(&path).is_ok_and(|old| old == *text) {
            continue;
        }
        fs::write(&path, text)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        changed += 1;
    }
    Ok(changed)
}

/// The names of the files in `dir`, sorted; none when it does not exist.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// A temporary folder of this process, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Result<Self, String> {
        let path =
            std::env::temp_dir().join(format!("xtask-codegen-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path)
            .map_err(|error| format!("cannot create {}: {error}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed Rust sources are what the committed spec generates: a plain `cargo test`
    /// catches a spec change without `cargo xtask codegen`, or a generated file edited by hand.
    /// (soniox-types' own test holds the JSON Schemas to its types.)
    #[test]
    fn the_generated_sources_are_up_to_date() {
        let root = project_root();
        let problems = stale(&root, &sources(&root).unwrap());
        assert!(
            problems.is_empty(),
            "run `cargo xtask codegen`:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn generating_twice_gives_the_same_text() {
        let root = project_root();
        let texts = |folders: Vec<Folder>| -> Vec<(String, String)> {
            folders
                .into_iter()
                .flat_map(|folder| folder.files)
                .collect()
        };
        assert_eq!(
            texts(sources(&root).unwrap()),
            texts(sources(&root).unwrap())
        );
    }

    #[test]
    fn a_stale_missing_or_extra_file_is_named() {
        let scratch = Scratch::new("check-test").unwrap();
        let root = &scratch.0;
        let folders = sources(&project_root()).unwrap();
        for folder in &folders {
            write(root, folder).unwrap();
        }
        assert!(stale(root, &folders).is_empty());
        assert_eq!(write(root, &folders[0]).unwrap(), 0, "nothing to rewrite");

        let types = &folders[0];
        let (first, _) = &types.files[0];
        let (last, _) = types.files.last().unwrap();
        let dir = root.join(types.path);
        fs::write(dir.join(first), "// edited by hand\n").unwrap();
        fs::remove_file(dir.join(last)).unwrap();
        fs::write(dir.join("extra.rs"), "").unwrap();
        let problems = stale(root, &folders);
        assert_eq!(
            problems,
            [
                format!("stale: {}/{first}", types.path),
                format!("missing: {}/{last}", types.path),
                format!("not generated: {}/extra.rs", types.path),
            ]
        );
        // Writing repairs all three.
        assert_eq!(write(root, types).unwrap(), 3);
        assert!(stale(root, &folders).is_empty());
    }
}
