//! `cargo xtask release-check`: what must hold before `cargo publish`, checked per publishable
//! crate in dependency order, then everything `cargo xtask ci` checks.
//!
//! Per crate: the metadata crates.io and docs.rs show (description, license, repository,
//! readme, keywords, categories, rust-version, docs.rs settings), the README file, a CHANGELOG
//! heading for the version, workspace dependencies that ask for the version the workspace
//! has, and the file list `cargo package` would upload (no test fixtures, no snapshots,
//! nothing over 1 MiB). Then `cargo package --workspace --no-verify` must succeed, and every
//! crate must build with each of its features alone (`cargo hack check --each-feature`,
//! installed when missing).
//!
//! The declared `rust-version` is checked by clippy's `incompatible_msrv` lint (on by default,
//! denied in `ci`): it flags any use of a standard-library item newer than the `rust-version`
//! of the crate it is in. No older toolchain can be installed on the machines CI runs on, so
//! this lint, not a build with Rust 1.88, is the check.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::{ci, cmd::Step, project_root};

/// The largest file a package may carry.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A publishable crate, as `cargo metadata` describes it.
struct Crate<'a> {
    name: &'a str,
    version: &'a str,
    dir: PathBuf,
    package: &'a Value,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let skip_ci = match args {
        [] => false,
        [flag] if flag == "--no-ci" => true,
        _ => return Err(format!("unknown arguments {args:?} (expected `--no-ci`)")),
    };
    let metadata: Value = serde_json::from_slice(
        &Step::new("cargo", &["metadata", "--format-version", "1", "--no-deps"]).capture()?,
    )
    .map_err(|error| format!("`cargo metadata` printed no JSON: {error}"))?;
    let crates = publishable_in_dependency_order(&metadata)?;
    let changelog = fs::read_to_string(project_root().join("CHANGELOG.md")).unwrap_or_default();
    let versions: BTreeMap<&str, &str> = crates.iter().map(|c| (c.name, c.version)).collect();

    let mut failures = 0;
    let mut report = String::new();
    for krate in &crates {
        let mut problems = metadata_problems(krate, &changelog, &versions);
        problems.extend(dev_cycle_problems(krate, &crates));
        match package_files(krate) {
            Ok(files) => problems.extend(file_problems(&files)),
            Err(error) => problems.push(error),
        }
        failures += problems.len();
        let verdict = if problems.is_empty() { "ok" } else { "FAILS" };
        let _ = writeln!(report, "{} {}: {verdict}", krate.name, krate.version);
        for problem in problems {
            let _ = writeln!(report, "  - {problem}");
        }
    }
    let packaged = Step::new(
        "cargo",
        &["package", "--workspace", "--no-verify", "--quiet"],
    )
    .capture();
    match &packaged {
        Ok(_) => report.push_str("cargo package --workspace --no-verify: ok\n"),
        Err(error) => {
            failures += 1;
            let _ = writeln!(
                report,
                "cargo package --workspace --no-verify: FAILS\n{error}"
            );
        }
    }
    match feature_matrix() {
        Ok(()) => report.push_str("cargo hack check --each-feature: ok\n"),
        Err(error) => {
            failures += 1;
            let _ = writeln!(report, "cargo hack check --each-feature: FAILS\n  {error}");
        }
    }
    print!("{report}");
    if failures > 0 {
        return Err(format!(
            "release-check: {failures} problem(s), listed above"
        ));
    }
    if skip_ci {
        eprintln!("release-check: skipping `cargo xtask ci` (--no-ci)");
    } else {
        ci::run()?;
    }
    eprintln!("release-check: ready to publish");
    Ok(())
}

