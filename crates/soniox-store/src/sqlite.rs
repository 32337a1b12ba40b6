//! [`SqliteStore`]: the event states in one SQLite file, written by a thread of its own.

use std::{
    collections::VecDeque,
    fmt,
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};
use soniox_types::WebhookEvent;
use soniox_webhook::store::{Claim, ClaimToken, StoreError};
use tokio::sync::oneshot;

use crate::{
    SCHEMA_VERSION,
    queue::{self, Extra, Outcome, Queue, Reply, Shared, Writers},
    schema,
};

/// The writer thread's jobs: the event operations and [`SqliteStore::transact`] closures.
type Job = queue::Job<Box<dyn Closure>>;

/// The webhook-events schema, one entry per version: entry `n` takes version `n` to `n + 1`.
/// Times are Unix milliseconds; tokens are the claim token's 64 bits as a signed integer.
const MIGRATIONS: &[&str] = &[schema::create_events_table!("BIGINT", " WITHOUT ROWID")];

const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// How much of a commit survives a crash; see the [crate docs](crate#durability).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous=FULL`: every commit is flushed to the disk before its caller hears `Ok`,
    /// so a claim or completion survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a commit survives the process crashing; power loss (or an
    /// operating-system crash) may roll back the latest commits, but never corrupts the
    /// file. Rolled-back completions are handled again on the next delivery.
    Normal,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// An [`EventStore`](crate::EventStore) in one SQLite file: survives restarts, serves one
/// process (or several on one machine, taking turns on the file's lock).
///
/// A dedicated thread owns the connection, so no database call ever blocks the async
/// runtime. Operations queue to it; it runs every operation queued at that moment in one
/// transaction (group commit) and answers each caller once that transaction has committed.
/// The file is in WAL mode; [`Durability`] says what a commit survives.
///
/// Leases are measured by the wall clock (Unix milliseconds), so that they hold across
/// restarts; setting the clock back lengthens the leases running at that moment, setting it
/// forward ends them early.
///
/// Dropping the store lets the thread finish the queued operations and exit in the
/// background; [`close`](Self::close) does the same and waits for it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use soniox_store::SqliteStore;
/// use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};
/// use soniox_webhook::store::{Claim, EventStore};
///
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("webhooks.db");
/// let store = SqliteStore::open(&path).await?;
/// let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed);
/// let Claim::Claimed(token) = store.claim(&event, Duration::from_secs(60)).await? else {
///     unreachable!("a new event")
/// };
/// store.complete(&event, token).await?;
/// assert_eq!(store.claim(&event, Duration::from_secs(60)).await?, Claim::Done);
/// # Ok(())
/// # }
/// ```
pub struct SqliteStore {
    queue: Queue<Box<dyn Closure>>,
    path: PathBuf,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Options for [`SqliteStore`], from [`SqliteStore::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct SqliteStoreBuilder {
    path: PathBuf,
    durability: Durability,
    busy_timeout: Duration,
}

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path` with [`Durability::Full`],
    /// and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when the file is not a SQLite database or is damaged,
    /// [`StoreError::SchemaTooNew`] when a newer version of this crate wrote it, and
    /// [`StoreError::Unavailable`] when it cannot be opened or written (permissions, a full
    /// disk, another process holding the lock for longer than the busy timeout).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder(path).open().await
    }

