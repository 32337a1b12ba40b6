//! `cargo xtask ci`: everything CI checks, in order, stopping at the first failure.

use std::{
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use crate::{cmd::Step, codegen, compat};

pub(crate) fn run() -> Result<(), String> {
    let sdks = compat::install()?;
    Step::new("cargo", &["fmt", "--all", "--check"]).run()?;
    // Before clippy and the tests, so a stale generated file is named as such rather than
    // showing up as a failing test.
    codegen::run(&["--check".to_owned()])?;
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
    let mut test =
        Step::new("cargo", &["test", "--workspace", "--all-features"]).env("INSTA_UPDATE", "no");
    if let Some(url) = local_postgres() {
        test = test.env(POSTGRES_ENV, url);
    }
    test.run()?;
    // The official SDKs' tests need python3 and node, so a plain `cargo test` ignores them;
    // here the SDKs were just installed, and a missing tool fails the run.
    Step::new(
        "cargo",
        &[
            "test",
            "-p",
            "soniox-emulator",
            "--all-features",
            "--test",
            "official_sdks",
            "--",
            "--ignored",
        ],
    )
    .env(compat::PYTHON_ENV, &sdks.python)
    .env(compat::NODE_ENV, &sdks.node_modules)
    .run()?;
    Step::new(
        "cargo",
        &["doc", "--workspace", "--no-deps", "--all-features"],
    )
    .env("RUSTDOCFLAGS", "-D warnings")
    .run()?;
    check_facade_features()?;
    // A build without a TLS feature must refuse an `https` base URL when it is built; only a
    // build without the default features can test that.
    Step::new(
        "cargo",
        &[
            "test",
            "--quiet",
            "-p",
            "soniox-client",
            "--no-default-features",
            "--lib",
        ],
    )
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

/// The feature combinations the `soniox` facade documents, each alone: `--all-features`
/// above cannot see a `cfg` that only breaks when a feature is off.
const FACADE_FEATURES: &[&str] = &[
    "",
    "client",
    "client-native-tls",
    "webhook",
    "axum",
    "hyper",
    "tower",
    "store",
    "store,postgres",
    "tracker",
    "emulator",
    "schemars",
    "client,webhook,axum",
];

/// `cargo check`s the facade with each documented feature combination. Checking, not
/// building, keeps this to seconds once the dependencies' metadata is cached.
fn check_facade_features() -> Result<(), String> {
    for features in FACADE_FEATURES {
        Step::new(
            "cargo",
            &[
                "check",
                "--quiet",
                "-p",
                "soniox",
                "--no-default-features",
                "--features",
                features,
            ],
        )
        .run()?;
    }
    Ok(())
}

/// Where soniox-store's tests and benches find a PostgreSQL server; without it the tests fail
/// under CI and the benches skip PostgreSQL.
pub(crate) const POSTGRES_ENV: &str = "SONIOX_TEST_POSTGRES_URL";

/// The local server's URL for the tests and benches, when they have none set and one is
/// listening.
pub(crate) fn local_postgres() -> Option<&'static str> {
    if std::env::var_os(POSTGRES_ENV).is_some() {
        return None;
    }
    let address = SocketAddr::from(([127, 0, 0, 1], 5432));
    TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .ok()
        .map(|_| "postgres://postgres@127.0.0.1:5432/test")
}
