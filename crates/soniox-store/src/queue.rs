//! The queue between the async callers and a store's writer(s).
//!
//! Every operation becomes a [`Job`] carrying a oneshot reply. Writers take every job queued
//! at that moment as one batch, run the batch in one transaction and answer only after it
//! committed, so a caller that saw `Ok` knows its write is as durable as the store promises.

use std::{
    any::Any,
    convert::Infallible,
    error::Error as StdError,
    fmt,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use soniox_types::WebhookEvent;
use soniox_webhook::store::{Claim, ClaimToken, StoreError};
use tokio::sync::{mpsc, oneshot, watch};

/// The most jobs one transaction carries; bounds how long a batch holds the write lock.
pub(crate) const MAX_BATCH: usize = 512;

/// Leases and ages are capped at about 100 years: PostgreSQL intervals and SQLite integers
/// both hold that, and nothing needs longer.
const MAX_MILLIS: i64 = 100 * 366 * 24 * 3600 * 1000;

/// A duration in milliseconds as the databases store it, capped at [`MAX_MILLIS`].
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).map_or(MAX_MILLIS, |ms| ms.min(MAX_MILLIS))
}

/// A lease's remaining milliseconds as a `retry_after`; an expired lease is zero.
pub(crate) fn remaining(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A claim token as the databases store it: the same 64 bits, as a signed integer.
pub(crate) fn token_column(token: ClaimToken) -> i64 {
    token.get().cast_signed()
}

/// The statement of `complete_claimed_in`: records an event done only while the claim token
/// `$3` holds it, at `$4` (SQLite: the writer's clock in milliseconds; PostgreSQL replaces
/// it with `clock_timestamp()`, as its other statements date rows).
pub(crate) const COMPLETE_CLAIMED: &str = "
    UPDATE soniox_webhook_events
    SET state = 'done', token = NULL, lease_until = NULL, updated_at = $4
    WHERE transcription_id = $1 AND status = $2 AND state = 'in_progress' AND token = $3";

/// An event's primary key, owned so that it can cross to a writer thread or task.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) id: String,
    pub(crate) status: String,
}

impl Key {
    fn of(event: &WebhookEvent) -> Self {
        Self {
            id: event.id.as_str().to_owned(),
            status: event.status.as_str().to_owned(),
        }
    }
}

/// Where a job's answer goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work a store's writer does besides the event operations (SQLite's `transact`), queued
/// with them so that it runs in order with them. The writer runs it and answers its caller
/// itself; this is how the queue answers it when it cannot run.
pub(crate) trait Extra: Send {
    /// Answers the caller with `error`, without running.
    fn fail(self, error: StoreError);
}

/// A store without extra work (PostgreSQL runs `transact` on a connection of its own).
impl Extra for Infallible {
    fn fail(self, _: StoreError) {
        match self {}
    }
}

/// One queued operation and where its answer goes.
pub(crate) enum Job<X = Infallible> {
    Claim {
        key: Key,
        lease_ms: i64,
        reply: Reply<Claim>,
    },
    Complete {
        key: Key,
        reply: Reply<()>,
    },
    Release {
        key: Key,
        token: i64,
        reply: Reply<()>,
    },
    Prune {
        older_than_ms: i64,
        reply: Reply<u64>,
    },
    /// The store's own kind of work, answered by the writer that runs it.
    #[cfg_attr(
        not(feature = "sqlite"),
        expect(dead_code, reason = "only the SQLite writer has work of its own")
    )]
    Extra(X),
}

/// What a job found, held until its transaction has committed.
#[derive(Debug)]
pub(crate) enum Outcome {
    Claim(Claim),
    Unit,
    Pruned(u64),
}

impl Job {
    /// The key the job writes, `None` for a prune (which touches many).
    #[cfg(feature = "postgres")]
    pub(crate) fn key(&self) -> Option<&Key> {
        match self {
            Self::Claim { key, .. } | Self::Complete { key, .. } | Self::Release { key, .. } => {
                Some(key)
            }
            Self::Prune { .. } => None,
            Self::Extra(never) => match *never {},
        }
    }
}

