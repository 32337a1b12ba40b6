//! Links `soniox` with the functions a command runs first in the text, ahead of the rest.
//!
//! The binary carries every command's code, and the kernel maps the 64 KiB of text around each
//! page it runs, so code run by one command but spread among code only other commands need
//! costs resident memory out of proportion to its size: a 1 GiB `transcribe --no-wait` peaked
//! 11 % above the client library's own upload, almost all of it pages of text, and 3 % below
//! it with the script (the `cli` bench). `hot-text.ld`
//! names the functions `transcribe` runs (start-up, the upload, creating and waiting on the
//! job), without the hashes in their symbols so that it matches any build of this source;
//! `cargo xtask hot-text` writes it from a profile of the built binary. The linker places
//! those functions first, in one block; a name that matches nothing changes nothing.
//!
//! Only GNU ld and LLVM's lld (Rust's default linker on x86_64 Linux) take such a script, so it
//! is given only when targeting Linux and not when the flags choose another linker; setting
//! `SONIOX_CLI_NO_HOT_TEXT` leaves it out, for a linker this cannot tell apart.

use std::{env, path::PathBuf};

/// The script, next to this file.
const SCRIPT: &str = "hot-text.ld";

/// Linkers that reject a script with `INSERT` (as gold does) or any `SECTIONS` (mold, wild).
const WITHOUT_INSERT: [&str; 3] = ["gold", "mold", "wild"];

fn main() {
    println!("cargo:rerun-if-changed={SCRIPT}");
    for variable in [
        "SONIOX_CLI_NO_HOT_TEXT",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_LINKER",
    ] {
        println!("cargo:rerun-if-env-changed={variable}");
    }
    let script = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join(SCRIPT);
    if !script.is_file() {
        // Only a checkout that lost the file; the binary works the same, with more memory.
        println!("cargo:warning={SCRIPT} is missing: `cargo xtask hot-text` writes it");
        return;
    }
    if takes_script() {
        // `-Xlinker` passes the path as one argument, commas and spaces included.
        println!("cargo:rustc-link-arg-bins=-Xlinker");
        println!("cargo:rustc-link-arg-bins=--script={}", script.display());
    }
}

/// Whether the target's linker takes the script: an ELF target linked through a C compiler
/// driver with GNU ld or lld.
fn takes_script() -> bool {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" || !matches!(target_env.as_str(), "gnu" | "musl") {
        return false;
    }
    if env::var_os("SONIOX_CLI_NO_HOT_TEXT").is_some() {
        return false;
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let linker = env::var("RUSTC_LINKER").unwrap_or_default();
    // `-fuse-ld=mold`, `-C linker=/usr/bin/mold`, `linker = "wild"`: any mention is enough.
    !flags
        .split('\x1f')
        .chain([linker.as_str()])
        .any(|flag| WITHOUT_INSERT.iter().any(|name| flag.contains(name)))
}
