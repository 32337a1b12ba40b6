//! The job table in PostgreSQL, shared by every replica. The writes every job makes (its
//! record, its acceptance, its completion) are batched: each kind queues to a task of its own,
//! which runs everything queued at that moment as one multi-row statement, so that concurrent
//! jobs share a commit on the server instead of paying one each. Other statements run on a
//! pooled connection of their own; a handler's effect runs in [`PostgresStore::transact`].

use std::sync::{Arc, LazyLock};

use tokio::sync::{mpsc, oneshot};

use soniox_store::{
    PostgresStore, StoreError,
    deadpool_postgres::{
        Client,
        tokio_postgres::{Error as PostgresError, types::ToSql},
    },
};
use soniox_types::WebhookEvent;

use super::{
    COLUMNS, COMPONENT, DONE, DueJob, MIGRATIONS, PENDING, Params, RECORD, Row, SUBMITTED, bind,
    read_row,
};
use crate::handler::PostgresEffect;

#[derive(Debug, Clone)]
pub(crate) struct PostgresJobs {
    db: Arc<PostgresStore>,
    batches: Arc<Batches>,
}

/// One batching task per batched statement.
#[derive(Debug)]
struct Batches {
    record: Batcher,
    submitted: Batcher,
    done: Batcher,
}

impl PostgresJobs {
    pub(super) async fn open(db: &Arc<PostgresStore>) -> Result<Self, StoreError> {
        db.migrate_component(COMPONENT, MIGRATIONS).await?;
        let batches = Batches {
            record: Batcher::spawn(db, RECORD_MANY),
            submitted: Batcher::spawn(db, SUBMITTED_MANY),
            done: Batcher::spawn(db, DONE_MANY),
        };
        Ok(Self {
            db: Arc::clone(db),
            batches: Arc::new(batches),
        })
    }

    /// Runs one of the statements every job makes, batched with the same statement of
    /// concurrent jobs; any other statement alone.
    pub(super) async fn write(&self, sql: &'static str, params: Params) -> Result<(), StoreError> {
        let batcher = match sql {
            RECORD => &self.batches.record,
            SUBMITTED => &self.batches.submitted,
            DONE => &self.batches.done,
            _ => return self.execute(sql, params).await.map(drop),
        };
        batcher.run(params).await
    }

    async fn client(&self) -> Result<Client, StoreError> {
        self.db.pool().get().await.map_err(StoreError::unavailable)
    }

    /// Runs one statement; how many rows it changed.
    pub(super) async fn execute(
        &self,
        sql: &'static str,
        params: Params,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(StoreError::unavailable)?;
        client
            .execute(&statement, &values(&params))
            .await
            .map_err(StoreError::unavailable)
    }

    pub(super) async fn done_with(
        &self,
        event: WebhookEvent,
        now: i64,
        effect: Option<PostgresEffect>,
    ) -> Result<(), StoreError> {
        let done = Params::TextAt(event.id.as_str().to_owned(), now);
        self.db
            .transact(move |tx| {
                Box::pin(async move {
                    if let Some(effect) = effect {
                        effect(tx).await?;
                    }
                    tx.execute(DONE, &values(&done)).await?;
                    PostgresStore::complete_in(tx, &event).await
                })
            })
            .await?
            .map_err(StoreError::unavailable)
    }

    pub(super) async fn claim_due(
        &self,
        now: i64,
        held_until: i64,
        limit: i64,
        claim: i64,
    ) -> Result<Vec<DueJob>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(CLAIM_DUE.as_str(), &[&now, &limit, &held_until, &claim])
            .await
            .map_err(StoreError::unavailable)?;
        rows.iter()
            .map(|row| Ok(read_row!(row, try_get).into_due()))
            .collect::<Result<_, PostgresError>>()
            .map_err(StoreError::unavailable)
    }

    /// The text in the first column of the first row `sql` returns, if any.
    pub(super) async fn text(
        &self,
        sql: &'static str,
        params: Params,
    ) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(sql, &values(&params))
            .await
            .map_err(StoreError::unavailable)?;
        row.map(|row| row.try_get(0))
            .transpose()
            .map_err(StoreError::unavailable)
    }

    pub(super) async fn pending(&self, now: i64) -> Result<[i64; 4], StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(PENDING, &[&now])
            .await
            .map_err(StoreError::unavailable)?;
        let mut counts = [0; 4];
        for (index, count) in counts.iter_mut().enumerate() {
            *count = row.try_get(index).map_err(StoreError::unavailable)?;
        }
        Ok(counts)
    }
}