    /// Options for opening the database file at `path`.
    pub fn builder(path: impl AsRef<Path>) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            path: path.as_ref().to_owned(),
            durability: Durability::default(),
            busy_timeout: Duration::from_secs(5),
        }
    }

    /// Deletes done events completed `older_than` or longer ago (by the wall clock) and
    /// returns how many it deleted. A pruned event is new again: if Soniox delivers it once
    /// more, it is handled again, so prune well past Soniox's retry window.
    ///
    /// # Errors
    ///
    /// As for any operation: [`StoreError::Unavailable`] when the file cannot be written,
    /// [`StoreError::Closed`] after [`close`](Self::close).
    pub async fn prune(&self, older_than: Duration) -> Result<u64, StoreError> {
        self.queue.prune(older_than).await
    }

    /// Runs `f` on the writer thread, inside the transaction of the batch it joins, and
    /// returns what it returned once that transaction has committed: `f`'s writes commit
    /// with (and only with) the event operations batched beside them.
    ///
    /// This is how another component keeping tables in the same file (a job tracker, say)
    /// makes its bookkeeping and a handler's own writes one atomic step. Bring those tables
    /// up to date first with [`migrate_component`](Self::migrate_component).
    ///
    /// `f` runs in a savepoint of its own:
    ///
    /// - `Ok(t)`: its writes are kept, and the caller gets `Ok(Ok(t))` once the batch has
    ///   committed; if the commit fails, `Err` with the store's error instead (nothing of `f`
    ///   was written).
    /// - `Err(e)`: its writes, and only its, are rolled back; the rest of the batch commits.
    ///   The caller gets `Ok(Err(e))`.
    /// - A panic is caught on the writer thread, which goes on serving: its writes are
    ///   rolled back as for `Err`, and the caller gets [`StoreError::Unavailable`] with the
    ///   panic's message. (Under `panic = "abort"` the process aborts, as for any panic.)
    ///
    /// A statement failing inside `f` undoes only that statement, so `f` may handle the
    /// error and go on. `f` must not end the transaction (`COMMIT`, `ROLLBACK`, `RELEASE` of
    /// a savepoint it did not create): the store then fails the batch (every caller of a
    /// closure in it gets [`StoreError::Unavailable`]; the event operations are run again).
    /// It runs while every other operation of the store waits, so keep it short, and never
    /// wait in it for an operation of this store (it would wait for itself).
    ///
    /// `f` is run at most once. Like every operation, once queued it runs even if the
    /// caller stops waiting for its answer. Use the [`rusqlite`](crate::rusqlite) that this
    /// crate re-exports, so that `f`'s [`Transaction`] is the one the store passes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use soniox_store::{SqliteStore, rusqlite};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let store = SqliteStore::open(dir.path().join("webhooks.db")).await?;
    /// store
    ///     .migrate_component("notes", &["CREATE TABLE notes (text TEXT NOT NULL)"])
    ///     .await?;
    /// let written = store
    ///     .transact(|transaction: &rusqlite::Transaction<'_>| {
    ///         transaction.execute("INSERT INTO notes (text) VALUES ('kept')", [])
    ///     })
    ///     .await??;
    /// assert_eq!(written, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// `Ok(Err(e))` when `f` returned `Err(e)`. [`StoreError::Unavailable`] when `f`
    /// panicked or the batch's transaction could not begin or commit (I/O, a full disk,
    /// another process holding the lock past the busy timeout), [`StoreError::Closed`] after
    /// [`close`](Self::close).
    pub async fn transact<T, E, F>(&self, f: F) -> Result<Result<T, E>, StoreError>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.queue
            .extra(|reply| -> Box<dyn Closure> { Box::new(Call { f, reply }) })
            .await
    }

    /// Records `event` as done inside `transaction`, as [`EventStore::complete`] does: for a
    /// caller in [`transact`](Self::transact) whose own writes must commit together with it,
    /// so that they happen exactly once with the event's completion.
    ///
    /// [`EventStore::complete`]: soniox_webhook::store::EventStore::complete
    ///
    /// # Errors
    ///
    /// SQLite's error, should the statement fail.
    pub fn complete_in(
        transaction: &Transaction<'_>,
        event: &WebhookEvent,
    ) -> rusqlite::Result<()> {
        complete(
            transaction,
            event.id.as_str(),
            event.status.as_str(),
            unix_millis(),
        )
    }

    /// Records `event` as done inside `transaction` only if `token` still holds its claim:
    /// `false`, changing nothing, once the claim's lease ran out and another handling took
    /// the event or completed it. For writes that must commit exactly once with the event's
    /// completion even should a handling outlive its lease (a wall-clock step, a writer
    /// falling behind): roll them back on `false`, and fail with [`StoreError::ClaimLost`].
    /// [`complete_in`](Self::complete_in) records the event done whoever holds it.
    ///
    /// # Errors
    ///
    /// SQLite's error, should the statement fail.
    pub fn complete_claimed_in(
        transaction: &Transaction<'_>,
        event: &WebhookEvent,
        token: ClaimToken,
    ) -> rusqlite::Result<bool> {
        let changed = transaction
            .prepare_cached(&queue::COMPLETE_CLAIMED.replace('$', "?"))?
            .execute(params![
                event.id.as_str(),
                event.status.as_str(),
                queue::token_column(token),
                unix_millis()
            ])?;
        Ok(changed == 1)
    }

    /// Brings another component's tables in this database up to date: applies the
    /// `migrations` the database has not had yet, where `migrations[n]` takes the
    /// component from version `n` to `n + 1`, and records the new version in
    /// `soniox_schema`. A component already at `migrations.len()` is left alone.
    ///
    /// `component` names the component in `soniox_schema` (this crate's own is
    /// `webhook_events`); give its tables names that start with `soniox_` and the
    /// component's name. Each migration may hold several statements. Migrations are only
    /// ever appended: a released one is never edited. They run in one savepoint of the
    /// writer's transaction, so a failing migration leaves the component as it was.
    ///
    /// # Errors
    ///
    /// [`StoreError::SchemaTooNew`] when the database's version of `component` is newer
    /// than `migrations.len()` (a newer version of the component migrated it), and the
    /// errors of [`transact`](Self::transact), a failing migration included.
    pub async fn migrate_component(
        &self,
        component: &'static str,
        migrations: &'static [&'static str],
    ) -> Result<(), StoreError> {
        self.transact(move |transaction| migrate(transaction, component, migrations))
            .await?
    }

    /// Stops taking operations, finishes the queued ones, closes the database and waits for
    /// the writer thread to exit. Later operations fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        self.queue.close().await;
    }
}

