//! [`SqliteStore`]: the event states in one SQLite file, written by a thread of its own.

use std::{
    fmt,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};
use soniox_webhook::store::{Claim, ClaimToken, StoreError};
use tokio::sync::oneshot;

use crate::{
    SCHEMA_VERSION,
    queue::{self, Job, Outcome, Queue, Writers},
    schema,
};

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
    queue: Queue,
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
        connection
            .busy_timeout(self.busy_timeout)
            .map_err(sqlite_error)?;
        // The first statements to read the file: a file that is not a database fails here.
        // WAL lets readers (a job tracker in another process) work while this thread writes,
        // and makes `synchronous=NORMAL` safe from corruption.
        connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(sqlite_error)?;
        connection
            .pragma_update(None, "synchronous", self.durability.pragma())
            .map_err(sqlite_error)?;
        migrate(&mut connection)?;
        Ok(connection)
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, refusing a newer one.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock first, so two processes opening a new file at once
    // migrate one after the other instead of both trying.
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error)?;
    transaction
        .execute_batch(schema::CREATE_VERSIONS)
        .map_err(sqlite_error)?;
    let found: i64 = transaction
        .query_row(schema::READ_VERSION, [schema::COMPONENT], |row| row.get(0))
        .optional()
        .map_err(sqlite_error)?
        .unwrap_or(0);
    let pending = schema::pending(found, MIGRATIONS)?;
    if pending.is_empty() {
        return Ok(());
    }
    for migration in pending {
        transaction.execute_batch(migration).map_err(sqlite_error)?;
    }
    transaction
        .execute(
            schema::WRITE_VERSION,
            params![schema::COMPONENT, SCHEMA_VERSION],
        )
        .map_err(sqlite_error)?;
    transaction.commit().map_err(sqlite_error)
}

/// The writer thread: batches of queued jobs, one transaction each, until the queue closes.
fn write(mut connection: Connection, mut writers: Writers) {
    while let Some(first) = writers.jobs.blocking_recv() {
        let batch = queue::drain(&mut writers.jobs, first);
        run_batch(&mut connection, batch);
    }
    if let Err((_, error)) = connection.close() {
        tracing::warn!(%error, "closing the SQLite event store failed");
    }
    drop(writers.alive);
}

fn run_batch(connection: &mut Connection, jobs: Vec<Job>) {
    // One clock reading per batch: the batch commits as one instant.
    let now = unix_millis();
    match in_transaction(connection, &jobs, now) {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                job.finish(Ok(outcome));
            }
        }
        // Nothing of the batch was committed. Run each job alone, so that one job's failure
        // is not every job's, and every caller gets its own true answer.
        Err(_) if jobs.len() > 1 => {
            for job in jobs {
                let result = in_transaction(connection, std::slice::from_ref(&job), now);
                job.finish(result.map(|mut outcomes| outcomes.remove(0)));
            }
        }
        Err(error) => queue::fail_all(jobs, error),
    }
}

/// Runs `jobs` in one transaction; their outcomes, in order, once it has committed.
fn in_transaction(
    connection: &mut Connection,
    jobs: &[Job],
    now: i64,
) -> Result<Vec<Outcome>, StoreError> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error)?;
    let outcomes = jobs
        .iter()
        .map(|job| run_job(&transaction, job, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite_error)?;
    transaction.commit().map_err(sqlite_error)?;
    Ok(outcomes)
}

fn run_job(transaction: &Transaction<'_>, job: &Job, now: i64) -> rusqlite::Result<Outcome> {
    match job {
        Job::Claim { key, lease_ms, .. } => claim(transaction, key, *lease_ms, now),
        Job::Complete { key, .. } => {
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
                .execute(params![key.id, key.status, now])?;
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
    }
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