/// Takes the due jobs: rows another replica is claiming are skipped, not waited for; each
/// comes back as it was before the update (`due`'s columns, not the updated row's).
static CLAIM_DUE: LazyLock<String> = LazyLock::new(|| {
    let returning = COLUMNS
        .split(", ")
        .map(|column| format!("due.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH due AS (
             SELECT {COLUMNS} FROM soniox_jobs
             WHERE next_check_at IS NOT NULL AND next_check_at <= $1
             ORDER BY next_check_at LIMIT $2
             FOR UPDATE SKIP LOCKED)
         UPDATE soniox_jobs AS j SET next_check_at = $3, claim = $4
         FROM due WHERE j.reference = due.reference
         RETURNING {returning}"
    )
});

fn values(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    bind!(params => &(dyn ToSql + Sync))
}

/// The most rows one batched statement carries.
const MAX_BATCH: usize = 256;

/// [`RECORD`] for many jobs: references, requests, recording times, first checks.
const RECORD_MANY: &str = "
    INSERT INTO soniox_jobs (reference, request, stage, recorded_at, next_check_at, updated_at)
    SELECT r.reference, r.request, 'submitting', r.recorded_at, r.check_at, r.recorded_at
    FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[])
        AS r(reference, request, recorded_at, check_at)";

/// [`SUBMITTED`] for many jobs: references, ids, acceptance times, first polls.
const SUBMITTED_MANY: &str = "
    UPDATE soniox_jobs AS j
    SET transcription_id = s.id, stage = 'submitted', submitted_at = s.at, polls = 0,
        next_check_at = s.next_poll, updated_at = s.at
    FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS s(reference, id, at, next_poll)
    WHERE j.reference = s.reference AND j.stage = 'submitting'";

/// [`DONE`] for many jobs: ids, times.
const DONE_MANY: &str = "
    UPDATE soniox_jobs AS j SET stage = 'done', next_check_at = NULL, updated_at = d.at
    FROM UNNEST($1::text[], $2::bigint[]) AS d(id, at)
    WHERE j.transcription_id = d.id";

/// A queued write and where its outcome goes.
type Queued = (Params, oneshot::Sender<Result<(), String>>);

/// Queues writes of one statement to a task that runs them in batches.
#[derive(Debug)]
struct Batcher(mpsc::UnboundedSender<Queued>);

impl Batcher {
    /// The task runs until every [`PostgresJobs`] holding this is dropped.
    fn spawn(db: &Arc<PostgresStore>, sql: &'static str) -> Self {
        let (queue, mut queued) = mpsc::unbounded_channel::<Queued>();
        let db = Arc::clone(db);
        tokio::spawn(async move {
            while let Some(first) = queued.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queued.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (params, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let outcome = run_batch(&db, sql, &params).await.map_err(|error| {
                    // The driver's error, which never holds the connection's secrets.
                    format!("a batched job write failed: {error}")
                });
                for reply in replies {
                    let _ = reply.send(outcome.clone());
                }
            }
        });
        Self(queue)
    }

    /// Queues `params` and waits for its batch. Once queued, the write happens even if the
    /// caller stops waiting.
    async fn run(&self, params: Params) -> Result<(), StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.0
            .send((params, reply))
            .map_err(|_| StoreError::Closed)?;
        match outcome.await {
            Ok(outcome) => outcome.map_err(StoreError::unavailable),
            Err(_) => Err(StoreError::Closed),
        }
    }
}

/// Runs `sql` once for every row of `batch`, as arrays of its columns.
async fn run_batch(
    db: &PostgresStore,
    sql: &'static str,
    batch: &[Params],
) -> Result<(), StoreError> {
    let (mut texts, mut more_texts, mut numbers, mut more_numbers) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for params in batch {
        match params {
            Params::Record(a, b, c, d) | Params::Submitted(a, b, c, d) => {
                texts.push(a.as_str());
                more_texts.push(b.as_str());
                numbers.push(*c);
                more_numbers.push(*d);
            }
            Params::TextAt(a, b) => {
                texts.push(a.as_str());
                numbers.push(*b);
            }
            other => {
                return Err(StoreError::unavailable(format!(
                    "no batched statement takes {other:?}"
                )));
            }
        }
    }
    let client = db.pool().get().await.map_err(StoreError::unavailable)?;
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(StoreError::unavailable)?;
    let values: Vec<&(dyn ToSql + Sync)> = if more_texts.is_empty() {
        vec![&texts, &numbers]
    } else {
        vec![&texts, &more_texts, &numbers, &more_numbers]
    };
    client
        .execute(&statement, &values)
        .await
        .map(drop)
        .map_err(StoreError::unavailable)
}