impl SqliteStoreBuilder {
    /// How much of a commit survives a crash; [`Durability::Full`] unless set.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// How long a write waits for another connection (another process) to release the
    /// file's lock before failing with [`StoreError::Unavailable`]; 5 seconds unless set.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens the database; see [`SqliteStore::open`].
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub async fn open(self) -> Result<SqliteStore, StoreError> {
        let (queue, writers) = Queue::new();
        let (opened, ready) = oneshot::channel();
        let options = self.clone();
        std::thread::Builder::new()
            .name("soniox-store-sqlite".into())
            .spawn(move || match options.connect() {
                Ok(connection) => {
                    let _ = opened.send(Ok(()));
                    write(connection, writers);
                }
                Err(error) => {
                    let _ = opened.send(Err(error));
                }
            })
            .map_err(StoreError::unavailable)?;
        // The thread answers before anything else; no answer means it died opening.
        ready.await.unwrap_or(Err(StoreError::Closed))?;
        Ok(SqliteStore {
            queue,
            path: self.path,
        })
    }

    /// Opens and configures the connection and migrates the schema; runs on the writer thread.
    fn connect(&self) -> Result<Connection, StoreError> {
        let mut connection = Connection::open(&self.path).map_err(sqlite_error)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        connection
            .busy_timeout(self.busy_timeout)
            .map_err(sqlite_error)?;
        // The first statements to read the file: a file that is not a database fails here.
        // WAL lets readers (a job tracker in another process) work while this thread writes,
        // and makes `synchronous=NORMAL` safe from corruption. SQLite answers with the mode it
        // is in, which stays another where it cannot use WAL (an in-memory database, a
        // file system without shared memory): the guarantees above would not hold.
        let mode = connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(sqlite_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::unavailable(format!(
                "the database cannot be put in WAL mode (it stays in {mode} mode)"
            )));
        }
        connection
            .pragma_update(None, "synchronous", self.durability.pragma())
            .map_err(sqlite_error)?;
        // IMMEDIATE takes the write lock first, so two processes opening a new file at once
        // migrate one after the other instead of both trying.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        migrate(&transaction, schema::COMPONENT, MIGRATIONS)?;
        transaction.commit().map_err(sqlite_error)?;
        Ok(connection)
    }
}

/// Brings `component` to version `migrations.len()` within `transaction`, refusing a newer
/// version.
fn migrate(
    transaction: &Transaction<'_>,
    component: &str,
    migrations: &[&str],
) -> Result<(), StoreError> {
    transaction
        .execute_batch(schema::CREATE_VERSIONS)
        .map_err(sqlite_error)?;
    let found: i64 = transaction
        .query_row(schema::READ_VERSION, [component], |row| row.get(0))
        .optional()
        .map_err(sqlite_error)?
        .unwrap_or(0);
    let pending = schema::pending(found, migrations)?;
    if pending.is_empty() {
        return Ok(());
    }
    for migration in pending {
        transaction.execute_batch(migration).map_err(sqlite_error)?;
    }
    transaction
        .execute(
            schema::WRITE_VERSION,
            params![component, schema::newest(migrations)],
        )
        .map_err(sqlite_error)?;
    Ok(())
}

