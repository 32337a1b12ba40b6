//! Events per second through the durable stores, against a bare insert loop on the same
//! database in the same run.
//!
//! 64 tokio tasks handle distinct events. Each store event is a `claim` and a `complete` (two
//! writes); each bare event is one `INSERT` committed on its own, with the same durability
//! settings (SQLite) or the same pool size (PostgreSQL). For PostgreSQL the figures also
//! show the store's statements run one per commit, without batching.
//!
//! Run with `cargo bench -p soniox-store --all-features --bench throughput`. PostgreSQL is
//! measured when `SONIOX_TEST_POSTGRES_URL` is set (in a database of its own, dropped at the
//! end). `BENCH_EVENTS` sets the events per measurement (default 10000); each figure is the
//! median of three measurements.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

#[cfg(feature = "postgres")]
#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use soniox_store::{Claim, EventStore};
use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};

const TASKS: usize = 64;
const LEASE: Duration = Duration::from_secs(60);
const ROUNDS: usize = 3;

fn main() {
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|events| events.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("{events} events per measurement, {TASKS} tasks, median of {ROUNDS}");
    #[cfg(feature = "sqlite")]
    runtime.block_on(sqlite::run(events));
    #[cfg(feature = "postgres")]
    runtime.block_on(postgres::run(events));
}

/// The events task `task` of round `round` handles.
fn events_of(round: usize, task: usize, events: usize) -> impl Iterator<Item = WebhookEvent> {
    (task..events).step_by(TASKS).map(move |index| {
        WebhookEvent::new(
            TranscriptionId::new(format!("bench-{round}-{index:08}")),
            WebhookStatus::Completed,
        )
    })
}

