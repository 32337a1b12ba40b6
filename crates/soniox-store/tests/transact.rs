//! A caller's own statements in a store's transaction (`transact`), and the tables of other
//! components (`migrate_component`), against SQLite and PostgreSQL.
//!
//! Each behaviour is a generic async function over a [`Backend`]; `suite!` turns every
//! behaviour into one test per backend. A closure's writes go to `soniox_notes`, a table of
//! the test's own component.
#![cfg(any(feature = "sqlite", feature = "postgres"))]

mod common;

use std::{sync::Arc, time::Duration};

use common::event;
use soniox_store::{Claim, ClaimToken, EventStore, SCHEMA_VERSION, StoreError};
use soniox_types::WebhookEvent;

const LEASE: Duration = Duration::from_secs(60);
const CLAIMS: usize = 64;
/// What a closure that refuses returns.
const REFUSED: &str = "refused";

/// The test's component: notes, later with a state column.
const NOTES: &[&str] = &[
    "CREATE TABLE soniox_notes (id TEXT PRIMARY KEY NOT NULL)",
    "ALTER TABLE soniox_notes ADD COLUMN state TEXT",
];

/// A closure's answer: what it wrote, or why it refused (its own statements' errors too).
type Answer = Result<Result<u64, String>, StoreError>;

/// How a closure ends once its statement ran.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Returns `Ok` with the rows written.
    Keep,
    /// Returns `Err(REFUSED)`.
    Refuse,
    /// Panics with "boom".
    Panic,
}

impl Then {
    /// The closure's result after its statement `wrote` (a failed statement is its error).
    fn end<E: std::fmt::Display>(self, wrote: Result<u64, E>) -> Result<u64, String> {
        let written = wrote.map_err(|error| error.to_string())?;
        match self {
            Self::Keep => Ok(written),
            Self::Refuse => Err(REFUSED.to_owned()),
            Self::Panic => panic!("boom"),
        }
    }
}

/// Starts a task that runs a closure in the store, for [`together`].
type Spawn<S> = Box<dyn FnOnce(Arc<S>) -> tokio::task::JoinHandle<Answer>>;

/// What both stores have alike beyond [`EventStore`], for generic tests.
trait Components: EventStore + 'static {
    async fn migrate(
        &self,
        component: &'static str,
        migrations: &'static [&'static str],
    ) -> Result<(), StoreError>;

    async fn close(&self);
}

macro_rules! components {
    ($store:ty) => {
        impl Components for $store {
            async fn migrate(
                &self,
                component: &'static str,
                migrations: &'static [&'static str],
            ) -> Result<(), StoreError> {
                self.migrate_component(component, migrations).await
            }

            async fn close(&self) {
                <$store>::close(self).await;
            }
        }
    };
}

#[cfg(feature = "sqlite")]
components!(soniox_store::SqliteStore);
#[cfg(feature = "postgres")]
components!(soniox_store::PostgresStore);

/// A kind of store, and how to run closures in it.
trait Backend {
    type Store: Components;

    /// Opens a store on the backend's data (again, for a restart).
    async fn open(&self) -> Self::Store;

    /// Holds every operation of `store` queued from now until the gate is dropped, so that
    /// they share a batch; `None` for a store whose closures are not batched.
    async fn hold(store: &Arc<Self::Store>) -> Option<std::sync::mpsc::Sender<()>>;

    /// Runs `sql` in a closure that then does as `then` says. (`Send`, as a `transact`
    /// future is: tasks run it.)
    fn write(store: &Self::Store, sql: String, then: Then) -> impl Future<Output = Answer> + Send;

    /// The one integer `sql` selects, read in a closure.
    async fn number(store: &Self::Store, sql: &'static str) -> i64;

    /// `complete_claimed_in` for `event` with `token`, in a closure of its own.
    async fn complete_claimed(store: &Self::Store, event: WebhookEvent, token: ClaimToken) -> bool;
}

#[cfg(feature = "sqlite")]
use common::SqliteFile as Sqlite;
#[cfg(feature = "postgres")]
use common::TestDb as Postgres;

#[cfg(feature = "sqlite")]
impl Backend for Sqlite {
    type Store = soniox_store::SqliteStore;

    async fn open(&self) -> Self::Store {
        self.open_store().await
    }

