//! The job records: one row per submitted job in `soniox_jobs`, in the same database as the
//! webhook events, so that a handler's effect, the job's completion and its event's can
//! commit in one transaction. The schema and the statements are shared; each backend runs
//! them its own way.

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(test)]
mod tests;

use soniox_store::{ClaimToken, StoreError};
use soniox_types::{FileId, OffsetDateTime, TranscriptionId, TranscriptionStatus, WebhookEvent};

use crate::{
    Database, Effect, JobState,
    handler::EffectKind,
    reconcile::{Stage, TrackedJob},
};

/// An event to record done with a handling's writes, and the claim that handling holds, if
/// an inbox called it: the completion is fenced by it.
pub(crate) struct Completion {
    pub(crate) event: WebhookEvent,
    pub(crate) claim: Option<ClaimToken>,
}

/// Why a handling's transaction rolled back: a statement failed (`E`, the driver's error), or
/// the completion found the claim lost.
pub(crate) enum Unfinished<E> {
    Failed(E),
    /// See [`StoreError::ClaimLost`].
    ClaimLost,
}

impl<E> From<E> for Unfinished<E> {
    fn from(error: E) -> Self {
        Self::Failed(error)
    }
}

impl<E> Unfinished<E> {
    /// The store's error: `failed`'s for a failed statement, [`StoreError::ClaimLost`]
    /// otherwise.
    pub(crate) fn into_store_error(self, failed: impl FnOnce(E) -> StoreError) -> StoreError {
        match self {
            Self::Failed(error) => failed(error),
            Self::ClaimLost => StoreError::ClaimLost,
        }
    }
}

/// This crate's component in the `soniox_schema` table.
const COMPONENT: &str = "jobs";

/// The job table rebuilt with the stage check written without an `IN` list: SQLite builds
/// an ephemeral table for an `IN` list each time it evaluates one, that is, on every insert
/// and update of a job; a check cannot be altered, so the table is rebuilt. Migration 3 of
/// [`MIGRATIONS`], on SQLite only (see `POSTGRES_MIGRATIONS`).
const REBUILD_JOBS: &str = "
    CREATE TABLE soniox_jobs_rebuilt (
        reference TEXT PRIMARY KEY NOT NULL,
        transcription_id TEXT UNIQUE,
        request TEXT NOT NULL,
        stage TEXT NOT NULL
            CHECK (stage = 'submitting' OR stage = 'submitted' OR stage = 'finished'
                   OR stage = 'done' OR stage = 'lost'),
        status TEXT,
        recorded_at BIGINT NOT NULL,
        submitted_at BIGINT,
        polls BIGINT NOT NULL DEFAULT 0,
        next_check_at BIGINT,
        updated_at BIGINT NOT NULL,
        claim BIGINT
    );
    INSERT INTO soniox_jobs_rebuilt (reference, transcription_id, request, stage, status,
        recorded_at, submitted_at, polls, next_check_at, updated_at, claim)
    SELECT reference, transcription_id, request, stage, status, recorded_at, submitted_at,
        polls, next_check_at, updated_at, claim
    FROM soniox_jobs;
    DROP TABLE soniox_jobs;
    ALTER TABLE soniox_jobs_rebuilt RENAME TO soniox_jobs;
    CREATE INDEX soniox_jobs_due ON soniox_jobs (next_check_at)
        WHERE next_check_at IS NOT NULL;
";

/// `MIGRATIONS[n]` takes the jobs schema from version `n` to `n + 1`; SQL both databases
/// run, but for migration 3 (see `POSTGRES_MIGRATIONS`). Instants are Unix milliseconds;
/// `next_check_at` is null once nothing more is to be done (a done job keeps one while its
/// cleanup is owed).
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE soniox_jobs (
        reference TEXT PRIMARY KEY NOT NULL,
        transcription_id TEXT UNIQUE,
        request TEXT NOT NULL,
        stage TEXT NOT NULL
            CHECK (stage IN ('submitting', 'submitted', 'finished', 'done', 'lost')),
        status TEXT,
        recorded_at BIGINT NOT NULL,
        submitted_at BIGINT,
        polls BIGINT NOT NULL DEFAULT 0,
        next_check_at BIGINT,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX soniox_jobs_due ON soniox_jobs (next_check_at)
        WHERE next_check_at IS NOT NULL;
",
    "
    ALTER TABLE soniox_jobs ADD COLUMN claim BIGINT;
",
    // The stage check without an `IN` list, on SQLite (see `REBUILD_JOBS`).
    REBUILD_JOBS,
    // The uploaded file a done job's owed cleanup deletes with it: once the transcription is
    // gone, the API no longer tells it.
    "
    ALTER TABLE soniox_jobs ADD COLUMN file_id TEXT;
",
];

