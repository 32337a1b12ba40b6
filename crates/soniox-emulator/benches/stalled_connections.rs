//! Slow-loris resistance: the emulator's RSS before and after 800 connections that stall in
//! the middle of a request head, and the requests/s of real requests (`GET /v1/models` over
//! keep-alive connections) while they are held, against the same without them, in one run.
//!
//! A plain `main` printing its figures (RSS is the whole process: the emulator and the
//! clients' ends of the connections). Run with
//! `cargo bench -p soniox-emulator --bench stalled_connections`; the process needs about
//! 1,700 file descriptors.

mod support;

use std::time::Duration;

use soniox_emulator::Emulator;

const STALLED: usize = 800;

fn main() {
    // `cargo test --benches` runs benches with no `--bench` flag: nothing to measure then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let emulator = Emulator::builder()
            .api_key("bench-key")
            // Longer than the run, so the stalled connections are held throughout.
            .header_read_timeout(Duration::from_secs(120))
            .start()
            .await
            .expect("emulator starts");
        let request = |_| {
            b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer bench-key\r\n\r\n"
                .to_vec()
        };
        support::held_connections("emulator", emulator.local_addr(), STALLED, request).await;
        emulator.shutdown().await;
    });
}