    async fn hold(store: &Arc<Self::Store>) -> Option<std::sync::mpsc::Sender<()>> {
        let (entered, inside) = tokio::sync::oneshot::channel();
        let (gate, wait) = std::sync::mpsc::channel::<()>();
        let store = Arc::clone(store);
        // Blocks the writer thread in a batch of its own until the gate drops; whatever is
        // queued meanwhile is the next batch.
        tokio::spawn(async move {
            store
                .transact(move |_| {
                    let _ = entered.send(());
                    let _ = wait.recv();
                    Ok::<_, String>(0)
                })
                .await
        });
        inside.await.expect("the holding closure runs");
        Some(gate)
    }

    async fn write(store: &Self::Store, sql: String, then: Then) -> Answer {
        store
            .transact(move |transaction| {
                let written = transaction.execute(&sql, []);
                then.end(written.map(|rows| u64::try_from(rows).expect("a row count")))
            })
            .await
    }

    async fn number(store: &Self::Store, sql: &'static str) -> i64 {
        store
            .transact(move |transaction| transaction.query_row(sql, [], |row| row.get(0)))
            .await
            .expect("the store answers")
            .unwrap_or_else(|error| panic!("`{sql}` failed: {error}"))
    }

    async fn complete_claimed(store: &Self::Store, event: WebhookEvent, token: ClaimToken) -> bool {
        store
            .transact(move |transaction| {
                soniox_store::SqliteStore::complete_claimed_in(transaction, &event, token)
            })
            .await
            .expect("the store answers")
            .expect("the statement runs")
    }
}

#[cfg(feature = "postgres")]
impl Backend for Postgres {
    type Store = soniox_store::PostgresStore;

    async fn open(&self) -> Self::Store {
        self.open_store().await
    }

    async fn hold(_: &Arc<Self::Store>) -> Option<std::sync::mpsc::Sender<()>> {
        None
    }

    async fn write(store: &Self::Store, sql: String, then: Then) -> Answer {
        store
            .transact(move |transaction| {
                Box::pin(async move { then.end(transaction.execute(&sql, &[]).await) })
            })
            .await
    }

    async fn number(store: &Self::Store, sql: &'static str) -> i64 {
        store
            .transact(move |transaction| {
                Box::pin(async move { transaction.query_one(sql, &[]).await?.try_get(0) })
            })
            .await
            .expect("the store answers")
            .unwrap_or_else(|error| panic!("`{sql}` failed: {error}"))
    }

    async fn complete_claimed(store: &Self::Store, event: WebhookEvent, token: ClaimToken) -> bool {
        store
            .transact(move |transaction| {
                Box::pin(async move {
                    soniox_store::PostgresStore::complete_claimed_in(transaction, &event, token)
                        .await
                })
            })
            .await
            .expect("the store answers")
            .expect("the statement runs")
    }
}

/// A store on `backend` with the notes component migrated.
async fn with_notes<B: Backend>(backend: &B) -> B::Store {
    let store = backend.open().await;
    store.migrate("notes", NOTES).await.expect("migrate");
    store
}

/// How many notes `store` holds.
async fn notes<B: Backend>(store: &B::Store) -> i64 {
    B::number(store, "SELECT count(*) FROM soniox_notes").await
}

fn insert(id: &str) -> String {
    format!("INSERT INTO soniox_notes (id) VALUES ('{id}')")
}

/// Claims `CLAIMS` new events and runs `closures` at once (in one batch where the store
/// batches closures); the claims' answers, and the closures' in order.
async fn together<B: Backend>(
    store: &Arc<B::Store>,
    closures: Vec<Spawn<B::Store>>,
) -> (Vec<Claim>, Vec<Answer>) {
    let gate = B::hold(store).await;
    let claims: Vec<_> = (0..CLAIMS)
        .map(|index| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .claim(&event(&format!("tr-{index}")), LEASE)
                    .await
                    .expect("claim")
            })
        })
        .collect();
    let closures: Vec<_> = closures
        .into_iter()
        .map(|closure| closure(Arc::clone(store)))
        .collect();
    // Long enough for every task to queue its operation behind the gate.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(gate);
    let mut claimed = Vec::with_capacity(CLAIMS);
    for claim in claims {
        claimed.push(claim.await.expect("the claim's task finishes"));
    }
    let mut answers = Vec::new();
    for closure in closures {
        answers.push(closure.await.expect("the closure's task finishes"));
    }
    (claimed, answers)
}

