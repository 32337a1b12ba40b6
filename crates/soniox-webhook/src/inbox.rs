//! The receiving semantics every adapter shares: verify, claim, run the handler detached from
//! the connection, complete or release, answer.

use std::{
    error::Error as StdError,
    fmt,
    future::Future,
    panic::AssertUnwindSafe,
    pin::{Pin, pin},
    sync::Arc,
    task::Poll,
    time::Duration,
};

use http::{Request, StatusCode};
use http_body::Body;
use soniox_types::WebhookEvent;
use tokio_util::task::{TaskTracker, task_tracker::TaskTrackerToken};

use crate::{
    ReceivedEvent, Rejection, Verifier,
    body::read_limited,
    store::{Claim, ClaimToken, EventStore, MemoryStore, StoreError},
};

mod counts;
mod guard;

pub use counts::DeliveryCounts;

use guard::{Guard, Guarded, Shutdown, guarded};

/// How long a handler may run unless configured otherwise. Senders give up on a delivery after
/// some seconds (Svix after 15); answering before that keeps the retry schedule honest.
pub const DEFAULT_HANDLER_DEADLINE: Duration = Duration::from_secs(10);

/// How long a request body may take to arrive unless configured otherwise.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// How much longer a claim's lease runs than the handler deadline unless configured otherwise:
/// time to record the outcome in the store. A claim outlives its handler, so a live handler
/// never loses its lease.
pub const DEFAULT_LEASE_MARGIN: Duration = Duration::from_secs(30);

/// How long [`Inbox::drain`] waits, after cancelling the handlers still running, for them to
/// release their events.
const RELEASE_GRACE: Duration = Duration::from_secs(5);

/// The least a store call may take before it counts as unanswered, whatever the lease margin:
/// a margin of zero would otherwise fail every call that waits at all.
const MIN_STORE_WAIT: Duration = Duration::from_secs(1);

/// Receives deliveries with the delivery guarantees: a verifier, an [`EventStore`], a handler
/// deadline, and the handlers it runs.
///
/// Every adapter ([`crate::WebhookService`], [`crate::Receiver`], the axum
/// [`SonioxWebhook`](crate::axum::SonioxWebhook) extractor) is this type underneath. For each
/// verified delivery, [`Inbox::process`]:
///
/// 1. claims the event in the store: done → 200 without calling the handler; in progress
///    elsewhere → 503 with `Retry-After`; store unreachable → 503;
/// 2. runs the handler **detached from the request**: a sender that hangs up, or a server
///    that drops the request, does not cancel it (the handling moves into a task of its own);
/// 3. on `Ok`, records the event as done and answers 200; on `Err` or a panic, releases it and
///    answers 500; past the deadline, cancels the handler, releases it and answers 503.
///
/// No path answers 2xx before the store has recorded the event as done. Clones share
/// everything, including the set of running handlers that [`Inbox::drain`] waits for.
#[derive(Clone)]
pub struct Inbox {
    shared: Arc<Shared>,
}

struct Shared {
    verifier: Verifier,
    store: Arc<dyn EventStore>,
    handler_deadline: Duration,
    lease_margin: Duration,
    body_timeout: Duration,
    handlers: TaskTracker,
    shutdown: Shutdown,
    counts: Arc<counts::Counters>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("verifier", &self.shared.verifier)
            .field("handler_deadline", &self.shared.handler_deadline)
            .field("body_timeout", &self.shared.body_timeout)
            .field("running", &self.shared.handlers.len())
            .finish_non_exhaustive()
    }
}

impl From<Verifier> for Inbox {
    fn from(verifier: Verifier) -> Self {
        Self::new(verifier)
    }
}

