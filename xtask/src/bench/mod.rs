//! `cargo xtask bench [--quick] [--bench NAME]...`: runs the workspace's benchmarks and
//! reports every figure in one markdown table.
//!
//! Benchmarks are criterion harnesses, or plain `main`s printing their figures, under each
//! crate's `benches/`. Each also records its figures, through the shared helper
//! `crates/soniox-emulator/benches/support/bench_report.rs`, as JSON lines in the file this command
//! names in `SONIOX_BENCH_FIGURES` (see [`figures`]). The command builds each package's
//! benches with `cargo bench --package NAME --no-run`, runs each binary on its own (so that it
//! knows which bench failed, and how long each took), then prints the report on stdout and
//! writes it to `bench-report.md` in the target directory. The benches' own output goes to
//! stderr, so that stdout is the report alone.
//!
//! Each package is built on its own so that its dependencies get the features that package
//! asks for, as a user depending on it (or `cargo install soniox-cli`) gets them. Built with
//! the whole workspace at once, features unify across every member: the facade's
//! `client-native-tls` linked OpenSSL into `soniox` and into the `cli` bench's yardstick,
//! adding about 6 MB to both sides of the upload's peak RSS, in a binary nobody installs.
//! Every feature of the package is on, so that benches with `required-features`
//! (soniox-store's `receiver_load`) run rather than being skipped; PostgreSQL is measured
//! when a server listens locally, as `cargo xtask ci` tests it. A bench that cannot measure
//! something (no `wrk`, no PostgreSQL) records it as skipped; a bench that fails or records
//! nothing is a failed row, and the command fails after writing the report.
//!
//! `--quick` sets `SONIOX_BENCH_QUICK=1`: each bench shortens its rounds and takes fewer
//! samples and jobs, so the whole run fits in a few minutes on a two-core machine.

mod figures;
mod machine;
mod report;

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use self::{
    figures::{Figure, Outcome},
    machine::Machine,
    report::{Report, Row},
};
use crate::{ci, cmd::Step};

/// The variable naming the file a bench appends its figures to.
const FIGURES_ENV: &str = "SONIOX_BENCH_FIGURES";
/// The variable asking the benches for a short run.
const QUICK_ENV: &str = "SONIOX_BENCH_QUICK";

/// A bench binary built by `cargo bench --no-run`.
struct Bench {
    /// `package/bench`.
    name: String,
    executable: PathBuf,
    /// The package's directory, where `cargo bench` would run it.
    dir: PathBuf,
}

/// `cargo xtask bench [--quick] [--bench NAME]`: builds and runs the benches, then prints and
/// writes the report; fails when a bench failed.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let metadata = crate::workspace_metadata()?;
    let target_dir = crate::target_dir(&metadata)?;
    let packages = package_names(&metadata);

    let to_build = packages_with_benches(&metadata, &options);
    if to_build.is_empty() {
        return Err(format!("no bench named {:?}", options.only));
    }

    let started = Instant::now();
    let mut benches = Vec::new();
    for package in &to_build {
        let artifacts = Step::new(
            "cargo",
            &[
                "bench",
                "--package",
                package,
                "--all-features",
                "--no-run",
                "--message-format=json-render-diagnostics",
            ],
        )
        .stdout()?;
        benches.extend(self::benches(
            &String::from_utf8_lossy(&artifacts),
            &packages,
        ));
    }
    benches.retain(|bench| options.wants(&bench.name));
    benches.sort_by(|a, b| a.name.cmp(&b.name));
    let build = started.elapsed();

    let machine = Machine::detect();
    let figures_dir = target_dir.join("bench-figures");
    fs::create_dir_all(&figures_dir)
        .map_err(|error| format!("cannot create {}: {error}", figures_dir.display()))?;
    let settings = Settings {
        quick: options.quick,
        figures_dir,
        criterion_home: target_dir.join("criterion"),
        postgres: ci::local_postgres(),
    };
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for bench in &benches {
        let (figures, ok) = run_one(bench, &settings);
        if !ok {
            failed.push(bench.name.as_str());
        }
        rows.extend(figures.into_iter().map(|figure| Row {
            bench: bench.name.clone(),
            figure,
        }));
    }
    let rendered = report::render(&Report {
        quick: options.quick,
        machine: &machine,
        build,
        run: started.elapsed(),
        rows: &rows,
    });
    print!("{rendered}");
    let path = target_dir.join("bench-report.md");
    fs::write(&path, &rendered)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    eprintln!("xtask bench: report written to {}", path.display());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("benches failed: {}", failed.join(", ")))
    }
}

