//! The batch task against a real server: what a batch the server refuses leaves behind.

use std::time::{Duration, Instant};

use soniox_store::EventStore as _;
use soniox_types::{TranscriptionId, WebhookStatus};
use soniox_webhook::store::Claim;

use super::*;
use crate::jobs::{
    Jobs, REBUILD_JOBS, STAGE_OF,
    tests::{VERSION_3_JOBS, check_migrated},
};

/// soniox-store's PostgreSQL test databases: one per test, dropped after it.
#[path = "../../../../soniox-store/tests/common/mod.rs"]
mod store_common;

/// Queues `write` as the batch task would get it; the receiver of its answer.
fn queued(write: Write) -> (Queued, oneshot::Receiver<Result<(), StoreError>>) {
    let (reply, answer) = oneshot::channel();
    ((write, reply), answer)
}

fn record(reference: &str) -> JobWrite {
    JobWrite::Record(reference.into(), "{}".into(), 1, 2)
}

/// In a database of its own (dropped with the first value), job `ref-1` (`tr-1`) recorded
/// and accepted, and its `completed` event claimed: a handling under way.
async fn handling() -> Option<(
    store_common::TestDb,
    Arc<PostgresStore>,
    PostgresJobs,
    WebhookEvent,
)> {
    let db = store_common::TestDb::create().await?;
    let store = Arc::new(PostgresStore::connect(&db.url).await.expect("connect"));
    let jobs = PostgresJobs::open(&store).await.expect("the job table");
    jobs.write(record("ref-1")).await.expect("recorded");
    let submitted = JobWrite::Submitted("ref-1".into(), "tr-1".into(), 3, 4);
    jobs.write(submitted).await.expect("accepted");
    let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed);
    let claim = store.claim(&event, Duration::from_secs(60)).await;
    assert!(matches!(claim, Ok(Claim::Claimed(_))), "{claim:?}");
    Some((db, store, jobs, event))
}

/// Asserts that the handling's end the batch task answered with `answer` was written: job
/// `ref-1` done and its `event` too.
async fn handling_ended(
    answer: oneshot::Receiver<Result<(), StoreError>>,
    store: &PostgresStore,
    jobs: &PostgresJobs,
    event: &WebhookEvent,
) {
    answer.await.expect("answered").expect("the handling ended");
    let stage = jobs.text(STAGE_OF, Params::Text("ref-1".into())).await;
    assert_eq!(stage.expect("read").as_deref(), Some("done"));
    let again = store.claim(event, Duration::from_secs(60)).await;
    assert!(
        matches!(again, Ok(Claim::Done)),
        "the event is done: {again:?}"
    );
}

/// Runs `body` (PL/pgSQL) before each update of the job table, for each `level` (`ROW` or
/// `STATEMENT`), with a sequence `job_updates` to count in: a sequence does not roll back.
async fn on_update(store: &PostgresStore, level: &str, body: &str) {
    let client = store.pool().get().await.expect("a connection");
    client
        .batch_execute(&format!(
            "CREATE SEQUENCE job_updates;
             CREATE FUNCTION on_update() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN {body} END $$;
             CREATE TRIGGER on_update BEFORE UPDATE ON soniox_jobs
                 FOR EACH {level} EXECUTE FUNCTION on_update();"
        ))
        .await
        .expect("the trigger");
}

