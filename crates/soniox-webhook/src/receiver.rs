//! A ready-made webhook receiver: a small HTTP/1.1 server around [`WebhookService`].

mod head;

use std::{convert::Infallible, future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{rt::TokioIo, server::graceful::GracefulShutdown};
use tokio::{
    net::{TcpListener, ToSocketAddrs},
    sync::{Semaphore, oneshot},
    task::JoinHandle,
};

use self::head::HeadDeadline;
use crate::{
    Handler, WebhookService, deadline::deadline_after, service::Answered, termination::termination,
};

/// How long a client may take to send a request head unless configured otherwise.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections are served at once unless configured otherwise; further ones wait in
/// the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long a shutdown waits for running handlers unless configured otherwise: below the
/// 30 seconds most process supervisors (Kubernetes, systemd) allow before killing.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(20);

/// The read buffer per connection: hyper's minimum. A delivery's head is a few hundred bytes
/// and its body about a hundred, so a larger head can only be abuse.
const MAX_BUF_SIZE: usize = 8192;

/// Headers accepted per request: Soniox sends about six; proxies add a few. Checked by
/// [`Route`] rather than by hyper, whose own limit makes every request fill two arrays of
/// that many entries; hyper's default limit (100) stops larger heads before they get here.
const MAX_HEADERS: usize = 64;

/// How long a drained connection may take to write its last answer and close.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Serves `handler` on `addr` until Ctrl-C or SIGTERM, then stops accepting, lets running
/// handlers finish within [`DEFAULT_DRAIN_DEADLINE`] and returns.
///
/// For a bound port, a path, a durable store or other limits, use [`Receiver`].
///
/// ```no_run
/// use soniox_webhook::{ReceivedEvent, Verifier, serve};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// serve("0.0.0.0:8080", Verifier::from_env()?, |event: ReceivedEvent| async move {
///     println!("{} is {}", event.id(), event.status());
///     Ok::<(), std::convert::Infallible>(())
/// })
/// .await?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// When the address cannot be bound.
pub async fn serve<H: Handler>(
    addr: impl ToSocketAddrs,
    inbox: impl Into<crate::Inbox>,
    handler: H,
) -> io::Result<()> {
    let receiver = Receiver::bind(addr, WebhookService::new(inbox, handler)).await?;
    receiver.run_until(termination()).await
}

/// An HTTP/1.1 server that answers requests with a [`WebhookService`].
///
/// By default every path is served (Soniox posts to whatever `webhook_url` you configured);
/// [`Receiver::path`] restricts it to one and answers 404 elsewhere. Limits: a request head
/// must arrive within [`Receiver::header_read_timeout`] and fit in 8 KiB, the body within the
/// inbox's body timeout, and at most [`Receiver::max_connections`] connections are served at
/// once.
#[derive(Debug)]
pub struct Receiver<H> {
    listener: TcpListener,
    service: WebhookService<H>,
    path: Option<Arc<str>>,
    header_read_timeout: Option<Duration>,
    max_connections: usize,
    drain_deadline: Duration,
}

impl<H: Handler> Receiver<H> {
    /// Binds `addr` (use port 0 for any free port, then [`Receiver::local_addr`]).
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn bind(addr: impl ToSocketAddrs, service: WebhookService<H>) -> io::Result<Self> {
        Ok(Self::from_listener(TcpListener::bind(addr).await?, service))
    }

    /// Serves on an already bound listener.
    pub fn from_listener(listener: TcpListener, service: WebhookService<H>) -> Self {
        Self {
            listener,
            service,
            path: None,
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            drain_deadline: DEFAULT_DRAIN_DEADLINE,
        }
    }

    /// Serves deliveries on `path` only (e.g. `/hooks/soniox`); other paths get 404. The
    /// query string is not part of the path: it carries the delivery's metadata.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into().into());
        self
    }

    /// Closes connections whose request head takes longer than `timeout` to arrive, counted
    /// from the connection's opening or from its previous answer, so an idle keep-alive
    /// connection is closed too (slow-loris protection; default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`]). `None` disables it, which saves a timer per
    /// connection when a proxy in front already enforces one.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Serves at most `max` connections at once (default [`DEFAULT_MAX_CONNECTIONS`]); the
    /// next is accepted when one closes. At least 1.
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long a shutdown waits for running handlers before cancelling them and releasing
    /// their events (default [`DEFAULT_DRAIN_DEADLINE`]).
    #[must_use]
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.drain_deadline = deadline;
        self
    }

    /// The address actually bound.
    ///
    /// # Errors
    ///
    /// When the operating system cannot report it.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves in a background task, for tests and for applications that run the receiver
    /// beside other work. The returned handle reports the bound address; shutting it down (or
    /// dropping it) stops the receiver gracefully.
    ///
    /// ```no_run
    /// use soniox_webhook::{ReceivedEvent, Receiver, Verifier, WebhookService};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let handler = |event: ReceivedEvent| async move {
    ///     println!("{} is {}", event.id(), event.status());
    ///     Ok::<(), std::convert::Infallible>(())
    /// };
    /// let service = WebhookService::new(Verifier::from_env()?, handler);
    /// let running = Receiver::bind("127.0.0.1:0", service).await?.spawn()?;
    /// println!("webhook URL: http://{}/hooks/soniox", running.local_addr());
    /// // ... create jobs whose webhook_url points there ...
    /// running.shutdown().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// When the operating system cannot report the bound address.
    pub fn spawn(self) -> io::Result<RunningReceiver> {
        let addr = self.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(self.run_until(async {
            // A dropped handle stops the receiver too.
            let _ = stopped.await;
        }));
        Ok(RunningReceiver { addr, stop, task })
    }

    /// Serves until `shutdown` completes, then stops accepting, waits up to the drain deadline
    /// for running handlers (cancelling and releasing the rest), lets connections send their
    /// last answers, and returns. A connection still open after that grace is left, and any
    /// handling on it cancelled and answered 503, as is every later delivery to the inbox
    /// (and to the inboxes that share its store and handlers).
    ///
    /// # Errors
    ///
    /// None today; the `io::Result` leaves room for fatal listener errors.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let mut shutdown = std::pin::pin!(shutdown);
        let mut builder = http1::Builder::new();
        // No hyper timer: the header-read timeout is a `HeadDeadline` per connection instead.
        builder.max_buf_size(MAX_BUF_SIZE);
        loop {
            let accepted = tokio::select! {
                biased;
                () = &mut shutdown => break,
                // Waiting for a free slot before accepting leaves further connections in the
                // kernel's backlog instead of holding a task each.
                accepted = accept(&self.listener, &slots) => accepted,
            };
            match accepted {
                Ok((stream, peer, slot)) => {
                    let head = self
                        .header_read_timeout
                        .map(HeadDeadline::new)
                        .map(Arc::new);
                    let route = Route {
                        service: self.service.for_connection(),
                        path: self.path.clone(),
                        head: head.clone(),
                    };
                    let connection = builder.serve_connection(TokioIo::new(stream), route);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        let ended = match &head {
                            Some(head) => head.enforce(connection).await,
                            None => Some(connection.await),
                        };
                        match ended {
                            Some(Ok(())) => {}
                            Some(Err(error)) => {
                                tracing::debug!(%error, %peer, "webhook connection ended with an error");
                            }
                            None => {
                                tracing::debug!(%peer, "no request head within the header-read timeout; closing the connection");
                            }
                        }
                        drop(slot);
                    });
                }
                Err(error) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "accepting a webhook connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        drop(self.listener);
        let deadline = deadline_after(tokio::time::Instant::now(), self.drain_deadline);
        let inbox = self.service.inbox();
        let mut connections = std::pin::pin!(tokio::time::timeout(
            self.drain_deadline.saturating_add(CLOSE_GRACE),
            graceful.shutdown(),
        ));
        // The drain starts once every request is answered or at the deadline, not at once: a
        // request whose body is still arriving starts its handling later, and a drain that
        // had found none running would not wait for it.
        let closed = tokio::select! {
            closed = &mut connections => Some(closed),
            () = tokio::time::sleep_until(deadline) => None,
        };
        inbox
            .drain(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await;
        let closed = match closed {
            Some(closed) => closed,
            None => connections.await,
        };
        if closed.is_err() {
            tracing::warn!("webhook connections still open after the drain deadline; leaving them");
            // One may still be reading a request: its handling, and any running on it, is
            // cancelled and answered 503 rather than left holding its event's claim after
            // the receiver returned. (Unless the drain stopped the inbox already: its wait
            // for the releases is over.)
            if !inbox.is_stopped() {
                inbox.stop().await;
            }
        }
        Ok(())
    }
}

