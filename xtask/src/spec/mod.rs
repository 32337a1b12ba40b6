//! `cargo xtask spec-sync` and `cargo xtask spec-drift`: the committed snapshot of Soniox's
//! OpenAPI document and the comparison of a (newer) document with it.

pub(crate) mod drift;
pub(crate) mod snapshot;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::project_root;

/// The committed snapshot, relative to the workspace root.
pub(crate) const SNAPSHOT: &str = "spec/soniox-api.json";
/// The checked-in list of known deviations, relative to the workspace root.
pub(crate) const DEVIATIONS: &str = "spec/deviations.json";

/// `spec-sync --spec <PATH|URL> [--out <PATH>]`: writes the snapshot of the document.
pub(crate) fn sync(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args, &["--spec", "--out"])?;
    let spec = options.required("--spec")?;
    let out = options.path_or("--out", SNAPSHOT);
    let snapshot = snapshot::of_document(&read_document(spec)?)?;
    let text = snapshot::render(&snapshot);
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    let unchanged = fs::read_to_string(&out).is_ok_and(|old| old == text);
    fs::write(&out, &text).map_err(|error| format!("cannot write {}: {error}", out.display()))?;
    let count = |key: &str| snapshot[key].as_object().map_or(0, serde_json::Map::len);
    eprintln!(
        "spec-sync: {} operations, {} schemas → {} ({})",
        count("operations"),
        count("schemas"),
        out.display(),
        if unchanged { "unchanged" } else { "written" }
    );
    Ok(())
}

/// `spec-drift --spec <PATH|URL> [--snapshot <PATH>] [--deviations <PATH>]`: reports how the
/// document differs from the snapshot; fails when a difference is not a listed deviation.
///
/// The code needs no comparison of its own: what it takes from the spec is generated from the
/// snapshot (`cargo xtask codegen`), and `codegen --check` holds it there.
pub(crate) fn drift(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args, &["--spec", "--snapshot", "--deviations"])?;
    let document = snapshot::of_document(&read_document(options.required("--spec")?)?)?;
    let committed = read_json(&options.path_or("--snapshot", SNAPSHOT))?;
    let deviations =
        drift::Deviation::read_list(&read_json(&options.path_or("--deviations", DEVIATIONS))?)?;
    let report = drift::Report::new(drift::findings(&committed, &document), &deviations);
    print!("{report}");
    if report.unexplained() == 0 {
        Ok(())
    } else {
        Err(format!(
            "spec-drift: {} unexplained difference(s); update the code and run spec-sync, or \
             list each in {DEVIATIONS} with its reason",
            report.unexplained()
        ))
    }
}

/// Reads a document from a file, or from an `http(s)://` URL with `curl`.
fn read_document(spec: &str) -> Result<Value, String> {
    let text = if spec.starts_with("http://") || spec.starts_with("https://") {
        let output = Command::new("curl")
            .args(["--fail", "--silent", "--show-error", "--location", spec])
            .output()
            .map_err(|error| format!("cannot run curl to fetch {spec}: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "cannot fetch {spec}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        String::from_utf8(output.stdout).map_err(|_| format!("{spec} is not UTF-8"))?
    } else {
        fs::read_to_string(spec).map_err(|error| format!("cannot read {spec}: {error}"))?
    };
    serde_json::from_str(&text).map_err(|error| format!("{spec} is not JSON: {error}"))
}

pub(crate) fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{} is not JSON: {error}", path.display()))
}

/// `--name value` options, each allowed at most once.
struct Options {
    values: Vec<(String, String)>,
}

impl Options {
    fn parse(args: &[String], allowed: &[&str]) -> Result<Self, String> {
        let mut values: Vec<(String, String)> = Vec::new();
        let mut args = args.iter();
        while let Some(name) = args.next() {
            if !allowed.contains(&name.as_str()) {
                return Err(format!(
                    "unknown option `{name}` (expected {})",
                    allowed.join(", ")
                ));
            }
            let value = args
                .next()
                .ok_or_else(|| format!("`{name}` needs a value"))?;
            if values.iter().any(|(seen, _)| seen == name) {
                return Err(format!("`{name}` given twice"));
            }
            values.push((name.clone(), value.clone()));
        }
        Ok(Self { values })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(seen, _)| seen == name)
            .map(|(_, value)| value.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("`{name} <PATH|URL>` is required"))
    }

    /// The option as a path, or `default` under the workspace root.
    fn path_or(&self, name: &str, default: &str) -> PathBuf {
        self.get(name)
            .map_or_else(|| project_root().join(default), PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(path: &str) -> Value {
        read_json(&project_root().join(path)).unwrap()
    }

    #[test]
    fn the_committed_snapshot_is_in_canonical_form() {
        let text = fs::read_to_string(project_root().join(SNAPSHOT)).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(
            snapshot::render(&value) == text,
            "{SNAPSHOT} was edited by hand; regenerate it with `cargo xtask spec-sync`"
        );
    }

    /// A deviation whose schema or operation is gone from the snapshot explains nothing and
    /// must be removed, or its location corrected.
    #[test]
    fn every_committed_deviation_points_into_the_snapshot() {
        let snapshot = committed(SNAPSHOT);
        for deviation in drift::Deviation::read_list(&committed(DEVIATIONS)).unwrap() {
            let mut parts = deviation.location.splitn(3, '.');
            let (Some(section), Some(name)) = (parts.next(), parts.next()) else {
                panic!("deviation `{}` names no schema", deviation.location);
            };
            assert!(
                snapshot[section].get(name).is_some(),
                "deviation `{}` points at nothing in {SNAPSHOT}",
                deviation.location
            );
        }
    }

    #[test]
    fn options_are_checked() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let error = Options::parse(&args(&["--bogus", "x"]), &["--spec"])
            .err()
            .unwrap();
        assert!(error.contains("--bogus"), "{error}");
        let error = Options::parse(&args(&["--spec"]), &["--spec"])
            .err()
            .unwrap();
        assert!(error.contains("needs a value"), "{error}");
        let error = Options::parse(&args(&["--spec", "a", "--spec", "b"]), &["--spec"])
            .err()
            .unwrap();
        assert!(error.contains("twice"), "{error}");
        let none = Options::parse(&[], &["--spec"]).unwrap();
        assert!(none.required("--spec").unwrap_err().contains("required"));
    }

    #[test]
    fn sync_then_drift_round_trips_and_a_change_fails() {
        let dir = std::env::temp_dir().join(format!("xtask-spec-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let fixtures = project_root().join("xtask/fixtures/spec");
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let out = dir.join("snapshot.json");
        let base = fixtures.join("base.json");
        sync(&["--spec".into(), path(&base), "--out".into(), path(&out)]).unwrap();
        let drift_of = |spec: &Path| {
            drift(&[
                "--spec".into(),
                path(spec),
                "--snapshot".into(),
                path(&out),
                "--deviations".into(),
                path(&fixtures.join("deviations.json")),
            ])
        };
        drift_of(&base).unwrap();
        let error = drift_of(&fixtures.join("newer.json")).unwrap_err();
        assert!(error.contains("6 unexplained"), "{error}");
        let missing = sync(&["--spec".into(), path(&dir.join("absent.json"))]).unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
