//! The official SDKs the compatibility tests drive against the emulator.
//!
//! `cargo xtask ci` installs the pinned Python SDK into a virtualenv and the pinned Node SDK
//! into a `node_modules` directory, both under `target/` (so `cargo clean` removes them and
//! they are reused while the pins are unchanged), and hands their locations to the tests.

use std::{fs, path::Path};

use crate::{cmd::Step, project_root};

/// The official Python SDK release the emulator is tested against.
const PYTHON_SDK: &str = "soniox==2.10.0";
/// The official Node SDK release the emulator is tested against.
const NODE_SDK: &str = "@soniox/node@2.3.0";

/// Environment variable through which the tests find the virtualenv's interpreter.
pub(crate) const PYTHON_ENV: &str = "SONIOX_COMPAT_PYTHON";
/// Environment variable through which the tests find the Node SDK's `node_modules`.
pub(crate) const NODE_ENV: &str = "SONIOX_COMPAT_NODE_MODULES";

/// Where the SDKs were installed.
pub(crate) struct Sdks {
    pub(crate) python: String,
    pub(crate) node_modules: String,
}

/// Installs (or reuses) both SDKs.
pub(crate) fn install() -> Result<Sdks, String> {
    let target = project_root().join("target");
    let venv = target.join("compat-venv");
    let python = utf8(&venv.join("bin").join("python"))?;
    if !pinned(&venv, PYTHON_SDK) {
        Step::new("python3", &["-m", "venv", "--clear", &utf8(&venv)?]).run()?;
        Step::new(
            &python,
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
        pin(&venv, PYTHON_SDK)?;
    }
    let node = target.join("compat-node");
    if !pinned(&node, NODE_SDK) {
        fs::create_dir_all(&node)
            .map_err(|error| format!("cannot create {}: {error}", node.display()))?;
        Step::new(
            "npm",
            &[
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                &utf8(&node)?,
                NODE_SDK,
            ],
        )
        .run()?;
        pin(&node, NODE_SDK)?;
    }
    Ok(Sdks {
        python,
        node_modules: utf8(&node.join("node_modules"))?,
    })
}

fn pinned(dir: &Path, pin: &str) -> bool {
    fs::read_to_string(dir.join("soniox-rs-pin")).is_ok_and(|found| found == pin)
}

fn pin(dir: &Path, pin: &str) -> Result<(), String> {
    let marker = dir.join("soniox-rs-pin");
    fs::write(&marker, pin).map_err(|error| format!("cannot write {}: {error}", marker.display()))
}

fn utf8(path: &Path) -> Result<String, String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}