async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> io::Result<(
    tokio::net::TcpStream,
    SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(io::Error::other)?;
    let (stream, peer) = listener.accept().await?;
    Ok((stream, peer, slot))
}

/// The service behind one connection: 404 off the configured path, the webhook service on it,
/// and the connection's header-read deadline paused while a request is answered.
struct Route<H> {
    service: Arc<WebhookService<H>>,
    path: Option<Arc<str>>,
    head: Option<Arc<HeadDeadline>>,
}

impl<H: Handler> hyper::service::Service<Request<Incoming>> for Route<H> {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        if request.headers().len() > MAX_HEADERS {
            // As hyper answers a head over its limit: no body.
            let response = self.answer_now(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, b"");
            return Box::pin(std::future::ready(Ok(response)));
        }
        if let Some(path) = &self.path
            && request.uri().path() != &**path
        {
            let response = self.answer_now(StatusCode::NOT_FOUND, b"not found");
            return Box::pin(std::future::ready(Ok(response)));
        }
        let head = self.head.clone();
        if let Some(head) = &head {
            head.serving();
        }
        // Then the connection awaits its next head.
        Box::pin(Answered::new(
            self.service.handle_on_connection(request),
            move |response: &mut Response<Full<Bytes>>| {
                close_unless_accepted(response);
                if let Some(head) = head {
                    head.waiting();
                }
            },
        ))
    }
}

impl<H> Route<H> {
    /// An answer that needs no handling: the connection awaits its next head from now.
    fn answer_now(&self, status: StatusCode, body: &'static [u8]) -> Response<Full<Bytes>> {
        if let Some(head) = &self.head {
            head.waiting();
        }
        let mut response = Response::new(Full::new(Bytes::from_static(body)));
        *response.status_mut() = status;
        close_unless_accepted(&mut response);
        response
    }
}

/// Closes the connection after any answer but a success. A request that is refused (not
/// authenticated, another method, another path, a body too large) cannot keep its connection,
/// and its slot of the receiver's connections, for another request: keeping them only takes
/// an idle request every header-read timeout, and enough of them would leave no slot for
/// Soniox's deliveries.
fn close_unless_accepted(response: &mut Response<Full<Bytes>>) {
    if !response.status().is_success() {
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
}

/// A [`Receiver`] serving in a background task; see [`Receiver::spawn`].
#[derive(Debug)]
pub struct RunningReceiver {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningReceiver {
    /// The address the receiver listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, drains running handlers (see [`Receiver::run_until`]), and waits for
    /// the receiver to end.
    ///
    /// # Errors
    ///
    /// When the receiver's task failed or panicked.
    pub async fn shutdown(self) -> io::Result<()> {
        // The receiver may already have ended; then there is nobody to tell.
        let _ = self.stop.send(());
        self.task.await.map_err(io::Error::other)?
    }
}
