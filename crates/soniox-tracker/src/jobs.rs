//! The job records: one row per submitted job in `soniox_jobs`, in the same SQLite database
//! as the webhook events, written through [`SqliteStore::transact`] so each change commits
//! with the store's group commit.

use std::sync::Arc;

use soniox_store::{SqliteStore, StoreError, rusqlite};
use soniox_types::{OffsetDateTime, TranscriptionId, TranscriptionStatus};

use crate::reconcile::{Stage, TrackedJob};

/// This crate's component in the `soniox_schema` table.
const COMPONENT: &str = "jobs";

/// `MIGRATIONS[n]` takes the jobs schema from version `n` to `n + 1`. Instants are Unix
/// milliseconds; `next_check_at` is null once nothing more is to be done.
const MIGRATIONS: &[&str] = &["
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
"];

/// A job row claimed for a reconciler pass.
#[derive(Clone, Debug)]
pub(crate) struct DueJob {
    pub(crate) job: TrackedJob,
    /// The create request, as recorded (without the webhook's secret).
    pub(crate) request: String,
}

/// How many jobs are in each stage that still needs work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) submitting: u64,
    pub(crate) submitted: u64,
    pub(crate) finished: u64,
    pub(crate) overdue: u64,
}

/// The job table, on the store's writer.
#[derive(Debug, Clone)]
pub(crate) struct Jobs {
    db: Arc<SqliteStore>,
}

impl Jobs {
    pub(crate) async fn open(db: Arc<SqliteStore>) -> Result<Self, StoreError> {
        db.migrate_component(COMPONENT, MIGRATIONS).await?;
        Ok(Self { db })
    }

    /// Runs `f` in the store's transaction; an SQL error of ours is the store's failure.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.db.transact(f).await?.map_err(StoreError::unavailable)
    }

    /// Records a job about to be created, due for a look at `check_at`.
    pub(crate) async fn record(
        &self,
        reference: &str,
        request: String,
        now: OffsetDateTime,
        check_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (reference, now, check_at) = (reference.to_owned(), millis(now), millis(check_at));
        self.run(move |tx| {
            tx.execute(
                "INSERT INTO soniox_jobs
                     (reference, request, stage, recorded_at, next_check_at, updated_at)
                 VALUES (?1, ?2, 'submitting', ?3, ?4, ?3)",
                rusqlite::params![reference, request, now, check_at],
            )
            .map(drop)
        })
        .await
    }

    /// Forgets a job whose create request the API refused outright.
    pub(crate) async fn forget(&self, reference: &str) -> Result<(), StoreError> {
        let reference = reference.to_owned();
        self.run(move |tx| {
            tx.execute(
                "DELETE FROM soniox_jobs WHERE reference = ?1 AND stage = 'submitting'",
                [reference],
            )
            .map(drop)
        })
        .await
    }

    /// The API accepted the job as `id` at `at`: await its webhook until `next_poll`.
    pub(crate) async fn submitted(
        &self,
        reference: &str,
        id: &TranscriptionId,
        at: OffsetDateTime,
        next_poll: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (reference, id) = (reference.to_owned(), id.as_str().to_owned());
        let (at, next_poll) = (millis(at), millis(next_poll));
        self.run(move |tx| {
            tx.execute(
                "UPDATE soniox_jobs
                 SET transcription_id = ?2, stage = 'submitted', submitted_at = ?3, polls = 0,
                     next_check_at = ?4, updated_at = ?3
                 WHERE reference = ?1 AND stage = 'submitting'",
                rusqlite::params![reference, id, at, next_poll],
            )
            .map(drop)
        })
        .await
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
        let (id, status) = (id.as_str().to_owned(), status.as_str().to_owned());
        let (now, retry_at) = (millis(now), millis(retry_at));
        self.run(move |tx| {
            tx.execute(
                "UPDATE soniox_jobs
                 SET stage = 'finished', status = ?2, next_check_at = ?4, updated_at = ?3
                 WHERE transcription_id = ?1 AND stage IN ('submitted', 'finished')",
                rusqlite::params![id, status, now, retry_at],
            )
            .map(drop)
        })
        .await
    }

    /// The job's handler succeeded. Nothing for an untracked id.
    pub(crate) async fn done(
        &self,
        id: &TranscriptionId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let id = id.clone();
        self.run(move |tx| done_in(tx, &id, now)).await
    }

    /// Runs `effect`, records the job as handled and its event as done, in one transaction:
    /// all three commit together, exactly once, or none does.
    pub(crate) async fn done_with(
        &self,
        event: soniox_types::WebhookEvent,
        now: OffsetDateTime,
        effect: crate::handler::Effect,
    ) -> Result<(), StoreError> {
        self.run(move |tx| {
            effect(tx)?;
            done_in(tx, &event.id, now)?;
            SqliteStore::complete_in(tx, &event)
        })
        .await
    }

    /// The API no longer has the job.
    pub(crate) async fn lost(
        &self,
        reference: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (reference, now) = (reference.to_owned(), millis(now));
        self.run(move |tx| {
            tx.execute(
                "UPDATE soniox_jobs SET stage = 'lost', next_check_at = NULL, updated_at = ?2
                 WHERE reference = ?1",
                rusqlite::params![reference, now],
            )
            .map(drop)
        })
        .await
    }

    /// Looks at the job again at `at`; with `polled`, one more poll is counted.
    pub(crate) async fn reschedule(
        &self,
        reference: &str,
        at: OffsetDateTime,
        polled: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (reference, at, now) = (reference.to_owned(), millis(at), millis(now));
        self.run(move |tx| {
            tx.execute(
                "UPDATE soniox_jobs SET next_check_at = ?2, polls = polls + ?3, updated_at = ?4
                 WHERE reference = ?1 AND next_check_at IS NOT NULL",
                rusqlite::params![reference, at, i64::from(polled), now],
            )
            .map(drop)
        })
        .await
    }

    /// Takes up to `limit` jobs due at `now`, oldest due first, and pushes their next look to
    /// `now + hold`, so another reconciler on the same database leaves them alone meanwhile.
    /// Each comes back as it was before the push, so the reconciler sees it as due.
    pub(crate) async fn claim_due(
        &self,
        now: OffsetDateTime,
        hold: std::time::Duration,
        limit: usize,
    ) -> Result<Vec<DueJob>, StoreError> {
        let held_until = millis(now + hold);
        let now = millis(now);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |tx| {
            let due = {
                let mut select = tx.prepare_cached(
                    "SELECT reference, transcription_id, request, stage, status, recorded_at,
                            submitted_at, polls, next_check_at
                     FROM soniox_jobs
                     WHERE next_check_at IS NOT NULL AND next_check_at <= ?1
                     ORDER BY next_check_at LIMIT ?2",
                )?;
                select
                    .query_map(rusqlite::params![now, limit], row_to_job)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut hold = tx
                .prepare_cached("UPDATE soniox_jobs SET next_check_at = ?2 WHERE reference = ?1")?;
            for job in &due {
                hold.execute(rusqlite::params![job.job.reference, held_until])?;
            }
            Ok(due)
        })
        .await
    }

    /// How many jobs still need work, and how many of them are due at `now`.
    pub(crate) async fn pending(&self, now: OffsetDateTime) -> Result<Pending, StoreError> {
        let now = millis(now);
        self.run(move |tx| {
            tx.query_row(
                "SELECT
                     COALESCE(SUM(stage = 'submitting'), 0),
                     COALESCE(SUM(stage = 'submitted'), 0),
                     COALESCE(SUM(stage = 'finished'), 0),
                     COALESCE(SUM(next_check_at <= ?1), 0)
                 FROM soniox_jobs WHERE next_check_at IS NOT NULL",
                [now],
                |row| {
                    let count = |index| {
                        row.get::<_, i64>(index)
                            .map(|n| u64::try_from(n).unwrap_or(0))
                    };
                    Ok(Pending {
                        submitting: count(0)?,
                        submitted: count(1)?,
                        finished: count(2)?,
                        overdue: count(3)?,
                    })
                },
            )
        })
        .await
    }
}

