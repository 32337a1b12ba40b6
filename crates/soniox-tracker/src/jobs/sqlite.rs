//! The job table in SQLite, written through [`SqliteStore::transact`] so that each change
//! commits with the store's group commit.

use std::sync::Arc;

use soniox_store::{
    SqliteStore, StoreError,
    rusqlite::{self, ToSql, Transaction},
};

use super::{
    COLUMNS, COMPONENT, Completion, DueJob, JobWrite, MIGRATIONS, PENDING, Params, Row, Unfinished,
    bind, read_row,
};
use crate::handler::SqliteEffect;

#[derive(Debug, Clone)]
pub(crate) struct SqliteJobs {
    db: Arc<SqliteStore>,
}

impl SqliteJobs {
    pub(super) async fn open(db: &Arc<SqliteStore>) -> Result<Self, StoreError> {
        db.migrate_component(COMPONENT, MIGRATIONS).await?;
        Ok(Self { db: Arc::clone(db) })
    }

    /// Runs `f` in the store's transaction; an SQL error of ours is the store's failure.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.db.transact(f).await?.map_err(StoreError::unavailable)
    }

    /// Makes one of the writes every job makes (as any other: the writer batches them).
    pub(super) async fn write(&self, write: JobWrite) -> Result<(), StoreError> {
        let (sql, params) = write.alone();
        self.execute(sql, params).await.map(drop)
    }

    /// Runs one statement; how many rows it changed.
    pub(super) async fn execute(
        &self,
        sql: &'static str,
        params: Params,
    ) -> Result<u64, StoreError> {
        self.run(move |tx| execute(tx, sql, &params)).await
    }

    /// Runs `effect`, `done` (the statement recording the job done) and the event's
    /// completion in one transaction; see [`Jobs::done_with`](super::Jobs::done_with).
    pub(super) async fn done_with(
        &self,
        completion: Completion,
        done: (&'static str, Params),
        effect: Option<SqliteEffect>,
    ) -> Result<bool, StoreError> {
        let (done, params) = done;
        let ran = self.db.transact(move |tx| {
            if let Some(effect) = effect {
                effect(tx)?;
            }
            let found = execute(tx, done, &params)?;
            let Completion { event, claim } = &completion;
            match claim {
                Some(token) => {
                    if !SqliteStore::complete_claimed_in(tx, event, *token)? {
                        // An error, so that the writes above roll back.
                        return Err(Unfinished::ClaimLost);
                    }
                }
                None => SqliteStore::complete_in(tx, event)?,
            }
            Ok(found > 0)
        });
        ran.await?
            .map_err(|unfinished| unfinished.into_store_error(StoreError::unavailable))
    }

    pub(super) async fn claim_due(
        &self,
        now: i64,
        held_until: i64,
        limit: i64,
        claim: i64,
    ) -> Result<Vec<DueJob>, StoreError> {
        self.run(move |tx| {
            // The one writer runs this whole transaction alone: no other claim can interleave.
            let due = {
                let mut select = tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM soniox_jobs
                     WHERE next_check_at IS NOT NULL AND next_check_at <= ?1
                     ORDER BY next_check_at LIMIT ?2"
                ))?;
                select
                    .query_map(rusqlite::params![now, limit], read_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut hold = tx.prepare_cached(
                "UPDATE soniox_jobs SET next_check_at = ?2, claim = ?3 WHERE reference = ?1",
            )?;
            for job in &due {
                hold.execute(rusqlite::params![job.job.reference, held_until, claim])?;
            }
            Ok(due)
        })
        .await
    }

    /// The text in the first column of the first row `sql` returns, if any.
    pub(super) async fn text(
        &self,
        sql: &'static str,
        params: Params,
    ) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension as _;
        self.run(move |tx| {
            let values = bind!(&params => &dyn ToSql);
            tx.prepare_cached(&positional(sql))?
                .query_row(values.as_slice(), |row| row.get(0))
                .optional()
        })
        .await
    }

    pub(super) async fn pending(&self, now: i64) -> Result<[i64; 4], StoreError> {
        self.run(move |tx| {
            tx.prepare_cached(&positional(PENDING))?
                .query_row([now], |row| {
                    Ok([row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?])
                })
        })
        .await
    }
}

fn execute(tx: &Transaction<'_>, sql: &str, params: &Params) -> rusqlite::Result<u64> {
    let values = bind!(params => &dyn ToSql);
    tx.prepare_cached(&positional(sql))?
        .execute(values.as_slice())
        .map(|changed| u64::try_from(changed).unwrap_or(u64::MAX))
}

/// `sql` with PostgreSQL's `$n` parameters written as SQLite's `?n`.
fn positional(sql: &str) -> String {
    sql.replace('$', "?")
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DueJob> {
    Ok(read_row!(row, get).into_due())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database (in the directory returned with it) the tracker left at `version`.
    async fn store_at(version: usize) -> (tempfile::TempDir, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Arc::new(
            SqliteStore::open(dir.path().join("jobs.db"))
                .await
                .expect("open"),
        );
        store
            .migrate_component(COMPONENT, &MIGRATIONS[..version])
            .await
            .expect("the version");
        (dir, store)
    }

    #[tokio::test]
    async fn the_rebuilt_table_keeps_every_job_and_still_checks_the_stage() {
        // A database the tracker left at version 2, with a job in it.
        let (_dir, store) = store_at(2).await;
        let insert = "INSERT INTO soniox_jobs (reference, transcription_id, request, stage, \
                      recorded_at, next_check_at, updated_at, claim)
                      VALUES (?1, ?2, '{}', ?3, 1, 2, 1, 7)";
        store
            .transact(move |tx| tx.execute(insert, ["ref-1", "tr-1", "submitted"]))
            .await
            .expect("the writer")
            .expect("a job at version 2");

        let jobs = SqliteJobs::open(&store).await.expect("migrated");
        let due = jobs.claim_due(2, 3, 10, 8).await.expect("claimed");
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].job.reference, "ref-1");
        let wrong = store
            .transact(move |tx| tx.execute(insert, ["ref-2", "tr-2", "forgotten"]))
            .await
            .expect("the writer");
        assert!(wrong.is_err(), "an unknown stage is refused: {wrong:?}");
        let right = store
            .transact(move |tx| tx.execute(insert, ["ref-2", "tr-2", "lost"]))
            .await
            .expect("the writer");
        assert_eq!(right.ok(), Some(1), "a known stage is taken");
    }

    #[tokio::test]
    async fn a_database_at_version_3_migrates_and_records_owed_cleanups() {
        let (_dir, store) = store_at(3).await;
        store
            .transact(|tx| tx.execute_batch(crate::jobs::tests::VERSION_3_JOBS))
            .await
            .expect("the writer")
            .expect("jobs at version 3");

        let jobs = SqliteJobs::open(&store).await.expect("migrated");
        crate::jobs::tests::check_migrated(&crate::jobs::Jobs::Sqlite(jobs)).await;
    }

    #[tokio::test]
    async fn a_handling_past_its_claim_cannot_record_the_job_done() {
        let (_dir, store) = store_at(MIGRATIONS.len()).await;
        let jobs = crate::jobs::Jobs::Sqlite(SqliteJobs::open(&store).await.expect("open"));
        crate::jobs::tests::check_fenced_completion(&jobs, &*store).await;
    }
}