/// [`MIGRATIONS`] as PostgreSQL runs them. Migration 3 does nothing here: PostgreSQL
/// evaluates the stage check's `IN` list without building a table, so the rebuild SQLite
/// needs would only cost replicas still running the previous version. It copied the table,
/// dropped the old one and renamed the copy: even under the strongest lock, a statement of
/// such a replica that waited for it resolved the new table, which a repeatable-read
/// snapshot taken before the copy sees empty (an update was lost without an error), and a
/// weaker lock let a replica's transaction that had read the table deadlock with it. The
/// version stays in step with SQLite's.
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: &[&str] = &[
    MIGRATIONS[0],
    MIGRATIONS[1],
    "-- nothing to do on PostgreSQL (see POSTGRES_MIGRATIONS)",
    MIGRATIONS[3],
];

#[cfg(feature = "postgres")]
const _: () = assert!(POSTGRES_MIGRATIONS.len() == MIGRATIONS.len());

// The statements, with PostgreSQL's `$n` parameters (the SQLite backend rewrites them as
// `?n`). Each names what it does in the backends' methods of the same name.

const RECORD: &str = "
    INSERT INTO soniox_jobs (reference, request, stage, recorded_at, next_check_at, updated_at)
    VALUES ($1, $2, 'submitting', $3, $4, $3)";

/// [`RECORD`] for a reference the caller chose, which may be recorded already: then nothing.
const RECORD_NEW: &str = "
    INSERT INTO soniox_jobs (reference, request, stage, recorded_at, next_check_at, updated_at)
    VALUES ($1, $2, 'submitting', $3, $4, $3)
    ON CONFLICT (reference) DO NOTHING";

/// The reference of the job with an id.
const REFERENCE_OF: &str = "SELECT reference FROM soniox_jobs WHERE transcription_id = $1";

/// The stage of the job with a reference.
const STAGE_OF: &str = "SELECT stage FROM soniox_jobs WHERE reference = $1";

/// The reference `$1`, if the job recorded under it has no id recorded yet.
const AWAITING_ID: &str =
    "SELECT reference FROM soniox_jobs WHERE reference = $1 AND transcription_id IS NULL";

const FORGET: &str = "DELETE FROM soniox_jobs WHERE reference = $1 AND stage = 'submitting'";

/// Deletes the jobs over for good (handled, with no cleanup owed, or lost) last changed
/// before `$1`.
const PRUNE: &str = "
    DELETE FROM soniox_jobs
    WHERE (stage = 'done' OR stage = 'lost') AND next_check_at IS NULL AND updated_at < $1";

const SUBMITTED: &str = "
    UPDATE soniox_jobs
    SET transcription_id = $2, stage = 'submitted', submitted_at = $3, polls = 0,
        next_check_at = $4, updated_at = $3
    WHERE reference = $1 AND stage = 'submitting'";

const FINISHED: &str = "
    UPDATE soniox_jobs SET stage = 'finished', status = $2, next_check_at = $4, updated_at = $3
    WHERE transcription_id = $1 AND stage IN ('submitted', 'finished')";

const DONE: &str = "
    UPDATE soniox_jobs SET stage = 'done', next_check_at = NULL, updated_at = $2
    WHERE transcription_id = $1";

/// [`DONE`] for a job to be deleted from the API, with its uploaded file `$4`: the cleanup
/// is owed, and due at `$3`, until [`CLEANED`] records it done. A file already recorded is
/// kept when `$4` is null: a handling that found the job gone (deleted by an earlier
/// cleanup) no longer learns its file, which may not be deleted yet.
const DONE_OWING_CLEANUP: &str = "
    UPDATE soniox_jobs
    SET stage = 'done', next_check_at = $3, file_id = COALESCE($4, file_id), updated_at = $2
    WHERE transcription_id = $1";