fn done_in(
    tx: &rusqlite::Transaction<'_>,
    id: &TranscriptionId,
    now: OffsetDateTime,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE soniox_jobs SET stage = 'done', next_check_at = NULL, updated_at = ?2
         WHERE transcription_id = ?1",
        rusqlite::params![id.as_str(), millis(now)],
    )
    .map(drop)
}

fn row_to_job(row: &rusqlite::Row<'_>) -> rusqlite::Result<DueJob> {
    let reference: String = row.get(0)?;
    let id: Option<String> = row.get(1)?;
    let request: String = row.get(2)?;
    let stage: String = row.get(3)?;
    let status: Option<String> = row.get(4)?;
    let recorded_at = instant(row.get(5)?);
    let submitted_at: Option<i64> = row.get(6)?;
    let polls = u32::try_from(row.get::<_, i64>(7)?).unwrap_or(u32::MAX);
    let next_check = instant(row.get(8)?);
    let stage = match (stage.as_str(), id) {
        ("submitted", Some(id)) => Stage::Submitted {
            id: TranscriptionId::new(id),
            at: submitted_at.map_or(recorded_at, instant),
            polls,
            next_poll: next_check,
        },
        ("finished", Some(id)) => Stage::Finished {
            id: TranscriptionId::new(id),
            status: status
                .as_deref()
                .unwrap_or("completed")
                .parse()
                .unwrap_or(TranscriptionStatus::Completed),
            retry_at: next_check,
        },
        ("done" | "lost", _) => Stage::Done,
        _ => Stage::Submitting,
    };
    Ok(DueJob {
        job: TrackedJob {
            reference,
            recorded_at,
            stage,
        },
        request,
    })
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