impl Inbox {
    /// An inbox that verifies with `verifier` and remembers events in a default
    /// [`MemoryStore`] (one process, forgotten on restart). Use [`Inbox::store`] for a durable
    /// or shared one.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier,
                store: Arc::new(MemoryStore::default()),
                handler_deadline: DEFAULT_HANDLER_DEADLINE,
                lease_margin: DEFAULT_LEASE_MARGIN,
                body_timeout: DEFAULT_BODY_TIMEOUT,
                handlers: TaskTracker::new(),
                shutdown: Shutdown::default(),
                counts: Arc::default(),
            }),
        }
    }

    /// Records events in `store` instead.
    #[must_use]
    pub fn store(self, store: impl EventStore + 'static) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// Records events in a store shared with other code (a tracker, a second inbox).
    #[must_use]
    pub fn shared_store(self, store: Arc<dyn EventStore>) -> Self {
        self.rebuild(|shared| shared.store = store)
    }

    /// Cancels a handler still running after `deadline`, releases its event and answers 503
    /// (default [`DEFAULT_HANDLER_DEADLINE`]).
    #[must_use]
    pub fn handler_deadline(self, deadline: Duration) -> Self {
        self.rebuild(|shared| shared.handler_deadline = deadline)
    }

    /// Leases claims for the handler deadline plus `margin` (default
    /// [`DEFAULT_LEASE_MARGIN`]): the time the store has to record the outcome. Each store
    /// call (claim, complete, release) gets that long, at least a second; one that takes
    /// longer (a lock held elsewhere, a connection gone silent) is answered as a store that
    /// cannot be reached, 503, and its event comes back when its lease expires. After a crash,
    /// the event is blocked for the whole lease, so a short margin brings it back sooner; too
    /// short a margin lets a slow store's completion arrive after another replica took over,
    /// and the handler runs twice.
    #[must_use]
    pub fn lease_margin(self, margin: Duration) -> Self {
        self.rebuild(|shared| shared.lease_margin = margin)
    }

    /// This inbox with another verifier: for a second receiving path (another secret, another
    /// route) that shares everything else, the running handlers and the
    /// [counts](Inbox::counts) included.
    #[must_use]
    pub fn verifier(self, verifier: Verifier) -> Self {
        self.rebuild(|shared| shared.verifier = verifier)
    }

    /// Answers 408 when a request body takes longer than `timeout` to arrive (default
    /// [`DEFAULT_BODY_TIMEOUT`]), so a trickled body cannot hold a connection forever.
    #[must_use]
    pub fn body_timeout(self, timeout: Duration) -> Self {
        self.rebuild(|shared| shared.body_timeout = timeout)
    }

    /// A clone with a reference count of its own, sharing everything else (the store, the
    /// running handlers, the counts): for copies made per connection, so that requests on
    /// different workers do not all write to one count.
    #[cfg(feature = "hyper")]
    pub(crate) fn detached(&self) -> Self {
        self.clone().rebuild(|_| {})
    }

    fn rebuild(self, change: impl FnOnce(&mut Shared)) -> Self {
        let old = &self.shared;
        let mut shared = Shared {
            verifier: old.verifier.clone(),
            store: Arc::clone(&old.store),
            handler_deadline: old.handler_deadline,
            lease_margin: old.lease_margin,
            body_timeout: old.body_timeout,
            handlers: old.handlers.clone(),
            shutdown: old.shutdown.clone(),
            counts: Arc::clone(&old.counts),
        };
        change(&mut shared);
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The verifier.
    pub fn get_verifier(&self) -> &Verifier {
        &self.shared.verifier
    }

    /// The store.
    pub fn get_store(&self) -> &Arc<dyn EventStore> {
        &self.shared.store
    }

    /// How many deliveries this inbox, its clones and the inboxes derived from it answered
    /// each way.
    pub fn counts(&self) -> DeliveryCounts {
        self.shared.counts.snapshot()
    }

    /// How long a claim lasts: the handler deadline plus the lease margin.
    pub fn lease(&self) -> Duration {
        self.shared.lease()
    }

    /// Verifies a request: the head first (so an unauthenticated caller never gets its body
    /// read), then the body, read within the verifier's size limit and the body timeout.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] to answer with.
    pub fn receive<B>(
        &self,
        request: Request<B>,
    ) -> impl Future<Output = Result<ReceivedEvent, Rejection>> + use<B>
    where
        B: Body,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        // Taken apart before the future, which owns the parts: an `async fn` keeps its
        // arguments for its whole life, so the request would sit in its future next to its
        // own parts, as in the future of each `async fn` around it. A request's future is
        // boxed, and past 1 KiB the allocator takes its slow path.
        let shared = Arc::clone(&self.shared);
        let (parts, body) = request.into_parts();
        async move {
            let verifier = &shared.verifier;
            let verified = async {
                verifier.verify_head(&parts.method, &parts.headers)?;
                let read = read_limited(body, verifier.get_body_limit());
                let bytes = match guarded(read, shared.body_timeout, None).await {
                    Guarded::Finished(read) => read?,
                    Guarded::TimedOut | Guarded::ShutDown => return Err(Rejection::BodyTimeout),
                };
                verifier.verify_rest(&parts.uri, &parts.headers, &bytes)
            };
            let verified = verified.await;
            if verified.is_err() {
                shared.counts.reject();
            }
            verified
        }
    }

    /// Handles `received` with `handler` under the delivery guarantees (see [`Inbox`]) and
    /// says how it went; [`Outcome::to_response`] is the answer to send.
    ///
    /// The handling runs inside this future while it is polled; dropping the future (the
    /// sender hung up) does not cancel it: the rest of it moves into a task of its own, and
    /// the event still ends up done or released. Nothing happens until the future is first
    /// polled.
    pub fn process<F, Fut, E>(
        &self,
        received: ReceivedEvent,
        handler: F,
    ) -> impl Future<Output = Outcome> + Send + '_
    where
        F: FnOnce(ReceivedEvent) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        // Boxed here, outside the returned future: a future built inside it would make it as
        // large as the handling (handler included), and the request's future around it,
        // copied whole wherever it moves. Boxed, it can also move into a task of its own.
        let shared = Arc::clone(&self.shared);
        let event = received.event().clone();
        let call = (handler, received);
        let settling: Settling = Box::pin(async move {
            // Pinned here and lent: every `async fn` it were passed to would keep a copy of
            // the handler and the event (or the handler's future) in the box, which would
            // then outgrow the allocator's fast path (1 KiB) for handlers of common size.
            // (For the same reason `call` is captured rather than a `Handling`, which is as
            // large as the handler's future.)
            let handling = Handling::Call { call: Some(call) };
            let handling = pin!(guarded(
                handling,
                shared.handler_deadline,
                Some(&shared.shutdown)
            ));
            let outcome = shared.claim_and_handle(&event, handling).await;
            shared.counts.record(outcome);
            outcome
        });
        async move {
            if self.shared.shutdown.is_started() {
                self.shared.counts.record(Outcome::ShuttingDown);
                return Outcome::ShuttingDown;
            }
            let mut handling = Detachable {
                settling: Some(settling),
                shared: &self.shared,
                waiting: None,
            };
            std::future::poll_fn(|cx| handling.poll_here(cx)).await
        }
    }

    /// Waits for running handlers to finish, at most `deadline`; then cancels the rest, which
    /// release their events (answering 503) so they are delivered again. New deliveries are
    /// answered 503 once the handlers have been cancelled.
    ///
    /// A handling that starts after `drain` returned (a request whose body was still arriving)
    /// is not waited for: drain once the server has stopped reading requests, as
    /// [`Receiver`](crate::Receiver) does.
    pub async fn drain(&self, deadline: Duration) {
        let handlers = &self.shared.handlers;
        handlers.close();
        if tokio::time::timeout(deadline, handlers.wait())
            .await
            .is_ok()
        {
            return;
        }
        tracing::warn!(
            running = handlers.len(),
            "webhook handlers still running at the drain deadline; cancelling and releasing them"
        );
        self.stop().await;
    }

    /// Whether [`Inbox::stop`] ran, here or on an inbox sharing the handlers.
    #[cfg(feature = "hyper")]
    pub(crate) fn is_stopped(&self) -> bool {
        self.shared.shutdown.is_started()
    }

    /// Cancels the running handlers, which release their events, and answers every later
    /// delivery 503 without claiming it; waits a little for the releases.
    pub(crate) async fn stop(&self) {
        let handlers = &self.shared.handlers;
        handlers.close();
        self.shared.shutdown.start();
        if tokio::time::timeout(RELEASE_GRACE, handlers.wait())
            .await
            .is_err()
        {
            tracing::error!(
                running = handlers.len(),
                "webhook handlers did not release in time; their events come back when their leases expire"
            );
        }
    }
}

