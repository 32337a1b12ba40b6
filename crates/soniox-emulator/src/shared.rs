//! What every request handler and background task shares.

use std::{
    collections::HashMap,
    future::Future,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use tokio::{
    sync::{Semaphore, watch},
    task::JoinHandle,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{config::Config, faults::Faults, requests::RequestLog, store::Store};

/// The outbound HTTP client for webhooks and audio downloads. hyper's own client sends the URL
/// exactly as given, which the webhook's query string needs.
pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The emulator's state, configuration and background machinery.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) faults: Faults,
    pub(crate) requests: RequestLog,
    pub(crate) http: HttpClient,
    /// One semaphore per receiver (`host:port`), so a slow receiver only queues its own
    /// deliveries.
    webhook_permits: Mutex<HashMap<String, Arc<Semaphore>>>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) files_dir: PathBuf,
    /// How many webhook attempts have been recorded since the start (the log itself keeps
    /// only the latest), for [`Emulator::wait_for_attempts`](crate::Emulator::wait_for_attempts).
    pub(crate) attempts_recorded: watch::Sender<usize>,
    /// How many jobs are being started (their audio's facts learnt, a download perhaps under
    /// way), for [`advance`](crate::jobs::advance) to wait for.
    pub(crate) starting: watch::Sender<usize>,
    /// Removes the upload directory when the emulator is gone, unless a data dir was given.
    pub(crate) _temp_dir: Option<tempfile::TempDir>,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        files_dir: PathBuf,
        temp_dir: Option<tempfile::TempDir>,
    ) -> Self {
        let faults = Faults::new(
            config.faults.clone(),
            config.webhook_faults.clone(),
            config.seed,
        );
        Self {
            store: Store::default(),
            faults,
            requests: RequestLog::default(),
            http: Client::builder(TokioExecutor::new()).build_http(),
            webhook_permits: Mutex::default(),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            files_dir,
            attempts_recorded: watch::Sender::new(0),
            starting: watch::Sender::new(0),
            _temp_dir: temp_dir,
            config,
        }
    }

    /// The semaphore bounding attempts in flight to the receiver at `authority`, held until
    /// the returned handle is dropped; the last handle of a receiver removes its entry, so the
    /// map holds only receivers with deliveries under way.
    pub(crate) fn webhook_permits(&self, authority: &str) -> ReceiverPermits<'_> {
        let permits = self
            .config
            .webhooks
            .concurrency
            .clamp(1, Semaphore::MAX_PERMITS);
        let semaphore = Arc::clone(
            self.permit_map()
                .entry(authority.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(permits))),
        );
        ReceiverPermits {
            shared: self,
            authority: authority.to_owned(),
            semaphore: Some(semaphore),
        }
    }

    fn permit_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Semaphore>>> {
        self.webhook_permits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `task` in the background until it ends or the emulator shuts down; dropping the
    /// handle leaves it running.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
        let cancel = self.cancel.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = task => {}
            }
        })
    }
}

/// A receiver's semaphore, from [`Shared::webhook_permits`].
#[derive(Debug)]
pub(crate) struct ReceiverPermits<'a> {
    shared: &'a Shared,
    authority: String,
    /// Taken only by `drop`.
    semaphore: Option<Arc<Semaphore>>,
}

impl ReceiverPermits<'_> {
    /// Waits for a permit; `None` once the semaphore is closed.
    pub(crate) async fn acquire(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.semaphore.as_ref()?.acquire().await.ok()
    }
}

impl Drop for ReceiverPermits<'_> {
    fn drop(&mut self) {
        let mut map = self.shared.permit_map();
        // Handles are made and let go of under the map's lock, so once this one is gone a
        // count of one (the map's own) means no other delivery to this receiver is under way.
        drop(self.semaphore.take());
        if map
            .get(&self.authority)
            .is_some_and(|entry| Arc::strong_count(entry) == 1)
        {
            map.remove(&self.authority);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permit_map_forgets_receivers_without_deliveries() {
        let shared = Shared::new(Config::default(), PathBuf::new(), None);
        let receivers = || shared.permit_map().len();
        let first = shared.webhook_permits("a:1");
        let second = shared.webhook_permits("a:1");
        let other = shared.webhook_permits("b:2");
        assert_eq!(receivers(), 2);
        drop(first);
        assert_eq!(receivers(), 2, "a:1 still has a delivery");
        drop(second);
        drop(other);
        assert_eq!(receivers(), 0);
    }
}