/// Checks every workspace crate with each of its features on alone (and with none), which
/// `--all-features` builds cannot: a `cfg` that only breaks with a feature off. Installs
/// cargo-hack first when it is missing.
fn feature_matrix() -> Result<(), String> {
    let installed = Command::new("cargo")
        .args(["hack", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        Step::new("cargo", &["install", "cargo-hack", "--locked"]).run()?;
    }
    let each_feature = [
        "hack",
        "check",
        "--each-feature",
        "--no-dev-deps",
        "--quiet",
    ];
    // soniox-tracker refuses to build without a database feature (a `compile_error!` that says
    // so), so its featureless build is left out; every other crate's is checked.
    Step::new(
        "cargo",
        &[
            &each_feature[..],
            &["--workspace", "--exclude", "soniox-tracker"],
        ]
        .concat(),
    )
    .run()?;
    Step::new(
        "cargo",
        &[
            &each_feature[..],
            &["-p", "soniox-tracker", "--exclude-no-default-features"],
        ]
        .concat(),
    )
    .run()
}

/// The workspace's publishable packages, each after the workspace packages it depends on
/// (dev-dependencies aside: they are not published with the crate).
fn publishable_in_dependency_order(metadata: &Value) -> Result<Vec<Crate<'_>>, String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("`cargo metadata` lists no packages")?;
    let mut pending: Vec<Crate<'_>> = packages
        .iter()
        .filter(|package| package["publish"].is_null())
        .filter_map(|package| {
            Some(Crate {
                name: package["name"].as_str()?,
                version: package["version"].as_str()?,
                dir: PathBuf::from(package["manifest_path"].as_str()?)
                    .parent()?
                    .to_path_buf(),
                package,
            })
        })
        .collect();
    pending.sort_by_key(|krate| krate.name);
    let mut ordered: Vec<Crate<'_>> = Vec::new();
    while !pending.is_empty() {
        let ready = pending.iter().position(|krate| {
            workspace_dependencies(krate.package).all(|(dependency, kind)| {
                kind == Some("dev")
                    || !pending.iter().any(|other| other.name == dependency)
                    || dependency == krate.name
            })
        });
        let Some(ready) = ready else {
            let names: Vec<&str> = pending.iter().map(|krate| krate.name).collect();
            return Err(format!("dependency cycle among {}", names.join(", ")));
        };
        ordered.push(pending.remove(ready));
    }
    Ok(ordered)
}

/// Each dependency's name and kind (`None` for a normal dependency).
fn workspace_dependencies(package: &Value) -> impl Iterator<Item = (&str, Option<&str>)> {
    package["dependencies"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|dependency| Some((dependency["name"].as_str()?, dependency["kind"].as_str())))
}

fn metadata_problems(
    krate: &Crate<'_>,
    changelog: &str,
    versions: &BTreeMap<&str, &str>,
) -> Vec<String> {
    let package = krate.package;
    let mut problems = Vec::new();
    for field in [
        "description",
        "license",
        "repository",
        "readme",
        "rust_version",
    ] {
        if package[field]
            .as_str()
            .is_none_or(|text| text.trim().is_empty())
        {
            problems.push(format!("no `{}` in Cargo.toml", field.replace('_', "-")));
        }
    }
    for list in ["keywords", "categories"] {
        if package[list].as_array().is_none_or(Vec::is_empty) {
            problems.push(format!("no `{list}` in Cargo.toml"));
        }
    }
    if !package
        .pointer("/metadata/docs/rs")
        .is_some_and(Value::is_object)
    {
        problems
            .push("no `[package.metadata.docs.rs]` (all-features and the docsrs cfg)".to_owned());
    }
    if let Some(readme) = package["readme"].as_str()
        && !krate.dir.join(readme).is_file()
    {
        problems.push(format!("its readme `{readme}` does not exist"));
    }
    if !changelog_has(changelog, krate.version) {
        problems.push(format!(
            "CHANGELOG.md has no `## {}` heading for this version",
            krate.version
        ));
    }
    for dependency in package["dependencies"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let (Some(name), Some(requirement)) =
            (dependency["name"].as_str(), dependency["req"].as_str())
        else {
            continue;
        };
        let Some(version) = versions.get(name) else {
            continue;
        };
        if requirement == "*" && dependency["kind"] == "dev" {
            // A path-only dev-dependency, which publishing strips.
            continue;
        }
        let wanted = requirement.trim_start_matches(['^', '=', '~']);
        if wanted != *version {
            problems.push(format!(
                "depends on {name} `{requirement}` but the workspace has {name} {version}"
            ));
        }
    }
    problems
}

/// A versioned dev-dependency on a crate that itself depends on this one, even only for its
/// tests: `cargo package --workspace` must package one of the two first and cannot resolve the
/// other, whereas a path-only dev-dependency is stripped when publishing and breaks the cycle.
fn dev_cycle_problems(krate: &Crate<'_>, crates: &[Crate<'_>]) -> Vec<String> {
    published_dependencies(krate.package)
        .filter(|(_, kind)| *kind == Some("dev"))
        .map(|(name, _)| name)
        .filter(|other| depends_on(crates, other, krate.name, &mut Vec::new()))
        .map(|other| {
            format!(
                "dev-depends on {other} with a version, and {other} needs {} packaged first \
                 (through its or other crates' dependencies, tests included): `cargo package` \
                 cannot order the cycle; declare one dev-dependency of it by `path` only",
                krate.name
            )
        })
        .collect()
}