impl Shared {
    /// Only a panicking store gets here (the handler's panics are caught in [`Handling`]); its
    /// claim stays until the lease runs out.
    fn store_panicked(&self) -> Outcome {
        tracing::error!("the webhook event store panicked");
        self.counts.record(Outcome::Failed);
        Outcome::Failed
    }

    fn lease(&self) -> Duration {
        self.handler_deadline.saturating_add(self.lease_margin)
    }

    /// `call`, failing as unavailable when the store has not answered within the lease margin:
    /// the sender gets 503 rather than silence, and [`Inbox::drain`] can end.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let limit = self.lease_margin.max(MIN_STORE_WAIT);
        tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
            Err(StoreError::unavailable(format!(
                "the event store did not answer within {limit:?}"
            )))
        })
    }

    /// Claims `event`, runs `handling` (its handler, guarded: not yet polled), completes or
    /// releases. Runs to its end even when the request that started it is gone.
    async fn claim_and_handle<F, Fut, E>(
        &self,
        event: &WebhookEvent,
        handling: Pin<&mut Guard<'_, Handling<F, Fut>>>,
    ) -> Outcome
    where
        F: FnOnce(ReceivedEvent) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Display,
    {
        let token = match self.bounded(self.store.claim(event, self.lease())).await {
            Ok(Claim::Claimed(token)) => token,
            Ok(Claim::Done) => {
                tracing::debug!(id = %event.id, status = %event.status, "duplicate of a handled webhook");
                return Outcome::Duplicate;
            }
            Ok(Claim::InProgress { retry_after }) => {
                tracing::debug!(id = %event.id, status = %event.status, "webhook already being handled");
                return Outcome::InProgress { retry_after };
            }
            Err(error) => {
                tracing::error!(error = %Chain(&error), "cannot claim webhook event; answering 503");
                return Outcome::StoreUnavailable;
            }
        };
        let mut handling = handling;
        handling.as_mut().future().hold(token);
        let ended = match handling.await {
            Guarded::ShutDown => Outcome::ShuttingDown,
            Guarded::Finished(Ok(Ok(()))) => {
                return match self.bounded(self.store.complete(event, token)).await {
                    Ok(()) => Outcome::Handled,
                    Err(error) => {
                        tracing::error!(id = %event.id, error = %Chain(&error),
                            "webhook handled but not recorded as done; answering 503 so it is delivered again");
                        Outcome::StoreUnavailable
                    }
                };
            }
            Guarded::Finished(Ok(Err(error))) => {
                tracing::error!(id = %event.id, %error, "webhook handler failed; answering 500 so Soniox retries");
                Outcome::Failed
            }
            Guarded::Finished(Err(Panicked)) => {
                tracing::error!(id = %event.id, "webhook handler panicked; answering 500 so Soniox retries");
                Outcome::Failed
            }
            Guarded::TimedOut => {
                tracing::error!(id = %event.id, deadline = ?self.handler_deadline,
                    "webhook handler exceeded its deadline; cancelled, answering 503");
                Outcome::DeadlineExceeded
            }
        };
        if let Err(error) = self.bounded(self.store.release(event, token)).await {
            tracing::error!(id = %event.id, error = %Chain(&error),
                "cannot release webhook event; it is handled again once its lease expires");
        }
        ended
    }
}

