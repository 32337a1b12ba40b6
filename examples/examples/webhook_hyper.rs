//! Receive Soniox webhooks with the ready-made hyper receiver.
//!
//! ```sh
//! SONIOX_API_WEBHOOK_SECRET=change-me cargo run -p soniox-examples --example webhook_hyper
//! curl -i localhost:8080/hooks/soniox?order=1234 \
//!   -H 'X-Soniox-Webhook-Secret: change-me' -H 'Content-Type: application/json' \
//!   -d '{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"completed"}'
//! ```
//!
//! A second identical `curl` is acknowledged as a duplicate; a wrong secret gets 401; any
//! other path gets 404. Ctrl-C or SIGTERM stops accepting and lets running handlers finish.

use std::convert::Infallible;

use soniox_types::WebhookStatus;
use soniox_webhook::{ReceivedEvent, Receiver, Verifier, WebhookService, termination};

async fn on_delivery(event: ReceivedEvent) -> Result<(), Infallible> {
    match event.status() {
        WebhookStatus::Completed => tracing::info!(
            id = %event.id(),
            order = event.metadata().get("order"),
            "transcript ready; fetch it with soniox-client"
        ),
        WebhookStatus::Error => tracing::warn!(id = %event.id(), "transcription failed"),
        other => tracing::info!(id = %event.id(), status = %other, "unfamiliar status"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    // Fails when SONIOX_API_WEBHOOK_SECRET is unset: there is no accidental open endpoint.
    let verifier = Verifier::from_env()?;
    // The verifier gets the default inbox: an in-memory store that drops duplicates of
    // handled events. `soniox-store` has SQLite and PostgreSQL stores that survive restarts.
    let service = WebhookService::new(verifier, on_delivery);
    let receiver = Receiver::bind("127.0.0.1:8080", service)
        .await?
        .path("/hooks/soniox");
    tracing::info!(addr = %receiver.local_addr()?, "receiving Soniox webhooks");
    receiver.run_until(termination()).await?;
    Ok(())
}
