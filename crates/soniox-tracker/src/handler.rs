//! What the user's handler receives, and the handler itself.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use soniox_types::{Transcript, TranscriptionId};

/// A finished job, as handed to the [`JobHandler`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FinishedJob {
    /// The job's id.
    pub id: TranscriptionId,
    /// Its `client_reference_id`: the tracker's own, or the one given to
    /// [`Tracker::submit_with_reference`](crate::Tracker::submit_with_reference); `None` for
    /// a job the tracker did not submit (a webhook for a job created elsewhere).
    pub reference: Option<String>,
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
/// they commit exactly once, together with it, or not at all (the transaction commits only
/// while the handling holds its event's claim). Make it for the database the
/// tracker keeps its jobs in (`Effect::sqlite` or `Effect::postgres`); an effect for the
/// other one fails the handling, loudly, every time.
pub struct Effect(pub(crate) EffectKind);

/// The effect's closure, for its database.
pub(crate) enum EffectKind {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteEffect),
    #[cfg(feature = "postgres")]
    Postgres(PostgresEffect),
}

#[cfg(feature = "sqlite")]
pub(crate) type SqliteEffect = Box<
    dyn FnOnce(&soniox_store::rusqlite::Transaction<'_>) -> soniox_store::rusqlite::Result<()>
        + Send,
>;

#[cfg(feature = "postgres")]
pub(crate) type PostgresEffect = Box<
    dyn for<'t> FnOnce(
            &'t mut soniox_store::deadpool_postgres::Transaction<'_>,
        )
            -> Pin<Box<dyn Future<Output = Result<(), PostgresError>> + Send + 't>>
        + Send,
>;

#[cfg(feature = "postgres")]
type PostgresError = soniox_store::deadpool_postgres::tokio_postgres::Error;

impl Effect {
    /// Writes to SQLite, with the `rusqlite` that `soniox_store` re-exports. The closure runs
    /// on the store's writer while every other operation waits: keep it to a few statements.
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub fn sqlite(
        write: impl FnOnce(
            &soniox_store::rusqlite::Transaction<'_>,
        ) -> soniox_store::rusqlite::Result<()>
        + Send
        + 'static,
    ) -> Self {
        Self(EffectKind::Sqlite(Box::new(write)))
    }

    /// Writes to PostgreSQL, with the `tokio_postgres` that `soniox_store::deadpool_postgres`
    /// re-exports: the closure returns the boxed future of its statements.
    ///
    /// ```no_run
    /// use soniox_tracker::Effect;
    ///
    /// let id = String::from("transcription id");
    /// let effect = Effect::postgres(move |transaction| {
    ///     Box::pin(async move {
    ///         transaction
    ///             .execute("INSERT INTO results (id) VALUES ($1)", &[&id])
    ///             .await
    ///             .map(drop)
    ///     })
    /// });
    /// ```
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub fn postgres(
        write: impl for<'t> FnOnce(
            &'t mut soniox_store::deadpool_postgres::Transaction<'_>,
        ) -> Pin<
            Box<dyn Future<Output = Result<(), PostgresError>> + Send + 't>,
        > + Send
        + 'static,
    ) -> Self {
        Self(EffectKind::Postgres(Box::new(write)))
    }
}

impl EffectKind {
    /// The database the effect writes to.
    pub(crate) fn database(&self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => "SQLite",
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

impl fmt::Debug for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Effect").field(&self.0.database()).finish()
    }
}

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
