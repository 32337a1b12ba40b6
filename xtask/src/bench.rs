//! `cargo xtask bench`: runs the workspace's benchmarks.
//!
//! Benchmarks are criterion harnesses, or plain `main`s printing their figures, under each
//! crate's `benches/`; criterion's reports land in `target/criterion/`. Performance is judged
//! from these figures, never from timing assertions in tests.
//!
//! Every feature is on, so that benches with `required-features` (soniox-store's
//! `receiver_load`) run rather than being skipped; PostgreSQL is measured when a server
//! listens locally, as `cargo xtask ci` tests it.

use crate::{ci, cmd::Step};

pub(crate) fn run(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["bench", "--workspace", "--all-features"];
    if !extra.is_empty() {
        args.push("--");
        args.extend(extra.iter().map(String::as_str));
    }
    let mut bench = Step::new("cargo", &args);
    if let Some(url) = ci::local_postgres() {
        bench = bench.env(ci::POSTGRES_ENV, url);
    }
    bench.run()
}
