//! Writes the JSON Schema of every public wire type into a folder, one `<TypeName>.json` each:
//! `cargo run -p soniox-types --features schemars --example json_schemas -- <DIR>`.
//!
//! `cargo xtask codegen` runs this to refresh `crates/soniox-types/schemas/`.
#![allow(
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal"
)]

use std::{env, fs, path::PathBuf, process::ExitCode};

#[path = "support/wire_schemas.rs"]
mod wire_schemas;

fn main() -> ExitCode {
    let mut args = env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: json_schemas <DIR>");
        return ExitCode::FAILURE;
    };
    let dir = PathBuf::from(dir);
    if let Err(error) = fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    for (name, text) in wire_schemas::all() {
        let path = dir.join(name);
        if let Err(error) = fs::write(&path, text) {
            eprintln!("cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