/// The uploaded file whose deletion the done job `$1` owes, if it owes one.
const OWED_FILE: &str = "
    SELECT file_id FROM soniox_jobs WHERE transcription_id = $1 AND file_id IS NOT NULL";

const CLEANED: &str = "
    UPDATE soniox_jobs SET next_check_at = NULL, file_id = NULL, updated_at = $2
    WHERE transcription_id = $1 AND stage = 'done'";

/// The statement marking lost the job whose `$key` column is `$1`. Never a job handled
/// meanwhile: a webhook may have recorded it done (and cleaned it up, hence the 404 that made
/// the reconciler decide it lost) while the pass looked it up. Nor one lost already, so that
/// only the update that marked a job lost reports it.
macro_rules! lost {
    ($key:literal) => {
        concat!(
            "UPDATE soniox_jobs SET stage = 'lost', next_check_at = NULL, updated_at = $2
             WHERE ",
            $key,
            " = $1 AND stage <> 'done' AND stage <> 'lost'"
        )
    };
}

const LOST: &str = lost!("reference");

/// [`LOST`] for the job with an id.
const LOST_ID: &str = lost!("transcription_id");

const RESCHEDULE: &str = "
    UPDATE soniox_jobs SET next_check_at = $2, polls = polls + $3, updated_at = $4
    WHERE reference = $1 AND next_check_at IS NOT NULL";

/// Takes a claimed job for a create: only the pass that claimed it last, and only while it is
/// still submitting.
const TAKE: &str = "
    UPDATE soniox_jobs SET next_check_at = $3, claim = NULL, updated_at = $4
    WHERE reference = $1 AND claim = $2 AND stage = 'submitting'";

/// The columns [`Row`] is read from, in order.
const COLUMNS: &str = "reference, transcription_id, request, stage, status, recorded_at, \
                       submitted_at, polls, next_check_at, file_id";

const PENDING: &str = "
    SELECT COUNT(*) FILTER (WHERE stage = 'submitting'),
           COUNT(*) FILTER (WHERE stage = 'submitted'),
           COUNT(*) FILTER (WHERE stage = 'finished'),
           COUNT(*) FILTER (WHERE next_check_at <= $1)
    FROM soniox_jobs WHERE next_check_at IS NOT NULL";

/// A job row claimed for a reconciler pass.
#[derive(Clone, Debug)]
pub(crate) struct DueJob {
    pub(crate) job: TrackedJob,
    /// The create request, as recorded (without the webhook's secret).
    pub(crate) request: String,
    /// For a done job, the cleanup it owes.
    pub(crate) cleanup: Option<OwedCleanup>,
}

/// The cleanup a done job owes, as a pass finds it: the job's id and its uploaded file.
pub(crate) type OwedCleanup = (TranscriptionId, Option<FileId>);

/// How many jobs are in each stage that still needs work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) submitting: u64,
    pub(crate) submitted: u64,
    pub(crate) finished: u64,
    pub(crate) overdue: u64,
}

/// The job table, in whichever database the tracker uses.
#[derive(Debug, Clone)]
pub(crate) enum Jobs {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::SqliteJobs),
    #[cfg(feature = "postgres")]
    Postgres(postgres::PostgresJobs),
}

/// Calls the backend's method of the same name.
macro_rules! dispatch {
    ($jobs:expr, $method:ident($($arg:expr),*)) => {
        match $jobs {
            #[cfg(feature = "sqlite")]
            Jobs::Sqlite(jobs) => jobs.$method($($arg),*).await,
            #[cfg(feature = "postgres")]
            Jobs::Postgres(jobs) => jobs.$method($($arg),*).await,
        }
    };
}

impl Jobs {
    /// The job table in `database`, created or brought up to date.
    pub(crate) async fn open(database: &Database) -> Result<Self, StoreError> {
        Ok(match database {
            #[cfg(feature = "sqlite")]
            Database::Sqlite(store) => Self::Sqlite(sqlite::SqliteJobs::open(store).await?),
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => Self::Postgres(postgres::PostgresJobs::open(store).await?),
        })
    }