/// Runs `per_event` for `events` distinct events from [`TASKS`] tasks; events per second.
async fn measure<F, Fut>(round: usize, events: usize, per_event: F) -> f64
where
    F: Fn(WebhookEvent) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let per_event = per_event.clone();
            tokio::spawn(async move {
                for event in events_of(round, task, events) {
                    per_event(event).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a benchmark task");
    }
    events as f64 / start.elapsed().as_secs_f64()
}

/// A claim and a completion, as a receiver does for every new event.
async fn handle(store: &impl EventStore, event: &WebhookEvent) {
    let Claim::Claimed(token) = store.claim(event, LEASE).await.expect("claim") else {
        panic!("a distinct event is new");
    };
    store.complete(event, token).await.expect("complete");
}

/// [`measure`]s `store` handling events as a receiver does.
async fn measure_store(store: impl EventStore + 'static, round: usize, events: usize) -> f64 {
    let store = Arc::new(store);
    measure(round, events, move |event| {
        let store = Arc::clone(&store);
        async move { handle(&*store, &event).await }
    })
    .await
}

/// The median of [`ROUNDS`] runs of `round`.
async fn median<Fut: Future<Output = f64>>(mut round: impl FnMut(usize) -> Fut) -> f64 {
    let mut figures = Vec::with_capacity(ROUNDS);
    for index in 0..ROUNDS {
        figures.push(round(index).await);
    }
    figures.sort_by(f64::total_cmp);
    figures[ROUNDS / 2]
}

fn report(name: &str, store: f64, baselines: &[(&str, f64)]) {
    print!("{name:<28} store {store:>8.0} events/s");
    for (baseline, figure) in baselines {
        print!(
            "   {baseline} {figure:>8.0} events/s (store/{baseline} {:.2})",
            store / figure
        );
    }
    println!();
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::sync::Mutex;

    use soniox_store::{Durability, SqliteStore};

    use super::*;

    pub(super) async fn run(events: usize) {
        for (name, durability, synchronous) in [
            ("sqlite, Durability::Full", Durability::Full, "FULL"),
            ("sqlite, Durability::Normal", Durability::Normal, "NORMAL"),
        ] {
            let store = median(|round| async move {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let store = SqliteStore::builder(dir.path().join("store.db"))
                    .durability(durability)
                    .open()
                    .await
                    .expect("open");
                measure_store(store, round, events).await
            })
            .await;
            let bare = median(|round| async move {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let connection = bare_connection(&dir.path().join("bare.db"), synchronous);
                let connection = Arc::new(Mutex::new(connection));
                measure(round, events, move |event| {
                    let connection = Arc::clone(&connection);
                    async move {
                        tokio::task::spawn_blocking(move || insert(&connection, &event))
                            .await
                            .expect("the insert runs");
                    }
                })
                .await
            })
            .await;
            report(name, store, &[("bare", bare)]);
        }
    }

    fn bare_connection(path: &std::path::Path, synchronous: &str) -> rusqlite::Connection {
        let connection = rusqlite::Connection::open(path).expect("open");
        connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .expect("WAL");
        connection
            .pragma_update(None, "synchronous", synchronous)
            .expect("synchronous");
        connection
            .execute_batch(
                "CREATE TABLE bare (id TEXT NOT NULL, status TEXT NOT NULL,
                 PRIMARY KEY (id, status)) WITHOUT ROWID",
            )
            .expect("create");
        connection
    }

    /// One `INSERT`, committed on its own (autocommit).
    fn insert(connection: &Mutex<rusqlite::Connection>, event: &WebhookEvent) {
        let connection = connection.lock().expect("the lock");
        connection
            .prepare_cached("INSERT INTO bare (id, status) VALUES (?1, ?2)")
            .and_then(|mut insert| insert.execute([event.id.as_str(), event.status.as_str()]))
            .expect("insert");
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use soniox_store::{
        PostgresStore,
        deadpool_postgres::{Manager, Pool, Runtime, tokio_postgres},
    };

    use super::*;
    use crate::common::TestDb;

    /// The pool size of every variant: the store's default.
    const POOL: usize = 8;

    pub(super) async fn run(events: usize) {
        let Some(db) = TestDb::create().await else {
            return;
        };
        db.execute(
            "CREATE TABLE bare (id TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (id, status))",
        )
        .await;
        let pool = {
            let config: tokio_postgres::Config = db.url.parse().expect("a URL");
            Pool::builder(Manager::new(config, tokio_postgres::NoTls))
                .max_size(POOL)
                .runtime(Runtime::Tokio1)
                .build()
                .expect("a pool")
        };
        let url = db.url.as_str();
        let store = median(|round| async move {
            let store = PostgresStore::builder(url)
                .pool_size(POOL)
                .connect()
                .await
                .expect("connect");
            measure_store(store, round, events).await
        })
        .await;
        let bare = median(|round| {
            let pool = pool.clone();
            async move {
                measure(round, events, move |event| {
                    let pool = pool.clone();
                    async move {
                        run_one(
                            &pool,
                            "INSERT INTO bare (id, status) VALUES ($1, $2)",
                            &event,
                        )
                        .await;
                    }
                })
                .await
            }
        })
        .await;
        db.execute("TRUNCATE soniox_webhook_events").await;
        let per_op = median(|round| {
            let pool = pool.clone();
            async move {
                measure(round, events, move |event| {
                    let pool = pool.clone();
                    async move { claim_and_complete_unbatched(&pool, &event).await }
                })
                .await
            }
        })
        .await;
        report(
            &format!("postgres, pool of {POOL}"),
            store,
            &[("bare", bare), ("unbatched", per_op)],
        );
    }

    async fn run_one(pool: &Pool, sql: &str, event: &WebhookEvent) {
        let client = pool.get().await.expect("a connection");
        let statement = client.prepare_cached(sql).await.expect("prepare");
        client
            .execute(&statement, &[&event.id.as_str(), &event.status.as_str()])
            .await
            .expect("execute");
    }

    /// What the store would do without batching: its claim and completion statements, each
    /// committed on its own.
    async fn claim_and_complete_unbatched(pool: &Pool, event: &WebhookEvent) {
        run_one(
            pool,
            "INSERT INTO soniox_webhook_events AS e
                 (transcription_id, status, state, token, lease_until, updated_at)
             VALUES ($1, $2, 'in_progress', 1, clock_timestamp() + interval '1 minute',
                     clock_timestamp())
             ON CONFLICT (transcription_id, status) DO UPDATE
             SET token = excluded.token, lease_until = excluded.lease_until,
                 updated_at = excluded.updated_at
             WHERE e.state = 'in_progress' AND e.lease_until <= excluded.updated_at
             RETURNING e.token",
            event,
        )
        .await;
        run_one(
            pool,
            "UPDATE soniox_webhook_events
             SET state = 'done', token = NULL, lease_until = NULL, updated_at = clock_timestamp()
             WHERE transcription_id = $1 AND status = $2",
            event,
        )
        .await;
    }
}