/// A closure writing `id` for [`together`], ending as `then` says.
fn writing<B: Backend>(id: &'static str, then: Then) -> Spawn<B::Store> {
    Box::new(move |store| tokio::spawn(async move { B::write(&store, insert(id), then).await }))
}

/// Every claim of [`together`] committed: each got its event, and holds it still.
async fn assert_claims_committed<B: Backend>(store: &B::Store, claims: &[Claim]) {
    assert!(
        claims
            .iter()
            .all(|claim| matches!(claim, Claim::Claimed(_))),
        "every new event is claimed: {claims:?}"
    );
    for index in 0..CLAIMS {
        let again = store
            .claim(&event(&format!("tr-{index}")), LEASE)
            .await
            .expect("claim");
        assert!(
            matches!(again, Claim::InProgress { .. }),
            "the claim of tr-{index} committed: {again:?}"
        );
    }
}

async fn a_committed_write_is_visible<B: Backend>(backend: &B) {
    let store = with_notes(backend).await;
    assert_eq!(
        B::write(&store, insert("n-1"), Then::Keep).await.ok(),
        Some(Ok(1))
    );
    assert_eq!(notes::<B>(&store).await, 1);
    store.close().await;
    let store = backend.open().await;
    assert_eq!(notes::<B>(&store).await, 1, "the write survives a restart");
}

async fn a_refusing_closure_rolls_back_only_its_own_writes<B: Backend>(backend: &B) {
    let store = Arc::new(with_notes(backend).await);
    let (claims, answers) = together::<B>(
        &store,
        vec![
            writing::<B>("before", Then::Keep),
            writing::<B>("refused", Then::Refuse),
            writing::<B>("after", Then::Keep),
        ],
    )
    .await;
    let answers: Vec<_> = answers.into_iter().map(Result::ok).collect();
    assert_eq!(
        answers,
        [Some(Ok(1)), Some(Err(REFUSED.to_owned())), Some(Ok(1))]
    );
    assert_claims_committed::<B>(&store, &claims).await;
    assert_eq!(
        B::number(
            &store,
            "SELECT count(*) FROM soniox_notes WHERE id = 'refused'"
        )
        .await,
        0
    );
    assert_eq!(notes::<B>(&store).await, 2);
}

async fn a_panicking_closure_is_an_error_and_the_store_goes_on<B: Backend>(backend: &B) {
    let store = Arc::new(with_notes(backend).await);
    let closures = vec![
        writing::<B>("panicked", Then::Panic),
        writing::<B>("kept", Then::Keep),
    ];
    let (claims, mut answers) = together::<B>(&store, closures).await;
    match answers.remove(0) {
        Err(StoreError::Unavailable(error)) => assert!(
            error.to_string().contains("boom"),
            "the panic's message is in the error: {error}"
        ),
        other => panic!("a panic is an unavailable store: {other:?}"),
    }
    assert_eq!(answers.remove(0).ok(), Some(Ok(1)));
    assert_claims_committed::<B>(&store, &claims).await;
    assert_eq!(
        B::number(
            &store,
            "SELECT count(*) FROM soniox_notes WHERE id = 'panicked'"
        )
        .await,
        0
    );
    // The store goes on: closures and event operations alike.
    assert_eq!(
        B::write(&store, insert("later"), Then::Keep).await.ok(),
        Some(Ok(1))
    );
    let later = store.claim(&event("tr-later"), LEASE).await.expect("claim");
    assert!(matches!(later, Claim::Claimed(_)), "{later:?}");
}

/// Records, in a closure, the state the store holds for event `id` as a note.
fn record_state(id: &str) -> String {
    format!(
        "INSERT INTO soniox_notes (id, state)
         SELECT transcription_id || '-' || state, state FROM soniox_webhook_events
         WHERE transcription_id = '{id}'"
    )
}

