//! What the durable stores do when their data or their database goes wrong: an error of the
//! right kind, never a panic, never a password in a message.

mod common;

use std::time::Duration;

use common::event;
use soniox_store::{Claim, EventStore, SCHEMA_VERSION, StoreError};

const LEASE: Duration = Duration::from_secs(60);

#[track_caller]
fn assert_schema_too_new<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use soniox_store::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_corrupt() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("events.db");
        std::fs::write(&path, "not a database, just text. ".repeat(200)).expect("write");
        match SqliteStore::open(&path).await {
            Err(StoreError::Corrupt(source)) => {
                assert!(source.to_string().contains("not a database"), "{source}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_directory_is_unavailable() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        match SqliteStore::open(dir.path()).await {
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("events.db");
        SqliteStore::open(&path).await.expect("open").close().await;
        // What a newer version of the crate would leave behind.
        rusqlite::Connection::open(&path)
            .and_then(|connection| {
                connection.execute(
                    "UPDATE soniox_schema SET version = ?1 WHERE component = 'webhook_events'",
                    [SCHEMA_VERSION + 1],
                )
            })
            .expect("bump the version");
        assert_schema_too_new(SqliteStore::open(&path).await);
    }

    #[tokio::test]
    async fn a_closed_store_finishes_its_queue_then_refuses() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).await.expect("open");
        let tr = event("tr-1");
        // Queued before the close, answered before the writer exits.
        let (claimed, ()) = tokio::join!(store.claim(&tr, LEASE), store.close());
        assert!(matches!(claimed, Ok(Claim::Claimed(_))), "{claimed:?}");
        assert!(matches!(
            store.claim(&tr, LEASE).await,
            Err(StoreError::Closed)
        ));
        store.close().await;
        let reopened = SqliteStore::open(&path).await.expect("reopen");
        assert!(matches!(
            reopened.claim(&tr, LEASE).await,
            Ok(Claim::InProgress { .. })
        ));
    }

    #[tokio::test]
    async fn a_database_that_cannot_use_wal_is_refused() {
        match SqliteStore::open(":memory:").await {
            Err(StoreError::Unavailable(source)) => {
                assert!(source.to_string().contains("WAL"), "{source}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    /// A claim that waited for another process's lock starts its lease when it is written,
    /// not when it was asked for: the wait here outlasts the lease, so a lease counted from
    /// the request would be over when written, and a second delivery would claim the event
    /// while the first is handled.
    #[tokio::test]
    async fn a_lease_starts_when_the_lock_is_won() {
        const SHORT: Duration = Duration::from_secs(4);
        const HELD: Duration = Duration::from_millis(4500);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("events.db");
        let store = SqliteStore::builder(&path)
            .busy_timeout(Duration::from_secs(30))
            .open()
            .await
            .expect("open");
        // Another process's write transaction, holding the lock for longer than the lease.
        let blocker = common::hold_lock(&path, || std::thread::sleep(HELD));
        let tr = event("tr-1");
        let first = store.claim(&tr, SHORT).await.expect("claim");
        assert!(matches!(first, Claim::Claimed(_)), "{first:?}");
        blocker.join().expect("the blocker ends");
        let second = store.claim(&tr, SHORT).await.expect("claim again");
        assert!(matches!(second, Claim::InProgress { .. }), "{second:?}");
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use common::TestDb;
    use soniox_store::{ClaimToken, PostgresStore, deadpool_postgres::tokio_postgres};
    use soniox_types::WebhookEvent;

    use super::*;

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        PostgresStore::connect(&db.url)
            .await
            .expect("connect")
            .close()
            .await;
        db.execute(&format!(
            "UPDATE soniox_schema SET version = {} WHERE component = 'webhook_events'",
            SCHEMA_VERSION + 1
        ))
        .await;
        assert_schema_too_new(PostgresStore::connect(&db.url).await);
    }

    #[tokio::test]
    async fn replicas_starting_together_migrate_once() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let url = db.url.as_str();
        // Each creates the tables if it finds none; the advisory lock makes them take turns.
        let stores = tokio::join!(
            PostgresStore::connect(url),
            PostgresStore::connect(url),
            PostgresStore::connect(url),
            PostgresStore::connect(url),
        );
        for store in <[_; 4]>::from(stores) {
            store.expect("every replica connects");
        }
    }

    /// Under a server whose transactions see a snapshot from their first statement, a
    /// replica that waited for another's migration must still see what it wrote, or it
    /// creates the tables again and fails to start.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_migrate_once_whatever_the_default_isolation() {
        /// The lock every component takes while it migrates.
        const MIGRATION_LOCK: i64 = 0x736f_6e69_6f78;
        let Some(db) = TestDb::create().await else {
            return;
        };
        db.set_default("default_transaction_isolation = 'repeatable read'")
            .await;
        let holder = connect(&db).await;
        // Held here, the lock makes both replicas start their transactions, then wait.
        holder
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .expect("lock");
        let url = db.url.clone();
        let replicas = tokio::spawn(async move {
            tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url))
        });
        let waiting = "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = database \
            WHERE locktype = 'advisory' AND NOT granted AND d.datname = current_database()";
        while holder
            .query_one(waiting, &[])
            .await
            .expect("count the waiting replicas")
            .get::<_, i64>(0)
            < 2
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        holder
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await
            .expect("unlock");
        let (first, second) = replicas.await.expect("the replicas start");
        first.expect("the first replica connects");
        second.expect("the second replica connects");
    }

    /// The component the lock-timeout tests migrate, its first migration, and a second that
    /// needs the table to itself.
    const NOTES: &str = "notes";
    const CREATE_NOTES: &str = "CREATE TABLE soniox_notes (text TEXT NOT NULL)";
    const ADD_COLUMN: &str = "ALTER TABLE soniox_notes ADD COLUMN line INTEGER";

    /// A store whose migrations wait `lock_timeout` for a lock, with `soniox_notes` at
    /// version 1, and another connection in a transaction that has read the table, so holds
    /// a lock that `ADD_COLUMN` must wait for until it ends.
    async fn notes_read_by_an_open_transaction(
        db: &TestDb,
        lock_timeout: Duration,
    ) -> (PostgresStore, tokio_postgres::Client) {
        let store = PostgresStore::builder(&db.url)
            .migration_lock_timeout(lock_timeout)
            .connect()
            .await
            .expect("connect");
        store
            .migrate_component(NOTES, &[CREATE_NOTES])
            .await
            .expect("version 1");
        let reader = connect(db).await;
        reader
            .batch_execute("BEGIN; SELECT count(*) FROM soniox_notes")
            .await
            .expect("an open transaction that read the table");
        (store, reader)
    }

    async fn connect(db: &TestDb) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        client
    }

    /// A lock request waiting in the server's queue makes every later statement on the table
    /// wait behind it: the migration gives way after its lock timeout, so other replicas'
    /// statements go on while a long transaction keeps it from migrating, and it migrates
    /// once that transaction ends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_migration_waiting_for_a_lock_gives_way_then_migrates() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let (store, reader) =
            // 20 attempts of twice that are the migration's budget, ample for the steps below.
            notes_read_by_an_open_transaction(&db, Duration::from_millis(500)).await;
        let store = std::sync::Arc::new(store);
        let migrating = tokio::spawn({
            let store = std::sync::Arc::clone(&store);
            async move {
                store
                    .migrate_component(NOTES, &[CREATE_NOTES, ADD_COLUMN])
                    .await
            }
        });
        // Once the migration's lock request waits, a replica's statement on the table.
        let other = connect(&db).await;
        let queued = "SELECT count(*) FROM pg_locks \
            WHERE relation = 'soniox_notes'::regclass AND mode = 'AccessExclusiveLock' \
            AND NOT granted \
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
        for _ in 0..6_000 {
            assert!(
                !migrating.is_finished(),
                "the migration waits for the reader"
            );
            let waiting = other
                .query_one(queued, &[])
                .await
                .expect("look for the migration's lock request")
                .get::<_, i64>(0);
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let write = other.execute("INSERT INTO soniox_notes (text) VALUES ('meanwhile')", &[]);
        // Without the lock timeout it waits for as long as the reader's transaction lasts.
        tokio::time::timeout(Duration::from_secs(60), write)
            .await
            .expect("the statement does not wait behind the migration")
            .expect("insert");
        assert!(
            !migrating.is_finished(),
            "the migration waits for the reader"
        );
        reader.batch_execute("COMMIT").await.expect("commit");
        migrating
            .await
            .expect("the migration's task")
            .expect("the migration runs once the table is free");
        other
            .execute(
                "INSERT INTO soniox_notes (text, line) VALUES ('after', 2)",
                &[],
            )
            .await
            .expect("the new column is there");
        store.close().await;
    }

    /// A table locked through every attempt fails the migration, clearly and having changed
    /// nothing; it runs later.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_migration_locked_out_throughout_fails_and_changes_nothing() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let (store, reader) =
            notes_read_by_an_open_transaction(&db, Duration::from_millis(5)).await;
        let migration = store.migrate_component(NOTES, &[CREATE_NOTES, ADD_COLUMN]);
        // Without the lock timeout it waits for as long as the reader's transaction lasts.
        let error = tokio::time::timeout(Duration::from_secs(60), migration)
            .await
            .expect("the migration gives up")
            .expect_err("the table stays locked");
        let StoreError::Unavailable(message) = error else {
            panic!("unavailable, not {error:?}");
        };
        let message = message.to_string();
        assert!(
            message.contains("notes") && message.contains("lock"),
            "names the component and the lock: {message}"
        );
        reader.batch_execute("COMMIT").await.expect("commit");
        let version = reader
            .query_one(
                "SELECT version FROM soniox_schema WHERE component = $1",
                &[&NOTES],
            )
            .await
            .expect("read the version")
            .get::<_, i64>(0);
        assert_eq!(version, 1, "the failed migration changed nothing");
        store
            .migrate_component(NOTES, &[CREATE_NOTES, ADD_COLUMN])
            .await
            .expect("migrates once the table is free");
        store.close().await;
    }

    /// A migration lock timeout out of the server's range is brought into it.
    #[test]
    fn the_migration_lock_timeout_is_kept_in_the_servers_range() {
        for (given, kept) in [
            (Duration::ZERO, "1ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::MAX, "2147483.647s"),
        ] {
            let builder =
                PostgresStore::builder("postgres://localhost/db").migration_lock_timeout(given);
            let shown = format!("{builder:?}");
            assert!(
                shown.contains(&format!("migration_lock_timeout: {kept}")),
                "{given:?}: {shown}"
            );
        }
    }

    /// A store on `db` and an event it claimed.
    async fn with_a_claim(db: &TestDb) -> (PostgresStore, WebhookEvent, ClaimToken) {
        let store = PostgresStore::connect(&db.url).await.expect("connect");
        let tr = event("tr-1");
        let Ok(Claim::Claimed(token)) = store.claim(&tr, LEASE).await else {
            panic!("a new event is claimed");
        };
        (store, tr, token)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_database_is_unavailable() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let (store, tr, token) = with_a_claim(&db).await;
        // Terminates the pool's connections, then removes the database under them.
        db.drop_now().await;
        for (operation, result) in [
            ("claim", store.claim(&tr, LEASE).await.map(drop)),
            ("complete", store.complete(&tr, token).await),
            ("release", store.release(&tr, token).await),
            ("prune", store.prune(LEASE).await.map(drop)),
        ] {
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{operation}: expected Unavailable, got {result:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn terminated_connections_fail_then_are_replaced() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let (store, tr, token) = with_a_claim(&db).await;
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await;
        // Each operation fails (a dead pooled connection) or succeeds (a new one); there are
        // at most as many dead connections as the pool holds.
        let mut outcome = Err(StoreError::Closed);
        for _ in 0..=8 {
            outcome = store.complete(&tr, token).await;
            match &outcome {
                Ok(()) => break,
                Err(StoreError::Unavailable(_)) => {}
                Err(other) => panic!("expected Unavailable, got {other:?}"),
            }
        }
        outcome.expect("a new connection completes the event");
        assert_eq!(store.claim(&tr, LEASE).await.ok(), Some(Claim::Done));
    }

    #[tokio::test]
    async fn the_password_is_never_shown() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        const PASSWORD: &str = "hunter2-do-not-print";
        let with_password = db
            .url
            .replacen("://", &format!("://postgres:{PASSWORD}@"), 1);
        let with_password = match with_password.split_once('@') {
            // The server URL may already name a user: keep only the one with the password.
            Some((before, after)) if after.contains('@') => {
                format!(
                    "{before}@{}",
                    after.split_once('@').map_or(after, |(_, rest)| rest)
                )
            }
            _ => with_password,
        };
        let builder = PostgresStore::builder(&with_password);
        assert!(!format!("{builder:?}").contains(PASSWORD));
        // The test server trusts every connection, so the password is not checked.
        let store = builder.connect().await.expect("connect");
        assert!(!format!("{store:?}").contains(PASSWORD), "{store:?}");

        let unreachable = format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/nowhere");
        let invalid = format!("postgres://postgres:{PASSWORD}@127.0.0.1:port/nowhere");
        for url in [unreachable, invalid] {
            let error = PostgresStore::builder(&url)
                .timeout(Duration::from_secs(2))
                .connect()
                .await
                .expect_err("cannot connect");
            let mut shown = format!("{error} {error:?}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                shown.push_str(&format!(" {cause} {cause:?}"));
                source = cause.source();
            }
            assert!(matches!(error, StoreError::Unavailable(_)), "{shown}");
            assert!(!shown.contains(PASSWORD), "{shown}");
        }
    }
}