impl<X: Extra> Job<X> {
    /// Answers the caller. A caller that stopped waiting (its future was dropped) is not an
    /// error: the write stands, as it would had the caller crashed.
    pub(crate) fn finish(self, result: Result<Outcome, StoreError>) {
        match self {
            Self::Claim { reply, .. } => {
                let _ = reply.send(result.and_then(|outcome| match outcome {
                    Outcome::Claim(claim) => Ok(claim),
                    other => Err(mismatch(&other)),
                }));
            }
            Self::Complete { reply, .. } | Self::Release { reply, .. } => {
                let _ = reply.send(result.and_then(|outcome| match outcome {
                    Outcome::Unit => Ok(()),
                    other => Err(mismatch(&other)),
                }));
            }
            Self::Prune { reply, .. } => {
                let _ = reply.send(result.and_then(|outcome| match outcome {
                    Outcome::Pruned(count) => Ok(count),
                    other => Err(mismatch(&other)),
                }));
            }
            // Only an error reaches extra work here: the writer answers what it ran.
            Self::Extra(extra) => extra.fail(match result {
                Ok(outcome) => mismatch(&outcome),
                Err(error) => error,
            }),
        }
    }
}

/// A writer answered a job with another job's kind of outcome: a bug in this crate, reported
/// rather than panicking inside a writer that other callers depend on.
fn mismatch(outcome: &Outcome) -> StoreError {
    StoreError::unavailable(format!("internal error: unexpected outcome {outcome:?}"))
}

/// The error for a caller whose own code (a `transact` closure) panicked with `payload`.
pub(crate) fn panicked(payload: &(dyn Any + Send)) -> StoreError {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    StoreError::unavailable(format!("the transact closure panicked: {message}"))
}

/// Answers every job with `error`.
pub(crate) fn fail_all<X: Extra>(jobs: Vec<Job<X>>, error: StoreError) {
    let shared = Shared::from(error);
    for job in jobs {
        job.finish(Err(shared.error()));
    }
}

/// One error handed to several callers: [`StoreError`] is not `Clone`, but its source can be
/// shared behind an `Arc`.
pub(crate) enum Shared {
    Unavailable(Arc<dyn StdError + Send + Sync>),
    Corrupt(Arc<dyn StdError + Send + Sync>),
    SchemaTooNew { found: i64, supported: i64 },
    Closed,
    ClaimLost,
}

impl From<StoreError> for Shared {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Corrupt(source) => Self::Corrupt(Arc::from(source)),
            StoreError::SchemaTooNew { found, supported } => {
                Self::SchemaTooNew { found, supported }
            }
            StoreError::Closed => Self::Closed,
            StoreError::ClaimLost => Self::ClaimLost,
            StoreError::Unavailable(source) => Self::Unavailable(Arc::from(source)),
            // `StoreError` is non-exhaustive; a variant added later is still a failure.
            other => Self::Unavailable(Arc::new(other)),
        }
    }
}

impl Shared {
    /// A copy of the error for one caller.
    pub(crate) fn error(&self) -> StoreError {
        match self {
            Self::Unavailable(source) => {
                StoreError::Unavailable(Box::new(SharedSource(Arc::clone(source))))
            }
            Self::Corrupt(source) => {
                StoreError::Corrupt(Box::new(SharedSource(Arc::clone(source))))
            }
            Self::SchemaTooNew { found, supported } => StoreError::SchemaTooNew {
                found: *found,
                supported: *supported,
            },
            Self::Closed => StoreError::Closed,
            Self::ClaimLost => StoreError::ClaimLost,
        }
    }
}

/// A shared error source that displays, and chains, like the original.
struct SharedSource(Arc<dyn StdError + Send + Sync>);

impl fmt::Debug for SharedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl StdError for SharedSource {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// Takes `first` and every job queued behind it, up to [`MAX_BATCH`].
pub(crate) fn drain<X>(jobs: &mut mpsc::UnboundedReceiver<Job<X>>, first: Job<X>) -> Vec<Job<X>> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

/// The callers' side of the queue: submits jobs and waits for their answers.
#[derive(Debug)]
pub(crate) struct Queue<X = Infallible> {
    /// `None` once closed. Only this handle sends, so taking it lets the writers see the end
    /// of the queue as soon as they have drained it.
    sender: RwLock<Option<mpsc::UnboundedSender<Job<X>>>>,
    /// Never sent on; every writer holds a clone of its sender, so it reports "closed" once
    /// they have all exited.
    writers: watch::Receiver<()>,
}

/// The writers' side of a new queue: the jobs, and a guard each writer holds until it exits.
pub(crate) struct Writers<X = Infallible> {
    pub(crate) jobs: mpsc::UnboundedReceiver<Job<X>>,
    pub(crate) alive: watch::Sender<()>,
}

impl<X> Queue<X> {
    pub(crate) fn new() -> (Self, Writers<X>) {
        let (sender, jobs) = mpsc::unbounded_channel();
        let (alive, writers) = watch::channel(());
        let queue = Self {
            sender: RwLock::new(Some(sender)),
            writers,
        };
        (queue, Writers { jobs, alive })
    }

