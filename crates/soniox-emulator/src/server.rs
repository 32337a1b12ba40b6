//! Starting, serving and stopping: [`Emulator`] and its builder.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use http::{HeaderValue, Request};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use soniox_types::Secret;
use tokio::{
    net::{TcpListener, TcpSocket},
    sync::{OwnedSemaphorePermit, Semaphore},
    task::JoinHandle,
};
use tokio_util::task::TaskTracker;

use crate::{
    admin,
    attempts::WebhookAttempt,
    audio::sha256_hex,
    config::{Config, HostPolicy, JobClock, Quotas, WebhookConfig},
    faults::{FaultAction, FaultRule, WebhookFaultRule},
    files_dir,
    idle_connections::IdleConnections,
    issued::new_uuid,
    jobs,
    request_body::RequestBody,
    requests::RequestCounts,
    respond::{Failure, Reply},
    shared::Shared,
};

/// How long shutdown waits for open connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections the kernel queues for the accept loop, as many as are served at once by
/// default: a client opening a thousand connections at once (the client's flows bench) should
/// not have its handshakes dropped and retried a second later, which is what a backlog of 128
/// does. The kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 1024;

/// How long a keep-alive connection must have been idle before a new connection beyond the
/// cap takes its place: long enough that a client is rarely sending on it as it closes.
const IDLE_BEFORE_REUSE: Duration = Duration::from_secs(1);

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The directory for uploads could not be created.
    #[error("cannot prepare the data directory: {0}")]
    DataDir(std::io::Error),
}

/// Configures an [`Emulator`]; every setting has a default that suits tests.
#[derive(Debug, Default)]
#[must_use]
pub struct EmulatorBuilder {
    config: Config,
}

