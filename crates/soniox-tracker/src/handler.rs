//! What the user's handler receives, and the handler itself.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use soniox_types::{Transcript, TranscriptionId};

/// A finished job, as handed to the [`JobHandler`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FinishedJob {
    /// The job's id.
    pub id: TranscriptionId,
    /// How it ended.
    pub outcome: JobOutcome,
}

/// How a job ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum JobOutcome {
    /// Transcribed: the transcript, decoded with the fast decoder.
    Completed(Box<Transcript>),
    /// The API could not transcribe it.
    Failed {
        /// The API's error type, when it gave one.
        error_type: Option<String>,
        /// The API's description, when it gave one.
        error_message: Option<String>,
    },
}

/// Your code that acts on each finished job.
///
/// Implemented for every `Fn(FinishedJob) -> impl Future<Output = Result<(), E>>`. It is called
/// at least once per finished job, and again after an `Err`, a panic, a timeout or a crash
/// before the tracker recorded its success, so make its effect idempotent (an upsert keyed on
/// the job's id).
pub trait JobHandler: Send + Sync + 'static {
    /// Why handling failed; logged, and the job is handled again later.
    type Error: fmt::Display + Send + 'static;
    /// The handling in progress.
    type Future: Future<Output = Result<(), Self::Error>> + Send + 'static;

    /// Handles one finished job.
    fn call(&self, job: FinishedJob) -> Self::Future;
}

impl<F, Fut, E> JobHandler for F
where
    F: Fn(FinishedJob) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    type Error = E;
    type Future = Fut;

    fn call(&self, job: FinishedJob) -> Fut {
        self(job)
    }
}

/// Writes to make in the tracker's own transaction, the one that records the job as handled:
/// they commit exactly once, together with it, or not at all.
///
/// Use the `rusqlite` that `soniox_store` re-exports. The closure runs on the store's writer
/// while every other operation waits: keep it to a few statements.
pub type Effect = Box<
    dyn FnOnce(&soniox_store::rusqlite::Transaction<'_>) -> soniox_store::rusqlite::Result<()>
        + Send,
>;

/// Your code that acts on each finished job and returns its [`Effect`]: what it fetches or
/// computes may happen more than once, but the effect's writes are committed exactly once,
/// in the transaction that records the job as handled.
///
/// Implemented for every `Fn(FinishedJob) -> impl Future<Output = Result<Effect, E>>`.
pub trait EffectHandler: Send + Sync + 'static {
    /// Why handling failed; logged, and the job is handled again later.
    type Error: fmt::Display + Send + 'static;
    /// The handling in progress.
    type Future: Future<Output = Result<Effect, Self::Error>> + Send + 'static;

    /// Handles one finished job.
    fn call(&self, job: FinishedJob) -> Self::Future;
}

impl<F, Fut, E> EffectHandler for F
where
    F: Fn(FinishedJob) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Effect, E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    type Error = E;
    type Future = Fut;

    fn call(&self, job: FinishedJob) -> Fut {
        self(job)
    }
}

/// Either handler with its types erased, so the tracker is not generic over it: `None` from a
/// plain handler, the effect from an effect handler.
pub(crate) type BoxedHandler = Arc<
    dyn Fn(FinishedJob) -> Pin<Box<dyn Future<Output = Result<Option<Effect>, String>> + Send>>
        + Send
        + Sync,
>;

pub(crate) fn boxed(handler: impl JobHandler) -> BoxedHandler {
    Arc::new(move |job| {
        let handling = handler.call(job);
        Box::pin(async move {
            handling
                .await
                .map(|()| None)
                .map_err(|error| error.to_string())
        })
    })
}

pub(crate) fn boxed_effects(handler: impl EffectHandler) -> BoxedHandler {
    Arc::new(move |job| {
        let handling = handler.call(job);
        Box::pin(async move { handling.await.map(Some).map_err(|error| error.to_string()) })
    })
}
