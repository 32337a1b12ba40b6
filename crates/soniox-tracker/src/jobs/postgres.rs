//! The job table in PostgreSQL, shared by every replica. The writes every job makes (its
//! record, its acceptance, its completion) are batched: they queue, as typed [`JobWrite`]s, to
//! one task, which runs everything queued at that moment as one statement (a multi-row
//! statement per kind of write, joined as one), so that concurrent jobs share one round trip
//! and one commit on the server instead of paying one each. Other statements run on a pooled
//! connection of their own; a handler's effect runs in [`PostgresStore::transact`].

use std::sync::{Arc, LazyLock};

use tokio::sync::{mpsc, oneshot};

use soniox_store::{
    PostgresStore, StoreError,
    deadpool_postgres::{
        Client,
        tokio_postgres::{
            Error as PostgresError,
            types::{ToSql, Type},
        },
    },
};
use soniox_types::WebhookEvent;

use super::{
    COLUMNS, COMPONENT, DONE, DueJob, JobWrite, MIGRATIONS, PENDING, Params, Row, bind, read_row,
};
use crate::handler::PostgresEffect;

#[derive(Debug, Clone)]
pub(crate) struct PostgresJobs {
    db: Arc<PostgresStore>,
    writes: Arc<Batcher>,
}

impl PostgresJobs {
    pub(super) async fn open(db: &Arc<PostgresStore>) -> Result<Self, StoreError> {
        db.migrate_component(COMPONENT, MIGRATIONS).await?;
        Ok(Self {
            db: Arc::clone(db),
            writes: Arc::new(Batcher::spawn(db)),
        })
    }

    /// Makes one of the writes every job makes, batched with those of concurrent jobs.
    pub(super) async fn write(&self, write: JobWrite) -> Result<(), StoreError> {
        self.writes.run(write).await
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
        execute(&self.db, sql, &params).await
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
        // Prepared once per connection: an ad hoc statement costs a second round trip and a
        // parse on the server every time.
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(StoreError::unavailable)?;
        let row = client
            .query_opt(&statement, &values(&params))
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

/// Runs `sql` on a pooled connection; how many rows it changed.
async fn execute(
    db: &PostgresStore,
    sql: &'static str,
    params: &Params,
) -> Result<u64, StoreError> {
    let client = db.pool().get().await.map_err(StoreError::unavailable)?;
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(StoreError::unavailable)?;
    client
        .execute(&statement, &values(params))
        .await
        .map_err(StoreError::unavailable)
}

/// The most writes one batch carries.
const MAX_BATCH: usize = 256;

/// Every [`JobWrite`] of a batch as one statement, each kind a multi-row statement over the
/// arrays of its columns, so that the batch is one round trip and one commit. Records:
/// references, requests, recording times, first checks; acceptances: references, ids, times,
/// first polls; completions: ids, times. An empty array costs a kind nothing.
///
/// The updates look their rows up by key twice: joined to the arrays for the values, and
/// `= ANY` of the keys, which is what lets the planner see that an index scan is cheap. Joined
/// alone, a few dozen keys against a few thousand rows cost less, by the planner's reckoning,
/// as a hash join over the whole table, and each batch read all of it (1.4 ms at 4,000 jobs,
/// against 0.4 ms through the index, on this machine). The statement is unnamed, planned for
/// each batch with the table and the arrays as they are: a prepared statement's generic plan,
/// made once on its sixth run, knows neither the arrays' lengths nor how large the table has
/// grown since (in a new database, a few pages), and scans the table even with `= ANY`.
///
/// The parts see the same snapshot, not each other's writes; no two of them touch the same
/// job, bar a webhook that overtook its job's acceptance: its completion then finds no job
/// under its id, as it would have run first alone, and the reconciler settles the job.
const WRITE_MANY: &str = "
    WITH recorded AS (
        INSERT INTO soniox_jobs
            (reference, request, stage, recorded_at, next_check_at, updated_at)
        SELECT r.reference, r.request, 'submitting', r.recorded_at, r.check_at, r.recorded_at
        FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[])
            AS r(reference, request, recorded_at, check_at)
    ), submitted AS (
        UPDATE soniox_jobs AS j
        SET transcription_id = s.id, stage = 'submitted', submitted_at = s.at, polls = 0,
            next_check_at = s.next_poll, updated_at = s.at
        FROM UNNEST($5::text[], $6::text[], $7::bigint[], $8::bigint[])
            AS s(reference, id, at, next_poll)
        WHERE j.reference = s.reference AND j.stage = 'submitting'
          AND j.reference = ANY($5)
    )
    UPDATE soniox_jobs AS j SET stage = 'done', next_check_at = NULL, updated_at = d.at
    FROM UNNEST($9::text[], $10::bigint[]) AS d(id, at)
    WHERE j.transcription_id = d.id AND j.transcription_id = ANY($9)";

/// A queued write and where its outcome goes.
type Queued = (JobWrite, oneshot::Sender<Result<(), StoreError>>);

/// Queues the writes to a task that runs them in batches.
#[derive(Debug)]
struct Batcher(mpsc::UnboundedSender<Queued>);

impl Batcher {
    /// The task runs until every [`PostgresJobs`] holding this is dropped.
    fn spawn(db: &Arc<PostgresStore>) -> Self {
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
                run_batch(&db, batch).await;
            }
        });
        Self(queue)
    }

    /// Queues `write` and waits for its batch. Once queued, the write happens even if the
    /// caller stops waiting.
    async fn run(&self, write: JobWrite) -> Result<(), StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.0
            .send((write, reply))
            .map_err(|_| StoreError::Closed)?;
        outcome.await.unwrap_or(Err(StoreError::Closed))
    }
}

