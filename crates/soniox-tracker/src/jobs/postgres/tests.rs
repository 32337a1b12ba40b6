//! The batch task against a real server: what a batch the server refuses leaves behind.

use std::time::Duration;

use soniox_store::EventStore as _;
use soniox_types::{TranscriptionId, WebhookStatus};
use soniox_webhook::store::Claim;

use super::*;
use crate::jobs::STAGE_OF;

/// soniox-store's PostgreSQL test databases: one per test, dropped after it.
#[path = "../../../../soniox-store/tests/common/mod.rs"]
mod store_common;

/// Queues `write` as the batch task would get it; the receiver of its answer.
fn queued(write: Write) -> (Queued, oneshot::Receiver<Result<(), StoreError>>) {
    let (reply, answer) = oneshot::channel();
    ((write, reply), answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_rerun_write_by_write_and_a_handling_ends_whole() {
    let Some(db) = store_common::TestDb::create().await else {
        return;
    };
    let store = Arc::new(PostgresStore::connect(&db.url).await.expect("connect"));
    let jobs = PostgresJobs::open(&store).await.expect("the job table");
    let record = |reference: &str| JobWrite::Record(reference.into(), "{}".into(), 1, 2);
    jobs.write(record("ref-1")).await.expect("recorded");
    let submitted = JobWrite::Submitted("ref-1".into(), "tr-1".into(), 3, 4);
    jobs.write(submitted).await.expect("accepted");
    let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed);
    let claim = store.claim(&event, Duration::from_secs(60)).await;
    assert!(matches!(claim, Ok(Claim::Claimed(_))), "{claim:?}");

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
