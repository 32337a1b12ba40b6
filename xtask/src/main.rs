//! Project automation, run as `cargo xtask <command>`.
//!
//! Each subcommand lives in its own module. The only dependency besides the standard library
//! is serde_json, to read and write the OpenAPI snapshot, so `cargo xtask` builds in seconds on
//! a fresh machine.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal"
)]

mod bench;
mod ci;
mod cmd;
mod codegen;
mod compat;
mod hot_text;
mod release_check;
mod spec;

use std::{path::PathBuf, process::ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci       format check, clippy, tests and docs, stopping at the first failure
  bench [--quick] [--bench NAME]...
           run every benchmark (or those whose name ends with NAME) and print one table
           of their figures, also written to target/bench-report.md; --quick shortens
           every bench to fit in a few minutes
  spec-sync --spec <PATH|URL> [--out <PATH>]
           write the prose-free snapshot of Soniox's OpenAPI document to spec/soniox-api.json
  spec-drift --spec <PATH|URL> [--snapshot <PATH>] [--deviations <PATH>]
           compare a document with the snapshot; fails on a difference that
           spec/deviations.json does not explain
  codegen [--check]
           write the code generated from spec/soniox-api.json (limits, enum values, key
           and field lists, the emulator's router, JSON Schemas); --check fails naming
           each stale, missing or extra file instead
  hot-text
           profile `soniox transcribe` under valgrind and write crates/soniox-cli/hot-text.ld,
           the linker script that places the functions it runs first
  release-check [--no-ci]
           per publishable crate: metadata, README, CHANGELOG entry, internal versions and
           packaged files; `cargo package --workspace`; then everything `ci` does
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("ci") => ci::run(),
        Some("bench") => bench::run(&args.collect::<Vec<_>>()),
        Some("spec-sync") => spec::sync(&args.collect::<Vec<_>>()),
        Some("spec-drift") => spec::drift(&args.collect::<Vec<_>>()),
        Some("codegen") => codegen::run(&args.collect::<Vec<_>>()),
        Some("hot-text") => hot_text::run(),
        Some("release-check") => release_check::run(&args.collect::<Vec<_>>()),
        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            if let Some(other) = other {
                eprintln!("unknown command `{other}`\n");
            }
            eprint!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace's `cargo metadata` (its own packages only).
fn workspace_metadata() -> Result<serde_json::Value, String> {
    serde_json::from_slice(
        &cmd::Step::new("cargo", &["metadata", "--format-version", "1", "--no-deps"]).capture()?,
    )
    .map_err(|error| format!("`cargo metadata` printed no JSON: {error}"))
}

/// The target directory `metadata` names (`CARGO_TARGET_DIR` or the config's, say).
fn target_dir(metadata: &serde_json::Value) -> Result<PathBuf, String> {
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "`cargo metadata` names no target directory".to_owned())
}

/// The workspace root, found from this crate's manifest directory so that `cargo xtask` works
/// from any subdirectory.
fn project_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
