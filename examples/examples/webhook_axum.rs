//! Receive Soniox webhooks in an axum application with the `SonioxWebhook` extractor.
//!
//! ```sh
//! SONIOX_API_WEBHOOK_SECRET=change-me cargo run -p soniox-examples --example webhook_axum
//! curl -i localhost:8081/hooks/soniox \
//!   -H 'X-Soniox-Webhook-Secret: change-me' -H 'Content-Type: application/json' \
//!   -d '{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"completed"}'
//! ```

use axum::{
    Router,
    extract::{FromRef, State},
    routing::post,
};
use soniox_webhook::{Inbox, Outcome, ReceivedEvent, Verifier, axum::SonioxWebhook, termination};

#[derive(Clone)]
struct AppState {
    inbox: Inbox,
    orders: Orders,
}

/// Stands in for the application's own database.
#[derive(Clone, Default)]
struct Orders;

impl Orders {
    async fn transcript_ready(&self, event: &ReceivedEvent) -> Result<(), std::io::Error> {
        tracing::info!(id = %event.id(), status = %event.status(), "webhook received");
        Ok(())
    }
}

// The extractor finds the inbox in the application state through `FromRef`.
impl FromRef<AppState> for Inbox {
    fn from_ref(state: &AppState) -> Self {
        state.inbox.clone()
    }
}

/// Answers 200 only once `transcript_ready` returned `Ok` and the event is recorded as done;
/// a duplicate of a done event gets 200 without running it again, a failure 500 so Soniox
/// retries.
async fn on_webhook(State(state): State<AppState>, webhook: SonioxWebhook) -> Outcome {
    webhook
        .handle(move |event| async move { state.orders.transcript_ready(&event).await })
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let inbox = Inbox::new(Verifier::from_env()?);
    let state = AppState {
        inbox: inbox.clone(),
        orders: Orders,
    };
    let app = Router::new()
        .route("/hooks/soniox", post(on_webhook))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    tracing::info!(addr = %listener.local_addr()?, "receiving Soniox webhooks");
    axum::serve(listener, app)
        .with_graceful_shutdown(termination())
        .await?;
    // Handlers outlive their connections: give the running ones time to finish.
    inbox.drain(soniox_webhook::DEFAULT_DRAIN_DEADLINE).await;
    Ok(())
}