/// Whether `from` depends on `to` through the dependencies its published manifest keeps.
fn depends_on<'a>(crates: &[Crate<'a>], from: &str, to: &str, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|name| name == from) {
        return false;
    }
    seen.push(from.to_owned());
    let Some(krate) = crates.iter().find(|krate| krate.name == from) else {
        return false;
    };
    published_dependencies(krate.package)
        .any(|(name, _)| name == to || depends_on(crates, name, to, seen))
}

/// The dependencies a published manifest keeps: all but path-only dev-dependencies.
fn published_dependencies(package: &Value) -> impl Iterator<Item = (&str, Option<&str>)> {
    package["dependencies"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|dependency| !(dependency["kind"] == "dev" && dependency["req"] == "*"))
        .filter_map(|dependency| Some((dependency["name"].as_str()?, dependency["kind"].as_str())))
}

/// Whether a `## ` heading names `version` as a whole word: `## [0.1.0] - 2026-12-01`.
fn changelog_has(changelog: &str, version: &str) -> bool {
    changelog
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .any(|heading| {
            heading
                .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
                .any(|word| word == version)
        })
}

/// The files `cargo package` would upload, with their sizes on disk (files cargo generates,
/// such as the normalized Cargo.toml, have none and count as empty).
fn package_files(krate: &Crate<'_>) -> Result<Vec<(String, u64)>, String> {
    let listed = Step::new(
        "cargo",
        &[
            "package",
            "--list",
            "--allow-dirty",
            "--quiet",
            "-p",
            krate.name,
        ],
    )
    .capture()?;
    let listed = String::from_utf8_lossy(&listed);
    Ok(listed
        .lines()
        .filter(|line| !line.is_empty())
        .map(|file| {
            let size = fs::metadata(krate.dir.join(file)).map_or(0, |meta| meta.len());
            (file.to_owned(), size)
        })
        .collect())
}

