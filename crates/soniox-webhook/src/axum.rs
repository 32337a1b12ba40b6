//! The axum extractor.

use axum_core::{
    body::Body,
    extract::{FromRef, FromRequest, Request},
    response::{IntoResponse, Response},
};

use crate::{ReceivedEvent, Rejection, Verifier, body::read_limited};

/// Extracts a verified delivery; the [`Verifier`] comes from the router state via
/// [`FromRef`].
///
/// On failure the handler is not called and the [`Rejection`] answers with its status
/// (405, 401, 413, 415 or 400). It consumes the body, so it must be the last extractor.
///
/// ```
/// use axum::{Router, routing::post};
/// use soniox_types::Secret;
/// use soniox_webhook::{Verifier, axum::SonioxWebhook};
///
/// async fn on_webhook(SonioxWebhook(event): SonioxWebhook) -> &'static str {
///     tracing::info!(id = %event.id(), status = %event.status(), "transcription finished");
///     "ok"
/// }
///
/// let verifier = Verifier::new("X-Soniox-Webhook-Secret", Secret::new("s3cr3t"))?;
/// let app: Router = Router::new()
///     .route("/webhooks/soniox", post(on_webhook))
///     .with_state(verifier);
/// # Ok::<(), soniox_webhook::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SonioxWebhook(pub ReceivedEvent);

impl<S> FromRequest<S> for SonioxWebhook
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let verifier = Verifier::from_ref(state);
        let (parts, body) = request.into_parts();
        verifier.verify_head(&parts.method, &parts.headers)?;
        let bytes = read_limited(body, verifier.body_limit()).await?;
        verifier
            .verify_rest(&parts.uri, &parts.headers, &bytes)
            .map(Self)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        tracing::debug!(status = self.status().as_u16(), rejection = %self, "webhook rejected");
        self.to_response().map(Body::from)
    }
}
