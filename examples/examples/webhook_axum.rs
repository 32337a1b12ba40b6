//! Receive Soniox webhooks in an axum application with the `SonioxWebhook` extractor.
//!
//! ```sh
//! SONIOX_API_WEBHOOK_SECRET=change-me cargo run -p soniox-examples --example webhook_axum
//! curl -i localhost:8081/hooks/soniox \
//!   -H 'X-Soniox-Webhook-Secret: change-me' -H 'Content-Type: application/json' \
//!   -d '{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"completed"}'
//! ```

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{FromRef, State},
    http::StatusCode,
    routing::post,
};
use soniox_webhook::{Dedupe, MemoryDedupe, Verifier, axum::SonioxWebhook};

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
    dedupe: Arc<MemoryDedupe>,
}

// The extractor finds the verifier in the application state through `FromRef`.
impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

async fn on_webhook(
    State(state): State<AppState>,
    SonioxWebhook(event): SonioxWebhook,
) -> (StatusCode, &'static str) {
    if !state.dedupe.first_delivery(event.event()).await {
        return (StatusCode::OK, "duplicate");
    }
    tracing::info!(id = %event.id(), status = %event.status(), "webhook received");
    (StatusCode::OK, "ok")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let state = AppState {
        verifier: Verifier::from_env()?,
        dedupe: Arc::new(MemoryDedupe::new(100_000, Duration::from_secs(24 * 3600))),
    };
    let app = Router::new()
        .route("/hooks/soniox", post(on_webhook))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    tracing::info!(addr = %listener.local_addr()?, "receiving Soniox webhooks");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
