//! The official SDKs, unchanged but for their base URL, against the emulator binary:
//! `tests/compat/python_sdk.py` (PyPI `soniox`) and `tests/compat/node_sdk.mjs` (npm
//! `@soniox/node`).
//!
//! They need tools from outside Rust, so they are ignored by a plain `cargo test` (listed as
//! ignored, never passed silently). `cargo xtask ci` installs the pinned SDKs under `target/`
//! and runs them with `--ignored`, passing their locations in `SONIOX_COMPAT_PYTHON` (a
//! virtualenv's interpreter) and `SONIOX_COMPAT_NODE_MODULES` (a `node_modules` directory).
//! Run on purpose without them, a test fails and says what is missing.

use std::{ffi::OsString, path::Path, process::Command};

/// The setting named `variable`, which a test run on purpose cannot do without.
fn setting(variable: &str) -> OsString {
    std::env::var_os(variable).unwrap_or_else(|| {
        panic!("{variable} is not set: run this test through `cargo xtask ci`, which installs the SDK and sets it")
    })
}

#[track_caller]
fn check(mut command: Command, sdk: &str) {
    let output = command
        .env("SONIOX_EMULATOR_BIN", env!("CARGO_BIN_EXE_soniox-emulator"))
        .output()
        .expect("the SDK's runtime starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(&format!("{sdk} SDK compatibility: ok")),
        "the {sdk} SDK check failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compat")
        .join(name)
}

#[test]
#[ignore = "needs python3 with the official `soniox` package; `cargo xtask ci` runs it"]
fn official_python_sdk_runs_unchanged() {
    let mut command = Command::new(setting("SONIOX_COMPAT_PYTHON"));
    command.arg(script("python_sdk.py"));
    check(command, "python");
}

#[test]
#[ignore = "needs node with the official `@soniox/node` package; `cargo xtask ci` runs it"]
fn official_node_sdk_runs_unchanged() {
    let mut command = Command::new("node");
    command
        .arg(script("node_sdk.mjs"))
        .env("NODE_PATH", setting("SONIOX_COMPAT_NODE_MODULES"));
    check(command, "node");
}