/// The writer thread: batches of queued jobs, one transaction each, until the queue closes.
fn write(mut connection: Connection, mut writers: Writers<Box<dyn Closure>>) {
    while let Some(first) = writers.jobs.blocking_recv() {
        let batch = queue::drain(&mut writers.jobs, first);
        run_batch(&mut connection, batch);
    }
    if let Err((_, error)) = connection.close() {
        tracing::warn!(%error, "closing the SQLite event store failed");
    }
    drop(writers.alive);
}

/// A [`SqliteStore::transact`] call on its way to the writer thread: the caller's closure
/// and reply, their types erased so that they queue with the event operations.
trait Closure: Send {
    /// Runs the closure in a savepoint of its own within `transaction`. Returns how to answer
    /// its caller once the batch's fate is known, and an error when the transaction can no
    /// longer be trusted (the closure ended it, or its savepoint could not be rolled back),
    /// which fails the batch.
    fn run(self: Box<Self>, transaction: &Transaction<'_>) -> (Answer, Result<(), StoreError>);

    /// Answers the caller with `error` without running the closure.
    fn fail(self: Box<Self>, error: StoreError);
}

impl Extra for Box<dyn Closure> {
    fn fail(self, error: StoreError) {
        Closure::fail(self, error);
    }
}

/// How a closure that ran answers its caller, given its batch's commit (`Ok`) or the error
/// that kept the batch from committing.
type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// The savepoint every closure runs in. Savepoints nest by name, so a closure may create
/// its own, even one of this name. Each is run as a cached prepared statement: parsing them
/// anew for every closure was a fifth of the writer's time under load.
const SAVEPOINT: &str = "SAVEPOINT soniox_transact";
const RELEASE: &str = "RELEASE soniox_transact";
const ROLL_BACK: &str = "ROLLBACK TO soniox_transact";

/// Runs one of the savepoint statements above.
fn savepoint(transaction: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    transaction.prepare_cached(sql)?.execute([]).map(drop)
}

/// How many prepared statements the writer keeps: the store's own, the savepoints', and
/// room for those of the components sharing the file (rusqlite keeps 16 by default, and an
/// evicted statement is parsed again on its next use).
const STATEMENT_CACHE: usize = 64;

/// The concrete [`Closure`]: `f` and where its answer goes.
struct Call<F, T, E> {
    f: F,
    reply: Reply<Result<T, E>>,
}

impl<F, T, E> Closure for Call<F, T, E>
where
    F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send,
    T: Send + 'static,
    E: Send + 'static,
{
    fn run(self: Box<Self>, transaction: &Transaction<'_>) -> (Answer, Result<(), StoreError>) {
        let Self { f, reply } = *self;
        if let Err(error) = savepoint(transaction, SAVEPOINT) {
            // Nothing ran: the transaction is as it was, and the batch goes on without `f`.
            return (send(reply, Err(sqlite_error(error))), Ok(()));
        }
        // The transaction is rolled back to the savepoint below whatever state the panic
        // left it in, and `f` (which owned the rest of that state) is gone.
        let ran = catch_unwind(AssertUnwindSafe(|| f(transaction)));
        if transaction.is_autocommit() {
            // `f` committed or rolled back the batch's transaction (or SQLite rolled it back
            // after an I/O error or a full disk): what became of the batch is unknown here.
            let error =
                || StoreError::unavailable("the transaction ended inside a transact closure");
            return (send(reply, Err(error())), Err(error()));
        }
        let keep = matches!(ran, Ok(Ok(_)));
        let ended = if keep {
            savepoint(transaction, RELEASE)
        } else {
            savepoint(transaction, ROLL_BACK).and_then(|()| savepoint(transaction, RELEASE))
        };
        let sound = ended.map_err(sqlite_error);
        let answer: Answer = match ran {
            Ok(Ok(value)) => Box::new(move |committed| {
                let _ = reply.send(committed.map(|()| Ok(value)));
            }),
            // Nothing of `f` is written whether or not the batch commits.
            Ok(Err(error)) => send(reply, Ok(Err(error))),
            Err(panic) => send(reply, Err(queue::panicked(&*panic))),
        };
        (answer, sound)
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// An [`Answer`] that sends `result`, whatever became of the batch.
fn send<R: Send + 'static>(reply: Reply<R>, result: Result<R, StoreError>) -> Answer {
    Box::new(move |_| {
        let _ = reply.send(result);
    })
}

/// A job that ran in its batch's transaction, waiting for the commit to answer its caller.
enum Ran {
    Event(Job, Outcome),
    Closure(Answer),
}

impl Ran {
    fn answer(self, committed: Result<(), StoreError>) {
        match self {
            Self::Event(job, outcome) => job.finish(committed.map(|()| outcome)),
            Self::Closure(answer) => answer(committed),
        }
    }
}

/// Runs `jobs` in one transaction and answers each once it has committed.
///
/// When the batch fails, nothing of it was committed. Closures that ran are answered with
/// the error: they are `FnOnce`, and cannot run again. Every other job, the one that failed
/// included, runs again alone, so that one job's failure is not every job's and every
/// caller gets its own true answer. A closure's own failure never fails the batch (its
/// savepoint is rolled back instead), so only a failing commit, an event operation or a
/// closure that broke the transaction costs the closures of the batch. A transaction that
/// could not begin (another process held the lock past the busy timeout) fails every job at
/// once: nothing ran, and each alone would wait as long again.
fn run_batch(connection: &mut Connection, jobs: Vec<Job>) {
    let alone = jobs.len() == 1;
    let mut left = VecDeque::from(jobs);
    let mut ran = Vec::with_capacity(left.len());
    let failed = match in_transaction(connection, &mut left, &mut ran) {
        Ok(()) => {
            for job in ran {
                job.answer(Ok(()));
            }
            return;
        }
        Err(Failed::Begin(error)) => {
            queue::fail_all(left.into(), error);
            return;
        }
        Err(Failed::Run(error)) => Shared::from(error),
    };
    let mut again = Vec::with_capacity(ran.len() + left.len());
    for job in ran {
        match job {
            Ran::Event(job, _) => again.push(job),
            Ran::Closure(answer) => answer(Err(failed.error())),
        }
    }
    again.extend(left);
    if alone {
        queue::fail_all(again, failed.error());
    } else {
        for job in again {
            run_batch(connection, vec![job]);
        }
    }
}

/// Why a batch did not commit.
enum Failed {
    /// The transaction did not begin; every job is still in `left`.
    Begin(StoreError),
    /// A job, or the commit, failed.
    Run(StoreError),
}

/// Runs the jobs of `left` in one transaction, moving each to `ran` once it ran; on an
/// error, the job that failed (unless a closure) and those after it stay in `left`.
fn in_transaction(
    connection: &mut Connection,
    left: &mut VecDeque<Job>,
    ran: &mut Vec<Ran>,
) -> Result<(), Failed> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|error| Failed::Begin(sqlite_error(error)))?;
    // Read once the write lock is held, which may have taken up to the busy timeout: a clock
    // read before it would write leases that began in the past, even ones already over, and
    // another delivery of the event would claim it while the first is handled. The batch
    // commits as one instant.
    let now = unix_millis();
    while let Some(job) = left.pop_front() {
        if let Job::Extra(closure) = job {
            let (answer, sound) = closure.run(&transaction);
            ran.push(Ran::Closure(answer));
            sound.map_err(Failed::Run)?;
            continue;
        }
        match run_job(&transaction, &job, now) {
            Ok(outcome) => ran.push(Ran::Event(job, outcome)),
            Err(error) => {
                left.push_front(job);
                return Err(Failed::Run(sqlite_error(error)));
            }
        }
    }
    transaction
        .commit()
        .map_err(|error| Failed::Run(sqlite_error(error)))
}