    /// Records a job about to be created, due for a look at `check_at`.
    pub(crate) async fn record(
        &self,
        reference: &str,
        request: String,
        now: OffsetDateTime,
        check_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let write = JobWrite::Record(reference.to_owned(), request, millis(now), millis(check_at));
        dispatch!(self, write(write))
    }

    /// Records a job about to be created under a reference its caller chose, unless a job
    /// is recorded under it already: `false` then, and nothing changes.
    pub(crate) async fn record_new(
        &self,
        reference: &str,
        request: String,
        now: OffsetDateTime,
        check_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let params = Params::Record(reference.to_owned(), request, millis(now), millis(check_at));
        Ok(dispatch!(self, execute(RECORD_NEW, params))? == 1)
    }

    /// The reference of the job with `id`, if the tracker holds it.
    pub(crate) async fn reference_of(
        &self,
        id: &TranscriptionId,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(
            self,
            text(REFERENCE_OF, Params::Text(id.as_str().to_owned()))
        )
    }

    /// Whether a job is recorded under `reference`.
    pub(crate) async fn holds(&self, reference: &str) -> Result<bool, StoreError> {
        Ok(self.stage_of(reference).await?.is_some())
    }

    /// The stage column of the job recorded under `reference`, if one is.
    pub(crate) async fn stage_of(&self, reference: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, text(STAGE_OF, Params::Text(reference.to_owned())))
    }

    /// Whether a job is recorded under `reference` without its id (its create's answer was
    /// lost, or not recorded yet).
    pub(crate) async fn awaits_id(&self, reference: &str) -> Result<bool, StoreError> {
        let found = dispatch!(self, text(AWAITING_ID, Params::Text(reference.to_owned())));
        Ok(found?.is_some())
    }

    /// Deletes the jobs over for good (see [`PRUNE`]) last changed before `before`; how many.
    pub(crate) async fn prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        dispatch!(self, execute(PRUNE, Params::At(millis(before))))
    }

    /// Forgets a job whose create request the API refused outright.
    pub(crate) async fn forget(&self, reference: &str) -> Result<(), StoreError> {
        dispatch!(self, execute(FORGET, Params::Text(reference.to_owned()))).map(drop)
    }

    /// The API accepted the job as `id` at `at`: await its webhook until `next_poll`.
    pub(crate) async fn submitted(
        &self,
        reference: &str,
        id: &TranscriptionId,
        at: OffsetDateTime,
        next_poll: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let write = JobWrite::Submitted(
            reference.to_owned(),
            id.as_str().to_owned(),
            millis(at),
            millis(next_poll),
        );
        dispatch!(self, write(write))
    }

    /// The job finished with `status` and is being handled: look again at `retry_at` unless
    /// it is done by then. Nothing for an untracked id or a job already done.
    pub(crate) async fn finished(
        &self,
        id: &TranscriptionId,
        status: &TranscriptionStatus,
        now: OffsetDateTime,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let params = Params::Finished(
            id.as_str().to_owned(),
            status.as_str().to_owned(),
            millis(now),
            millis(retry_at),
        );
        dispatch!(self, execute(FINISHED, params)).map(drop)
    }

    /// The job's handler succeeded. Nothing for an untracked id.
    pub(crate) async fn done(
        &self,
        id: &TranscriptionId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let write = JobWrite::Done(id.as_str().to_owned(), millis(now));
        dispatch!(self, write(write))
    }

    /// [`Jobs::done`] for a job whose cleanup is owed: see [`Cleanup`].
    pub(crate) async fn done_owing_cleanup(
        &self,
        id: &TranscriptionId,
        now: OffsetDateTime,
        cleanup: Cleanup,
    ) -> Result<(), StoreError> {
        let (sql, params) = done_statement(id, millis(now), Some(cleanup));
        dispatch!(self, execute(sql, params)).map(drop)
    }

    /// The uploaded file the done job `id` owes the deletion of, as recorded.
    pub(crate) async fn owed_file(
        &self,
        id: &TranscriptionId,
    ) -> Result<Option<FileId>, StoreError> {
        let file = dispatch!(self, text(OWED_FILE, Params::Text(id.as_str().to_owned())))?;
        Ok(file.map(FileId::new))
    }

    /// The cleanup the done job `id` owed has succeeded: nothing more to do.
    pub(crate) async fn cleaned(
        &self,
        id: &TranscriptionId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, execute(CLEANED, Params::text_at(id.as_str(), now))).map(drop)
    }

    /// Runs `effect` (if any), records the job as handled (owing `cleanup`, if any) and its
    /// event as done, in one transaction: all of them commit together, exactly once, or none
    /// does. With the `claim` the handling holds, the event is recorded done only while it
    /// does: should the handling have outlived its lease and another have taken the event,
    /// the transaction rolls back and the call fails ([`StoreError::ClaimLost`]). Whether the job was
    /// found under its id: not while its acceptance has yet to commit (a webhook that
    /// overtook it), when the event is done all the same and the reconciler records the job.
    pub(crate) async fn done_with(
        &self,
        event: WebhookEvent,
        claim: Option<ClaimToken>,
        now: OffsetDateTime,
        effect: Option<Effect>,
        cleanup: Option<Cleanup>,
    ) -> Result<bool, StoreError> {
        let done = done_statement(&event.id, millis(now), cleanup);
        let event = Completion { event, claim };
        match (self, effect.map(|effect| effect.0)) {
            #[cfg(feature = "sqlite")]
            (Self::Sqlite(jobs), None) => jobs.done_with(event, done, None).await,
            #[cfg(feature = "sqlite")]
            (Self::Sqlite(jobs), Some(EffectKind::Sqlite(effect))) => {
                jobs.done_with(event, done, Some(effect)).await
            }
            #[cfg(feature = "postgres")]
            (Self::Postgres(jobs), None) => jobs.done_with(event, done, None).await,
            #[cfg(feature = "postgres")]
            (Self::Postgres(jobs), Some(EffectKind::Postgres(effect))) => {
                jobs.done_with(event, done, Some(effect)).await
            }
            #[cfg(all(feature = "sqlite", feature = "postgres"))]
            (jobs, Some(effect)) => Err(StoreError::unavailable(format!(
                "the handler returned an effect for {}, but the tracker keeps its jobs in {}: \
                 make the effect with Effect::{}",
                effect.database(),
                jobs.database(),
                jobs.database().to_ascii_lowercase()
            ))),
        }
    }

    /// Records the job of `event` as handled and the event as done, in one transaction: both
    /// commit, or neither does and the event's claim runs out, for a redelivery or a poll to
    /// handle the job again. SQLite makes it one operation of its single writer; PostgreSQL
    /// one part of a batch of the writes of concurrent jobs.
    pub(crate) async fn complete(
        &self,
        event: &WebhookEvent,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(jobs) => jobs
                .done_with(
                    Completion {
                        event: event.clone(),
                        claim: None,
                    },
                    done_statement(&event.id, millis(now), None),
                    None,
                )
                .await
                .map(drop),
            #[cfg(feature = "postgres")]
            Self::Postgres(jobs) => jobs.handled(event, millis(now)).await,
        }
    }

    /// The database the jobs are in.
    #[cfg(all(feature = "sqlite", feature = "postgres"))]
    fn database(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }

    /// The API no longer has the job recorded under `reference`: whether this marked it
    /// lost (not when it is done or lost already).
    pub(crate) async fn lost(
        &self,
        reference: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(dispatch!(self, execute(LOST, Params::text_at(reference, now)))? == 1)
    }

    /// [`Jobs::lost`] for the job with `id`; `false` for an untracked id too.
    pub(crate) async fn lost_id(
        &self,
        id: &TranscriptionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(dispatch!(self, execute(LOST_ID, Params::text_at(id.as_str(), now)))? == 1)
    }

    /// Takes the job for a create request if the pass `claim` still holds it (no later pass
    /// took it since), holding it until `until`; `false` when another pass has it.
    pub(crate) async fn take(
        &self,
        reference: &str,
        claim: i64,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let params = Params::Take(reference.to_owned(), claim, millis(until), millis(now));
        Ok(dispatch!(self, execute(TAKE, params))? == 1)
    }

    /// Looks at the job again at `at`; with `polled`, one more poll is counted.
    pub(crate) async fn reschedule(
        &self,
        reference: &str,
        at: OffsetDateTime,
        polled: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let params = Params::Reschedule(
            reference.to_owned(),
            millis(at),
            i64::from(polled),
            millis(now),
        );
        dispatch!(self, execute(RESCHEDULE, params)).map(drop)
    }

    /// Takes up to `limit` jobs due at `due_at`, oldest due first, for the pass `claim`:
    /// pushes their next look to `held_until`, so that another reconciler on the same
    /// database (or this pass's next batch) leaves them alone meanwhile, and marks them with
    /// `claim`, so that a create for one is sent only by the pass that took it last
    /// ([`Jobs::take`]). Each comes back as it was before the push, so the reconciler sees it
    /// as due.
    pub(crate) async fn claim_due(
        &self,
        due_at: OffsetDateTime,
        held_until: OffsetDateTime,
        limit: usize,
        claim: i64,
    ) -> Result<Vec<DueJob>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        dispatch!(
            self,
            claim_due(millis(due_at), millis(held_until), limit, claim)
        )
    }

    /// How many jobs still need work, and how many of them are due at `now`.
    pub(crate) async fn pending(&self, now: OffsetDateTime) -> Result<Pending, StoreError> {
        let counts: [i64; 4] = dispatch!(self, pending(millis(now)))?;
        let [submitting, submitted, finished, overdue] =
            counts.map(|count| u64::try_from(count).unwrap_or(0));
        Ok(Pending {
            submitting,
            submitted,
            finished,
            overdue,
        })
    }
}

