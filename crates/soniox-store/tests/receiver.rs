//! The durable stores behind a real receiver, over real sockets: what a restart remembers, and
//! what a lost database answers.

mod common;

use std::sync::Arc;

use common::http::{deliver, receiver};
#[cfg(feature = "sqlite")]
use soniox_store::{Claim, EventStore};

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_a_restart_remembers_handled_events_and_frees_expired_claims() {
    use std::time::Duration;

    use soniox_store::SqliteStore;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("webhooks.db");

    let store = Arc::new(SqliteStore::open(&path).await.expect("open"));
    let (running, calls) = receiver(Arc::clone(&store) as Arc<dyn EventStore>).await;
    assert_eq!(
        deliver(running.local_addr(), "tr-1").await,
        (200, "ok".into())
    );
    // A process that crashed mid-handling: its claim stays until the lease ends.
    let crashed = common::event("tr-crashed");
    let held = common::event("tr-held");
    assert!(matches!(
        store.claim(&crashed, Duration::ZERO).await,
        Ok(Claim::Claimed(_))
    ));
    assert!(matches!(
        store.claim(&held, Duration::from_secs(3600)).await,
        Ok(Claim::Claimed(_))
    ));
    running.shutdown().await.expect("stop");
    store.close().await;
    drop(store);
    assert_eq!(*calls.lock().expect("calls"), ["tr-1"]);

    // The process starts again on the same file.
    let store = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let (running, calls) = receiver(store).await;
    let addr = running.local_addr();
    assert_eq!(deliver(addr, "tr-1").await, (200, "duplicate".into()));
    assert_eq!(deliver(addr, "tr-crashed").await, (200, "ok".into()));
    assert_eq!(deliver(addr, "tr-held").await, (503, "in progress".into()));
    assert_eq!(*calls.lock().expect("calls"), ["tr-crashed"]);
    running.shutdown().await.expect("stop");
}

/// A store that does not answer (here: waiting for a lock another process holds) is a store
/// that cannot be reached: the delivery gets 503 within the lease margin, not silence.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_a_store_that_does_not_answer_gets_503() {
    use std::time::Duration;

    use common::http::receiver_with;
    use soniox_store::SqliteStore;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("webhooks.db");
    let store = SqliteStore::builder(&path)
        .busy_timeout(Duration::from_secs(3600))
        .open()
        .await
        .expect("open");
    let (unlock, until_unlocked) = std::sync::mpsc::channel::<()>();
    let blocker = common::hold_lock(&path, move || {
        let _ = until_unlocked.recv();
    });
    let (running, calls) = receiver_with(Arc::new(store), |inbox| {
        inbox.lease_margin(Duration::from_secs(1))
    })
    .await;
    // Without the bound, the answer would wait for the lock: an hour.
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        deliver(running.local_addr(), "tr-1"),
    )
    .await
    .expect("answered");
    assert_eq!(answer.0, 503, "{answer:?}");
    assert!(calls.lock().expect("calls").is_empty());
    unlock.send(()).expect("the blocker waits");
    blocker.join().expect("the blocker ends");
    running.shutdown().await.expect("stop");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_a_memory_store_in_its_place_forgets_on_restart() {
    // The contrast that makes the durable store worth having.
    let store: Arc<dyn EventStore> = Arc::new(soniox_webhook::store::MemoryStore::default());
    let (running, _) = receiver(store).await;
    assert_eq!(
        deliver(running.local_addr(), "tr-1").await,
        (200, "ok".into())
    );
    running.shutdown().await.expect("stop");
    let store: Arc<dyn EventStore> = Arc::new(soniox_webhook::store::MemoryStore::default());
    let (running, calls) = receiver(store).await;
    assert_eq!(
        deliver(running.local_addr(), "tr-1").await,
        (200, "ok".into())
    );
    assert_eq!(*calls.lock().expect("calls"), ["tr-1"]);
    running.shutdown().await.expect("stop");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_a_lost_database_answers_503_and_never_200() {
    use soniox_store::PostgresStore;

    let Some(db) = common::TestDb::create().await else {
        return;
    };
    let store = Arc::new(PostgresStore::connect(&db.url).await.expect("connect"));
    let (running, calls) = receiver(store).await;
    let addr = running.local_addr();
    assert_eq!(deliver(addr, "tr-1").await, (200, "ok".into()));
    db.drop_now().await;
    for id in ["tr-1", "tr-2"] {
        let (status, body) = deliver(addr, id).await;
        assert_eq!(
            (status, body.as_str()),
            (503, "event store unavailable"),
            "{id}"
        );
    }
    assert_eq!(*calls.lock().expect("calls"), ["tr-1"]);
    running.shutdown().await.expect("stop");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_a_handled_event_the_store_cannot_record_answers_503() {
    use soniox_store::PostgresStore;
    use soniox_webhook::{Inbox, ReceivedEvent, Receiver, WebhookService};
    use tokio::sync::{Semaphore, mpsc};

    let Some(db) = common::TestDb::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.expect("connect");
    let (started, mut starts) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let opened = Arc::clone(&gate);
    let handler = move |_: ReceivedEvent| {
        let (started, opened) = (started.clone(), Arc::clone(&opened));
        async move {
            let _ = started.send(());
            let _permit = opened.acquire().await.map_err(|_| "gate closed")?;
            Ok::<(), &'static str>(())
        }
    };
    let inbox = Inbox::new(common::http::verifier()).store(store);
    let running = Receiver::bind("127.0.0.1:0", WebhookService::new(inbox, handler))
        .await
        .expect("bind")
        .spawn()
        .expect("a bound address");
    let addr = running.local_addr();
    let delivery = tokio::spawn(async move { deliver(addr, "tr-1").await });
    starts.recv().await.expect("the handler starts");
    // The database goes away while the handler runs; the handler then succeeds, but its
    // success cannot be recorded, so the answer must make Soniox deliver again.
    db.drop_now().await;
    gate.add_permits(1);
    let (status, body) = delivery.await.expect("the delivery");
    assert_eq!((status, body.as_str()), (503, "event store unavailable"));
    running.shutdown().await.expect("stop");
}
