//! The official Python SDK against the emulator binary (`tests/compat/python_sdk.py`).
//!
//! `cargo xtask ci` prepares a virtualenv with the pinned `soniox` package and passes its
//! interpreter in `SONIOX_COMPAT_PYTHON`. Without it the test has nothing to drive: it fails
//! under CI (`CI` set) and is skipped, with a note, elsewhere.

use std::{io::Write as _, path::Path, process::Command};

#[test]
fn official_python_sdk_runs_unchanged() {
    let Some(python) = std::env::var_os("SONIOX_COMPAT_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "SONIOX_COMPAT_PYTHON must name the compat virtualenv's python under CI"
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: set SONIOX_COMPAT_PYTHON (cargo xtask ci does) to run the Python SDK check"
        );
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/python_sdk.py");
    let output = Command::new(python)
        .arg(script)
        .env("SONIOX_EMULATOR_BIN", env!("CARGO_BIN_EXE_soniox-emulator"))
        .output()
        .expect("the Python interpreter runs");
    assert!(
        output.status.success(),
        "the Python SDK check failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("python SDK compatibility: ok"));
}