/// The cleanup a job recorded done owes: deleting it, and its uploaded `file`, from the API.
/// Recorded with the job done, so that no crash loses it; due at `due`, for the reconciler's
/// passes to retry until both deletes succeeded ([`Jobs::cleaned`]).
#[derive(Debug)]
pub(crate) struct Cleanup {
    pub(crate) due: OffsetDateTime,
    pub(crate) file: Option<FileId>,
}

/// The statement that records job `id` done at `now`, owing `cleanup` if any, and its
/// parameters.
fn done_statement(
    id: &TranscriptionId,
    now: i64,
    cleanup: Option<Cleanup>,
) -> (&'static str, Params) {
    let id = id.as_str().to_owned();
    match cleanup {
        None => JobWrite::Done(id, now).alone(),
        Some(Cleanup { due, file }) => (
            DONE_OWING_CLEANUP,
            Params::Owing(
                id,
                now,
                millis(due),
                file.map(|file| file.as_str().to_owned()),
            ),
        ),
    }
}

/// A write every job makes on its way: its record, its acceptance, its completion. The
/// PostgreSQL backend batches those of concurrent jobs (and a handling's end, the job done
/// with its event); SQLite's writer batches everything.
#[derive(Debug)]
pub(crate) enum JobWrite {
    /// [`RECORD`]: reference, request, now, first check.
    Record(String, String, i64, i64),
    /// [`SUBMITTED`]: reference, id, at, next poll.
    Submitted(String, String, i64, i64),
    /// [`DONE`]: id, now.
    Done(String, i64),
}

