//! `cargo xtask bench`: runs the workspace's benchmarks.
//!
//! Benchmarks are criterion harnesses under each crate's `benches/`; their reports land in
//! `target/criterion/`. Performance is judged from these figures, never from timing assertions
//! in tests.

use crate::cmd::Step;

pub(crate) fn run(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["bench", "--workspace"];
    if !extra.is_empty() {
        args.push("--");
        args.extend(extra.iter().map(String::as_str));
    }
    Step::new("cargo", &args).run()
}
