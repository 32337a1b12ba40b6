//! A framework-neutral service: read, verify, dedupe, dispatch, answer.

use std::{convert::Infallible, fmt, future::Future, sync::Arc};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;

use crate::{Dedupe, ReceivedEvent, Rejection, Verifier, body::read_limited};

/// Your code that acts on a verified delivery.
///
/// Implemented for every `Fn(ReceivedEvent) -> impl Future<Output = Result<(), E>>`, so an
/// async closure or function is a handler. Returning `Err` answers 500, which makes Soniox
/// retry the delivery; return `Ok` once the event is safely recorded (fetching the transcript
/// can happen later, outside the request).
pub trait Handler: Send + Sync + 'static {
    /// Why handling failed; logged (with `Display`) and answered with 500.
    type Error: fmt::Display + Send;
    /// The handling in progress.
    type Future: Future<Output = Result<(), Self::Error>> + Send + 'static;

    /// Handles one verified, first-seen delivery.
    fn call(&self, event: ReceivedEvent) -> Self::Future;
}

impl<F, Fut, E> Handler for F
where
    F: Fn(ReceivedEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + Send,
{
    type Error = E;
    type Future = Fut;

    fn call(&self, event: ReceivedEvent) -> Fut {
        self(event)
    }
}

/// Receives deliveries: reads the body within the verifier's limit, verifies it, drops
/// duplicates (when a [`Dedupe`] is set), calls the [`Handler`] and answers.
///
/// | Outcome | Answer |
/// |---|---|
/// | handled | 200 |
/// | duplicate (already handled) | 200, handler not called |
/// | rejected | the [`Rejection`]'s status (405, 401, 413, 415, 400), handler not called |
/// | handler returned `Err` or panicked | 500, so Soniox retries; the dedupe entry is released |
///
/// It is a `tower::Service` with the `tower` feature and a `hyper` service with the `hyper`
/// feature; [`WebhookService::handle`] is the same logic as a plain async method.
pub struct WebhookService<H> {
    // One `Arc` for everything: a hyper connection clones the service for every request.
    shared: Arc<Shared<H>>,
}

struct Shared<H> {
    verifier: Verifier,
    dedupe: Option<Arc<dyn Dedupe>>,
    handler: Arc<H>,
}

impl<H> Clone for WebhookService<H> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<H> fmt::Debug for WebhookService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("verifier", &self.shared.verifier)
            .field("dedupe", &self.shared.dedupe.is_some())
            .finish_non_exhaustive()
    }
}

impl<H: Handler> WebhookService<H> {
    /// A service that verifies with `verifier` and hands each delivery to `handler`.
    pub fn new(verifier: Verifier, handler: H) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier,
                dedupe: None,
                handler: Arc::new(handler),
            }),
        }
    }

    /// Drops deliveries `dedupe` has already seen, answering them 200 without calling the
    /// handler.
    #[must_use]
    pub fn with_dedupe(self, dedupe: impl Dedupe + 'static) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier: self.shared.verifier.clone(),
                dedupe: Some(Arc::new(dedupe)),
                handler: Arc::clone(&self.shared.handler),
            }),
        }
    }

    /// Handles one request and produces the answer. Never fails: every outcome is a response.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Shared {
            verifier,
            dedupe,
            handler,
        } = &*self.shared;
        let (parts, body) = request.into_parts();
        if let Err(rejection) = verifier.verify_head(&parts.method, &parts.headers) {
            return reject(&rejection);
        }
        let received = match read_limited(body, verifier.body_limit()).await {
            Ok(bytes) => verifier.verify_rest(&parts.uri, &parts.headers, &bytes),
            Err(rejection) => Err(rejection),
        };
        let received = match received {
            Ok(received) => received,
            Err(rejection) => return reject(&rejection),
        };
        let event = match dedupe {
            Some(dedupe) if !dedupe.first_delivery(received.event()).await => {
                tracing::debug!(id = %received.id(), status = %received.status(), "duplicate webhook dropped");
                return text(StatusCode::OK, "duplicate");
            }
            Some(_) => Some(received.event().clone()),
            None => None,
        };
        let outcome = match catch_unwind(handler.call(received)).await {
            Ok(Ok(())) => return text(StatusCode::OK, "ok"),
            Ok(Err(error)) => error.to_string(),
            Err(Panicked) => "the handler panicked".to_owned(),
        };
        tracing::error!(error = %outcome, "webhook handler failed; answering 500 so Soniox retries");
        if let (Some(dedupe), Some(event)) = (dedupe, &event) {
            dedupe.release(event).await;
        }
        text(StatusCode::INTERNAL_SERVER_ERROR, "handler failed")
    }
}

struct Panicked;

/// Runs `future`, turning a panic into `Err(Panicked)`: a panicking handler must still answer
/// 500 and release its dedupe entry, or the retry would be dropped as a duplicate and the
/// event lost.
async fn catch_unwind<F: Future>(future: F) -> Result<F::Output, Panicked> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(Err(Panicked)),
        }
    })
    .await
}

fn reject(rejection: &Rejection) -> Response<Full<Bytes>> {
    tracing::debug!(status = rejection.status().as_u16(), %rejection, "webhook rejected");
    rejection.to_response().map(Full::new)
}

fn text(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(message.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(any(feature = "tower", feature = "hyper"))]
type ResponseFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

#[cfg(any(feature = "tower", feature = "hyper"))]
impl<H: Handler> WebhookService<H> {
    fn call_boxed<B>(&self, request: Request<B>) -> ResponseFuture
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let service = self.clone();
        Box::pin(async move { Ok(service.handle(request).await) })
    }
}

#[cfg(feature = "tower")]
impl<H, B> tower_service::Service<Request<B>> for WebhookService<H>
where
    H: Handler,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> ResponseFuture {
        self.call_boxed(request)
    }
}

#[cfg(feature = "hyper")]
impl<H, B> hyper::service::Service<Request<B>> for WebhookService<H>
where
    H: Handler,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> ResponseFuture {
        self.call_boxed(request)
    }
}
