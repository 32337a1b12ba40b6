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
    /// Events completed in a handling's own transaction, whose inbox completion is still to
    /// come: `(transcription id, status)`.
    recorded: Mutex<HashSet<(String, String)>>,
    /// The claims this store gave and that are not completed or released yet: those a
    /// handling's transaction can be fenced by (an inbox over another store gives others).
    issued: Mutex<HashSet<(String, String, u64)>>,
}

fn claim_key(event: &WebhookEvent, token: ClaimToken) -> (String, String, u64) {
    let (id, status) = key(event);
    (id, status, token.get())
}

fn key(event: &WebhookEvent) -> (String, String) {
    (
        event.id.as_str().to_owned(),
        event.status.as_str().to_owned(),
    )
}

impl TrackedEvents {
    pub(crate) fn new(store: Arc<dyn EventStore>, jobs: Jobs, counters: Arc<Counters>) -> Self {
        Self {
            store,
            jobs,
            counters,
            recorded: Mutex::default(),
            issued: Mutex::default(),
        }
    }

    /// Whether `token` is a claim on `event` this store gave and that is still open.
    pub(crate) fn issued(&self, event: &WebhookEvent, token: ClaimToken) -> bool {
        self.claims().contains(&claim_key(event, token))
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String, u64)>> {
        self.issued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that `event` and its job were recorded done in a handling's own transaction.
    pub(crate) fn recorded(&self, event: &WebhookEvent) {
        self.marks().insert(key(event));
    }

    /// Whether `event` was marked, forgetting the mark.
    fn take_mark(&self, event: &WebhookEvent) -> bool {
        self.marks().remove(&key(event))
    }

    fn marks(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventStore for TrackedEvents {
    fn claim<'a>(&'a self, event: &'a WebhookEvent, lease: Duration) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let claim = self.store.claim(event, lease).await?;
            if let Claim::Claimed(token) = claim {
                self.claims().insert(claim_key(event, token));
            }
            Ok(claim)
        })
    }

    // Done is final whoever completes it, so the token is not checked (nor by the stores).
    fn complete<'a>(&'a self, event: &'a WebhookEvent, token: ClaimToken) -> StoreFuture<'a, ()> {
        self.claims().remove(&claim_key(event, token));
        Box::pin(async move {
            if !self.take_mark(event) {
                self.jobs.complete(event, OffsetDateTime::now_utc()).await?;
            }
            Counters::add(&self.counters.handled);
            Ok::<(), StoreError>(())
        })
    }

    fn release<'a>(&'a self, event: &'a WebhookEvent, token: ClaimToken) -> StoreFuture<'a, ()> {
        // A handling that recorded its job done and then ran out of time: its event is done
        // and the store leaves it so; only the mark is to go.
        self.take_mark(event);
        self.claims().remove(&claim_key(event, token));
        self.store.release(event, token)
    }
}