async fn closures_see_claims_and_completions_in_order<B: Backend>(backend: &B) {
    const TASKS: usize = 16;
    let store = Arc::new(with_notes(backend).await);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let id = format!("tr-{task}");
                let event = event(&id);
                let Claim::Claimed(token) = store.claim(&event, LEASE).await.expect("claim") else {
                    panic!("a new event is claimed");
                };
                let seen = B::write(&store, record_state(&id), Then::Keep).await;
                assert_eq!(seen.ok(), Some(Ok(1)), "the closure sees the claim");
                store.complete(&event, token).await.expect("complete");
                let seen = B::write(&store, record_state(&id), Then::Keep).await;
                assert_eq!(seen.ok(), Some(Ok(1)), "the closure sees the completion");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task finishes");
    }
    for (state, sql) in [
        (
            "in_progress",
            "SELECT count(*) FROM soniox_notes WHERE state = 'in_progress'",
        ),
        (
            "done",
            "SELECT count(*) FROM soniox_notes WHERE state = 'done'",
        ),
    ] {
        assert_eq!(
            B::number(&store, sql).await,
            i64::try_from(TASKS).expect("a count"),
            "every event was seen {state}"
        );
    }
}

async fn component_migrations_apply_once<B: Backend>(backend: &B) {
    let store = backend.open().await;
    // The first version, and later the second appended to it.
    store
        .migrate("notes", &NOTES[..1])
        .await
        .expect("version 1");
    store.migrate("notes", NOTES).await.expect("version 2");
    store.close().await;
    let store = backend.open().await;
    // `CREATE TABLE` and `ADD COLUMN` fail when run again: a no-op passes.
    store
        .migrate("notes", NOTES)
        .await
        .expect("migrating again does nothing");
    assert_eq!(
        B::number(
            &store,
            "SELECT version FROM soniox_schema WHERE component = 'notes'"
        )
        .await,
        2
    );
    assert_eq!(
        B::write(
            &store,
            "INSERT INTO soniox_notes (id, state) VALUES ('n', 's')".to_owned(),
            Then::Keep
        )
        .await
        .ok(),
        Some(Ok(1))
    );
}