impl EmulatorBuilder {
    /// Where to listen; default `127.0.0.1:0` (a free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.config.addr = addr;
        self
    }

    /// Accepts this API key. Without any key, every non-empty key is accepted.
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.config.api_keys.push(key.into());
        self
    }

    /// The account's quotas; default [`Quotas::default`] (the API's own).
    pub fn quotas(mut self, quotas: Quotas) -> Self {
        self.config.quotas = quotas;
        self
    }

    /// When jobs move on; default [`JobClock::Realistic`].
    pub fn job_clock(mut self, clock: JobClock) -> Self {
        self.config.job_clock = clock;
        self
    }

    /// How webhooks are delivered, all at once.
    pub fn webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.config.webhooks = webhooks;
        self
    }

    /// The wait before each webhook attempt; see [`WebhookConfig::retry_schedule`].
    pub fn webhook_retry_schedule(mut self, schedule: impl IntoIterator<Item = Duration>) -> Self {
        self.config.webhooks.retry_schedule = schedule.into_iter().collect();
        self
    }

    /// How long one webhook attempt may take; default 10 s.
    pub fn webhook_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.config.webhooks.attempt_timeout = timeout;
        self
    }

    /// Most webhook attempts in flight at once to one receiver; default 512.
    pub fn webhook_concurrency(mut self, concurrency: usize) -> Self {
        self.config.webhooks.concurrency = concurrency;
        self
    }

    /// Which hosts `audio_url` jobs may download from; default loopback only.
    pub fn audio_urls(mut self, policy: HostPolicy) -> Self {
        self.config.audio_urls = policy;
        self
    }

    /// How long an `audio_url` job's download may take, body included; default 60 s. A
    /// download still running then fails the job with `audio_download_error`.
    pub fn audio_download_timeout(mut self, timeout: Duration) -> Self {
        self.config.audio_download_timeout = timeout;
        self
    }

    /// Which hosts webhooks may be delivered to; default loopback only. A `webhook_url` to
    /// another host is refused when the job is created (400) and again before each attempt.
    pub fn webhook_urls(mut self, policy: HostPolicy) -> Self {
        self.config.webhook_urls = policy;
        self
    }

    /// Which `Host` names the admin API (`/_emulator/`) answers; default loopback only, which
    /// keeps a web page from reaching it through DNS rebinding. Allow the name clients use
    /// when the emulator runs in a container or on another machine.
    pub fn admin_hosts(mut self, policy: HostPolicy) -> Self {
        self.config.admin_hosts = policy;
        self
    }

    /// A bearer token the admin API accepts besides the API keys. When neither an API key nor
    /// a token is set, the admin API needs no credential, like the rest of the emulator.
    pub fn admin_token(mut self, token: impl Into<Secret>) -> Self {
        self.config.admin_token = Some(token.into());
        self
    }

    /// Keeps uploads in `dir` (created if missing) instead of a temporary directory removed on
    /// shutdown.
    ///
    /// The emulator's state lives in memory only, so a new run cannot refer to files an earlier
    /// run left: at start, the files the emulator names (UUIDs, and `UUID.download` scratch
    /// files) are removed from `dir`; other files are left alone.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// The largest upload accepted, in bytes; default 1 GiB as the API. Lower it to test the
    /// "file too large" path without sending a gigabyte.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.config.max_file_bytes = bytes;
        self
    }

    /// How long a client may take to send a request head, counted from the connection's
    /// opening or from its previous answer, so idle keep-alive connections are closed too;
    /// default 30 s. Connections that stall are closed instead of being held forever.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout;
        self
    }

    /// Most connections served at once; default 1,024 (at least 1). When all are taken, a new
    /// connection takes the place of the keep-alive connection idle the longest (for at least
    /// a second), which is closed; while none is idle, new connections wait in the listen
    /// backlog.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Adds a REST fault in force from the start.
    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.config.faults.push(rule);
        self
    }

    /// Adds a webhook fault in force from the start.
    pub fn webhook_fault(mut self, rule: WebhookFaultRule) -> Self {
        self.config.webhook_faults.push(rule);
        self
    }

    /// Seeds the generator behind probabilistic faults, for reproducible runs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Binds the socket and starts serving in the background.
    ///
    /// # Errors
    /// [`StartError`] when the address cannot be bound or the data directory cannot be made.
    pub async fn start(self) -> Result<Emulator, StartError> {
        let config = self.config;
        let (files_dir, temp_dir) = match &config.data_dir {
            Some(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(StartError::DataDir)?;
                let removed = files_dir::clear_stale(dir)
                    .await
                    .map_err(StartError::DataDir)?;
                if removed > 0 {
                    tracing::info!(removed, dir = %dir.display(), "removed files left by a previous run");
                }
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("soniox-emulator-")
                    .tempdir()
                    .map_err(StartError::DataDir)?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let addr = config.addr;
        let listener = listen(addr).map_err(|source| StartError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let shared = Arc::new(Shared::new(config, files_dir, temp_dir));
        let accept = tokio::spawn(serve(listener, Arc::clone(&shared)));
        tracing::info!(%local_addr, "soniox emulator listening");
        Ok(Emulator {
            base_url: format!("http://{local_addr}"),
            local_addr,
            shared,
            accept: Some(accept),
        })
    }
}

/// A running emulator of the Soniox API. Dropping it stops the server; [`shutdown`](Self::shutdown)
/// does so gracefully and waits.
///
/// ```no_run
/// # async fn example() -> Result<(), soniox_emulator::StartError> {
/// use soniox_emulator::{Emulator, JobClock};
///
/// let emulator = Emulator::builder()
///     .api_key("test-key")
///     .job_clock(JobClock::Manual)
///     .start()
///     .await?;
/// let base_url = emulator.base_url(); // http://127.0.0.1:PORT, the API root without /v1
/// # let _ = base_url;
/// emulator.advance_jobs().await;
/// emulator.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Emulator {
    base_url: String,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts configuring an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The root URL, such as `http://127.0.0.1:41234`; paths start with `/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where uploads are stored: the data directory, or a temporary directory removed when the
    /// emulator is gone.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.shared.files_dir
    }

    /// The address the emulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Moves every unfinished job one status on (queued → processing → completed or error) and
    /// returns how many moved. Meant for [`JobClock::Manual`]; webhooks of jobs that finish are
    /// sent in the background.
    ///
    /// An `audio_url` job's step to processing includes its download. The download goes on
    /// if this future is dropped, and the next call waits for it before moving jobs.
    pub async fn advance_jobs(&self) -> usize {
        jobs::advance(&self.shared).await
    }

    /// Advances jobs until none is left unfinished.
    pub async fn finish_jobs(&self) {
        while self.advance_jobs().await > 0 {}
    }

    /// Makes audio whose SHA-256 is `sha256_hex` transcribe as `text` from now on.
    ///
    /// # Errors
    /// When `sha256_hex` is not 64 hex digits.
    pub fn script_transcript(&self, sha256_hex: &str, text: &str) -> Result<(), InvalidSha256> {
        let key = admin::normalize_sha256(sha256_hex).map_err(|_| InvalidSha256)?;
        self.shared.store.lock().scripts.insert(key, text.into());
        Ok(())
    }

    /// Makes `audio` transcribe as `text` from now on.
    pub fn script_transcript_for(&self, audio: &[u8], text: &str) {
        self.shared
            .store
            .lock()
            .scripts
            .insert(sha256_hex(audio), text.into());
    }

    /// Every webhook attempt so far, oldest first (the latest 50,000).
    pub fn webhook_attempts(&self) -> Vec<WebhookAttempt> {
        self.shared.store.lock().attempts().cloned().collect()
    }

    /// Waits until at least `count` webhook attempts have been made since the emulator started
    /// (answered, failed or timed out alike), then returns the attempt log, oldest first.
    ///
    /// For tests of your own receiver: no polling of [`webhook_attempts`](Self::webhook_attempts)
    /// by hand. It waits as long as it takes; bound it with `tokio::time::timeout` so a
    /// webhook that never comes fails the test instead of hanging it. Cancellation-safe.
    ///
    /// ```no_run
    /// # async fn example(emulator: soniox_emulator::Emulator) {
    /// use std::time::Duration;
    ///
    /// emulator.finish_jobs().await;
    /// let attempts = tokio::time::timeout(Duration::from_secs(10), emulator.wait_for_attempts(1))
    ///     .await
    ///     .expect("the webhook was sent");
    /// assert_eq!(attempts[0].status_code(), Some(200));
    /// # }
    /// ```
    pub async fn wait_for_attempts(&self, count: usize) -> Vec<WebhookAttempt> {
        let mut recorded = self.shared.attempts_recorded.subscribe();
        // The sender lives in `self.shared`, which outlives this borrow: the wait cannot fail.
        let _ = recorded.wait_for(|recorded| *recorded >= count).await;
        self.webhook_attempts()
    }

    /// How many requests each REST route has received so far, faulted ones included; those
    /// that name no route count together (see [`RequestCounts`]).
    pub fn request_counts(&self) -> RequestCounts {
        self.shared.requests.snapshot()
    }

    /// Adds a REST fault.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.faults.add(rule);
    }

    /// Adds a webhook fault.
    pub fn add_webhook_fault(&self, rule: WebhookFaultRule) {
        self.shared.faults.add_webhook(rule);
    }

    /// Removes every REST and webhook fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Stops accepting connections, lets open requests finish (up to five seconds), stops
    /// background jobs and webhook deliveries, and waits for all of it.
    pub async fn shutdown(mut self) {
        self.shared.cancel.cancel();
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

/// A script key that is not a SHA-256 in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected a SHA-256 as 64 hex digits")]
pub struct InvalidSha256;

/// Binds `addr` with a listen backlog of [`LISTEN_BACKLOG`] (tokio's `bind` asks for 128).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted emulator can take its port back at once. Not
    // on Windows, where the option would let another process take the port.
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let connections = TaskTracker::new();
    let idle = Arc::new(IdleConnections::new());
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut builder = http1::Builder::new();
    // Without a timer hyper silently skips its header-read timeout; the timeout also covers a
    // keep-alive connection waiting for its next request.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_read_timeout);
    loop {
        let accepted = tokio::select! {
            () = shared.cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // While every slot is taken, this one connection waits here and the rest wait in the
        // kernel's backlog, holding no task.
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => tokio::select! {
                () = shared.cancel.cancelled() => break,
                slot = make_room(&slots, &idle) => slot,
            },
        };
        let _ = stream.set_nodelay(true);
        let connection = idle.open();
        let builder = builder.clone();
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let connection = Arc::new(connection);
            let service = {
                let (shared, connection) = (Arc::clone(&shared), Arc::clone(&connection));
                service_fn(move |request| {
                    let busy = connection.busy();
                    let answer = handle(Arc::clone(&shared), request);
                    async move {
                        let answer = answer.await;
                        drop(busy);
                        answer
                    }
                })
            };
            let mut served =
                std::pin::pin!(builder.serve_connection(TokioIo::new(stream), service));
            // The emulator stopping, or this connection chosen to make room.
            let stop = async {
                tokio::select! {
                    () = shared.cancel.cancelled() => {}
                    () = connection.close_requested() => {}
                }
            };
            let result = tokio::select! {
                result = served.as_mut() => result,
                () = stop => {
                    // Finishes a request in progress, then closes; an idle connection closes now,
                    // one with half a head when its header-read timeout ends it.
                    served.as_mut().graceful_shutdown();
                    served.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}

/// Waits for a free slot, asking the connection idle the longest to close whenever none frees.
async fn make_room(slots: &Arc<Semaphore>, idle: &IdleConnections) -> OwnedSemaphorePermit {
    loop {
        idle.close_longest_idle(IDLE_BEFORE_REUSE);
        // The semaphore is never closed, so acquiring only ever waits.
        if let Ok(Ok(slot)) =
            tokio::time::timeout(IDLE_BEFORE_REUSE, Arc::clone(slots).acquire_owned()).await
        {
            return slot;
        }
    }
}

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct Dropped;

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Reply, Dropped> {
    let request = request.map(RequestBody::new);
    let request_id = new_uuid();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let admin_path = path.strip_prefix("/_emulator/");
    if admin_path.is_none() {
        shared.requests.record(&method, &path);
    }
    let mut drop_response = false;
    let result = match admin_path {
        Some(rest) => admin::route(&shared, request, rest).await,
        None => match inject(&shared, &method, &path).await? {
            Injected::Fail(failure) => {
                // The body is read and discarded, bounded, while the failure is answered.
                drop(request);
                Err(failure)
            }
            injected => {
                drop_response = matches!(injected, Injected::DropResponse);
                match path.strip_prefix("/v1/") {
                    Some(rest) => crate::api::route(&shared, request, rest).await,
                    None => Err(Failure::no_route(http::StatusCode::NOT_FOUND)),
                }
            }
        },
    };
    if drop_response {
        tracing::debug!(%method, %path, "request handled; its answer dropped by an injected fault");
        return Err(Dropped);
    }
    let mut reply = result.unwrap_or_else(|failure| {
        tracing::debug!(%method, %path, status = %failure.status(), "request failed");
        failure.into_reply(&request_id)
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        reply.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    tracing::trace!(%method, %path, status = %reply.status(), "request");
    Ok(reply)
}

/// The header carrying each response's request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What the fault rules make of a request, beyond any latency.
enum Injected {
    /// Handle it normally.
    Proceed,
    /// Answer with this failure instead of handling it.
    Fail(Failure),
    /// Handle it, then close the connection instead of answering.
    DropResponse,
}

async fn inject(shared: &Shared, method: &http::Method, path: &str) -> Result<Injected, Dropped> {
    let decision = shared.faults.decide(method.as_str(), path);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    Ok(match decision.action {
        None | Some(FaultAction::Latency { .. }) => Injected::Proceed,
        Some(FaultAction::DropConnection) => return Err(Dropped),
        Some(FaultAction::DropResponse) => Injected::DropResponse,
        Some(FaultAction::Error { status }) => Injected::Fail(Failure::injected(status)),
        Some(FaultAction::RateLimited {
            retry_after_seconds,
        }) => Injected::Fail(Failure::rate_limited(retry_after_seconds)),
    })
}