/// How [`Inbox::process`] ended; [`Outcome::to_response`] is the answer to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler returned `Ok` and the event is recorded as done: 200.
    Handled,
    /// The event was already done; the handler was not called: 200.
    Duplicate,
    /// Another delivery of the event is being handled: 503 with `Retry-After`.
    InProgress {
        /// Until that delivery's lease expires.
        retry_after: Duration,
    },
    /// The handler returned `Err` or panicked; the event was released: 500.
    Failed,
    /// The handler ran past its deadline and was cancelled; the event was released: 503.
    DeadlineExceeded,
    /// The store could not claim or record the event: 503.
    StoreUnavailable,
    /// The receiver is shutting down; the event was released or never claimed: 503.
    ShuttingDown,
}

impl Outcome {
    /// The HTTP status to answer with. Only [`Outcome::Handled`] and [`Outcome::Duplicate`]
    /// are 2xx.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Handled | Self::Duplicate => StatusCode::OK,
            Self::Failed => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InProgress { .. }
            | Self::DeadlineExceeded
            | Self::StoreUnavailable
            | Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A short description, also the response body.
    pub fn message(self) -> &'static str {
        match self {
            Self::Handled => "ok",
            Self::Duplicate => "duplicate",
            Self::InProgress { .. } => "in progress",
            Self::Failed => "handler failed",
            Self::DeadlineExceeded => "handler deadline exceeded",
            Self::StoreUnavailable => "event store unavailable",
            Self::ShuttingDown => "shutting down",
        }
    }

    /// The response: the status, `text/plain` and [`Outcome::message`], plus `Retry-After` (in
    /// whole seconds, at least 1) for [`Outcome::InProgress`].
    pub fn to_response(self) -> http::Response<bytes::Bytes> {
        let mut response =
            http::Response::new(bytes::Bytes::from_static(self.message().as_bytes()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Self::InProgress { retry_after } = self {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(seconds.max(1)),
            );
        }
        response
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

struct Panicked;

pin_project_lite::pin_project! {
    /// Calls the handler at its first poll, then runs the future it returned, turning a panic
    /// in either into `Err(Panicked)`: a panicking handler must still release its event, or
    /// the retry would be answered "in progress" until the lease ran out. Called inside
    /// [`guarded`], so a shutdown already started keeps it from being called at all, and its
    /// code up to its first await counts against its deadline. An enum, not an `async` block,
    /// for the reason given on [`guard::Guard`]: it is as large as the larger of its states.
    #[project = HandlingProj]
    enum Handling<F, Fut> {
        Call { call: Option<(F, ReceivedEvent)> },
        Run {
            #[pin]
            future: Fut,
        },
    }
}

impl<F, Fut> Handling<F, Fut> {
    /// Lends the handler the claim it runs under, before it is called.
    fn hold(self: Pin<&mut Self>, token: ClaimToken) {
        if let HandlingProj::Call {
            call: Some((_, received)),
        } = self.project()
        {
            received.hold(token);
        }
    }
}

impl<F, Fut> Future for Handling<F, Fut>
where
    F: FnOnce(ReceivedEvent) -> Fut,
    Fut: Future,
{
    type Output = Result<Fut::Output, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        if let HandlingProj::Call { call } = self.as_mut().project() {
            // Taken only here, and the state is `Run` once the call returned: an empty call
            // is a handler that panicked when called, polled again.
            let Some((handler, received)) = call.take() else {
                return Poll::Ready(Err(Panicked));
            };
            match std::panic::catch_unwind(AssertUnwindSafe(move || handler(received))) {
                Ok(future) => self.set(Self::Run { future }),
                Err(_) => return Poll::Ready(Err(Panicked)),
            }
        }
        let HandlingProj::Run { future } = self.project() else {
            return Poll::Ready(Err(Panicked));
        };
        match poll_caught(future, cx) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panicked) => Poll::Ready(Err(panicked)),
        }
    }
}

