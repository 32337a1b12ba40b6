//! Slow-loris resistance of the ready-made [`Receiver`]: its RSS before and after 800
//! connections that stall in the middle of a request head, and the requests/s of real
//! deliveries (each with its own id, over keep-alive connections) while they are held, against
//! the same without them, in one run.
//!
//! A plain `main` printing its figures (RSS is the whole process: the receiver and the
//! clients' ends of the connections). Run with
//! `cargo bench -p soniox-webhook --features hyper --bench stalled_connections`; the process
//! needs about 1,700 file descriptors.

#[path = "../../soniox-emulator/benches/support/mod.rs"]
mod support;

use std::{convert::Infallible, time::Duration};

use soniox_types::Secret;
use soniox_webhook::{ReceivedEvent, Receiver, Verifier, WebhookService};

const STALLED: usize = 800;
const HEADER: &str = "x-soniox-webhook-secret";
const SECRET: &str = "whsec_9fJ2kQ7xLmN4pR8sT1vW3yZ6bC0dE5gH";

/// The `n`-th delivery: a fresh id each, so every request reaches the handler.
fn delivery(n: u64) -> Vec<u8> {
    let body = format!(r#"{{"id":"548d023b-2b3d-4dc2-a3ef-{n:012x}","status":"completed"}}"#);
    format!(
        "POST /hooks/soniox HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         {HEADER}: {SECRET}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn main() {
    // `cargo test --benches` runs benches with no `--bench` flag: nothing to measure then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let verifier = Verifier::new(HEADER, Secret::new(SECRET)).expect("verifier");
        let handler = |_: ReceivedEvent| async { Ok::<(), Infallible>(()) };
        let running = Receiver::bind("127.0.0.1:0", WebhookService::new(verifier, handler))
            .await
            .expect("bind")
            // Longer than the run, so the stalled connections are held throughout.
            .header_read_timeout(Some(Duration::from_secs(120)))
            .spawn()
            .expect("spawn");
        support::held_connections("receiver", running.local_addr(), STALLED, delivery).await;
        running.shutdown().await.expect("shutdown");
    });
}