fn run_job(transaction: &Transaction<'_>, job: &Job, now: i64) -> rusqlite::Result<Outcome> {
    match job {
        Job::Claim { key, lease_ms, .. } => claim(transaction, key, *lease_ms, now),
        Job::Complete { key, .. } => {
            complete(transaction, &key.id, &key.status, now)?;
            Ok(Outcome::Unit)
        }
        Job::Release { key, token, .. } => {
            transaction
                .prepare_cached(
                    "DELETE FROM soniox_webhook_events
                     WHERE transcription_id = ?1 AND status = ?2
                       AND state = 'in_progress' AND token = ?3",
                )?
                .execute(params![key.id, key.status, token])?;
            Ok(Outcome::Unit)
        }
        Job::Prune { older_than_ms, .. } => {
            let deleted = transaction
                .prepare_cached(
                    "DELETE FROM soniox_webhook_events WHERE state = 'done' AND updated_at <= ?1",
                )?
                .execute([now.saturating_sub(*older_than_ms)])?;
            Ok(Outcome::Pruned(u64::try_from(deleted).unwrap_or(u64::MAX)))
        }
        // Closures run through `Closure::run`, never here; were one to come, answering it
        // with an outcome fails it as an internal error.
        Job::Extra(_) => Ok(Outcome::Unit),
    }
}