async fn a_newer_component_is_refused<B: Backend>(backend: &B) {
    let store = with_notes(backend).await;
    match store.migrate("notes", &NOTES[..1]).await {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (2, 1));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

async fn components_coexist<B: Backend>(backend: &B) {
    const JOBS: &[&str] = &["CREATE TABLE soniox_jobs (id TEXT PRIMARY KEY NOT NULL)"];
    let store = backend.open().await;
    store.migrate("notes", NOTES).await.expect("notes");
    store.migrate("jobs", JOBS).await.expect("jobs");
    for (component, version, sql) in [
        (
            "notes",
            2,
            "SELECT version FROM soniox_schema WHERE component = 'notes'",
        ),
        (
            "jobs",
            1,
            "SELECT version FROM soniox_schema WHERE component = 'jobs'",
        ),
        (
            "webhook_events",
            SCHEMA_VERSION,
            "SELECT version FROM soniox_schema WHERE component = 'webhook_events'",
        ),
    ] {
        assert_eq!(B::number(&store, sql).await, version, "{component}");
    }
    let write = "INSERT INTO soniox_jobs (id) VALUES ('j-1')".to_owned();
    assert_eq!(B::write(&store, write, Then::Keep).await.ok(), Some(Ok(1)));
    assert_eq!(
        B::write(&store, insert("n-1"), Then::Keep).await.ok(),
        Some(Ok(1))
    );
}

async fn a_failing_migration_leaves_the_component_as_it_was<B: Backend>(backend: &B) {
    const BROKEN: &[&str] = &[
        "CREATE TABLE soniox_broken (id TEXT PRIMARY KEY NOT NULL)",
        "CREATE TABLE soniox_broken_too (",
    ];
    let store = backend.open().await;
    store
        .migrate("broken", BROKEN)
        .await
        .expect_err("a migration that does not parse fails");
    assert_eq!(
        B::number(
            &store,
            "SELECT count(*) FROM soniox_schema WHERE component = 'broken'"
        )
        .await,
        0
    );
    // The first migration's table was rolled back too: creating it again succeeds.
    store
        .migrate("broken", &BROKEN[..1])
        .await
        .expect("the first migration alone");
    let claim = store.claim(&event("tr-1"), LEASE).await.expect("claim");
    assert!(matches!(claim, Claim::Claimed(_)), "{claim:?}");
}

/// A completion fenced by a claim's token records the event done for the handling that holds
/// the claim only: not for one whose lease ran out and whose event another handling took.
async fn a_fenced_completion_needs_the_claim<B: Backend>(backend: &B) {
    let store = with_notes(backend).await;
    let tr = event("tr-fenced");
    let claimed = |claim| match claim {
        Ok(Claim::Claimed(token)) => token,
        other => panic!("a claim, not {other:?}"),
    };
    let first = claimed(store.claim(&tr, Duration::ZERO).await);
    // The first lease has run out already: another handling takes the event.
    let second = claimed(store.claim(&tr, LEASE).await);
    let fenced = |token| B::complete_claimed(&store, tr.clone(), token);
    assert!(!fenced(first).await, "the first handling's claim is gone");
    let again = store.claim(&tr, LEASE).await;
    assert!(matches!(again, Ok(Claim::InProgress { .. })), "{again:?}");
    assert!(fenced(second).await, "the second handling holds it");
    assert!(!fenced(second).await, "done already");
    assert!(matches!(store.claim(&tr, LEASE).await, Ok(Claim::Done)));
}

async fn a_closed_store_refuses_closures<B: Backend>(backend: &B) {
    let store = with_notes(backend).await;
    store.close().await;
    assert!(matches!(
        B::write(&store, insert("n-1"), Then::Keep).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        store.migrate("other", NOTES).await,
        Err(StoreError::Closed)
    ));
}

/// Every behaviour of this file as tests against one backend.
macro_rules! suite {
    ($module:ident, $backend:expr) => {
        common::suite!($module, $backend;
            a_committed_write_is_visible,
            a_refusing_closure_rolls_back_only_its_own_writes,
            a_panicking_closure_is_an_error_and_the_store_goes_on,
            closures_see_claims_and_completions_in_order,
            component_migrations_apply_once,
            a_newer_component_is_refused,
            components_coexist,
            a_failing_migration_leaves_the_component_as_it_was,
            a_fenced_completion_needs_the_claim,
            a_closed_store_refuses_closures,
        );
    };
}

#[cfg(feature = "sqlite")]
suite!(sqlite, Sqlite::create());
#[cfg(feature = "postgres")]
suite!(postgres, Postgres::create());

#[cfg(feature = "sqlite")]
mod sqlite_only {
    use super::*;

    /// A closure that ends the batch's transaction fails the batch: the closures that ran in
    /// it hear the error, the event operations run again and get their true answers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closure_ending_the_transaction_fails_its_batch_not_the_claims() {
        let backend = Sqlite::create().await.expect("a backend");
        let store = Arc::new(with_notes(&backend).await);
        let ending: Spawn<soniox_store::SqliteStore> = Box::new(|store| {
            tokio::spawn(
                async move { Sqlite::write(&store, "ROLLBACK".to_owned(), Then::Keep).await },
            )
        });
        let (claims, mut answers) = together::<Sqlite>(
            &store,
            vec![
                writing::<Sqlite>("before", Then::Keep),
                ending,
                writing::<Sqlite>("after", Then::Keep),
            ],
        )
        .await;
        assert!(
            matches!(answers.remove(1), Err(StoreError::Unavailable(_))),
            "the closure that ended the transaction fails"
        );
        assert_claims_committed::<Sqlite>(&store, &claims).await;
        // Each other closure either ran in the failed batch, and was told so, or after it.
        for (id, answer) in [("before", &answers[0]), ("after", &answers[1])] {
            let written = match answer {
                Ok(Ok(1)) => 1,
                Err(StoreError::Unavailable(_)) => 0,
                other => panic!("{id}: {other:?}"),
            };
            let sql = if id == "before" {
                "SELECT count(*) FROM soniox_notes WHERE id = 'before'"
            } else {
                "SELECT count(*) FROM soniox_notes WHERE id = 'after'"
            };
            assert_eq!(Sqlite::number(&store, sql).await, written, "{id}");
        }
        let later = store.claim(&event("tr-later"), LEASE).await.expect("claim");
        assert!(matches!(later, Claim::Claimed(_)), "{later:?}");
    }

    /// A statement failing inside a closure undoes that statement only; the closure may go
    /// on and commit the rest.
    #[tokio::test]
    async fn a_closure_may_recover_from_a_failed_statement() {
        let backend = Sqlite::create().await.expect("a backend");
        let store = with_notes(&backend).await;
        let answer = store
            .transact(|transaction| {
                transaction.execute(&insert("n-1"), [])?;
                let duplicate = transaction.execute(&insert("n-1"), []);
                assert!(duplicate.is_err(), "the primary key refuses a duplicate");
                transaction.execute(&insert("n-2"), [])
            })
            .await;
        assert_eq!(answer.ok().and_then(Result::ok), Some(1));
        assert_eq!(notes::<Sqlite>(&store).await, 2);
    }
}

