//! The official SDKs, unchanged but for their base URL, against the emulator binary:
//! `tests/compat/python_sdk.py` (PyPI `soniox`) and `tests/compat/node_sdk.mjs` (npm
//! `@soniox/node`).
//!
//! `cargo xtask ci` installs the pinned SDKs under `target/` and passes their locations in
//! `SONIOX_COMPAT_PYTHON` (a virtualenv's interpreter) and `SONIOX_COMPAT_NODE_MODULES` (a
//! `node_modules` directory). Without them a test has nothing to drive: it fails under CI (`CI`
//! set) and is skipped, with a note, elsewhere.

use std::{ffi::OsString, io::Write as _, path::Path, process::Command};

/// The setting named `variable`, or `None` when the check must be skipped.
fn setting(variable: &str) -> Option<OsString> {
    let value = std::env::var_os(variable);
    if value.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{variable} must be set under CI (cargo xtask ci sets it)"
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: set {variable} (cargo xtask ci does) to run this check"
        );
    }
    value
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
fn official_python_sdk_runs_unchanged() {
    let Some(python) = setting("SONIOX_COMPAT_PYTHON") else {
        return;
    };
    let mut command = Command::new(python);
    command.arg(script("python_sdk.py"));
    check(command, "python");
}

#[test]
fn official_node_sdk_runs_unchanged() {
    let Some(node_modules) = setting("SONIOX_COMPAT_NODE_MODULES") else {
        return;
    };
    let mut command = Command::new("node");
    command
        .arg(script("node_sdk.mjs"))
        .env("NODE_PATH", node_modules);
    check(command, "node");
}