impl JobWrite {
    /// The statement that makes this write alone, and its parameters.
    fn alone(self) -> (&'static str, Params) {
        match self {
            Self::Record(a, b, c, d) => (RECORD, Params::Record(a, b, c, d)),
            Self::Submitted(a, b, c, d) => (SUBMITTED, Params::Submitted(a, b, c, d)),
            Self::Done(a, b) => (DONE, Params::TextAt(a, b)),
        }
    }
}

/// The parameters of one statement, owned so that they can move to SQLite's writer thread.
#[derive(Debug)]
enum Params {
    /// One instant.
    At(i64),
    /// reference, request, now, check at.
    Record(String, String, i64, i64),
    /// One text.
    Text(String),
    /// A text and an instant.
    TextAt(String, i64),
    /// reference, id, at, next poll.
    Submitted(String, String, i64, i64),
    /// id, status, now, retry at.
    Finished(String, String, i64, i64),
    /// reference, at, polled (0 or 1), now.
    Reschedule(String, i64, i64, i64),
    /// reference, claim, until, now.
    Take(String, i64, i64, i64),
    /// id, now, cleanup due, file.
    Owing(String, i64, i64, Option<String>),
}

impl Params {
    fn text_at(text: &str, at: OffsetDateTime) -> Self {
        Self::TextAt(text.to_owned(), millis(at))
    }
}

