//! Waiting for a job to finish by polling, for code that does not receive webhooks.

use std::{fmt, time::Duration};

use soniox_types::{Transcription, TranscriptionId};
use tokio::time::Instant;

use crate::{Error, Transcriptions};

/// The shortest polling interval: a zero interval would poll in a busy loop, hammering the API
/// and using a core while the job runs.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

type StatusCallback = Box<dyn FnMut(&Transcription) + Send>;

/// How [`Transcriptions::wait`] polls.
///
/// The interval starts at one second and grows by half each poll up to 30 seconds, so short
/// jobs finish promptly and long ones cost few requests.
#[must_use]
pub struct WaitOptions {
    initial_interval: Duration,
    max_interval: Duration,
    timeout: Option<Duration>,
    on_status_change: Option<StatusCallback>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(30),
            timeout: Some(Duration::from_secs(3600)),
            on_status_change: None,
        }
    }
}

impl WaitOptions {
    /// Polls from 1 s up to 30 s, for at most an hour.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the first polling interval (at least [`MIN_POLL_INTERVAL`]).
    pub fn initial_interval(mut self, interval: Duration) -> Self {
        self.initial_interval = interval.max(MIN_POLL_INTERVAL);
        self
    }

    /// Sets the longest polling interval (at least [`MIN_POLL_INTERVAL`]).
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval.max(MIN_POLL_INTERVAL);
        self
    }

    /// Sets how long to wait in all; `None` (or a timeout too long to reach, such as
    /// `Duration::MAX`) waits forever.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Calls `callback` with the job whenever its status changes (and once at the start).
    pub fn on_status_change(
        mut self,
        callback: impl FnMut(&Transcription) + Send + 'static,
    ) -> Self {
        self.on_status_change = Some(Box::new(callback));
        self
    }

    fn next_interval(&self, interval: Duration) -> Duration {
        interval.saturating_add(interval / 2).min(self.max_interval)
    }
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("initial_interval", &self.initial_interval)
            .field("max_interval", &self.max_interval)
            .field("timeout", &self.timeout)
            .field("on_status_change", &self.on_status_change.is_some())
            .finish()
    }
}

impl Transcriptions<'_> {
    /// Polls a job until it is `completed`, and returns it in that state.
    ///
    /// A job that ends in `error` is [`Error::TranscriptionFailed`], with the job's
    /// `error_type` and `error_message`: the same rule as [`Client::transcribe`](crate::Client::transcribe),
    /// so `?` never lets a failed job through to a transcript fetch. Dropping the future stops waiting and leaves nothing behind (it is cancellation-safe).
    /// Each poll is an ordinary [`get`](Self::get) and is retried by the client's policy.
    ///
    /// # Errors
    /// [`Error::TranscriptionFailed`] when the job ends in `error`; [`Error::WaitTimeout`]
    /// when the timeout passes first; errors of [`get`](Self::get).
    pub async fn wait(
        &self,
        id: &TranscriptionId,
        mut options: WaitOptions,
    ) -> Result<Transcription, Error> {
        let started = Instant::now();
        // A timeout too long to have an end (`Duration::MAX`) is none.
        let deadline = options
            .timeout
            .and_then(|timeout| started.checked_add(timeout));
        let mut interval = options.initial_interval;
        let mut last_status = None;
        loop {
            let transcription = self.get(id).await?;
            if last_status.as_ref() != Some(&transcription.status) {
                last_status = Some(transcription.status.clone());
                if let Some(callback) = &mut options.on_status_change {
                    callback(&transcription);
                }
            }
            if transcription.status.is_terminal() {
                return Error::unless_failed(transcription);
            }
            let now = Instant::now();
            if let Some(deadline) = deadline {
                if now >= deadline {
                    return Err(Error::WaitTimeout {
                        id: id.clone(),
                        waited: now - started,
                        last_status: transcription.status,
                    });
                }
                // Sleep no further than the deadline, so a timeout is reported on time.
                tokio::time::sleep(interval.min(deadline - now)).await;
            } else {
                tokio::time::sleep(interval).await;
            }
            interval = options.next_interval(interval);
        }
    }
}
