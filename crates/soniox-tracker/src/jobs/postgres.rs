//! The job table in PostgreSQL, shared by every replica. The writes every job makes (its
//! record, its acceptance, its completion with its event's) are batched: they queue, typed, to
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
            error::SqlState,
            types::{ToSql, Type},
        },
    },
    server_said,
};
use soniox_types::WebhookEvent;

use super::{
    COLUMNS, COMPONENT, Completion, DueJob, JobWrite, PENDING, POSTGRES_MIGRATIONS, Params, Row,
    Unfinished, bind, read_row,
};
use crate::handler::PostgresEffect;

#[derive(Debug, Clone)]
pub(crate) struct PostgresJobs {
    db: Arc<PostgresStore>,
    writes: Arc<Batcher>,
}

impl PostgresJobs {
    pub(super) async fn open(db: &Arc<PostgresStore>) -> Result<Self, StoreError> {
        db.migrate_component(COMPONENT, POSTGRES_MIGRATIONS).await?;
        Ok(Self {
            db: Arc::clone(db),
            writes: Arc::new(Batcher::spawn(db)),
        })
    }

    /// Makes one of the writes every job makes, batched with those of concurrent jobs.
    pub(super) async fn write(&self, write: JobWrite) -> Result<(), StoreError> {
        self.writes.run(Write::Job(write)).await
    }

    /// Records the job of `event` as done and the event as complete, in one transaction
    /// batched with the writes of concurrent jobs.
    pub(super) async fn handled(&self, event: &WebhookEvent, now: i64) -> Result<(), StoreError> {
        let (id, status) = (event.id.as_str(), event.status.as_str());
        let write = Write::Handled(id.to_owned(), status.to_owned(), now);
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

    /// Runs `effect`, `done` (the statement recording the job done) and the event's
    /// completion in one transaction; see [`Jobs::done_with`](super::Jobs::done_with).
    pub(super) async fn done_with(
        &self,
        completion: Completion,
        (done, params): (&'static str, Params),
        effect: Option<PostgresEffect>,
    ) -> Result<bool, StoreError> {
        self.db
            .transact(move |tx| {
                Box::pin(async move {
                    if let Some(effect) = effect {
                        effect(tx).await?;
                    }
                    let found = tx.execute(done, &values(&params)).await?;
                    let Completion { event, claim } = &completion;
                    match claim {
                        Some(token) => {
                            if !PostgresStore::complete_claimed_in(tx, event, *token).await? {
                                return Err(Unfinished::ClaimLost);
                            }
                        }
                        None => PostgresStore::complete_in(tx, event).await?,
                    }
                    Ok(found > 0)
                })
            })
            .await?
            .map_err(|unfinished| unfinished.into_store_error(statement_failed))
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
            .map_err(statement_failed)?;
        rows.iter()
            .map(|row| Ok(read_row!(row, try_get).into_due()))
            .collect::<Result<_, PostgresError>>()
            .map_err(statement_failed)
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
        let statement = client.prepare_cached(sql).await.map_err(statement_failed)?;
        let row = client
            .query_opt(&statement, &values(&params))
            .await
            .map_err(statement_failed)?;
        row.map(|row| row.try_get(0))
            .transpose()
            .map_err(statement_failed)
    }

    pub(super) async fn pending(&self, now: i64) -> Result<[i64; 4], StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(PENDING, &[&now])
            .await
            .map_err(statement_failed)?;
        let mut counts = [0; 4];
        for (index, count) in counts.iter_mut().enumerate() {
            *count = row.try_get(index).map_err(statement_failed)?;
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
    let statement = client.prepare_cached(sql).await.map_err(statement_failed)?;
    client
        .execute(&statement, &values(params))
        .await
        .map_err(statement_failed)
}

/// The most writes one batch carries.
const MAX_BATCH: usize = 256;

/// Every write of a batch as one statement, each kind a multi-row statement over the arrays
/// of its columns, so that the batch is one round trip and one commit. Records: references,
/// requests, recording times, first checks; acceptances: references, ids, times, first polls;
/// jobs done: ids, times; events done (the store's [`PostgresStore::completion_sql`]): ids,
/// statuses. An empty array costs a kind nothing.
///
/// A handling's end is a job done and its event's completion, in this one statement: they
/// commit together or not at all, and cost one commit, not one in each of two batches.
///
/// The updates look their rows up by key twice: joined to the arrays for the values, and
/// `= ANY` of the keys, which is what lets the planner see that an index scan is cheap. The
/// statement is prepared once per connection and runs with the table's sequential scans
/// disabled (see [`BEGIN`]): a generic plan, made once while the table is nearly empty,
/// would otherwise join the arrays to a scan of the table, and go on reading all of it in
/// every batch as it grows (1.4 ms at 4,000 jobs, against 0.4 ms through the index). Parsed
/// and planned anew for each batch instead, it took most of the sixth of the server's CPU
/// that went to parsing and planning.
///
/// The parts see the same snapshot, not each other's writes; no two of them touch the same
/// job, bar a webhook that overtook its job's acceptance: its job then is not found under its
/// id, as it would not have been had it run first alone, and the reconciler settles the job.
static WRITE_MANY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
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
    ), completed AS ({completed}
    )
    UPDATE soniox_jobs AS j SET stage = 'done', next_check_at = NULL, updated_at = d.at
    FROM UNNEST($9::text[], $10::bigint[]) AS d(id, at)
    WHERE j.transcription_id = d.id AND j.transcription_id = ANY($9)",
        completed = PostgresStore::completion_sql(11, 12)
    )
});

