//! [`PostgresStore`]: the event states in a PostgreSQL table that every replica shares.

use std::{
    collections::HashMap,
    fmt,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{Arc, LazyLock},
    time::Duration,
};

use deadpool_postgres::{
    Client, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Transaction,
    tokio_postgres::{self, IsolationLevel, NoTls, Row, Statement, error::SqlState, types::ToSql},
};
use futures_util::FutureExt as _;
use soniox_webhook::store::{Claim, ClaimToken, StoreError};
use tokio::sync::{Mutex, mpsc, watch};

use crate::{
    SCHEMA_VERSION,
    queue::{self, Job, Outcome, Queue, Writers},
    schema,
};

/// The webhook-events schema, one entry per version: entry `n` takes version `n` to `n + 1`.
/// Times are the database's; tokens are the claim token's 64 bits as a signed integer.
const MIGRATIONS: &[&str] = &[schema::create_events_table!("TIMESTAMPTZ", "")];

const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// The advisory lock every soniox component takes while migrating ("soniox" in ASCII), so
/// that replicas starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x736f_6e69_6f78;

/// How long a migration's statement waits for a table's lock unless the builder says
/// otherwise; see [`PostgresStoreBuilder::migration_lock_timeout`].
const MIGRATION_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// How many times a migration tries to lock its tables before it gives up.
const MIGRATION_ATTEMPTS: u32 = 20;

/// Every write of one round of a batch, as one statement (one round trip, one commit): the
/// claims, the completions and the releases, each kind a multi-row statement over the arrays
/// of its columns. A round holds each event once, so the parts, which see the same snapshot
/// and not each other's writes, never touch the same row. The arrays are sorted by key, and
/// the inserts take (and lock) rows in array order.
///
/// Claims take the new events, and those whose lease has run out, with the tokens given;
/// every claimed event comes back with its state, its token and its lease's remaining
/// milliseconds, so that a refused claim says why without a second statement: a claim whose
/// token came back holds the event (tokens are random 64-bit values, which releases already
/// tell apart). A refused claim leaves the row's values as they were; the update that keeps
/// them is what locks the row, so the answer is the row as it stays until commit.
/// Completions mark events done (`$5`, `$6`); releases drop the claims whose tokens they
/// hold (`$7` to `$9`). The release must cost nothing in a round without releases (nearly
/// every round): the prepared statement's plan, made once while the table may be nearly
/// empty, joined the array to a scan of the table, which read it up to its first claimed
/// event in every round, most of the table once most events are done (about 90 rows a job at
/// 4,000 jobs). `cardinality` gates the part off when the array is empty, whatever the plan,
/// and `= ANY`, repeating the join's key, lets the plan find released rows by the primary key.
static WRITE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
    WITH claimed AS (
        INSERT INTO soniox_webhook_events AS e
            (transcription_id, status, state, token, lease_until, updated_at)
        SELECT id, status, 'in_progress', token,
               clock_timestamp() + lease * interval '1 millisecond', clock_timestamp()
        FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
            AS j (id, status, token, lease)
        ON CONFLICT (transcription_id, status) DO UPDATE
        SET token = CASE WHEN e.state = 'in_progress' AND e.lease_until <= excluded.updated_at
                         THEN excluded.token ELSE e.token END,
            lease_until = CASE WHEN e.state = 'in_progress'
                                    AND e.lease_until <= excluded.updated_at
                               THEN excluded.lease_until ELSE e.lease_until END,
            updated_at = CASE WHEN e.state = 'in_progress' AND e.lease_until <= excluded.updated_at
                              THEN excluded.updated_at ELSE e.updated_at END
        RETURNING e.transcription_id, e.status, e.state, e.token,
            GREATEST(0, CEIL(EXTRACT(EPOCH FROM e.lease_until - clock_timestamp()) * 1000))::bigint
    ), completed AS ({completed}
    ), released AS (
        DELETE FROM soniox_webhook_events AS e
        USING unnest($7::text[], $8::text[], $9::bigint[]) AS j (id, status, token)
        WHERE e.transcription_id = j.id AND e.status = j.status
          AND e.state = 'in_progress' AND e.token = j.token
          AND e.transcription_id = ANY($7) AND cardinality($7) > 0
    )
    SELECT * FROM claimed",
        completed = PostgresStore::completion_sql(5, 6)
    )
});