/// A handling under way: [`Shared::claim_and_handle`] for one event, and its count.
type Settling = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// A handling polled in the request's own task, as most finish at once (the memory store, a
/// handler that only queues the event) or soon, and a task of their own would cost a spawn
/// and a wake each. If the request's future is dropped first, the rest of the handling moves
/// into a task of its own, so it still ends with the event done or released.
struct Detachable<'a> {
    /// `None` once finished.
    settling: Option<Settling>,
    shared: &'a Arc<Shared>,
    /// From the handling's first wait on: the runtime polling it, which runs the rest if the
    /// request goes away, and a token that counts it among the running handlings
    /// [`Inbox::drain`] waits for.
    waiting: Option<(tokio::runtime::Handle, TaskTrackerToken)>,
}

impl Detachable<'_> {
    fn poll_here(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Outcome> {
        let settling = self
            .settling
            .as_mut()
            .expect("a handling is not polled after it finished");
        let Poll::Ready(outcome) = poll_settling(settling, self.shared, cx) else {
            if self.waiting.is_none() {
                // The timers in the handling need a Tokio runtime, so there is one.
                self.waiting = tokio::runtime::Handle::try_current()
                    .ok()
                    .map(|runtime| (runtime, self.shared.handlers.token()));
            }
            return Poll::Pending;
        };
        self.settling = None;
        self.waiting = None;
        Poll::Ready(outcome)
    }
}

impl Drop for Detachable<'_> {
    fn drop(&mut self) {
        let Some(mut settling) = self.settling.take() else {
            return;
        };
        let Some((runtime, _running)) = self.waiting.take() else {
            // Never polled (so nothing claimed yet), or polled outside any runtime.
            return;
        };
        let shared = Arc::clone(self.shared);
        // Tracked before `_running` is dropped, so that a drain never sees it gone. On a
        // runtime that is shutting down the task is dropped at once, as it would be there
        // anyway: the claim stays until its lease runs out, and a later delivery handles the
        // event (drain before the runtime ends to avoid it).
        self.shared.handlers.spawn_on(
            std::future::poll_fn(move |cx| poll_settling(&mut settling, &shared, cx).map(drop)),
            &runtime,
        );
    }
}

/// Polls a handling; one whose store panicked ends as failed.
fn poll_settling(
    settling: &mut Settling,
    shared: &Shared,
    cx: &mut std::task::Context<'_>,
) -> Poll<Outcome> {
    match poll_caught(settling.as_mut(), cx) {
        Ok(poll) => poll,
        Err(Panicked) => Poll::Ready(shared.store_panicked()),
    }
}

