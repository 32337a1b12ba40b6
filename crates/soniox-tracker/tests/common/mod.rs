//! What the tracker's test binaries share: the database a test runs on (a SQLite file, or a
//! PostgreSQL database of its own), the effects table its handlers write to, and what the
//! database holds at a given moment.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::{collections::HashMap, path::PathBuf};

#[cfg(feature = "postgres")]
use soniox_store::PostgresStore;
use soniox_store::SqliteStore;
use soniox_tracker::{Database, Effect};

/// The PostgreSQL test databases of soniox-store's tests: created per test, dropped after.
#[cfg(feature = "postgres")]
#[path = "../../../soniox-store/tests/common/mod.rs"]
mod store_common;

#[cfg(feature = "postgres")]
#[allow(unused_imports, reason = "not every test binary balances")]
pub(crate) use store_common::{TestDb, balancer};

const EFFECTS_TABLE: &str = "CREATE TABLE soniox_test_effects (transcription_id TEXT NOT NULL)";

/// Where a test keeps its jobs.
pub(crate) enum TestDatabase {
    Sqlite(tempfile::TempDir),
    #[cfg(feature = "postgres")]
    Postgres(TestDb),
}

impl TestDatabase {
    pub(crate) fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    /// A database of its own, or `None` when the PostgreSQL tests are skipped.
    #[cfg(feature = "postgres")]
    pub(crate) async fn postgres() -> Option<Self> {
        TestDb::create().await.map(Self::Postgres)
    }

    /// How a process finds the database: `sqlite:<path>` or the PostgreSQL URL.
    pub(crate) fn locator(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite:{}", dir.path().join("tracker.db").display()),
            #[cfg(feature = "postgres")]
            Self::Postgres(db) => db.url.clone(),
        }
    }

    /// Opens the database with its effects table.
    pub(crate) async fn open(&self) -> Database {
        open(&self.locator()).await
    }
}

/// Opens the database `locator` names (see [`TestDatabase::locator`]) and creates its
/// effects table if needed.
pub(crate) async fn open(locator: &str) -> Database {
    let database: Database = match locator.strip_prefix("sqlite:") {
        Some(path) => SqliteStore::open(path).await.expect("open").into(),
        #[cfg(feature = "postgres")]
        None => PostgresStore::builder(locator)
            .pool_size(16)
            .connect()
            .await
            .expect("connect")
            .into(),
        #[cfg(not(feature = "postgres"))]
        None => panic!("no PostgreSQL in this build: {locator}"),
    };
    let created = match &database {
        Database::Sqlite(store) => {
            store
                .migrate_component("test_effects", &[EFFECTS_TABLE])
                .await
        }
        #[cfg(feature = "postgres")]
        Database::Postgres(store) => {
            store
                .migrate_component("test_effects", &[EFFECTS_TABLE])
                .await
        }
        _ => unreachable!("a database of this build"),
    };
    created.expect("the effects table");
    database
}

/// The effect that records one handling of transcription `id`, for `database`.
pub(crate) fn record_effect(database: &Database, id: String) -> Effect {
    match database {
        #[cfg(feature = "postgres")]
        Database::Postgres(_) => Effect::postgres(move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO soniox_test_effects (transcription_id) VALUES ($1)",
                    &[&id],
                )
                .await
                .map(drop)
            })
        }),
        _ => Effect::sqlite(move |tx| {
            tx.execute(
                "INSERT INTO soniox_test_effects (transcription_id) VALUES (?1)",
                [id],
            )
            .map(drop)
        }),
    }
}

/// What the database holds.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Jobs recorded and not yet done.
    pub(crate) open: usize,
    /// Jobs the tracker gave up on.
    pub(crate) lost: usize,
    /// How many effects each transcription's handler committed.
    pub(crate) effects: HashMap<String, usize>,
    /// Every job's reference.
    pub(crate) references: Vec<String>,
}

const OPEN: &str = "SELECT COUNT(*) FROM soniox_jobs WHERE stage NOT IN ('done', 'lost')";
const LOST: &str = "SELECT COUNT(*) FROM soniox_jobs WHERE stage = 'lost'";
const EFFECTS: &str =
    "SELECT transcription_id, COUNT(*) FROM soniox_test_effects GROUP BY transcription_id";
const REFERENCES: &str = "SELECT reference FROM soniox_jobs";

/// What the database `locator` names holds now, read in one snapshot on a connection of its
/// own (other processes may be writing).
pub(crate) async fn progress(locator: &str) -> Progress {
    let count = |n: i64| usize::try_from(n).unwrap_or(usize::MAX);
    if let Some(path) = locator.strip_prefix("sqlite:") {
        let path = PathBuf::from(path);
        return tokio::task::spawn_blocking(move || {
            use soniox_store::rusqlite::Connection;
            let db = Connection::open(path).expect("open the database");
            // One snapshot for every count.
            db.execute_batch("BEGIN").expect("a read transaction");
            let number = |sql| db.query_row(sql, [], |row| row.get(0)).expect("count");
            let mut effects = db.prepare(EFFECTS).expect("prepare");
            let effects = effects
                .query_map([], |row| Ok((row.get(0)?, count(row.get(1)?))))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("effects");
            let mut references = db.prepare(REFERENCES).expect("prepare");
            let references = references
                .query_map([], |row| row.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("references");
            Progress {
                open: count(number(OPEN)),
                lost: count(number(LOST)),
                effects,
                references,
            }
        })
        .await
        .expect("the reading thread");
    }
    #[cfg(feature = "postgres")]
    {
        use soniox_store::deadpool_postgres::tokio_postgres::{self, NoTls};
        let (client, connection) = tokio_postgres::connect(locator, NoTls)
            .await
            .expect("connect");
        let connection = tokio::spawn(connection);
        // One snapshot for every count.
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .expect("a read transaction");
        let number = async |sql| -> i64 { client.query_one(sql, &[]).await.expect("count").get(0) };
        let progress = Progress {
            open: count(number(OPEN).await),
            lost: count(number(LOST).await),
            effects: client
                .query(EFFECTS, &[])
                .await
                .expect("effects")
                .iter()
                .map(|row| (row.get(0), count(row.get(1))))
                .collect(),
            references: client
                .query(REFERENCES, &[])
                .await
                .expect("references")
                .iter()
                .map(|row| row.get(0))
                .collect(),
        };
        drop(client);
        let _ = connection.await;
        progress
    }
    #[cfg(not(feature = "postgres"))]
    panic!("no PostgreSQL in this build: {locator}")
}
