//! Links `soniox` with the functions a command runs first in the text, ahead of the rest.
//!
//! The binary carries every command's code, and the kernel maps the 64 KiB of text around each
//! page it runs, so code run by one command but spread among code only other commands need
//! costs resident memory out of proportion to its size: a 1 GiB `transcribe --no-wait` peaked
//! 11 % above the client library's own upload, almost all of it pages of text, and 2-7 % below
//! it with the script (the `cli` bench). `hot-text.ld` names the functions `transcribe` runs
//! (start-up, the upload, creating and waiting on the job, as profiled against the emulator),
//! without the hashes in their symbols so that it matches any build of this source; `cargo
//! xtask hot-text` writes it. The linker places those functions first, in one block; a name
//! that matches nothing changes nothing.
//!
//! Only GNU ld and LLVM's lld (Rust's default linker on x86_64 Linux) take such a script, so it
//! is given only for the Linux targets it was tried on, and not when the configuration names
//! another linker; `SONIOX_CLI_NO_HOT_TEXT` set leaves it out, for a linker this cannot tell
//! apart (one swapped in under `ld`, say). The tests learn whether it was given, and why not,
//! from `SONIOX_CLI_HOT_TEXT`.

use std::{env, path::Path};

/// The script, next to this file.
const SCRIPT: &str = "hot-text.ld";

#[path = "build/linker.rs"]
mod linker;

fn main() {
    println!("cargo:rerun-if-changed={SCRIPT}");
    for variable in [
        "SONIOX_CLI_NO_HOT_TEXT",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_LINKER",
    ] {
        println!("cargo:rerun-if-env-changed={variable}");
    }
    let outcome = match link_args() {
        Ok(args) => {
            for arg in args {
                println!("cargo:rustc-link-arg-bins={arg}");
            }
            "applied".to_owned()
        }
        Err(Skipped::Warn(why)) => {
            println!("cargo:warning=linking soniox without {SCRIPT}: {why}");
            why
        }
        Err(Skipped::Quietly(why)) => why,
    };
    println!("cargo:rustc-env=SONIOX_CLI_HOT_TEXT={outcome}");
}

/// Why the script is left out, and whether the build should say so.
enum Skipped {
    /// A configuration that would have had it but for something this script noticed.
    Warn(String),
    /// A target or a choice it was never meant for.
    Quietly(String),
}

/// The linker arguments that give the script, or why there are none.
fn link_args() -> Result<Vec<String>, Skipped> {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os != "linux"
        || !matches!(target_env.as_str(), "gnu" | "musl")
        || !matches!(arch.as_str(), "x86_64" | "aarch64")
    {
        return Err(Skipped::Quietly(format!(
            "not tried on {arch}-{os}-{target_env}"
        )));
    }
    if env::var_os("SONIOX_CLI_NO_HOT_TEXT").is_some() {
        return Err(Skipped::Quietly("SONIOX_CLI_NO_HOT_TEXT is set".to_owned()));
    }
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let script = Path::new(&dir).join(SCRIPT);
    if !script.is_file() {
        return Err(Skipped::Warn(format!(
            "{} is missing (`cargo xtask hot-text` writes it)",
            script.display()
        )));
    }
    let script = script
        .to_str()
        .ok_or_else(|| Skipped::Warn("its path is not UTF-8".to_owned()))?;
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let configured = env::var("RUSTC_LINKER").ok();
    if let Some(refusing) = linker::refusing(&flags, configured.as_deref()) {
        return Err(Skipped::Warn(format!(
            "the linker `{refusing}` does not take it"
        )));
    }
    let option = format!("--script={script}");
    // The driver (cc, gcc, clang) passes the linker's own options on behind `-Xlinker`, one
    // argument each, commas and spaces included.
    Ok(if linker::is_bare(configured.as_deref()) {
        vec![option]
    } else {
        vec!["-Xlinker".to_owned(), option]
    })
}