/// The command line.
struct Options {
    quick: bool,
    /// Only the benches whose `package/bench` name ends with one of these.
    only: Vec<String>,
}

impl Options {
    /// Whether the bench named `package/bench` is to run.
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|only| name.ends_with(only.as_str()))
    }

    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            quick: false,
            only: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--bench" => options
                    .only
                    .push(args.next().ok_or("`--bench` needs a name")?.clone()),
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (expected `--quick` or `--bench NAME`)"
                    ));
                }
            }
        }
        Ok(options)
    }
}

/// What every bench run shares.
struct Settings {
    quick: bool,
    figures_dir: PathBuf,
    criterion_home: PathBuf,
    postgres: Option<&'static str>,
}

/// Runs one bench; its figures, with a failed one added when it exited unsuccessfully or
/// recorded nothing, and whether it succeeded.
fn run_one(bench: &Bench, settings: &Settings) -> (Vec<Figure>, bool) {
    let file = settings
        .figures_dir
        .join(format!("{}.jsonl", bench.name.replace('/', ".")));
    // A file left by an earlier run would pass its figures off as this run's.
    let _ = fs::remove_file(&file);
    eprintln!(
        "\n$ {} --bench   # {}",
        bench.executable.display(),
        bench.name
    );
    let started = Instant::now();
    let mut command = Command::new(&bench.executable);
    command
        .arg("--bench")
        .current_dir(&bench.dir)
        .env(FIGURES_ENV, &file)
        // Where `cargo bench` would have criterion write, without it asking `cargo metadata`.
        .env("CRITERION_HOME", &settings.criterion_home)
        .stdin(Stdio::null())
        .stdout(std::io::stderr());
    if settings.quick {
        command.env(QUICK_ENV, "1");
    }
    if let Some(url) = settings.postgres {
        command.env(ci::POSTGRES_ENV, url);
    }
    let status = command.status();
    eprintln!(
        "xtask bench: {} took {}",
        bench.name,
        seconds(started.elapsed())
    );
    let mut figures = figures::parse(&fs::read_to_string(&file).unwrap_or_default());
    let problem = match status {
        Ok(status) if status.success() && figures.is_empty() => {
            Some("recorded no figures".to_owned())
        }
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("{status}; its output is above")),
        Err(error) => Some(format!("cannot run it: {error}")),
    };
    let ok = problem.is_none();
    if let Some(problem) = problem {
        figures.push(Figure {
            name: "(the bench)".to_owned(),
            outcome: Outcome::Failed(problem),
        });
    }
    (figures, ok)
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// Each workspace package's name by its manifest path.
fn package_names(metadata: &Value) -> BTreeMap<String, String> {
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|package| {
            Some((
                package["manifest_path"].as_str()?.to_owned(),
                package["name"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The workspace packages with a bench that `options` wants, by name.
fn packages_with_benches(metadata: &Value, options: &Options) -> Vec<String> {
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|package| {
            let name = package["name"].as_str()?;
            let benches = package["targets"].as_array()?.iter().filter(|target| {
                target["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bench"))
            });
            let mut names = benches.filter_map(|target| target["name"].as_str());
            names
                .any(|bench| options.wants(&format!("{name}/{bench}")))
                .then(|| name.to_owned())
        })
        .collect()
}

/// The bench binaries among cargo's JSON messages, sorted by name.
fn benches(messages: &str, packages: &BTreeMap<String, String>) -> Vec<Bench> {
    let mut benches: Vec<Bench> = messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact"
                && message["target"]["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bench"))
        })
        .filter_map(|message| {
            let manifest = message["manifest_path"].as_str()?;
            let package = packages.get(manifest)?;
            Some(Bench {
                name: format!("{package}/{}", message["target"]["name"].as_str()?),
                executable: PathBuf::from(message["executable"].as_str()?),
                dir: Path::new(manifest).parent()?.to_path_buf(),
            })
        })
        .collect();
    benches.sort_by(|a, b| a.name.cmp(&b.name));
    benches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_bench_binaries_among_cargos_messages() {
        let packages = BTreeMap::from([
            (
                "/w/crates/soniox-store/Cargo.toml".to_owned(),
                "soniox-store".to_owned(),
            ),
            (
                "/w/crates/soniox-types/Cargo.toml".to_owned(),
                "soniox-types".to_owned(),
            ),
        ]);
        let messages = r#"{"reason":"compiler-artifact","manifest_path":"/r/serde/Cargo.toml","target":{"kind":["lib"],"name":"serde"},"executable":null}
{"reason":"compiler-artifact","manifest_path":"/w/crates/soniox-types/Cargo.toml","target":{"kind":["lib"],"name":"soniox_types"},"executable":"/t/release/deps/soniox_types-1"}
{"reason":"compiler-artifact","manifest_path":"/w/crates/soniox-types/Cargo.toml","target":{"kind":["bench"],"name":"transcript_decode"},"executable":"/t/release/deps/transcript_decode-2"}
Compiling is not JSON
{"reason":"compiler-artifact","manifest_path":"/w/crates/soniox-store/Cargo.toml","target":{"kind":["bench"],"name":"throughput"},"executable":"/t/release/deps/throughput-3"}
{"reason":"build-finished","success":true}"#;
        let found: Vec<(String, PathBuf, PathBuf)> = benches(messages, &packages)
            .into_iter()
            .map(|bench| (bench.name, bench.executable, bench.dir))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "soniox-store/throughput".to_owned(),
                    PathBuf::from("/t/release/deps/throughput-3"),
                    PathBuf::from("/w/crates/soniox-store"),
                ),
                (
                    "soniox-types/transcript_decode".to_owned(),
                    PathBuf::from("/t/release/deps/transcript_decode-2"),
                    PathBuf::from("/w/crates/soniox-types"),
                ),
            ]
        );
    }

    #[test]
    fn builds_only_the_packages_with_a_wanted_bench() {
        let metadata = serde_json::json!({"packages": [
            {"name": "soniox-cli", "targets": [
                {"kind": ["bin"], "name": "soniox"},
                {"kind": ["bench"], "name": "cli"},
            ]},
            {"name": "soniox-types", "targets": [{"kind": ["lib"], "name": "soniox_types"}]},
            {"name": "soniox-store", "targets": [
                {"kind": ["bench"], "name": "throughput"},
                {"kind": ["bench"], "name": "receiver_load"},
            ]},
        ]});
        let built = |only: &[&str]| {
            let options = Options {
                quick: false,
                only: only.iter().map(|&name| name.to_owned()).collect(),
            };
            packages_with_benches(&metadata, &options)
        };
        assert_eq!(built(&[]), ["soniox-cli", "soniox-store"]);
        assert_eq!(built(&["cli"]), ["soniox-cli"]);
        assert_eq!(built(&["store/throughput"]), ["soniox-store"]);
        assert!(built(&["soniox"]).is_empty());
    }

    #[test]
    fn options() {
        let parse = |args: &[&str]| {
            Options::parse(&args.iter().map(|&arg| arg.to_owned()).collect::<Vec<_>>())
                .map(|options| (options.quick, options.only))
        };
        assert_eq!(parse(&[]), Ok((false, vec![])));
        assert_eq!(
            parse(&["--quick", "--bench", "cli"]),
            Ok((true, vec!["cli".to_owned()]))
        );
        assert_eq!(
            parse(&["--bench"]),
            Err("`--bench` needs a name".to_owned())
        );
        assert_eq!(
            parse(&["--sample-size", "10"]),
            Err(
                "unknown argument `--sample-size` (expected `--quick` or `--bench NAME`)"
                    .to_owned()
            )
        );
    }
}