/// How far `job_updates` has counted.
async fn job_updates(store: &PostgresStore) -> i64 {
    let client = store.pool().get().await.expect("a connection");
    client
        .query_one("SELECT last_value FROM job_updates", &[])
        .await
        .expect("the count")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_rerun_write_by_write_and_a_handling_ends_whole() {
    let Some((_db, store, jobs, event)) = handling().await else {
        return;
    };

    // One batch: a record under a reference taken already, which the server refuses, a
    // record of a new job, and the end of the first job's handling.
    let (taken, taken_answer) = queued(Write::Job(record("ref-1")));
    let (new, new_answer) = queued(Write::Job(record("ref-2")));
    let handled = Write::Handled("tr-1".into(), "completed".into(), 5);
    let (handled, handled_answer) = queued(handled);
    run_batch(&store, vec![taken, new, handled]).await;

    let answer = taken_answer.await.expect("answered");
    assert!(
        answer.is_err(),
        "the taken reference is refused: {answer:?}"
    );
    // Run again alone, it is refused without the detail that quotes the row.
    let refused = format!("{answer:?}");
    assert!(refused.contains("duplicate key"), "{refused}");
    assert!(!refused.contains("Key (reference)"), "{refused}");
    new_answer
        .await
        .expect("answered")
        .expect("the new job recorded");
    handled_answer
        .await
        .expect("answered")
        .expect("the handling ended");
    let stage = |reference: &'static str| jobs.text(STAGE_OF, Params::Text(reference.into()));
    assert_eq!(stage("ref-1").await.expect("read").as_deref(), Some("done"));
    assert_eq!(
        stage("ref-2").await.expect("read").as_deref(),
        Some("submitting")
    );
    let again = store.claim(&event, Duration::from_secs(60)).await;
    assert!(
        matches!(again, Ok(Claim::Done)),
        "the event is done: {again:?}"
    );
}

/// A refused write reaches its caller with what the server said, but never the error's
/// detail: for a constraint violation it quotes the failing row, which for other writes holds
/// the recorded request (a presigned audio URL, say).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_says_why_without_the_detail() {
    let Some((_db, store, _jobs, _event)) = handling().await else {
        return;
    };
    let (taken, answer) = queued(Write::Job(record("ref-1")));
    run_batch(&store, vec![taken]).await;

    let error = answer.await.expect("answered").expect_err("refused");
    // The server's words are the error's source.
    let error = format!("{error:?}");
    assert!(error.contains("duplicate key"), "{error}");
    assert!(!error.contains("Key (reference)"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handling_end_refused_by_a_deadlock_runs_again() {
    let Some((_db, store, jobs, event)) = handling().await else {
        return;
    };
    // The server reports a deadlock on the first update of a job, as it does for the
    // transaction it picks to end a real one; a sequence counts the updates, since a
    // failed transaction's own writes roll back.
    on_update(
        &store,
        "ROW",
        "IF nextval('job_updates') = 1 THEN
             RAISE EXCEPTION 'deadlock detected (injected)' USING ERRCODE = 'deadlock_detected';
         END IF;
         RETURN NEW;",
    )
    .await;

    let handled = Write::Handled("tr-1".into(), "completed".into(), 5);
    let (handled, answer) = queued(handled);
    run_batch(&store, vec![handled]).await;

    handling_ended(answer, &store, &jobs, &event).await;
    let updates = job_updates(&store).await;
    assert_eq!(updates, 2, "refused once, then written");
}

/// Under a server whose default isolation is repeatable read, a handling's end that waited
/// for another transaction's update of its job is refused as a serialization failure, and
/// written on its second try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handling_end_refused_by_a_serialization_failure_runs_again() {
    let Some((db, _, jobs, event)) = handling().await else {
        return;
    };
    db.set_default("default_transaction_isolation = 'repeatable read'")
        .await;
    // Connections opened from now on take the new default.
    let store = Arc::new(PostgresStore::connect(&db.url).await.expect("connect"));
    // Every update statement on the job table counts, whether or not it commits: a
    // statement trigger runs before any row is locked, and a sequence does not roll back.
    on_update(
        &store,
        "STATEMENT",
        "PERFORM nextval('job_updates'); RETURN NULL;",
    )
    .await;
    let client = store.pool().get().await.expect("a connection");
    let mut holder = store.pool().get().await.expect("a connection");
    let holding = holder.transaction().await.expect("begin");
    holding
        .execute(
            "UPDATE soniox_jobs SET reference = reference WHERE reference = 'ref-1'",
            &[],
        )
        .await
        .expect("the job's row held");
    let holder_pid: i32 = holding
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("the holder's pid")
        .get(0);

    let handled = Write::Handled("tr-1".into(), "completed".into(), 5);
    let (handled, answer) = queued(handled);
    let batch = tokio::spawn({
        let store = store.clone();
        async move { run_batch(&store, vec![handled]).await }
    });
    // Once the write waits for the holder, its snapshot is older than the holder's commit.
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            Instant::now() < give_up,
            "the write never waited for the row"
        );
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                &[&holder_pid],
            )
            .await
            .expect("the waiting writes")
            .get(0);
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    holding.commit().await.expect("commit");

    batch.await.expect("the batch task");
    handling_ended(answer, &store, &jobs, &event).await;
    let updates = job_updates(&store).await;
    assert_eq!(updates, 3, "the holder's, the refused try, then the write");
}

