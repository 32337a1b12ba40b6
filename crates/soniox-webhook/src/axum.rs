//! The axum extractor, for **axum 0.8** (it implements `axum-core` 0.5's `FromRequest`; with
//! axum 0.7 a route using it fails to compile with "`Handler<_, _>` is not satisfied").

use std::{fmt, future::Future};

use axum_core::{
    body::Body,
    extract::{FromRef, FromRequest, Request},
    response::{IntoResponse, Response},
};

use crate::{Inbox, Outcome, ReceivedEvent, Rejection};

/// A verified delivery, to be handled with [`SonioxWebhook::handle`] under the [`Inbox`]'s
/// guarantees; the inbox comes from the router state via [`FromRef`].
///
/// On a failed verification the route's handler is not called and the [`Rejection`] answers
/// (405, 401, 413, 415, 408 or 400). The extractor consumes the body, so it must be the last
/// one. Answer with the [`Outcome`] that `handle` returns: it is 200 only once your code
/// returned `Ok` and the event was recorded as done.
///
/// ```
/// use axum::{Router, routing::post};
/// use soniox_webhook::{Inbox, Outcome, Secret, Verifier, axum::SonioxWebhook};
///
/// async fn on_webhook(webhook: SonioxWebhook) -> Outcome {
///     webhook
///         .handle(|event| async move {
///             tracing::info!(id = %event.id(), status = %event.status(), "transcription finished");
///             Ok::<(), std::convert::Infallible>(())
///         })
///         .await
/// }
///
/// let inbox = Inbox::new(Verifier::new("X-Soniox-Webhook-Secret", Secret::new("s3cr3t"))?);
/// let app: Router = Router::new()
///     .route("/webhooks/soniox", post(on_webhook))
///     .with_state(inbox);
/// # Ok::<(), soniox_webhook::ConfigError>(())
/// ```
#[must_use = "a delivery that is not handled is answered by nothing; call `handle`"]
pub struct SonioxWebhook {
    inbox: Inbox,
    received: ReceivedEvent,
}

impl fmt::Debug for SonioxWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SonioxWebhook")
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl SonioxWebhook {
    /// The verified delivery.
    pub fn event(&self) -> &ReceivedEvent {
        &self.received
    }

    /// Runs `handler` on the delivery with [`Inbox::process`]: claimed first, run to its end
    /// even if the sender hangs up, recorded as done only on `Ok`.
    pub async fn handle<F, Fut, E>(self, handler: F) -> Outcome
    where
        F: FnOnce(ReceivedEvent) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        self.inbox.process(self.received, handler).await
    }
}

impl<S> FromRequest<S> for SonioxWebhook
where
    Inbox: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let inbox = Inbox::from_ref(state);
        let received = inbox.receive(request).await?;
        Ok(Self { inbox, received })
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        tracing::debug!(status = self.status().as_u16(), rejection = %self, "webhook rejected");
        self.to_response().map(Body::from)
    }
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        self.to_response().map(Body::from)
    }
}