/// Runs `batch` as one statement and answers its callers. When the server refuses it (one
/// write breaks a constraint, a deadlock with another replica), nothing was written, and each
/// write runs alone, so that every caller gets its own answer.
async fn run_batch(db: &PostgresStore, batch: Vec<Queued>) {
    let outcome = write_many(db, &batch).await;
    match outcome {
        Ok(()) => {
            for (_, reply) in batch {
                let _ = reply.send(Ok(()));
            }
        }
        Err(Failure::Refused(_)) if batch.len() > 1 => {
            for (write, reply) in batch {
                let (sql, params) = write.alone();
                let _ = reply.send(execute(db, sql, &params).await.map(drop));
            }
        }
        Err(Failure::Refused(error)) => answer_all(batch, &error),
        Err(Failure::Unavailable(error)) => answer_all(batch, &error),
    }
}

/// Answers every write of `batch` with `error`.
fn answer_all(batch: Vec<Queued>, error: &dyn std::fmt::Display) {
    // The driver's or the pool's message, which never holds the connection's secrets.
    let message = format!("a batched job write failed: {error}");
    for (_, reply) in batch {
        let _ = reply.send(Err(StoreError::unavailable(message.clone())));
    }
}

/// Why a batch was not written.
enum Failure {
    /// The server refused the statement, which wrote nothing; the connection lives.
    Refused(PostgresError),
    /// No connection, or it broke.
    Unavailable(StoreError),
}

/// Runs [`WRITE_MANY`] for `batch`.
async fn write_many(db: &PostgresStore, batch: &[Queued]) -> Result<(), Failure> {
    let mut columns = Columns::default();
    for (write, _) in batch {
        columns.push(write);
    }
    let client = db
        .pool()
        .get()
        .await
        .map_err(|error| Failure::Unavailable(StoreError::unavailable(error)))?;
    let Columns {
        record: Texts2Times2(references, requests, recorded_at, check_at),
        submitted: Texts2Times2(submitted, ids, at, next_poll),
        done: (done, done_at),
    } = &columns;
    let (texts, times) = (Type::TEXT_ARRAY, Type::INT8_ARRAY);
    let values: [(&(dyn ToSql + Sync), Type); 10] = [
        (references, texts.clone()),
        (requests, texts.clone()),
        (recorded_at, times.clone()),
        (check_at, times.clone()),
        (submitted, texts.clone()),
        (ids, texts.clone()),
        (at, times.clone()),
        (next_poll, times.clone()),
        (done, texts),
        (done_at, times),
    ];
    // Unnamed, not prepared: planned for this batch (see `WRITE_MANY`), in one round trip.
    client
        .execute_typed(WRITE_MANY, &values)
        .await
        .map(drop)
        .map_err(refused)
}

/// A statement's error: refused by the server, or a connection that failed.
fn refused(error: PostgresError) -> Failure {
    if error.as_db_error().is_some() {
        Failure::Refused(error)
    } else {
        Failure::Unavailable(StoreError::unavailable(error))
    }
}

/// A batch's writes as the arrays of [`WRITE_MANY`]'s columns.
#[derive(Default)]
struct Columns<'a> {
    record: Texts2Times2<'a>,
    submitted: Texts2Times2<'a>,
    done: (Vec<&'a str>, Vec<i64>),
}

/// Two text columns and two instants: the shape of records and of acceptances.
#[derive(Default)]
struct Texts2Times2<'a>(Vec<&'a str>, Vec<&'a str>, Vec<i64>, Vec<i64>);

impl<'a> Texts2Times2<'a> {
    fn push(&mut self, texts: (&'a str, &'a str), times: (i64, i64)) {
        self.0.push(texts.0);
        self.1.push(texts.1);
        self.2.push(times.0);
        self.3.push(times.1);
    }
}

impl<'a> Columns<'a> {
    fn push(&mut self, write: &'a JobWrite) {
        match write {
            JobWrite::Record(reference, request, at, check_at) => {
                self.record.push((reference, request), (*at, *check_at));
            }
            JobWrite::Submitted(reference, id, at, next_poll) => {
                self.submitted.push((reference, id), (*at, *next_poll));
            }
            JobWrite::Done(id, at) => {
                self.done.0.push(id);
                self.done.1.push(*at);
            }
        }
    }
}