/// `params` as the list of `&dyn ToSql` (each driver's own trait) its statement binds.
macro_rules! bind {
    ($params:expr => $to_sql:ty) => {{
        let values: Vec<$to_sql> = match $params {
            Params::At(a) => vec![a],
            Params::Text(a) => vec![a],
            Params::TextAt(a, b) => vec![a, b],
            Params::Record(a, b, c, d) => vec![a, b, c, d],
            Params::Submitted(a, b, c, d) | Params::Finished(a, b, c, d) => vec![a, b, c, d],
            Params::Reschedule(a, b, c, d) | Params::Take(a, b, c, d) => vec![a, b, c, d],
            Params::Owing(a, b, c, d) => vec![a, b, c, d],
        };
        values
    }};
}

/// A [`Row`] read from a driver's row with its fallible getter `$get`, [`COLUMNS`] in order.
macro_rules! read_row {
    ($row:expr, $get:ident) => {
        Row {
            reference: $row.$get(0)?,
            id: $row.$get(1)?,
            request: $row.$get(2)?,
            stage: $row.$get(3)?,
            status: $row.$get(4)?,
            recorded_at: $row.$get(5)?,
            submitted_at: $row.$get(6)?,
            polls: $row.$get(7)?,
            next_check_at: $row.$get(8)?,
            file: $row.$get(9)?,
        }
    };
}

use {bind, read_row};

/// A job row as both databases return it: [`COLUMNS`], in order.
struct Row {
    reference: String,
    id: Option<String>,
    request: String,
    stage: String,
    status: Option<String>,
    recorded_at: i64,
    submitted_at: Option<i64>,
    polls: i64,
    next_check_at: i64,
    file: Option<String>,
}

/// The state a `stage` column names: the one reading of the column, for the reconciler and
/// for [`crate::Tracker::state_of`].
pub(crate) fn stage_state(stage: &str) -> JobState {
    match stage {
        "submitted" => JobState::Submitted,
        "finished" => JobState::Finished,
        "done" => JobState::Handled,
        "lost" => JobState::Lost,
        // "submitting"; the table's check allows no other value.
        _ => JobState::Submitting,
    }
}

impl Row {
    fn into_due(self) -> DueJob {
        let recorded_at = instant(self.recorded_at);
        let next_check = instant(self.next_check_at);
        let polls = u32::try_from(self.polls).unwrap_or(u32::MAX);
        let state = stage_state(&self.stage);
        // A done job is due only while its cleanup is owed.
        let cleanup = match (state, &self.id) {
            (JobState::Handled, Some(id)) => {
                Some((TranscriptionId::new(id.clone()), self.file.map(FileId::new)))
            }
            _ => None,
        };
        let stage = match (state, self.id) {
            (JobState::Submitted, Some(id)) => Stage::Submitted {
                id: TranscriptionId::new(id),
                at: self.submitted_at.map_or(recorded_at, instant),
                polls,
                next_poll: next_check,
            },
            (JobState::Finished, Some(id)) => Stage::Finished {
                id: TranscriptionId::new(id),
                status: self
                    .status
                    .as_deref()
                    .unwrap_or("completed")
                    .parse()
                    .unwrap_or(TranscriptionStatus::Completed),
                retry_at: next_check,
            },
            (JobState::Handled | JobState::Lost, _) => Stage::Done,
            _ => Stage::Submitting,
        };
        DueJob {
            job: TrackedJob {
                reference: self.reference,
                recorded_at,
                stage,
            },
            request: self.request,
            cleanup,
        }
    }
}

/// Unix milliseconds of `at`, saturating.
pub(crate) fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The instant `ms` Unix milliseconds, clamped to what `OffsetDateTime` holds.
pub(crate) fn instant(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