    pub(crate) async fn claim(
        &self,
        event: &WebhookEvent,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        self.submit(|reply| Job::Claim {
            key: Key::of(event),
            lease_ms: millis(lease),
            reply,
        })
        .await
    }

    pub(crate) async fn complete(&self, event: &WebhookEvent) -> Result<(), StoreError> {
        self.submit(|reply| Job::Complete {
            key: Key::of(event),
            reply,
        })
        .await
    }

    pub(crate) async fn release(
        &self,
        event: &WebhookEvent,
        token: ClaimToken,
    ) -> Result<(), StoreError> {
        self.submit(|reply| Job::Release {
            key: Key::of(event),
            token: token_column(token),
            reply,
        })
        .await
    }

    pub(crate) async fn prune(&self, older_than: Duration) -> Result<u64, StoreError> {
        self.submit(|reply| Job::Prune {
            older_than_ms: millis(older_than),
            reply,
        })
        .await
    }

    /// Queues the store's own kind of work, built around the reply it is to answer on.
    #[cfg(feature = "sqlite")]
    pub(crate) async fn extra<T>(
        &self,
        extra: impl FnOnce(Reply<T>) -> X,
    ) -> Result<T, StoreError> {
        self.submit(|reply| Job::Extra(extra(reply))).await
    }

    /// Whether [`close`](Self::close) has been called.
    #[cfg(feature = "postgres")]
    pub(crate) fn is_closed(&self) -> bool {
        self.sender
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job<X>) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            // Sending never blocks (the channel is unbounded; callers awaiting their answers
            // bound it), and the lock is only written by `close`.
            let sender = self.sender.read().unwrap_or_else(PoisonError::into_inner);
            let sender = sender.as_ref().ok_or(StoreError::Closed)?;
            sender.send(job(reply)).map_err(|_| StoreError::Closed)?;
        }
        // A writer that is gone drops the reply unanswered.
        answer.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Stops taking jobs and waits until the writers have answered every queued one and
    /// exited.
    pub(crate) async fn close(&self) {
        let sender = self
            .sender
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(sender);
        let mut writers = self.writers.clone();
        // Resolves with an error once every writer dropped its guard; nothing is ever sent.
        let _ = writers.changed().await;
    }
}

/// Implements [`EventStore`](soniox_webhook::store::EventStore) for a store whose `queue`
/// field is a [`Queue`]: every operation is a queued job.
macro_rules! queued_event_store {
    ($store:ty) => {
        impl ::soniox_webhook::store::EventStore for $store {
            fn claim<'a>(
                &'a self,
                event: &'a ::soniox_types::WebhookEvent,
                lease: ::std::time::Duration,
            ) -> ::soniox_webhook::store::StoreFuture<'a, ::soniox_webhook::store::Claim> {
                Box::pin(self.queue.claim(event, lease))
            }

            // Done is final whoever completes it, so the token is not checked.
            fn complete<'a>(
                &'a self,
                event: &'a ::soniox_types::WebhookEvent,
                _token: ::soniox_webhook::store::ClaimToken,
            ) -> ::soniox_webhook::store::StoreFuture<'a, ()> {
                Box::pin(self.queue.complete(event))
            }

            fn release<'a>(
                &'a self,
                event: &'a ::soniox_types::WebhookEvent,
                token: ::soniox_webhook::store::ClaimToken,
            ) -> ::soniox_webhook::store::StoreFuture<'a, ()> {
                Box::pin(self.queue.release(event, token))
            }
        }
    };
}

pub(crate) use queued_event_store;

#[cfg(test)]
mod tests {
    use super::{Shared, StoreError};

    #[test]
    fn a_shared_error_is_copied_as_the_same_variant() {
        let errors = [
            StoreError::unavailable("down"),
            StoreError::Corrupt("foreign".into()),
            StoreError::SchemaTooNew {
                found: 9,
                supported: 3,
            },
            StoreError::Closed,
            StoreError::ClaimLost,
        ];
        for error in errors {
            let before = format!("{error:?}");
            let copy = Shared::from(error).error();
            let variant = |debug: &str| debug.split(['(', ' ']).next().unwrap_or("").to_owned();
            assert_eq!(variant(&format!("{copy:?}")), variant(&before), "{before}");
        }
    }
}
