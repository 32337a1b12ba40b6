//! The event store the tracker's inboxes claim in: the database's own, with a completion
//! that also records the job as handled.
//!
//! An inbox completes an event once its handler returned `Ok`. Recording the job as done in
//! a write of its own beside that completion would cost one more operation of SQLite's
//! single writer, or one more commit on PostgreSQL, per job, and either could commit without
//! the other; here both are one transaction. A handling that already recorded the
//! job and completed its event in its own transaction (an [`Effect`](crate::Effect)'s, or
//! before a cleanup) leaves a mark, and the inbox's completion then writes nothing.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use soniox_store::{EventStore, StoreError};
use soniox_types::{OffsetDateTime, WebhookEvent};
use soniox_webhook::store::{Claim, ClaimToken, StoreFuture};

use crate::{jobs::Jobs, metrics::Counters};

/// The tracker's event store; see the [module docs](self).
pub(crate) struct TrackedEvents {
    store: Arc<dyn EventStore>,
    jobs: Jobs,
    counters: Arc<Counters>,
    open: Mutex<Open>,
}

/// What the tracker knows of the claims its store gave and that have not ended yet.
#[derive(Default)]
struct Open {
    /// Events completed in a handling's own transaction, whose inbox completion is still to
    /// come: `(transcription id, status)`.
    recorded: HashSet<(String, String)>,
    /// The claims themselves: those a handling's transaction can be fenced by (an inbox over
    /// another store gives others). `(transcription id, status, token)`.
    issued: HashSet<(String, String, u64)>,
}

fn key(event: &WebhookEvent) -> (String, String) {
    (
        event.id.as_str().to_owned(),
        event.status.as_str().to_owned(),
    )
}

fn claim_key(event: &WebhookEvent, token: ClaimToken) -> (String, String, u64) {
    let (id, status) = key(event);
    (id, status, token.get())
}

impl TrackedEvents {
    pub(crate) fn new(store: Arc<dyn EventStore>, jobs: Jobs, counters: Arc<Counters>) -> Self {
        Self {
            store,
            jobs,
            counters,
            open: Mutex::default(),
        }
    }

    /// Whether `token` is a claim on `event` this store gave and that is still open.
    pub(crate) fn issued(&self, event: &WebhookEvent, token: ClaimToken) -> bool {
        self.open().issued.contains(&claim_key(event, token))
    }

    /// Notes that `event` and its job were recorded done in a handling's own transaction.
    pub(crate) fn recorded(&self, event: &WebhookEvent) {
        self.open().recorded.insert(key(event));
    }

    /// Forgets the claim `token` on `event`, which its inbox completes or releases, and
    /// whether the event was recorded done meanwhile (forgetting that too).
    fn end(&self, event: &WebhookEvent, token: ClaimToken) -> bool {
        let mut open = self.open();
        open.issued.remove(&claim_key(event, token));
        open.recorded.remove(&key(event))
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventStore for TrackedEvents {
    fn claim<'a>(&'a self, event: &'a WebhookEvent, lease: Duration) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let claim = self.store.claim(event, lease).await?;
            if let Claim::Claimed(token) = claim {
                self.open().issued.insert(claim_key(event, token));
            }
            Ok(claim)
        })
    }

    // Done is final whoever completes it, so the token is not checked (nor by the stores).
    fn complete<'a>(&'a self, event: &'a WebhookEvent, token: ClaimToken) -> StoreFuture<'a, ()> {
        let recorded = self.end(event, token);
        Box::pin(async move {
            if !recorded {
                self.jobs.complete(event, OffsetDateTime::now_utc()).await?;
            }
            Counters::add(&self.counters.handled);
            Ok::<(), StoreError>(())
        })
    }

    fn release<'a>(&'a self, event: &'a WebhookEvent, token: ClaimToken) -> StoreFuture<'a, ()> {
        // A handling that recorded its job done and then ran out of time: its event is done
        // and the store leaves it so; only the mark is to go.
        self.end(event, token);
        self.store.release(event, token)
    }
}
