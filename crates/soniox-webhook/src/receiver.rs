//! A ready-made webhook receiver: a small HTTP/1.1 server around [`WebhookService`].

use std::{future::Future, io, net::SocketAddr, time::Duration};

use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{
    net::{TcpListener, ToSocketAddrs},
    sync::oneshot,
    task::JoinHandle,
};

use crate::{Handler, Verifier, WebhookService};

/// How long a client may take to send a request head unless configured otherwise.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `handler` on `addr` until Ctrl-C, then stops accepting and waits for in-flight
/// deliveries to finish.
///
/// For a bound port, a custom shutdown signal or dedupe, use [`Receiver`].
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
    verifier: Verifier,
    handler: H,
) -> io::Result<()> {
    let receiver = Receiver::bind(addr, WebhookService::new(verifier, handler)).await?;
    receiver
        .run_until(async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for Ctrl-C; serving until the task ends");
                std::future::pending::<()>().await;
            }
        })
        .await
}

/// An HTTP/1.1 server that answers every request with a [`WebhookService`].
///
/// Every path is served (Soniox posts to whatever `webhook_url` you configured), so put it on
/// its own port or behind a reverse proxy that routes the webhook path to it.
#[derive(Debug)]
pub struct Receiver<H> {
    listener: TcpListener,
    service: WebhookService<H>,
    header_read_timeout: Option<Duration>,
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
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
        }
    }

    /// Closes connections whose request head takes longer than `timeout` to arrive
    /// (slow-loris protection; default [`DEFAULT_HEADER_READ_TIMEOUT`]). `None` disables it,
    /// which saves a timer per request when a proxy in front already enforces one.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.header_read_timeout = timeout;
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

    /// Serves until `shutdown` completes, then stops accepting, lets open connections finish
    /// their in-flight request, and returns.
    ///
    /// # Errors
    ///
    /// None today; the `io::Result` leaves room for fatal listener errors.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let mut builder = http1::Builder::new();
                        if let Some(timeout) = self.header_read_timeout {
                            builder.timer(TokioTimer::new()).header_read_timeout(timeout);
                        }
                        let connection =
                            builder.serve_connection(TokioIo::new(stream), self.service.clone());
                        let connection = graceful.watch(connection);
                        tokio::spawn(async move {
                            if let Err(error) = connection.await {
                                tracing::debug!(%error, %peer, "webhook connection ended with an error");
                            }
                        });
                    }
                    Err(error) => {
                        // Typically out of file descriptors: back off instead of spinning.
                        tracing::warn!(%error, "accepting a webhook connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        graceful.shutdown().await;
        Ok(())
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

    /// Stops accepting, lets in-flight deliveries finish, and waits for the receiver to end.
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