/// [`WRITE_MANY`]'s parameter types, in order.
const TYPES: [Type; 12] = [
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::INT8_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::INT8_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
];

/// Opens a batch's transaction: [`WRITE_MANY`]'s plans are made with sequential scans off,
/// for this transaction only (`SET LOCAL`), so that its lookups by key go through the indexes
/// whatever the table's size when the plan was made; the statement reads no table any other
/// way. The setting only prices sequential scans out, so a plan without an index would still
/// run.
const BEGIN: &str = "BEGIN; SET LOCAL enable_seqscan = off";

/// A write the batching task makes.
#[derive(Debug)]
enum Write {
    /// One of the writes every job makes.
    Job(JobWrite),
    /// A handling's end: the job of the event (id, status) done at the instant, and the event
    /// completed, in one transaction.
    Handled(String, String, i64),
}

impl Write {
    /// Makes this write in a statement of its own.
    async fn alone(self, db: &PostgresStore) -> Result<(), StoreError> {
        match self {
            Self::Job(write) => {
                let (sql, params) = write.alone();
                execute(db, sql, &params).await.map(drop)
            }
            handled @ Self::Handled(..) => write_many(db, [&handled])
                .await
                .map_err(Failure::into_error),
        }
    }
}

/// A queued write and where its outcome goes.
type Queued = (Write, oneshot::Sender<Result<(), StoreError>>);

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
    async fn run(&self, write: Write) -> Result<(), StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.0
            .send((write, reply))
            .map_err(|_| StoreError::Closed)?;
        outcome.await.unwrap_or(Err(StoreError::Closed))
    }
}

/// Runs `batch` as one statement and answers its callers. When the server refuses it (one
/// write breaks a constraint, a deadlock with another replica), nothing was written, and each
/// write runs alone, so that every caller gets its own answer. A batch of one write runs once
/// more only when the refusal was a deadlock or a serialization failure, which the other
/// transaction's end clears: a handling's end would otherwise wait for its event's lease.
async fn run_batch(db: &PostgresStore, batch: Vec<Queued>) {
    let outcome = write_many(db, batch.iter().map(|(write, _)| write)).await;
    match outcome {
        Ok(()) => {
            for (_, reply) in batch {
                let _ = reply.send(Ok(()));
            }
        }
        Err(Failure::Refused(error)) if batch.len() > 1 || lost_a_race(&error) => {
            if batch.len() == 1 {
                let error = server_said(&error);
                tracing::debug!(%error, "a job write lost a race; running it again");
            }
            for (write, reply) in batch {
                let _ = reply.send(write.alone(db).await);
            }
        }
        Err(failure) => {
            let error = failure.into_error();
            answer_all(batch, &error);
        }
    }
}

