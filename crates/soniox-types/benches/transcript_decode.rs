//! Placeholder replaced by the transcript decode benchmark.
fn main() {}