/// A database of its own (dropped with the first value) that the tracker left at `version`,
/// or `None` when the PostgreSQL tests are skipped.
async fn store_at(version: usize) -> Option<(store_common::TestDb, Arc<PostgresStore>)> {
    let db = store_common::TestDb::create().await?;
    let store = Arc::new(PostgresStore::connect(&db.url).await.expect("connect"));
    store
        .migrate_component(COMPONENT, &POSTGRES_MIGRATIONS[..version])
        .await
        .expect("the version");
    Some((db, store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_at_version_3_migrates_and_records_owed_cleanups() {
    let Some((_db, store)) = store_at(3).await else {
        return;
    };
    migrates_from_version_3(store).await;
}

/// A database that got to version 3 by the rebuild PostgreSQL once ran too (its table and
/// constraints named after `soniox_jobs_rebuilt`) migrates and works the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_rebuilt_at_version_3_migrates_and_records_owed_cleanups() {
    let Some((_db, store)) = store_at(2).await else {
        return;
    };
    run_sql(
        &store,
        &format!(
            "{REBUILD_JOBS}; UPDATE soniox_schema SET version = 3 WHERE component = '{COMPONENT}'"
        ),
    )
    .await;
    migrates_from_version_3(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handling_past_its_claim_cannot_record_the_job_done() {
    let Some(db) = store_common::TestDb::create().await else {
        return;
    };
    let store = Arc::new(PostgresStore::connect(&db.url).await.expect("connect"));
    let jobs = Jobs::Postgres(PostgresJobs::open(&store).await.expect("open"));
    crate::jobs::tests::check_fenced_completion(&jobs, &*store).await;
}

/// Runs `sql` (statements without parameters) on a connection of `store`'s pool.
async fn run_sql(store: &PostgresStore, sql: &str) {
    let client = store.pool().get().await.expect("a connection");
    if let Err(error) = client.batch_execute(sql).await {
        panic!("{sql}: {error}");
    }
}

/// Fills `store`'s job table, at version 3, then migrates it and checks the jobs.
async fn migrates_from_version_3(store: Arc<PostgresStore>) {
    run_sql(&store, VERSION_3_JOBS).await;
    let jobs = PostgresJobs::open(&store).await.expect("migrated");
    check_migrated(&Jobs::Postgres(jobs)).await;
}

/// A replica of the previous version in a transaction that read the job table and then
/// writes to it, while the migrations run: both finish. The first migration that locks the
/// table (4, adding a column) waits for the transaction, whose write goes ahead of it: it
/// already holds a lock the migration waits for. (Migration 3 used to rebuild the table
/// after a weaker lock, and each then waited for the other: PostgreSQL failed one of them as
/// a deadlock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_read_before_the_migrations_writes_and_both_finish() {
    let Some((_db, store)) = store_at(2).await else {
        return;
    };
    let mut old_replica = store.pool().get().await.expect("a connection");
    let reading = old_replica.transaction().await.expect("begin");
    reading
        .query_one("SELECT count(*) FROM soniox_jobs", &[])
        .await
        .expect("read");

    let migrating = Arc::clone(&store);
    let migration = tokio::spawn(async move { PostgresJobs::open(&migrating).await });
    // The migrations are under way once a lock on the job table is waited for, in this
    // test's database.
    let observer = store.pool().get().await.expect("a connection");
    let waiting = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                   WHERE c.relname = 'soniox_jobs' AND NOT l.granted \
                   AND l.database = (SELECT oid FROM pg_database \
                                     WHERE datname = current_database())";
    let started = Instant::now();
    while observer
        .query_one(waiting, &[])
        .await
        .expect("pg_locks")
        .get::<_, i64>(0)
        == 0
    {
        assert!(
            !migration.is_finished(),
            "the migrations ended without waiting for the transaction's lock: {:?}",
            migration.await
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the migrations never waited"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let insert = "INSERT INTO soniox_jobs (reference, request, stage, recorded_at, updated_at) \
                  VALUES ('read-first', '{}', 'submitting', 1, 1)";
    assert_eq!(
        reading
            .execute(insert, &[])
            .await
            .expect("the write goes ahead"),
        1
    );
    reading.commit().await.expect("commit");
    migration
        .await
        .expect("the migration task")
        .expect("migrated after the transaction");
    let row = observer
        .query_one(
            "SELECT count(*) FROM soniox_jobs WHERE reference = 'read-first'",
            &[],
        )
        .await
        .expect("count");
    assert_eq!(row.get::<_, i64>(0), 1, "kept");
}

/// A replica of the previous version in a repeatable-read transaction whose snapshot was
/// taken before the migrations updates a job after them: the update finds the job. (A
/// rebuilt table is a new table, which that snapshot saw empty: the update found nothing,
/// and the write was lost without an error.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_with_a_snapshot_from_before_the_migrations_finds_its_job() {
    let Some((_db, store)) = store_at(2).await else {
        return;
    };
    run_sql(
        &store,
        "INSERT INTO soniox_jobs (reference, request, stage, recorded_at, updated_at) \
         VALUES ('before', '{}', 'submitting', 1, 1)",
    )
    .await;
    let mut old_replica = store.pool().get().await.expect("a connection");
    let snapshot = old_replica
        .build_transaction()
        .isolation_level(
            soniox_store::deadpool_postgres::tokio_postgres::IsolationLevel::RepeatableRead,
        )
        .start()
        .await
        .expect("begin");
    // The snapshot is taken by the first statement, which leaves the job table unlocked.
    snapshot
        .query_one("SELECT count(*) FROM soniox_schema", &[])
        .await
        .expect("read");
    PostgresJobs::open(&store).await.expect("migrated");
    let updated = snapshot
        .execute(
            "UPDATE soniox_jobs SET polls = polls + 1 WHERE reference = 'before'",
            &[],
        )
        .await
        .expect("update");
    assert_eq!(updated, 1, "the job is found");
    snapshot.commit().await.expect("commit");
}