#[cfg(feature = "postgres")]
mod postgres_only {
    use std::pin::Pin;

    use soniox_store::deadpool_postgres::{Transaction, tokio_postgres::Error};

    use super::*;

    /// A closure for [`in_notes`].
    type Closure = for<'t> fn(
        &'t mut Transaction<'_>,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 't>>;

    /// Runs `closure` in a store on a new database with the notes component; its answer,
    /// and how many notes stayed. `None` when the PostgreSQL tests are skipped.
    async fn in_notes(closure: Closure) -> Option<(Result<Result<(), Error>, StoreError>, i64)> {
        let backend = Postgres::create().await?;
        let store = with_notes(&backend).await;
        let answer = store.transact(closure).await;
        Some((answer, notes::<Postgres>(&store).await))
    }

    /// PostgreSQL aborts a transaction on a failed statement; a closure that ignores the
    /// error and returns `Ok` must not be told its writes committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_swallowed_statement_error_is_not_a_commit() {
        let Some((answer, notes)) = in_notes(|transaction| {
            Box::pin(async move {
                transaction.execute(&insert("n-1"), &[]).await?;
                let broken = transaction
                    .execute("SELECT * FROM no_such_table", &[])
                    .await;
                assert!(broken.is_err(), "the statement fails");
                Ok(())
            })
        })
        .await
        else {
            return;
        };
        assert!(
            matches!(answer, Err(StoreError::Unavailable(_))),
            "{answer:?}"
        );
        assert_eq!(notes, 0);
    }

    /// A commit the server refuses (a deferred constraint) is answered with what the server
    /// said, never its detail, which quotes the row (here a presigned URL's signature).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_commit_does_not_quote_the_row() {
        let Some((answer, _)) = in_notes(|transaction| {
            Box::pin(async move {
                transaction
                    .batch_execute(
                        "CREATE TEMP TABLE held (url text UNIQUE DEFERRABLE INITIALLY DEFERRED);
                         INSERT INTO held VALUES ('https://audio.test/a?sig=s3cr3t'),
                                                 ('https://audio.test/a?sig=s3cr3t')",
                    )
                    .await
            })
        })
        .await
        else {
            return;
        };
        let Err(error @ StoreError::Unavailable(_)) = answer else {
            panic!("the commit is refused: {answer:?}");
        };
        let source = std::error::Error::source(&error).map(ToString::to_string);
        let shown = format!("{error} {error:?} {source:?}");
        assert!(shown.contains("(23505)"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    /// Replicas starting together migrate a component once, taking turns on the lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_migrate_a_component_once() {
        let Some(backend) = Postgres::create().await else {
            return;
        };
        let stores = [
            backend.open().await,
            backend.open().await,
            backend.open().await,
        ];
        let migrated = tokio::join!(
            stores[0].migrate_component("notes", NOTES),
            stores[1].migrate_component("notes", NOTES),
            stores[2].migrate_component("notes", NOTES),
        );
        for result in <[_; 3]>::from(migrated) {
            result.expect("every replica migrates or finds it done");
        }
        assert_eq!(
            Postgres::number(
                &stores[0],
                "SELECT version FROM soniox_schema WHERE component = 'notes'"
            )
            .await,
            2
        );
    }

    /// A closure may nest a savepoint of its own and roll back just that.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closure_may_nest_a_savepoint() {
        let Some((answer, notes)) = in_notes(|transaction| {
            Box::pin(async move {
                transaction.execute(&insert("n-1"), &[]).await?;
                let nested = transaction.transaction().await?;
                nested.execute(&insert("n-2"), &[]).await?;
                nested.rollback().await?;
                Ok(())
            })
        })
        .await
        else {
            return;
        };
        assert!(matches!(answer, Ok(Ok(()))), "{answer:?}");
        assert_eq!(notes, 1);
    }
}
