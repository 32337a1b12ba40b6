//! What the benches share: distinct events handled from [`TASKS`] tasks, and the bare
//! baselines every store figure is compared with — one `INSERT` committed per event, on
//! SQLite with the same `synchronous` setting, on PostgreSQL over a pool of the same size.
//!
//! Included with `mod support;` by `throughput.rs` and `receiver_load.rs`.

// Each bench uses a different part of this module.
#![allow(dead_code)]

#[path = "../../tests/common/mod.rs"]
pub(crate) mod common;
pub(crate) mod cpu;

use std::{
    future::Future,
    time::{Duration, Instant},
};

use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};

/// Concurrent tasks in every bare loop and store measurement; `receiver_load.rs` opens as
/// many connections.
pub(crate) const TASKS: usize = 64;

/// How long a measurement runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Budget {
    /// This many events in all, spread over the tasks.
    Events(usize),
    /// As many events as fit in this time.
    Time(Duration),
}

/// The distinct event `index` of a measurement whose ids start with `prefix`.
pub(crate) fn event(prefix: &str, index: usize) -> WebhookEvent {
    WebhookEvent::new(
        TranscriptionId::new(format!("{prefix}-{index:08}")),
        WebhookStatus::Completed,
    )
}

/// Runs `per_event` on distinct events (ids starting with `prefix`) from [`TASKS`] tasks
/// until `budget` is spent; events per second.
pub(crate) async fn measure<F, Fut>(prefix: &str, budget: Budget, per_event: F) -> f64
where
    F: Fn(WebhookEvent) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let per_event = per_event.clone();
            let prefix = prefix.to_owned();
            tokio::spawn(async move {
                let mut handled = 0_usize;
                for index in (task..).step_by(TASKS) {
                    let more = match budget {
                        Budget::Events(events) => index < events,
                        Budget::Time(time) => start.elapsed() < time,
                    };
                    if !more {
                        break;
                    }
                    per_event(event(&prefix, index)).await;
                    handled += 1;
                }
                handled
            })
        })
        .collect();
    let mut handled = 0;
    for task in tasks {
        handled += task.await.expect("a benchmark task");
    }
    handled as f64 / start.elapsed().as_secs_f64()
}

#[cfg(feature = "sqlite")]
pub(crate) mod sqlite {
    use std::{
        path::Path,
        sync::{Arc, Mutex},
    };

    use soniox_store::Durability;

    use super::{Budget, WebhookEvent, measure};

    /// Each durability with its name and the `synchronous` setting it stands for.
    pub(crate) const DURABILITIES: [(&str, Durability, &str); 2] = [
        ("Durability::Full", Durability::Full, "FULL"),
        ("Durability::Normal", Durability::Normal, "NORMAL"),
    ];

    /// The bare baseline: one connection in WAL mode with the given `synchronous` setting,
    /// and a table of (id, status) keys.
    #[derive(Clone)]
    pub(crate) struct Bare(Arc<Mutex<rusqlite::Connection>>);

    impl Bare {
        pub(crate) fn open(path: &Path, synchronous: &str) -> Self {
            let connection = rusqlite::Connection::open(path).expect("open");
            connection
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
                .expect("WAL");
            connection
                .pragma_update(None, "synchronous", synchronous)
                .expect("synchronous");
            connection
                .execute_batch(
                    "CREATE TABLE IF NOT EXISTS bare (id TEXT NOT NULL, status TEXT NOT NULL,
                     PRIMARY KEY (id, status)) WITHOUT ROWID",
                )
                .expect("create");
            Self(Arc::new(Mutex::new(connection)))
        }

        /// Events per second of one `INSERT` per event, each committed on its own
        /// (autocommit), on a blocking thread, from [`super::TASKS`] tasks.
        pub(crate) async fn measure(&self, prefix: &str, budget: Budget) -> f64 {
            let bare = self.clone();
            measure(prefix, budget, move |event| {
                let bare = bare.clone();
                async move {
                    tokio::task::spawn_blocking(move || bare.insert(&event))
                        .await
                        .expect("the insert runs");
                }
            })
            .await
        }

        fn insert(&self, event: &WebhookEvent) {
            let connection = self.0.lock().expect("the lock");
            connection
                .prepare_cached("INSERT INTO bare (id, status) VALUES (?1, ?2)")
                .and_then(|mut insert| insert.execute([event.id.as_str(), event.status.as_str()]))
                .expect("insert");
        }
    }
}

#[cfg(feature = "postgres")]
pub(crate) mod postgres {
    use soniox_store::deadpool_postgres::{Manager, Pool, Runtime, tokio_postgres};

    use super::{Budget, WebhookEvent, common::TestDb, measure};

    /// The pool size of every variant: the store's default.
    pub(crate) const POOL: usize = 8;

    /// The bare baseline: a pool of [`POOL`] connections to `db`, where it creates a table
    /// of (id, status) keys.
    pub(crate) async fn bare_pool(db: &TestDb) -> Pool {
        db.execute(
            "CREATE TABLE bare (id TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (id, status))",
        )
        .await;
        let config: tokio_postgres::Config = db.url.parse().expect("a URL");
        Pool::builder(Manager::new(config, tokio_postgres::NoTls))
            .max_size(POOL)
            .runtime(Runtime::Tokio1)
            .build()
            .expect("a pool")
    }

    /// Events per second of one `INSERT` per event, each committed on its own (autocommit),
    /// over `pool`, from [`super::TASKS`] tasks.
    pub(crate) async fn measure_bare(pool: &Pool, prefix: &str, budget: Budget) -> f64 {
        let pool = pool.clone();
        measure(prefix, budget, move |event| {
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

    /// Runs `sql` with the event's id and status as `$1` and `$2`, committed on its own.
    pub(crate) async fn run_one(pool: &Pool, sql: &str, event: &WebhookEvent) {
        let client = pool.get().await.expect("a connection");
        let statement = client.prepare_cached(sql).await.expect("prepare");
        client
            .execute(&statement, &[&event.id.as_str(), &event.status.as_str()])
            .await
            .expect("execute");
    }
}