/// Files that do not belong in a published package: test data, named once per folder, and
/// anything over 1 MiB.
fn file_problems(files: &[(String, u64)]) -> Vec<String> {
    let mut test_data: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (file, size) in files {
        let path = Path::new(file);
        let folder = path
            .ancestors()
            .find(|folder| {
                folder
                    .file_name()
                    .is_some_and(|name| name == "fixtures" || name == "snapshots")
            })
            .map(|folder| format!("{}/", folder.display()));
        if let Some(folder) = folder {
            *test_data.entry(folder).or_default() += 1;
        } else if path.extension().is_some_and(|ext| ext == "snap") {
            *test_data.entry(file.clone()).or_default() += 1;
        }
        if *size > MAX_FILE_BYTES {
            problems.push(format!("packages `{file}` of {size} bytes (over 1 MiB)"));
        }
    }
    let mut listed: Vec<String> = test_data
        .into_iter()
        .map(|(place, count)| {
            format!(
                "packages test data `{place}` ({count} file(s); add it to `exclude` in Cargo.toml)"
            )
        })
        .collect();
    listed.append(&mut problems);
    listed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn krate(package: &Value) -> Crate<'_> {
        Crate {
            name: package["name"].as_str().unwrap(),
            version: package["version"].as_str().unwrap(),
            dir: project_root().join("crates/soniox-types"),
            package,
        }
    }

    /// A publishable package with these dependencies, as `cargo metadata` lists it.
    fn package(name: &str, dependencies: Value) -> Value {
        let mut package = json!({"name": name, "version": "0.1.0", "publish": null,
                                 "manifest_path": format!("/x/{name}/Cargo.toml")});
        package["dependencies"] = dependencies;
        package
    }

    fn complete() -> Value {
        json!({
            "name": "soniox-types", "version": "0.1.0", "publish": null,
            "manifest_path": "/x/crates/soniox-types/Cargo.toml",
            "description": "d", "license": "MIT", "repository": "https://x", "readme": "README.md",
            "rust_version": "1.88", "keywords": ["k"], "categories": ["c"],
            "metadata": {"docs": {"rs": {"all-features": true}}},
            "dependencies": [{"name": "soniox-client", "req": "^0.1.0", "kind": null}],
        })
    }

    #[test]
    fn a_complete_crate_has_no_problems() {
        let package = complete();
        let versions = BTreeMap::from([("soniox-types", "0.1.0"), ("soniox-client", "0.1.0")]);
        let problems = metadata_problems(&krate(&package), "## [0.1.0] - 2026-12-01\n", &versions);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn each_missing_piece_is_named() {
        let mut package = complete();
        let object = package.as_object_mut().unwrap();
        object.remove("keywords");
        object.remove("metadata");
        object.insert("description".into(), json!(" "));
        object.insert("readme".into(), json!("MISSING.md"));
        let versions = BTreeMap::from([("soniox-client", "0.2.0")]);
        let problems = metadata_problems(&krate(&package), "## Unreleased\n## 0.1.00\n", &versions);
        assert_eq!(
            problems,
            [
                "no `description` in Cargo.toml",
                "no `keywords` in Cargo.toml",
                "no `[package.metadata.docs.rs]` (all-features and the docsrs cfg)",
                "its readme `MISSING.md` does not exist",
                "CHANGELOG.md has no `## 0.1.0` heading for this version",
                "depends on soniox-client `^0.1.0` but the workspace has soniox-client 0.2.0",
            ]
        );
    }

    #[test]
    fn changelog_headings_match_whole_versions() {
        assert!(changelog_has("# Changelog\n## 0.1.0\n", "0.1.0"));
        assert!(changelog_has("## [0.1.0] - 2026-12-01", "0.1.0"));
        assert!(!changelog_has("## [0.1.01]", "0.1.0"));
        assert!(!changelog_has("- fixed in 0.1.0", "0.1.0"));
    }

    #[test]
    fn test_data_and_large_files_are_rejected() {
        let files = [
            ("src/lib.rs".to_owned(), 10),
            ("tests/fixtures/a.json".to_owned(), 10),
            ("tests/fixtures/deep/b.json".to_owned(), 10),
            ("other.snap".to_owned(), 10),
            ("src/snapshots/x.snap".to_owned(), 10),
            ("assets/big.wav".to_owned(), MAX_FILE_BYTES + 1),
        ];
        let problems = file_problems(&files);
        assert_eq!(
            problems,
            [
                "packages test data `other.snap` (1 file(s); add it to `exclude` in Cargo.toml)",
                "packages test data `src/snapshots/` (1 file(s); add it to `exclude` in Cargo.toml)",
                "packages test data `tests/fixtures/` (2 file(s); add it to `exclude` in Cargo.toml)",
                "packages `assets/big.wav` of 1048577 bytes (over 1 MiB)",
            ]
        );
    }

    #[test]
    fn crates_come_after_their_dependencies_and_dev_cycles_are_allowed() {
        let metadata = json!({"packages": [
            package("a-client", json!([{"name": "z-types", "kind": null},
                                      {"name": "m-emulator", "kind": "dev"}])),
            package("m-emulator", json!([{"name": "z-types", "kind": null},
                                        {"name": "a-client", "kind": "dev"}])),
            package("z-types", json!([])),
            {"name": "private", "version": "0.0.0", "publish": [],
             "manifest_path": "/x/p/Cargo.toml", "dependencies": []},
        ]});
        let order: Vec<&str> = publishable_in_dependency_order(&metadata)
            .unwrap()
            .iter()
            .map(|krate| krate.name)
            .collect();
        assert_eq!(order, ["z-types", "a-client", "m-emulator"]);
        let cycle = json!({"packages": [
            package("a", json!([{"name": "b", "kind": null}])),
            package("b", json!([{"name": "a", "kind": "build"}])),
        ]});
        let error = publishable_in_dependency_order(&cycle).err().unwrap();
        assert!(error.contains("cycle"), "{error}");
    }

    #[test]
    fn a_versioned_dev_dependency_cycle_is_named() {
        let metadata = json!({"packages": [
            package("client", json!([{"name": "emulator", "kind": "dev", "req": "^0.1.0"}])),
            package("emulator", json!([{"name": "client", "kind": "dev", "req": "^0.1.0"},
                                      {"name": "types", "kind": null, "req": "^0.1.0"}])),
            package("types", json!([{"name": "emulator", "kind": "dev", "req": "*"}])),
        ]});
        let crates = publishable_in_dependency_order(&metadata).unwrap();
        let problems = |name: &str| {
            let krate = crates.iter().find(|krate| krate.name == name).unwrap();
            dev_cycle_problems(krate, &crates)
        };
        // Each dev-depends on the other with a version: both are named.
        assert_eq!(problems("client").len(), 1);
        assert_eq!(problems("emulator").len(), 1);
        assert!(
            problems("types").is_empty(),
            "a path-only dev-dependency is stripped"
        );
        let metadata = json!({"packages": [
            package("client", json!([{"name": "emulator", "kind": "dev", "req": "^0.1.0"}])),
            package("emulator", json!([{"name": "client", "kind": null, "req": "^0.1.0"}])),
        ]});
        let crates = publishable_in_dependency_order(&metadata).unwrap();
        let found = dev_cycle_problems(&crates[0], &crates);
        assert_eq!(crates[0].name, "client");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("emulator needs client packaged first"),
            "{found:?}"
        );
    }
}