/// Records an event as done; done is final, so an event already done is left as it was.
fn complete(
    transaction: &Transaction<'_>,
    id: &str,
    status: &str,
    now: i64,
) -> rusqlite::Result<()> {
    transaction
        .prepare_cached(
            "INSERT INTO soniox_webhook_events AS e
                 (transcription_id, status, state, token, lease_until, updated_at)
             VALUES (?1, ?2, 'done', NULL, NULL, ?3)
             ON CONFLICT (transcription_id, status) DO UPDATE
             SET state = 'done', token = NULL, lease_until = NULL,
                 updated_at = excluded.updated_at
             WHERE e.state <> 'done'",
        )?
        .execute(params![id, status, now])
        .map(drop)
}

fn claim(
    transaction: &Transaction<'_>,
    key: &queue::Key,
    lease_ms: i64,
    now: i64,
) -> rusqlite::Result<Outcome> {
    let token = ClaimToken::random();
    // Takes a new event, or one whose lease has run out, in one statement; nothing else
    // writes between it and the lookup below, as this transaction holds the write lock.
    let taken = transaction
        .prepare_cached(
            "INSERT INTO soniox_webhook_events AS e
                 (transcription_id, status, state, token, lease_until, updated_at)
             VALUES (?1, ?2, 'in_progress', ?3, ?4, ?5)
             ON CONFLICT (transcription_id, status) DO UPDATE
             SET token = excluded.token, lease_until = excluded.lease_until,
                 updated_at = excluded.updated_at
             WHERE e.state = 'in_progress' AND e.lease_until <= excluded.updated_at
             RETURNING token",
        )?
        .query_row(
            params![
                key.id,
                key.status,
                queue::token_column(token),
                now.saturating_add(lease_ms),
                now
            ],
            |_| Ok(()),
        )
        .optional()?;
    if taken.is_some() {
        return Ok(Outcome::Claim(Claim::Claimed(token)));
    }
    let held: Option<(String, Option<i64>)> = transaction
        .prepare_cached(
            "SELECT state, lease_until FROM soniox_webhook_events
             WHERE transcription_id = ?1 AND status = ?2",
        )?
        .query_row(params![key.id, key.status], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(Outcome::Claim(match held {
        Some((state, _)) if state == "done" => Claim::Done,
        Some((_, lease_until)) => Claim::InProgress {
            retry_after: queue::remaining(lease_until.unwrap_or(now).saturating_sub(now)),
        },
        // Cannot happen under the write lock; "try later" is the answer that loses nothing.
        None => Claim::InProgress {
            retry_after: Duration::ZERO,
        },
    }))
}

/// Milliseconds since the Unix epoch by the wall clock (0 for a clock set before 1970).
fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Sorts SQLite's errors into the store's: damaged or foreign data is `Corrupt`, everything
/// else (I/O, locks, a full disk) `Unavailable`.
fn sqlite_error(error: rusqlite::Error) -> StoreError {
    let corrupt = match &error {
        rusqlite::Error::SqliteFailure(failure, _) => matches!(
            failure.code,
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt
        ),
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => true,
        _ => false,
    };
    if corrupt {
        StoreError::Corrupt(Box::new(error))
    } else {
        StoreError::Unavailable(Box::new(error))
    }
}

queue::queued_event_store!(SqliteStore);
