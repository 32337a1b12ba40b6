//! One behaviour suite, run against every store: `MemoryStore` (the reference), `SqliteStore`
//! in a temporary directory and `PostgresStore` in a database of its own.
//!
//! Each behaviour is a generic async function over a [`Backend`], which opens the store
//! under test (again, for the restart and shared-database behaviours). `suite!` turns every
//! behaviour into one test per backend. No test sleeps: lease expiry uses a zero lease.

mod common;

use std::{sync::Arc, time::Duration};

#[cfg(feature = "postgres")]
use common::TestDb;
use common::event;
use soniox_store::{Claim, ClaimToken, EventStore};
use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};

const LEASE: Duration = Duration::from_secs(60);
const TASKS: usize = 64;

/// A kind of store, and how to open it.
trait Backend {
    type Store: EventStore + 'static;

    /// Whether a second `open` sees what the first store wrote (restarts, shared databases).
    const DURABLE: bool;

    /// Opens a store on the backend's data.
    async fn open(&self) -> Self::Store;

    /// `prune`, for the stores that have it.
    async fn prune(store: &Self::Store, older_than: Duration) -> Option<u64>;
}

struct Memory;

impl Backend for Memory {
    type Store = soniox_webhook::store::MemoryStore;
    const DURABLE: bool = false;

    async fn open(&self) -> Self::Store {
        soniox_webhook::store::MemoryStore::default()
    }

    async fn prune(_: &Self::Store, _: Duration) -> Option<u64> {
        None
    }
}

#[cfg(feature = "sqlite")]
impl Backend for common::SqliteFile {
    type Store = soniox_store::SqliteStore;
    const DURABLE: bool = true;

    async fn open(&self) -> Self::Store {
        self.open_store().await
    }

    async fn prune(store: &Self::Store, older_than: Duration) -> Option<u64> {
        Some(store.prune(older_than).await.expect("prune"))
    }
}

#[cfg(feature = "postgres")]
impl Backend for TestDb {
    type Store = soniox_store::PostgresStore;
    const DURABLE: bool = true;

    async fn open(&self) -> Self::Store {
        self.open_store().await
    }

    async fn prune(store: &Self::Store, older_than: Duration) -> Option<u64> {
        Some(store.prune(older_than).await.expect("prune"))
    }
}

async fn claim(store: &impl EventStore, event: &WebhookEvent, lease: Duration) -> Claim {
    store.claim(event, lease).await.expect("claim")
}

#[track_caller]
fn claimed(claim: Claim) -> ClaimToken {
    match claim {
        Claim::Claimed(token) => token,
        other => panic!("expected a claim, got {other:?}"),
    }
}

#[track_caller]
fn assert_in_progress(claim: Claim, lease: Duration) {
    match claim {
        Claim::InProgress { retry_after } => assert!(
            retry_after <= lease && retry_after > lease / 2,
            "retry_after {retry_after:?} should be (almost) the lease of {lease:?}"
        ),
        other => panic!("expected in progress, got {other:?}"),
    }
}

async fn claim_then_in_progress_then_done<B: Backend>(backend: &B) {
    let store = backend.open().await;
    let tr = event("tr-1");
    let token = claimed(claim(&store, &tr, LEASE).await);
    assert_in_progress(claim(&store, &tr, LEASE).await, LEASE);
    // The key is (id, status): the same transcription's other status is another event.
    let errored = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Error);
    claimed(claim(&store, &errored, LEASE).await);
    store.complete(&tr, token).await.expect("complete");
    assert_eq!(claim(&store, &tr, LEASE).await, Claim::Done);
    assert_in_progress(claim(&store, &errored, LEASE).await, LEASE);
}

async fn release_returns_the_event_to_new<B: Backend>(backend: &B) {
    let store = backend.open().await;
    let tr = event("tr-1");
    let first = claimed(claim(&store, &tr, LEASE).await);
    store.release(&tr, first).await.expect("release");
    let second = claimed(claim(&store, &tr, LEASE).await);
    assert_ne!(first, second, "every claim gets a token of its own");
    store.complete(&tr, second).await.expect("complete");
    assert_eq!(claim(&store, &tr, LEASE).await, Claim::Done);
}

async fn an_expired_lease_is_taken_over<B: Backend>(backend: &B) {
    let store = backend.open().await;
    let tr = event("tr-1");
    // A zero lease has expired by the time anyone looks again.
    let first = claimed(claim(&store, &tr, Duration::ZERO).await);
    let second = claimed(claim(&store, &tr, LEASE).await);
    assert_ne!(first, second);
    assert_in_progress(claim(&store, &tr, LEASE).await, LEASE);
}

async fn a_stale_release_does_nothing<B: Backend>(backend: &B) {
    let store = backend.open().await;
    let tr = event("tr-1");
    let expired = claimed(claim(&store, &tr, Duration::ZERO).await);
    let current = claimed(claim(&store, &tr, LEASE).await);
    // The claimant whose lease ran out cannot release the claim that took over,
    store.release(&tr, expired).await.expect("release");
    assert_in_progress(claim(&store, &tr, LEASE).await, LEASE);
    // nor can a token that never held it.
    let never = ClaimToken::new(current.get().wrapping_add(1));
    store.release(&tr, never).await.expect("release");
    assert_in_progress(claim(&store, &tr, LEASE).await, LEASE);
    store.release(&tr, current).await.expect("release");
    claimed(claim(&store, &tr, LEASE).await);
}

