//! Watching an upload for stalls: a server that stops reading the body, or that has read it
//! all and never answers, must not hang `upload` (and `transcribe`) forever.
//!
//! A whole-upload timeout cannot do this job — a 1 GiB file on a slow link legitimately takes
//! long — so the watch bounds the two waits that mean "stuck": no body progress for a while,
//! and no answer for a while once the whole body is out.

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures_util::future::Either;
use tokio::time::Instant;

use crate::Error;

/// How often a watch with an endless limit looks whether the other limit applies yet.
const UNBOUNDED_RECHECK: Duration = Duration::from_secs(1);

/// One attempt's body progress: see [`Progress::begin`].
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    progress: Progress,
    number: u64,
}

impl Attempt {
    /// A chunk went out (or, at the start, none yet); `done` when the body is all sent. Runs
    /// `report` if this is still the current attempt, under the lock, so that a later
    /// attempt's start silences it and an earlier attempt's report cannot come after this
    /// one's. Whether it was the current attempt.
    pub(crate) fn advanced(&self, done: bool, report: impl FnOnce()) -> bool {
        let mut state = self.progress.lock();
        if state.attempt != self.number {
            return false;
        }
        state.last = Instant::now();
        state.done = done;
        report();
        true
    }
}

/// The two bounds of an upload attempt.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StallLimits {
    /// The longest time without body progress while the body is being sent.
    pub(crate) idle: Duration,
    /// The longest wait for the response once the body is sent.
    pub(crate) response: Duration,
}

/// The body progress of the current attempt, shared by the body stream and the watch.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    /// When the last chunk went out (or the attempt began).
    last: Instant,
    /// Whether the whole body went out.
    done: bool,
    /// The current attempt's number: a body stream of an earlier attempt, which the HTTP
    /// client may still be sending on its old connection, reports nothing any more.
    attempt: u64,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                last: Instant::now(),
                done: false,
                attempt: 0,
            })),
        }
    }

    /// An attempt starts (`done` when its body is empty): what its body reports to.
    pub(crate) fn begin(&self, done: bool) -> Attempt {
        let mut state = self.lock();
        state.attempt += 1;
        state.last = Instant::now();
        state.done = done;
        Attempt {
            progress: self.clone(),
            number: state.attempt,
        }
    }

    /// Whether the current attempt's body went out whole.
    pub(crate) fn body_sent(&self) -> bool {
        self.lock().done
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `attempt`, failing with [`Error::UploadStalled`] when the body stops moving for
    /// `limits.idle` or the answer takes longer than `limits.response` after the body's end.
    pub(crate) async fn watch<T>(
        &self,
        limits: StallLimits,
        attempt: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let attempt = std::pin::pin!(attempt);
        let stalled = std::pin::pin!(self.stalled(limits));
        match futures_util::future::select(attempt, stalled).await {
            Either::Left((result, _)) => result,
            Either::Right((error, _)) => Err(error),
        }
    }

    /// Resolves once the attempt counts as stalled.
    async fn stalled(&self, limits: StallLimits) -> Error {
        loop {
            let (last, done) = {
                let state = self.lock();
                (state.last, state.done)
            };
            let limit = if done { limits.response } else { limits.idle };
            // A limit too long to have an end (`Duration::MAX`) is none; look again later,
            // since the body's end brings the other limit.
            let Some(deadline) = last.checked_add(limit) else {
                tokio::time::sleep(UNBOUNDED_RECHECK).await;
                continue;
            };
            if Instant::now() >= deadline {
                // Progress may have come in since: only a deadline that still holds counts.
                let state = self.lock();
                if state.last == last && state.done == done {
                    return Error::UploadStalled {
                        body_sent: done,
                        after: limit,
                    };
                }
                continue;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    /// The body of a replaced attempt, still streaming, does not report the current one's
    /// body as sent (which would make its stall look like a stored file).
    #[test]
    fn an_earlier_attempts_body_reports_nothing() {
        let progress = Progress::new();
        let first = progress.begin(false);
        assert!(first.advanced(false, || {}));
        let second = progress.begin(false);
        assert!(
            !first.advanced(true, || panic!("reported")),
            "the first attempt's end"
        );
        assert!(!progress.body_sent());
        assert!(second.advanced(true, || {}));
        assert!(progress.body_sent());
    }
}
