//! The official SDKs the compatibility tests drive against the emulator.
//!
//! `cargo xtask ci` prepares a Python virtualenv with the pinned `soniox` package and hands
//! its interpreter to the tests through `SONIOX_COMPAT_PYTHON`. The virtualenv lives under
//! `target/`, so `cargo clean` removes it, and is reused while the pin is unchanged.

use std::{fs, path::PathBuf};

use crate::{cmd::Step, project_root};

/// The official Python SDK release the emulator is tested against.
pub(crate) const PYTHON_SDK: &str = "soniox==2.10.0";

/// Environment variable through which the tests find the virtualenv's interpreter.
pub(crate) const PYTHON_ENV: &str = "SONIOX_COMPAT_PYTHON";

/// Creates (or reuses) the virtualenv and returns its interpreter.
pub(crate) fn python() -> Result<PathBuf, String> {
    let venv = project_root().join("target").join("compat-venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join("soniox-rs-pin");
    if fs::read_to_string(&marker).is_ok_and(|pin| pin == PYTHON_SDK) && python.exists() {
        return Ok(python);
    }
    let venv_str = venv
        .to_str()
        .ok_or("the target directory path is not UTF-8")?;
    Step::new("python3", &["-m", "venv", "--clear", venv_str]).run()?;
    let python_str = python
        .to_str()
        .ok_or("the target directory path is not UTF-8")?;
    Step::new(
        python_str,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PYTHON_SDK,
        ],
    )
    .run()?;
    fs::write(&marker, PYTHON_SDK)
        .map_err(|error| format!("cannot write {}: {error}", marker.display()))?;
    Ok(python)
}
