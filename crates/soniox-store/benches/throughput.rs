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
//! end). `BENCH_EVENTS` sets the events per measurement (default 10000, or 2000 under
//! `cargo xtask bench --quick`); each figure is the median of three measurements.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod support;

#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;

use std::{future::Future, sync::Arc, time::Duration};

use soniox_store::{Claim, EventStore};
use soniox_types::WebhookEvent;

use crate::support::{Budget, TASKS};

const LEASE: Duration = Duration::from_secs(60);
const ROUNDS: usize = 3;

fn main() {
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|events| events.parse().ok())
        .unwrap_or(bench_report::full_or_quick(10_000, 2_000));
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

/// The ids of round `round`'s events.
fn prefix(round: usize) -> String {
    format!("bench-{round}")
}

/// A claim and a completion, as a receiver does for every new event.
async fn handle(store: &impl EventStore, event: &WebhookEvent) {
    let Claim::Claimed(token) = store.claim(event, LEASE).await.expect("claim") else {
        panic!("a distinct event is new");
    };
    store.complete(event, token).await.expect("complete");
}

/// Events per second of `store` handling `events` events as a receiver does.
async fn measure_store(store: impl EventStore + 'static, round: usize, events: usize) -> f64 {
    let store = Arc::new(store);
    support::measure(&prefix(round), Budget::Events(events), move |event| {
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

/// Prints the store's figure against each baseline, and records it once per baseline.
fn report(name: &str, store: f64, baselines: &[(&str, f64)]) {
    print!("{name:<28} store {store:>8.0} events/s");
    for (baseline, figure) in baselines {
        print!(
            "   {baseline} {figure:>8.0} events/s (store/{baseline} {:.2})",
            store / figure
        );
        bench_report::Figure::new(format!("{name}, median"), store, "events/s")
            .baseline(*baseline, *figure)
            .report();
    }
    println!();
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use soniox_store::SqliteStore;

    use super::*;
    use crate::support::sqlite::{Bare, DURABILITIES};

    pub(super) async fn run(events: usize) {
        for (name, durability, synchronous) in DURABILITIES {
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
                Bare::open(&dir.path().join("bare.db"), synchronous)
                    .measure(&prefix(round), Budget::Events(events))
                    .await
            })
            .await;
            report(&format!("sqlite, {name}"), store, &[("bare", bare)]);
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use soniox_store::{PostgresStore, deadpool_postgres::Pool};

    use super::*;
    use crate::support::{
        common::TestDb,
        postgres::{POOL, bare_pool, measure_bare, run_one},
    };

    pub(super) async fn run(events: usize) {
        let Some(db) = TestDb::create().await else {
            bench_report::skipped("postgres", "no server: SONIOX_TEST_POSTGRES_URL is not set");
            return;
        };
        let pool = bare_pool(&db).await;
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
            async move { measure_bare(&pool, &prefix(round), Budget::Events(events)).await }
        })
        .await;
        db.execute("TRUNCATE soniox_webhook_events").await;
        let per_op = median(|round| {
            let pool = pool.clone();
            async move {
                support::measure(&prefix(round), Budget::Events(events), move |event| {
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