async fn done_is_final<B: Backend>(backend: &B) {
    let store = backend.open().await;
    let tr = event("tr-1");
    let token = claimed(claim(&store, &tr, LEASE).await);
    store.complete(&tr, token).await.expect("complete");
    store
        .release(&tr, token)
        .await
        .expect("release after complete");
    assert_eq!(claim(&store, &tr, LEASE).await, Claim::Done);
    store.complete(&tr, token).await.expect("completing twice");
    assert_eq!(claim(&store, &tr, Duration::ZERO).await, Claim::Done);
}

/// Claims `event` from [`TASKS`] tasks at once, spread over `stores`; the claims' results.
async fn race<S: EventStore + 'static>(stores: &[Arc<S>], event: &WebhookEvent) -> Vec<Claim> {
    // The tasks start claiming together, as far as the runtime lets them.
    let start = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(&stores[task % stores.len()]);
            let event = event.clone();
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                store.claim(&event, LEASE).await.expect("claim")
            })
        })
        .collect();
    let mut claims = Vec::with_capacity(TASKS);
    for task in tasks {
        claims.push(task.await.expect("the task finishes"));
    }
    claims
}

#[track_caller]
fn assert_one_winner(claims: &[Claim]) {
    let winners = claims
        .iter()
        .filter(|claim| matches!(claim, Claim::Claimed(_)))
        .count();
    assert_eq!(winners, 1, "exactly one claim wins: {claims:?}");
    assert!(
        claims
            .iter()
            .all(|claim| matches!(claim, Claim::Claimed(_) | Claim::InProgress { .. })),
        "the others are told it is in progress: {claims:?}"
    );
}

async fn concurrent_claims_have_one_winner<B: Backend>(backend: &B) {
    let store = Arc::new(backend.open().await);
    for round in 0..4 {
        assert_one_winner(&race(&[Arc::clone(&store)], &event(&format!("tr-{round}"))).await);
    }
}

async fn stores_sharing_the_data_have_one_winner<B: Backend>(backend: &B) {
    if !B::DURABLE {
        return;
    }
    // Two processes, or two replicas, on the same data.
    let stores = [
        Arc::new(backend.open().await),
        Arc::new(backend.open().await),
    ];
    for round in 0..4 {
        assert_one_winner(&race(&stores, &event(&format!("tr-{round}"))).await);
    }
}

async fn a_restart_keeps_done_and_in_progress<B: Backend>(backend: &B) {
    if !B::DURABLE {
        return;
    }
    let (held, done) = (event("tr-held"), event("tr-done"));
    let store = backend.open().await;
    let token = claimed(claim(&store, &held, LEASE).await);
    let finished = claimed(claim(&store, &done, LEASE).await);
    store.complete(&done, finished).await.expect("complete");
    drop(store);

    let store = backend.open().await;
    assert_eq!(claim(&store, &done, LEASE).await, Claim::Done);
    assert_in_progress(claim(&store, &held, LEASE).await, LEASE);
    // The claim made before the restart still holds, token and all.
    store.release(&held, token).await.expect("release");
    claimed(claim(&store, &held, LEASE).await);
}

async fn prune_forgets_old_done_events_only<B: Backend>(backend: &B) {
    let store = backend.open().await;
    let (first, second, held) = (event("tr-1"), event("tr-2"), event("tr-held"));
    for done in [&first, &second] {
        let token = claimed(claim(&store, done, LEASE).await);
        store.complete(done, token).await.expect("complete");
    }
    claimed(claim(&store, &held, LEASE).await);
    let Some(pruned) = B::prune(&store, Duration::from_secs(3600)).await else {
        return;
    };
    assert_eq!(pruned, 0, "nothing is an hour old");
    assert_eq!(claim(&store, &first, LEASE).await, Claim::Done);
    // Completed zero or more milliseconds ago: both done events.
    assert_eq!(B::prune(&store, Duration::ZERO).await, Some(2));
    // A pruned event is new again; one in progress is never pruned.
    claimed(claim(&store, &first, LEASE).await);
    assert_in_progress(claim(&store, &held, LEASE).await, LEASE);
}

/// Every behaviour of this file as tests against one backend.
macro_rules! suite {
    ($module:ident, $backend:expr) => {
        common::suite!($module, $backend;
            claim_then_in_progress_then_done,
            release_returns_the_event_to_new,
            an_expired_lease_is_taken_over,
            a_stale_release_does_nothing,
            done_is_final,
            concurrent_claims_have_one_winner,
            stores_sharing_the_data_have_one_winner,
            a_restart_keeps_done_and_in_progress,
            prune_forgets_old_done_events_only,
        );
    };
}

suite!(memory, async { Some(Memory) });
#[cfg(feature = "sqlite")]
suite!(sqlite, common::SqliteFile::create());
#[cfg(feature = "postgres")]
suite!(postgres, TestDb::create());
