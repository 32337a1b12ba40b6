//! Runnable examples for the soniox-rs crates; see `examples/` and run them with
//! `cargo run -p soniox-examples --example <name>`.
