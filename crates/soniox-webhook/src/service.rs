//! A framework-neutral service: an [`Inbox`] plus a [`Handler`].

#[cfg(any(feature = "tower", feature = "hyper"))]
use std::convert::Infallible;
use std::{fmt, future::Future, sync::Arc};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;

use crate::{Inbox, ReceivedEvent};
#[cfg(doc)]
use crate::{Rejection, Verifier};

/// Your code that acts on a verified delivery.
///
/// Implemented for every `Fn(ReceivedEvent) -> impl Future<Output = Result<(), E>>`, so an
/// async closure or function is a handler. Returning `Err` answers 500, which makes Soniox
/// retry the delivery; return `Ok` only once the event's effect is safely recorded, because
/// the event is then done and later deliveries of it are dropped.
pub trait Handler: Send + Sync + 'static {
    /// Why handling failed; logged (with `Display`) and answered with 500.
    type Error: fmt::Display + Send + 'static;
    /// The handling in progress.
    type Future: Future<Output = Result<(), Self::Error>> + Send + 'static;

    /// Handles one verified, first-seen delivery.
    fn call(&self, event: ReceivedEvent) -> Self::Future;
}

impl<F, Fut, E> Handler for F
where
    F: Fn(ReceivedEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    type Error = E;
    type Future = Fut;

    fn call(&self, event: ReceivedEvent) -> Fut {
        self(event)
    }
}

/// Receives deliveries with the [`Inbox`]'s guarantees and your [`Handler`].
///
/// | Outcome | Answer |
/// |---|---|
/// | handled, recorded as done | 200 `ok` |
/// | duplicate of a done event | 200 `duplicate`, handler not called |
/// | duplicate of an event being handled | 503 `in progress` with `Retry-After`, handler not called |
/// | rejected | the [`Rejection`]'s status (405, 401, 413, 415, 408, 400), handler not called |
/// | handler returned `Err` or panicked | 500, event released so Soniox's retry handles it |
/// | handler past its deadline, shutting down | 503, event released |
/// | store unreachable before the handler ran | 503, handler not called |
/// | store unreachable when recording the event as done | 503; the claim stays until its lease runs out (retries meanwhile get 503 `in progress`), then the event is handled again |
///
/// A sender that hangs up does not cancel the handler: its handling moves into a task of its
/// own. It is a `tower::Service` with the `tower` feature and a `hyper` service with the
/// `hyper` feature; [`WebhookService::handle`] is the same logic as a plain async method.
pub struct WebhookService<H> {
    inbox: Inbox,
    handler: Arc<H>,
}

impl<H> Clone for WebhookService<H> {
    fn clone(&self) -> Self {
        Self {
            inbox: self.inbox.clone(),
            handler: Arc::clone(&self.handler),
        }
    }
}

impl<H> fmt::Debug for WebhookService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

impl<H: Handler> WebhookService<H> {
    /// A service that receives with `inbox` (or a [`Verifier`], which gets a default
    /// [`Inbox`]) and hands each first delivery to `handler`.
    pub fn new(inbox: impl Into<Inbox>, handler: H) -> Self {
        Self {
            inbox: inbox.into(),
            handler: Arc::new(handler),
        }
    }

    /// The inbox, for [`Inbox::drain`] at shutdown.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// Handles one request and produces the answer. Never fails: every outcome is a response.
    pub fn handle<B>(
        &self,
        request: Request<B>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + use<B, H>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let handler = Arc::clone(&self.handler);
        respond(self.inbox.clone(), request, move |event| {
            handler.call(event)
        })
    }

    /// A copy for one connection of a server, with reference counts of its own: the copies
    /// that every request makes then touch only that connection's counts, not counts that
    /// requests on every worker write to.
    #[cfg(feature = "hyper")]
    pub(crate) fn for_connection(&self) -> Arc<Self> {
        Arc::new(Self {
            inbox: self.inbox.detached(),
            handler: Arc::clone(&self.handler),
        })
    }

    /// [`WebhookService::handle`] on a copy made by [`WebhookService::for_connection`]: the
    /// handler is reached through that copy, whose count only this connection touches.
    #[cfg(feature = "hyper")]
    pub(crate) fn handle_on_connection<B>(
        self: &Arc<Self>,
        request: Request<B>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + use<B, H>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let this = Arc::clone(self);
        respond(self.inbox.clone(), request, move |event| {
            this.handler.call(event)
        })
    }
}

/// The answer to `request`: its rejection, or how `handler`'s handling of its event went.
///
/// The one `async fn` between a server and [`Inbox::receive`]: each keeps its arguments for
/// its whole life, so every `async fn` around it would hold the request once more, and a
/// request's future is boxed, where past 1 KiB the allocator takes its slow path.
async fn respond<B, F, Fut, E>(
    inbox: Inbox,
    request: Request<B>,
    handler: F,
) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: FnOnce(ReceivedEvent) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    let received = match inbox.receive(request).await {
        Ok(received) => received,
        Err(rejection) => {
            tracing::debug!(status = rejection.status().as_u16(), %rejection, "webhook rejected");
            return rejection.to_response().map(Full::new);
        }
    };
    let outcome = inbox.process(received, handler).await;
    outcome.to_response().map(Full::new)
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
        Box::pin(Answered::new(
            self.handle(request),
            |_: &mut Response<Full<Bytes>>| {},
        ))
    }
}

#[cfg(any(feature = "tower", feature = "hyper"))]
pin_project_lite::pin_project! {
    /// A handling's response as a service's `Ok`, with `after` run on it once it is ready. A future
    /// of its own rather than an `async` block, which would keep the handling twice: as what
    /// it captured, and as what it awaits.
    pub(crate) struct Answered<F, A> {
        #[pin]
        handling: F,
        after: Option<A>,
    }
}

#[cfg(any(feature = "tower", feature = "hyper"))]
impl<F, A> Answered<F, A> {
    pub(crate) fn new(handling: F, after: A) -> Self {
        Self {
            handling,
            after: Some(after),
        }
    }
}

#[cfg(any(feature = "tower", feature = "hyper"))]
impl<F: Future<Output = Response<Full<Bytes>>>, A: FnOnce(&mut Response<Full<Bytes>>)> Future
    for Answered<F, A>
{
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.handling.poll(cx));
        if let Some(after) = this.after.take() {
            after(&mut response);
        }
        std::task::Poll::Ready(Ok(response))
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