/// Whether the server refused a statement only for how it met another transaction (a
/// deadlock, a serialization failure), so that running it again can succeed.
fn lost_a_race(error: &PostgresError) -> bool {
    error.code().is_some_and(|code| {
        *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// A failed statement as its caller gets it: what the server said, without the detail that
/// may quote a row (see [`server_said`]).
#[expect(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn statement_failed(error: PostgresError) -> StoreError {
    StoreError::unavailable(server_said(&error))
}

/// Answers every write of `batch` with `error`.
fn answer_all(batch: Vec<Queued>, error: &StoreError) {
    // What went wrong is the error's source (what the server said, the driver's or the
    // pool's message), which never holds the connection's secrets; its own words only name
    // the kind.
    let cause =
        std::error::Error::source(error).map_or_else(|| error.to_string(), ToString::to_string);
    let message = format!("a batched job write failed: {cause}");
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

impl Failure {
    /// The error a caller whose write failed this way gets: for a refusal, what the server
    /// said.
    fn into_error(self) -> StoreError {
        match self {
            Self::Refused(error) => statement_failed(error),
            Self::Unavailable(error) => error,
        }
    }
}

/// Runs [`WRITE_MANY`] for `writes` in a transaction of its own, sent with its `BEGIN` and
/// `COMMIT` in one go: one round trip.
async fn write_many<'a>(
    db: &PostgresStore,
    writes: impl IntoIterator<Item = &'a Write>,
) -> Result<(), Failure> {
    let mut columns = Columns::default();
    for write in writes {
        columns.push(write);
    }
    columns.sort_events();
    let client = db
        .pool()
        .get()
        .await
        .map_err(|error| Failure::Unavailable(StoreError::unavailable(error)))?;
    let statement = client
        .prepare_typed_cached(&WRITE_MANY, &TYPES)
        .await
        .map_err(refused)?;
    let Columns {
        record: Texts2Times2(references, requests, recorded_at, check_at),
        submitted: Texts2Times2(submitted, ids, at, next_poll),
        done: (done, done_at),
        events: (event_ids, statuses),
    } = &columns;
    let values: [&(dyn ToSql + Sync); 12] = [
        references,
        requests,
        recorded_at,
        check_at,
        submitted,
        ids,
        at,
        next_poll,
        done,
        done_at,
        event_ids,
        statuses,
    ];
    // Each request goes out when its future is first polled, in this order (`biased`), before
    // any answer is awaited.
    let (began, wrote, committed) = tokio::join!(
        biased;
        client.batch_execute(BEGIN),
        client.execute(&statement, &values),
        client.batch_execute("COMMIT"),
    );
    // A transaction that failed is rolled back by its `COMMIT`, which then reports no
    // error: the statement's own error tells. Without a transaction (a failed `BEGIN`) the
    // statement committed alone, or not at all, and `COMMIT` only warns: either way the
    // statement and the `COMMIT` say what happened, and a batch that did commit must not
    // be rerun.
    if let Err(error) = began {
        // Either `BEGIN` failed (the statement ran alone) or `SET LOCAL` did, which aborts
        // the transaction and so refuses the statement: a server or proxy that forbids the
        // setting refuses every batch, which must not pass unseen.
        let error = server_said(&error);
        tracing::warn!(%error, "a job batch's BEGIN or SET LOCAL failed");
    }
    wrote.map_err(refused)?;
    committed.map_err(refused)
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
    /// Events completed: ids, statuses.
    events: (Vec<&'a str>, Vec<&'a str>),
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
    fn push(&mut self, write: &'a Write) {
        match write {
            Write::Job(JobWrite::Record(reference, request, at, check_at)) => {
                self.record.push((reference, request), (*at, *check_at));
            }
            Write::Job(JobWrite::Submitted(reference, id, at, next_poll)) => {
                self.submitted.push((reference, id), (*at, *next_poll));
            }
            Write::Job(JobWrite::Done(id, at)) => {
                self.done.0.push(id);
                self.done.1.push(*at);
            }
            Write::Handled(id, status, at) => {
                self.done.0.push(id);
                self.done.1.push(*at);
                self.events.0.push(id);
                self.events.1.push(status);
            }
        }
    }

    /// Puts the events in the order the store locks them in, each once: a completion
    /// cannot change one row twice in a statement, and two handlings of one event ending
    /// in the same batch (a lease that ran out) would otherwise fail it.
    fn sort_events(&mut self) {
        let (ids, statuses) = &mut self.events;
        let mut events: Vec<(&str, &str)> =
            ids.iter().copied().zip(statuses.iter().copied()).collect();
        events.sort_unstable();
        events.dedup();
        (*ids, *statuses) = events.into_iter().unzip();
    }
}

#[cfg(test)]
mod tests;
