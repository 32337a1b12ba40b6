//! `cargo xtask ci`: everything CI checks, in order, stopping at the first failure.

use crate::{cmd::Step, compat};

pub(crate) fn run() -> Result<(), String> {
    let sdks = compat::install()?;
    Step::new("cargo", &["fmt", "--all", "--check"]).run()?;
    Step::new(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
    )
    .run()?;
    Step::new("cargo", &["test", "--workspace", "--all-features"])
        .env("INSTA_UPDATE", "no")
        .env(compat::PYTHON_ENV, &sdks.python)
        .env(compat::NODE_ENV, &sdks.node_modules)
        .run()?;
    Step::new(
        "cargo",
        &["doc", "--workspace", "--no-deps", "--all-features"],
    )
    .env("RUSTDOCFLAGS", "-D warnings")
    .run()?;
    // The README's quick start must keep working, end to end.
    Step::new(
        "cargo",
        &[
            "run",
            "--quiet",
            "-p",
            "soniox-examples",
            "--example",
            "quickstart",
        ],
    )
    .run()?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}