const PRUNE: &str = "
    DELETE FROM soniox_webhook_events
    WHERE state = 'done'
      AND updated_at <= clock_timestamp() - $1::bigint * interval '1 millisecond'";

/// Writer tasks when none is configured; each holds a pooled connection only while it runs
/// a batch. Two, not more: every batch is a commit, which costs the server CPU, and fewer
/// writers make bigger batches (a tracker's job makes 0.20 write transactions with two, 0.30
/// with four); not one: a lone writer leaves the queue waiting through each batch's round
/// trip and commit, and in some rounds of the receiver bench that cost most of the
/// throughput (26 ms to answer a webhook instead of 3).
const DEFAULT_WRITERS: usize = 2;

/// An [`EventStore`](crate::EventStore) in PostgreSQL, for several replicas behind one
/// webhook URL.
///
/// Leases are measured by the database's clock, so the replicas' clocks do not matter.
/// Operations queue to a few writer tasks; each takes every operation queued at that moment
/// and runs them as one statement (a multi-row part per kind of operation; a second
/// statement only for a second operation on one event), a round trip and a commit shared by
/// them all, answering each caller once it has committed. Commits are as durable as the
/// server's settings make them (`synchronous_commit`, replication).
///
/// Dropping the store lets the writers finish the queued operations and exit in the
/// background; [`close`](Self::close) does the same and waits for them.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use soniox_store::PostgresStore;
///
/// let url = std::env::var("DATABASE_URL")?;
/// let store = PostgresStore::builder(&url).pool_size(8).connect().await?;
/// // Once a day: forget events completed more than a week ago.
/// let pruned = store.prune(std::time::Duration::from_secs(7 * 24 * 3600)).await?;
/// # Ok(())
/// # }
/// ```
pub struct PostgresStore {
    queue: Queue,
    pool: Pool,
    /// Whether [`close`](Self::close) closes the pool too: only a pool this store built.
    owns_pool: bool,
    /// How long a migration's statement waits for a table's lock before it gives way.
    migration_lock_timeout: Duration,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the pool itself: its manager holds the connection settings.
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

/// Options for [`PostgresStore`], from [`PostgresStore::builder`].
#[derive(Clone)]
#[must_use]
pub struct PostgresStoreBuilder {
    /// May hold a password: never shown, never part of an error.
    url: String,
    pool_size: usize,
    writers: usize,
    timeout: Duration,
    migration_lock_timeout: Duration,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStoreBuilder")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("writers", &self.writers)
            .field("timeout", &self.timeout)
            .field("migration_lock_timeout", &self.migration_lock_timeout)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or
    /// the `key=value` form) without TLS, with a pool of 8 connections, and brings the schema
    /// up to date.
    ///
    /// For TLS, build a [`Pool`] with a TLS connector and use [`from_pool`](Self::from_pool).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the URL is invalid (the message does not repeat it),
    /// the server cannot be reached within 5 seconds, or other transactions kept the
    /// store's tables locked through every attempt to migrate them (see
    /// [`migrate_component`](Self::migrate_component)), [`StoreError::SchemaTooNew`] when a
    /// newer version of this crate migrated the database, [`StoreError::Corrupt`] when the
    /// store's tables exist with another shape.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Options for connecting to the database at `url`.
    pub fn builder(url: &str) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            url: url.to_owned(),
            pool_size: 8,
            writers: DEFAULT_WRITERS,
            timeout: Duration::from_secs(5),
            migration_lock_timeout: MIGRATION_LOCK_TIMEOUT,
        }
    }

    /// A store on an existing pool (one with TLS, say, or shared with the rest of the
    /// application), with up to 2 writer tasks; brings the schema up to date.
    ///
    /// Give the pool wait and create timeouts: without them an unreachable server makes
    /// operations wait instead of failing with [`StoreError::Unavailable`]. Migrations wait
    /// for a lock 2 seconds at a time (the builder's default
    /// [migration lock timeout](PostgresStoreBuilder::migration_lock_timeout), which a store
    /// on a pool of your own cannot change).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), apart from the URL.
    pub async fn from_pool(pool: Pool) -> Result<Self, StoreError> {
        let writers = DEFAULT_WRITERS.min(pool.status().max_size);
        Self::start(pool, writers, false, MIGRATION_LOCK_TIMEOUT).await
    }

    async fn start(
        pool: Pool,
        writers: usize,
        owns_pool: bool,
        migration_lock_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let mut client = pool.get().await.map_err(pool_error)?;
        migrate(
            &mut client,
            schema::COMPONENT,
            MIGRATIONS,
            migration_lock_timeout,
        )
        .await?;
        drop(client);
        let (queue, Writers { jobs, alive }) = Queue::new();
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..writers.max(1) {
            tokio::spawn(write(pool.clone(), Arc::clone(&jobs), alive.clone()));
        }
        Ok(Self {
            queue,
            pool,
            owns_pool,
            migration_lock_timeout,
        })
    }

    /// The pool the store uses, to share it (the schema's other components live in the same
    /// database).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Deletes done events completed `older_than` or longer ago (by the database's clock) and
    /// returns how many it deleted. A pruned event is new again: if Soniox delivers it once
    /// more, it is handled again, so prune well past Soniox's retry window. Any replica may
    /// prune; running it on several at once is harmless.
    ///
    /// # Errors
    ///
    /// As for any operation: [`StoreError::Unavailable`] when the database cannot be reached,
    /// [`StoreError::Closed`] after [`close`](Self::close).
    pub async fn prune(&self, older_than: Duration) -> Result<u64, StoreError> {
        self.queue.prune(older_than).await
    }

    /// Runs `f` in a transaction of its own on a pooled connection: commits it when the
    /// future `f` returns ends in `Ok(t)`, and returns `Ok(Ok(t))` once committed; rolls it
    /// back and returns `Ok(Err(e))` when it ends in `Err(e)`.
    ///
    /// This is how another component keeping tables in the same database (a job tracker,
    /// say) makes its bookkeeping and a handler's own writes one atomic step. Bring those
    /// tables up to date first with [`migrate_component`](Self::migrate_component).
    ///
    /// The transaction is PostgreSQL's default (`READ COMMITTED` unless the server says
    /// otherwise); `f` may begin with `SET TRANSACTION ISOLATION LEVEL ...` for another. It
    /// may nest savepoints with [`Transaction::transaction`], and must not end the
    /// transaction itself. Unlike the event operations it is not batched, and it runs in
    /// the caller's task: dropping the returned future rolls it back. A panic in `f` or its
    /// future is caught, the transaction rolled back, and reported as
    /// [`StoreError::Unavailable`], as [`SqliteStore::transact`](crate::SqliteStore) does.
    ///
    /// A statement that fails aborts a PostgreSQL transaction: when `f` handles such an
    /// error and still returns `Ok`, nothing can commit, and `transact` rolls back and
    /// returns [`StoreError::Unavailable`] rather than a false `Ok`.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use soniox_store::PostgresStore;
    ///
    /// let store = PostgresStore::connect(&std::env::var("DATABASE_URL")?).await?;
    /// let written = store
    ///     .transact(|transaction| {
    ///         Box::pin(async move {
    ///             transaction
    ///                 .execute("INSERT INTO soniox_notes (text) VALUES ($1)", &[&"kept"])
    ///                 .await
    ///         })
    ///     })
    ///     .await??;
    /// assert_eq!(written, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// `Ok(Err(e))` when `f` returned `Err(e)`. [`StoreError::Unavailable`] when no
    /// connection could be had, the transaction could not begin or commit (a lost
    /// connection, a serialization failure, a deferred constraint), or `f` panicked;
    /// [`StoreError::Closed`] after [`close`](Self::close).
    pub async fn transact<T, E, F>(&self, f: F) -> Result<Result<T, E>, StoreError>
    where
        F: for<'t> FnOnce(
            &'t mut Transaction<'_>,
        ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 't>>,
    {
        let mut client = self.client().await?;
        let mut transaction = client.transaction().await.map_err(unavailable)?;
        // Whatever state a panic left the transaction in, it is rolled back below.
        let ran = AssertUnwindSafe(async { f(&mut transaction).await })
            .catch_unwind()
            .await;
        let failed = match ran {
            Ok(Ok(value)) => {
                // Fails in a transaction that a failed statement aborted, whose COMMIT
                // PostgreSQL would turn into a rollback without an error.
                match transaction.batch_execute("SELECT 1").await {
                    Ok(()) => {
                        transaction.commit().await.map_err(unavailable)?;
                        return Ok(Ok(value));
                    }
                    Err(error) if error.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {
                        StoreError::unavailable(
                            "a statement failed inside the transact closure, which returned \
                             Ok: rolled back",
                        )
                    }
                    Err(error) => unavailable(error),
                }
            }
            Ok(Err(error)) => {
                roll_back(transaction).await;
                return Ok(Err(error));
            }
            Err(panic) => queue::panicked(&*panic),
        };
        roll_back(transaction).await;
        Err(failed)
    }

    /// Records `event` as done inside `transaction`, as [`EventStore::complete`] does: for a
    /// caller in [`transact`](Self::transact) whose own writes must commit together with it,
    /// so that they happen exactly once with the event's completion.
    ///
    /// [`EventStore::complete`]: soniox_webhook::store::EventStore::complete
    ///
    /// # Errors
    ///
    /// PostgreSQL's error, should the statement fail.
    pub async fn complete_in(
        transaction: &Transaction<'_>,
        event: &soniox_types::WebhookEvent,
    ) -> Result<(), tokio_postgres::Error> {
        let mut round = Round::default();
        round
            .completes
            .push(0, event.id.as_str(), event.status.as_str());
        let statement = transaction.prepare_cached(&WRITE).await?;
        transaction
            .execute(&statement, &round.parameters())
            .await
            .map(drop)
    }

    /// Records `event` as done inside `transaction` only if `token` still holds its claim:
    /// `false`, changing nothing, once the claim's lease ran out and another handling took
    /// the event or completed it. For writes that must commit exactly once with the event's
    /// completion even should a handling outlive its lease: roll them back on `false`, and fail
    /// with [`StoreError::ClaimLost`]. [`complete_in`](Self::complete_in) records the event
    /// done whoever holds it.
    ///
    /// # Errors
    ///
    /// PostgreSQL's error, should the statement fail.
    pub async fn complete_claimed_in(
        transaction: &Transaction<'_>,
        event: &soniox_types::WebhookEvent,
        token: ClaimToken,
    ) -> Result<bool, tokio_postgres::Error> {
        let statement = transaction
            .prepare_cached(&queue::COMPLETE_CLAIMED.replace("$4", "clock_timestamp()"))
            .await?;
        let changed = transaction
            .execute(
                &statement,
                &[
                    &event.id.as_str(),
                    &event.status.as_str(),
                    &queue::token_column(token),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// The statement that records events as done, as [`EventStore::complete`] does, for a
    /// component that makes its own writes and completions in one statement: a round trip
    /// and a commit for both, and one atomic step. `ids` and `statuses` are the numbers of
    /// the statement's `text[]` parameters holding the events' ids and statuses, one event
    /// per index; the result is an `INSERT` to use as a part of a `WITH` (it returns no
    /// rows). Completing an event that is done already changes nothing.
    ///
    /// Give each event once, in the order of `(id, status)`: rows are locked in array order,
    /// and the store's own statements lock them in that order, so that concurrent statements
    /// never wait for each other in a cycle.
    ///
    /// [`EventStore::complete`]: soniox_webhook::store::EventStore::complete
    ///
    /// ```
    /// use soniox_store::PostgresStore;
    ///
    /// let sql = format!(
    ///     "WITH completed AS ({}) UPDATE soniox_notes SET done = true WHERE id = ANY($1)",
    ///     PostgresStore::completion_sql(1, 2)
    /// );
    /// assert!(sql.contains("unnest($1::text[], $2::text[])"));
    /// ```
    pub fn completion_sql(ids: usize, statuses: usize) -> String {
        format!(
            "
            INSERT INTO soniox_webhook_events AS e
                (transcription_id, status, state, token, lease_until, updated_at)
            SELECT id, status, 'done', NULL, NULL, clock_timestamp()
            FROM unnest(${ids}::text[], ${statuses}::text[]) AS j (id, status)
            ON CONFLICT (transcription_id, status) DO UPDATE
            SET state = 'done', token = NULL, lease_until = NULL,
                updated_at = excluded.updated_at
            WHERE e.state <> 'done'"
        )
    }

    /// Brings another component's tables in this database up to date: applies the
    /// `migrations` the database has not had yet, where `migrations[n]` takes the
    /// component from version `n` to `n + 1`, and records the new version in
    /// `soniox_schema`. A component already at `migrations.len()` is left alone.
    ///
    /// `component` names the component in `soniox_schema` (this crate's own is
    /// `webhook_events`); give its tables names that start with `soniox_` and the
    /// component's name. Each migration may hold several statements. Migrations are only
    /// ever appended: a released one is never edited. They run in one transaction under
    /// the advisory lock the store's own migrations take, so replicas starting together
    /// migrate one at a time, and a failing migration leaves the component as it was.
    ///
    /// A statement of a migration that must wait for a lock (an `ALTER TABLE` behind another
    /// replica's open transaction) waits at most the
    /// [migration lock timeout](PostgresStoreBuilder::migration_lock_timeout); the attempt
    /// then rolls back, and after as long again the migration tries anew, still holding the
    /// advisory lock, 20 times at most. A lock request waiting in the server's queue would
    /// otherwise make every later statement on that table, every other replica's, wait
    /// behind it for as long as the open transaction lasts. This applies to row locks too: a
    /// migration that updates rows the replicas keep busy may run out of attempts.
    ///
    /// # Errors
    ///
    /// [`StoreError::SchemaTooNew`] when the database's version of `component` is newer
    /// than `migrations.len()` (a newer version of the component migrated it),
    /// [`StoreError::Unavailable`] when the database cannot be reached, a migration fails,
    /// or its tables stayed locked through every attempt, [`StoreError::Closed`] after
    /// [`close`](Self::close).
    pub async fn migrate_component(
        &self,
        component: &str,
        migrations: &[&str],
    ) -> Result<(), StoreError> {
        migrate(
            &mut self.client().await?,
            component,
            migrations,
            self.migration_lock_timeout,
        )
        .await
    }

    /// A pooled connection for work outside the writers' batches.
    async fn client(&self) -> Result<Client, StoreError> {
        // A pool passed to `from_pool` outlives the store; the store's own work does not.
        if self.queue.is_closed() {
            return Err(StoreError::Closed);
        }
        self.pool.get().await.map_err(pool_error)
    }

    /// Stops taking operations, finishes the queued ones and waits for the writers to exit;
    /// then closes the pool if [`connect`](Self::connect) built it (a pool passed to
    /// [`from_pool`](Self::from_pool) stays open). Later operations fail with
    /// [`StoreError::Closed`].
    pub async fn close(&self) {
        self.queue.close().await;
        if self.owns_pool {
            self.pool.close();
        }
    }
}

impl PostgresStoreBuilder {
    /// The most connections the store's pool opens; 8 unless set.
    pub fn pool_size(mut self, connections: usize) -> Self {
        self.pool_size = connections.max(1);
        self
    }

    /// How many writer tasks batch operations into transactions, each on a connection of
    /// its own while it runs a batch; 2 unless set (at most the pool size). More writers
    /// overlap more round trips but commit smaller batches, each commit costing the server.
    pub fn writers(mut self, writers: usize) -> Self {
        self.writers = writers.max(1);
        self
    }

    /// How long connecting, and waiting for a free pooled connection, may take before an
    /// operation fails with [`StoreError::Unavailable`]; 5 seconds unless set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long one statement of a migration waits for a lock on a table before the
    /// migration rolls back and starts over (see
    /// [`migrate_component`](PostgresStore::migrate_component)); 2 seconds unless set, from
    /// a millisecond to the server's most (`i32::MAX` milliseconds). It bounds how long other
    /// replicas' statements on that table wait behind the migration's lock request; a
    /// migration locked out throughout fails after about 40 times as long (20 attempts, each
    /// followed by a wait as long).
    pub fn migration_lock_timeout(mut self, timeout: Duration) -> Self {
        let most = Duration::from_millis(i32::MAX.unsigned_abs().into());
        self.migration_lock_timeout = timeout.clamp(Duration::from_millis(1), most);
        self
    }

    /// Connects; see [`PostgresStore::connect`].
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::connect`].
    pub async fn connect(self) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config = self
            .url
            .parse()
            // The parser's message may quote the part it choked on, password included.
            .map_err(|_| StoreError::unavailable("invalid PostgreSQL connection URL"))?;
        config.connect_timeout(self.timeout);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection whose socket closed is replaced; one that merely went quiet is
                // found out by its next statement, without a test query on every checkout.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(StoreError::unavailable)?;
        let writers = self.writers.min(self.pool_size);
        PostgresStore::start(pool, writers, true, self.migration_lock_timeout).await
    }
}

/// Brings `component` to version `migrations.len()` in one transaction, refusing a newer
/// version. Under the advisory lock, each attempt runs in a savepoint: one that waited past
/// `lock_timeout` for a lock rolls back to it and, after as long again, tries anew.
async fn migrate(
    client: &mut Client,
    component: &str,
    migrations: &[&str],
    lock_timeout: Duration,
) -> Result<(), StoreError> {
    // Read committed whatever the server's default: each statement then sees what was
    // committed when it began, so a replica that waited below for another's migration reads
    // the version that one wrote. A snapshot from the first statement (repeatable read)
    // would be older than the lock, and the replica would migrate again and fail.
    let mut transaction = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(pg_error)?;
    // Held until commit, between attempts too: replicas starting together wait here, not in
    // a table's queue, instead of racing to create the same tables. With no lock timeout,
    // whatever the connection's own: another replica's migration may take longer.
    transaction
        .batch_execute("SET LOCAL lock_timeout = 0")
        .await
        .map_err(pg_error)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    transaction
        .execute(
            "SELECT set_config('lock_timeout', $1, true)",
            &[&format!("{}ms", lock_timeout.as_millis())],
        )
        .await
        .map_err(pg_error)?;
    for attempt in 1..=MIGRATION_ATTEMPTS {
        let savepoint = transaction
            .savepoint("soniox_migration")
            .await
            .map_err(pg_error)?;
        match migrate_once(&savepoint, component, migrations).await {
            Ok(()) => {
                savepoint.commit().await.map_err(pg_error)?;
                return transaction.commit().await.map_err(pg_error);
            }
            Err(Migration::Failed(error)) => return Err(error),
            Err(Migration::Locked) => {
                // Releases the locks the attempt took; its lock request left the queue when
                // it timed out, so the statements that waited behind it run meanwhile.
                savepoint.rollback().await.map_err(pg_error)?;
                tracing::warn!(
                    component,
                    attempt,
                    "a migration waited too long for a lock; it rolled back and tries again"
                );
                if attempt < MIGRATION_ATTEMPTS {
                    tokio::time::sleep(lock_timeout).await;
                }
            }
        }
    }
    Err(StoreError::unavailable(format!(
        "migrating `{component}`: other transactions held locks it needs through \
         {MIGRATION_ATTEMPTS} attempts of up to {} ms each",
        lock_timeout.as_millis()
    )))
}

/// Why one migration attempt failed.
enum Migration {
    /// A statement waited for a lock longer than the lock timeout; the attempt is void.
    Locked,
    Failed(StoreError),
}

impl From<StoreError> for Migration {
    fn from(error: StoreError) -> Self {
        Self::Failed(error)
    }
}

impl From<tokio_postgres::Error> for Migration {
    fn from(error: tokio_postgres::Error) -> Self {
        if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
            Self::Locked
        } else {
            Self::Failed(pg_error(error))
        }
    }
}

/// One attempt of [`migrate`], in `savepoint`: the pending migrations and the new version.
async fn migrate_once(
    savepoint: &Transaction<'_>,
    component: &str,
    migrations: &[&str],
) -> Result<(), Migration> {
    savepoint.batch_execute(schema::CREATE_VERSIONS).await?;
    let found = match savepoint
        .query_opt(schema::READ_VERSION, &[&component])
        .await?
    {
        Some(row) => column::<i64>(&row, 0)?,
        None => 0,
    };
    for migration in schema::pending(found, migrations)? {
        savepoint.batch_execute(migration).await?;
    }
    if found != schema::newest(migrations) {
        savepoint
            .execute(
                schema::WRITE_VERSION,
                &[&component, &schema::newest(migrations)],
            )
            .await?;
    }
    Ok(())
}

/// A writer task: batches of queued jobs until the queue closes.
async fn write(
    pool: Pool,
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    alive: watch::Sender<()>,
) {
    loop {
        // One writer collects at a time; the others are running their batches meanwhile.
        let batch = {
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else {
                break;
            };
            queue::drain(&mut jobs, first)
        };
        run_batch(&pool, batch).await;
    }
    drop(alive);
}

async fn run_batch(pool: &Pool, jobs: Vec<Job>) {
    let (mut keyed, prunes): (Vec<Job>, Vec<Job>) =
        jobs.into_iter().partition(|job| job.key().is_some());
    // Sorted, each statement locks its rows in key order, so statements of concurrent
    // batches never wait for each other in a cycle. (Two batches can still deadlock across
    // the parts of their statements, when each claims an event the other completes, at the
    // same moment, in both directions; PostgreSQL then fails one after `deadlock_timeout`
    // and its jobs are run again one by one below.) The sort is stable: one event's jobs
    // keep their order.
    keyed.sort_by(|a, b| a.key().cmp(&b.key()));
    let client = match pool.get().await {
        Ok(client) => client,
        Err(error) => {
            let error = pool_error(error);
            keyed.extend(prunes);
            queue::fail_all(keyed, error);
            return;
        }
    };
    let rounds = rounds(&keyed);
    let mut keyed: Vec<Option<Job>> = keyed.into_iter().map(Some).collect();
    for round in rounds {
        match run_round(&client, &keyed, &round).await {
            Ok(outcomes) => {
                for (&index, outcome) in round.iter().zip(outcomes) {
                    finish(&mut keyed[index], Ok(outcome));
                }
            }
            // The server refused the statement, which wrote nothing, but the connection
            // lives: run each job alone, so every caller gets its own true answer.
            Err(_) if round.len() > 1 && !client.is_closed() => {
                for &index in &round {
                    let result = run_round(&client, &keyed, &[index]).await;
                    finish(
                        &mut keyed[index],
                        result.map(|mut outcomes| outcomes.remove(0)),
                    );
                }
            }
            Err(error) => {
                let jobs = round.iter().filter_map(|&index| keyed[index].take());
                queue::fail_all(jobs.collect(), error);
            }
        }
    }
    for job in prunes {
        let result = prune(&client, &job).await;
        job.finish(result);
    }
}

/// Answers the job in `slot`, once.
fn finish(slot: &mut Option<Job>, result: Result<Outcome, StoreError>) {
    if let Some(job) = slot.take() {
        job.finish(result);
    }
}

/// Splits jobs sorted by key into rounds in which each event appears once: round `n` holds
/// every event's `n`th job. Duplicate deliveries are rare, so there is usually one round.
fn rounds(jobs: &[Job]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut round = 0;
    for (index, job) in jobs.iter().enumerate() {
        let repeat = index > 0 && jobs[index - 1].key() == job.key();
        round = if repeat { round + 1 } else { 0 };
        if rounds.len() <= round {
            rounds.push(Vec::new());
        }
        rounds[round].push(index);
    }
    rounds
}

/// One kind of job of a round, as the array parameters of its part of [`WRITE`].
#[derive(Default)]
struct Columns<'a> {
    /// The jobs' positions in the round.
    jobs: Vec<usize>,
    ids: Vec<&'a str>,
    statuses: Vec<&'a str>,
    /// Claims: the new claims' tokens. Releases: the tokens released.
    tokens: Vec<i64>,
    /// Claims: the leases, in milliseconds.
    leases: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, job: usize, id: &'a str, status: &'a str) {
        self.jobs.push(job);
        self.ids.push(id);
        self.statuses.push(status);
    }
}

/// A round's jobs by kind.
#[derive(Default)]
struct Round<'a> {
    claims: Columns<'a>,
    completes: Columns<'a>,
    releases: Columns<'a>,
}

impl Round<'_> {
    /// [`WRITE`]'s parameters.
    fn parameters(&self) -> [&(dyn ToSql + Sync); 9] {
        let Self {
            claims,
            completes,
            releases,
        } = self;
        [
            &claims.ids,
            &claims.statuses,
            &claims.tokens,
            &claims.leases,
            &completes.ids,
            &completes.statuses,
            &releases.ids,
            &releases.statuses,
            &releases.tokens,
        ]
    }
}

/// Runs the jobs at `round`'s positions of `jobs` (each event once) as one [`WRITE`]; their
/// outcomes, in `round`'s order, once it has committed.
async fn run_round(
    client: &Client,
    jobs: &[Option<Job>],
    round: &[usize],
) -> Result<Vec<Outcome>, StoreError> {
    let mut kinds = Round::default();
    let mut outcomes: Vec<Option<Outcome>> = round.iter().map(|_| None).collect();
    for (position, job) in round.iter().map(|&index| jobs[index].as_ref()).enumerate() {
        match job {
            Some(Job::Claim { key, lease_ms, .. }) => {
                kinds.claims.push(position, &key.id, &key.status);
                let token = queue::token_column(ClaimToken::random());
                kinds.claims.tokens.push(token);
                kinds.claims.leases.push(*lease_ms);
            }
            Some(Job::Complete { key, .. }) => {
                kinds.completes.push(position, &key.id, &key.status);
                outcomes[position] = Some(Outcome::Unit);
            }
            Some(Job::Release { key, token, .. }) => {
                kinds.releases.push(position, &key.id, &key.status);
                kinds.releases.tokens.push(*token);
                outcomes[position] = Some(Outcome::Unit);
            }
            // Prunes run on their own, and every job is answered once.
            Some(Job::Prune { .. }) | None => outcomes[position] = Some(Outcome::Unit),
            Some(Job::Extra(never)) => match *never {},
        }
    }
    let statement = prepare(client, &WRITE).await?;
    let rows = client
        .query(&statement, &kinds.parameters())
        .await
        .map_err(pg_error)?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let key = (column::<&str>(row, 0)?, column::<&str>(row, 1)?);
        let state = (
            column::<&str>(row, 2)? == "done",
            column::<Option<i64>>(row, 3)?,
            column::<Option<i64>>(row, 4)?,
        );
        found.insert(key, state);
    }
    let claims = &kinds.claims;
    for (index, &position) in claims.jobs.iter().enumerate() {
        let ours = claims.tokens[index];
        let claim = match found.get(&(claims.ids[index], claims.statuses[index])) {
            Some((_, Some(token), _)) if *token == ours => {
                Claim::Claimed(ClaimToken::new(ours.cast_unsigned()))
            }
            Some((true, _, _)) => Claim::Done,
            Some((false, _, remaining)) => Claim::InProgress {
                retry_after: queue::remaining(remaining.unwrap_or(0)),
            },
            // Cannot happen, every claim comes back; "try later" is the answer that loses
            // nothing.
            None => Claim::InProgress {
                retry_after: Duration::ZERO,
            },
        };
        outcomes[position] = Some(Outcome::Claim(claim));
    }
    Ok(outcomes.into_iter().flatten().collect())
}

async fn prune(client: &Client, job: &Job) -> Result<Outcome, StoreError> {
    let Job::Prune { older_than_ms, .. } = job else {
        // Only prunes come here; anything else has nothing to prune.
        return Ok(Outcome::Pruned(0));
    };
    let statement = prepare(client, PRUNE).await?;
    let deleted = client
        .execute(&statement, &[older_than_ms])
        .await
        .map_err(pg_error)?;
    Ok(Outcome::Pruned(deleted))
}

async fn prepare(client: &Client, sql: &str) -> Result<Statement, StoreError> {
    client.prepare_cached(sql).await.map_err(pg_error)
}

/// Column `index` of `row`; a value of another type means a foreign table.
fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|error| StoreError::Corrupt(Box::new(error)))
}

/// Sorts the driver's errors into the store's: tables of another shape are `Corrupt`,
/// everything else (lost connections, a server shutting down, timeouts) `Unavailable`.
#[expect(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn pg_error(error: tokio_postgres::Error) -> StoreError {
    let foreign = [
        SqlState::UNDEFINED_TABLE,
        SqlState::UNDEFINED_COLUMN,
        SqlState::DATATYPE_MISMATCH,
    ];
    if error.code().is_some_and(|code| foreign.contains(code)) {
        StoreError::Corrupt(server_said(&error).into())
    } else {
        StoreError::Unavailable(server_said(&error).into())
    }
}

/// Any of the driver's errors as [`StoreError::Unavailable`]: for a `transact` caller's
/// transaction, whose tables are not the store's to call corrupt.
#[expect(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn unavailable(error: tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(server_said(&error).into())
}

/// What the server said of `error` (its severity, message, code and hint), or else the
/// driver's own message, which names only the kind of error. Never the detail: for a
/// constraint violation it quotes the failing row, and a row of a `transact` caller's table
/// (the tracker's jobs) can hold a presigned audio URL. Neither holds the connection's
/// secrets. Every error of this store is built from it.
pub fn server_said(error: &tokio_postgres::Error) -> String {
    let Some(db) = error.as_db_error() else {
        return error.to_string();
    };
    let mut said = format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    if let Some(hint) = db.hint() {
        said.push_str("; hint: ");
        said.push_str(hint);
    }
    said
}

/// Rolls back a `transact` transaction whose answer is already decided.
async fn roll_back(transaction: Transaction<'_>) {
    if let Err(error) = transaction.rollback().await {
        // Nothing was committed either way; a broken connection is dropped by the pool.
        tracing::debug!(%error, "rolling back a transact transaction failed");
    }
}

fn pool_error(error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(error) => pg_error(error),
        PoolError::Closed => StoreError::Closed,
        other => StoreError::unavailable(other.to_string()),
    }
}

queue::queued_event_store!(PostgresStore);