/// Polls `future` once, turning a panic into `Err(Panicked)`.
fn poll_caught<F: Future + ?Sized>(
    future: Pin<&mut F>,
    cx: &mut std::task::Context<'_>,
) -> Result<Poll<F::Output>, Panicked> {
    std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))).map_err(|_| Panicked)
}

/// Displays an error with its sources, `outer: inner: innermost`, for logs.
struct Chain<'a>(&'a StoreError);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::FutureExt as _;
    use soniox_types::{Secret, TranscriptionId, WebhookEvent, WebhookStatus};

    use super::*;
    use crate::{
        store::{ClaimToken, StoreFuture},
        testing::TestDelivery,
    };

    const HEADER: &str = "X-Soniox-Webhook-Secret";

    /// Claims every event after `claim_wait` (none when zero); panics when asked to complete.
    struct PanicsOnComplete {
        claim_wait: Duration,
    }

    impl EventStore for PanicsOnComplete {
        fn claim<'a>(&'a self, _: &'a WebhookEvent, _: Duration) -> StoreFuture<'a, Claim> {
            Box::pin(async move {
                if !self.claim_wait.is_zero() {
                    tokio::time::sleep(self.claim_wait).await;
                }
                Ok(Claim::Claimed(ClaimToken::new(1)))
            })
        }

        fn complete<'a>(&'a self, _: &'a WebhookEvent, _: ClaimToken) -> StoreFuture<'a, ()> {
            Box::pin(async { panic!("the store broke") })
        }

        fn release<'a>(&'a self, _: &'a WebhookEvent, _: ClaimToken) -> StoreFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
    }

    async fn received(inbox: &Inbox) -> ReceivedEvent {
        let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed);
        let request = TestDelivery::new(event)
            .auth(HEADER, Secret::new("s3cr3t"))
            .into_request()
            .unwrap()
            .map(http_body_util::Full::new);
        inbox.receive(request).await.unwrap()
    }

    fn inbox(claim_wait: Duration) -> Inbox {
        let verifier = Verifier::new(HEADER, Secret::new("s3cr3t")).unwrap();
        Inbox::new(verifier).store(PanicsOnComplete { claim_wait })
    }

    async fn succeed(_: ReceivedEvent) -> Result<(), Infallible> {
        Ok(())
    }

    /// The handler runs under the claim the store gave, and can fence its writes with it;
    /// a verified delivery that no inbox claimed holds none.
    #[tokio::test(start_paused = true)]
    async fn the_handler_holds_the_claims_token() {
        let inbox = inbox(Duration::ZERO);
        let event = received(&inbox).await;
        assert_eq!(event.claim_token(), None);
        let (seen, holds) = tokio::sync::oneshot::channel();
        let handler = move |event: ReceivedEvent| async move {
            let _ = seen.send(event.claim_token());
            Err::<(), _>("fails, so that the broken store is not asked to complete")
        };
        assert_eq!(inbox.process(event, handler).await, Outcome::Failed);
        assert_eq!(holds.await, Ok(Some(ClaimToken::new(1))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_panics_fails_the_delivery() {
        // At once, and after a wait, when the handling has been counted as running.
        for claim_wait in [Duration::ZERO, Duration::from_secs(1)] {
            let inbox = inbox(claim_wait);
            let event = received(&inbox).await;
            assert_eq!(inbox.process(event, succeed).await, Outcome::Failed);
            assert_eq!(inbox.counts().failed, 1);
            assert_eq!(
                inbox.shared.handlers.len(),
                0,
                "a finished handling is not running"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_handling_dropped_while_waiting_runs_on_in_a_task_that_drain_waits_for() {
        let inbox = inbox(Duration::from_secs(1));
        let event = received(&inbox).await;
        let mut processing = Box::pin(inbox.process(event, succeed));
        assert!((&mut processing).now_or_never().is_none());
        // Waiting in place, it counts as running; the request then goes away, and the
        // handling moves to a task, still counted.
        assert_eq!(inbox.shared.handlers.len(), 1);
        drop(processing);
        assert_eq!(inbox.shared.handlers.len(), 1);
        assert_eq!(inbox.counts().failed, 0);
        inbox.drain(Duration::from_secs(60)).await;
        // The task ran the handler and met the panicking store, and drain waited for it.
        assert_eq!(inbox.counts().failed, 1);
    }
}
