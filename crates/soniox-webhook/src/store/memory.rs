//! [`MemoryStore`]: the event states in a bounded map, for one process.

use std::{
    collections::VecDeque,
    hash::{BuildHasher, RandomState},
    sync::Mutex,
    time::{Duration, Instant},
};

use hashbrown::{HashTable, hash_table::Entry as Found};
use soniox_types::WebhookEvent;

use super::{Claim, ClaimToken, EventStore, StoreFuture};

/// A bounded, in-memory [`EventStore`] for a single process: remembers at most `capacity`
/// done events, each for `ttl`, and forgets everything on restart.
///
/// When full, the oldest done event is forgotten first (a replay of it would be handled
/// again). Events in progress are never evicted; there are at most as many as handlers running.
///
/// ```
/// use std::time::Duration;
/// use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};
/// use soniox_webhook::store::{Claim, MemoryStore};
///
/// let store = MemoryStore::new(10_000, Duration::from_secs(24 * 3600));
/// let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed);
/// let lease = Duration::from_secs(30);
/// let now = std::time::Instant::now();
/// let Claim::Claimed(token) = store.claim_at(&event, lease, now) else { unreachable!() };
/// assert!(matches!(store.claim_at(&event, lease, now), Claim::InProgress { .. }));
/// store.complete_at(&event, token, now);
/// assert_eq!(store.claim_at(&event, lease, now), Claim::Done);
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    ttl: Duration,
    /// Hashes events outside the lock; each entry keeps its hash, so neither a lookup from
    /// the done queue nor a growing table hashes an event again.
    hasher: RandomState,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    events: HashTable<Entry>,
    /// Done events, oldest first, by their hash and the sequence number of their completion
    /// (which identifies the entry without reading its event); with one TTL for all, this
    /// is also expiry order. An item whose number no longer matches its entry is stale and
    /// skipped.
    done: VecDeque<Queued>,
    next: u64,
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    event: WebhookEvent,
    slot: Slot,
}

#[derive(Debug, Clone, Copy)]
struct Queued {
    hash: u64,
    seq: u64,
    at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    InProgress { token: ClaimToken, until: Instant },
    Done { seq: u64 },
}

impl Default for MemoryStore {
    /// 100,000 events for 24 hours.
    fn default() -> Self {
        Self::new(100_000, Duration::from_secs(24 * 3600))
    }
}

impl MemoryStore {
    /// Remembers up to `capacity` done events for `ttl` each. A capacity of 0 remembers no
    /// done event (every delivery that is not in progress is handled).
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            hasher: RandomState::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// [`EventStore::claim`], synchronously and at a given instant (so tests can move time).
    pub fn claim_at(&self, event: &WebhookEvent, lease: Duration, now: Instant) -> Claim {
        let hash = self.hasher.hash_one(event);
        // Copied before locking, so that other claims do not wait on the allocation; a
        // duplicate wastes the copy.
        let copy = event.clone();
        let until = now
            .checked_add(lease)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let mut state = self.lock();
        let expired = state.expire(now, self.ttl);
        let token = ClaimToken::new(state.next + 1);
        let claimed = Slot::InProgress { token, until };
        match state
            .events
            .entry(hash, |entry| entry.event == *event, |entry| entry.hash)
        {
            Found::Occupied(mut found) => match found.get().slot {
                Slot::Done { .. } => return Claim::Done,
                Slot::InProgress { until: held, .. } if held > now => {
                    return Claim::InProgress {
                        retry_after: held.saturating_duration_since(now),
                    };
                }
                Slot::InProgress { .. } => found.get_mut().slot = claimed,
            },
            Found::Vacant(vacant) => {
                vacant.insert(Entry {
                    hash,
                    event: copy,
                    slot: claimed,
                });
            }
        }
        state.next += 1;
        drop(state);
        drop(expired);
        Claim::Claimed(token)
    }

    /// [`EventStore::complete`], synchronously.
    pub fn complete_at(&self, event: &WebhookEvent, _token: ClaimToken, now: Instant) {
        let hash = self.hasher.hash_one(event);
        let mut state = self.lock();
        if self.capacity == 0 {
            // Nothing is ever done at capacity 0: forget the claim.
            let forgotten = state.remove(hash, |entry| entry.event == *event);
            drop(state);
            drop(forgotten);
            return;
        }
        let seq = state.next + 1;
        match state.events.find_mut(hash, |entry| entry.event == *event) {
            Some(Entry {
                slot: Slot::Done { .. },
                ..
            }) => return,
            Some(entry) => entry.slot = Slot::Done { seq },
            None => {
                // The claim was lost (expired and released by another delivery): done is
                // final all the same.
                let entry = Entry {
                    hash,
                    event: event.clone(),
                    slot: Slot::Done { seq },
                };
                state.events.insert_unique(hash, entry, |entry| entry.hash);
            }
        }
        state.next = seq;
        state.done.push_back(Queued { hash, seq, at: now });
        // The event just recorded is the newest, and the queue held at most `capacity`
        // before it: this forgets one event at most, never this one.
        let evicted = if state.done.len() > self.capacity {
            state.pop_oldest_done()
        } else {
            None
        };
        drop(state);
        drop(evicted);
    }

    /// [`EventStore::release`], synchronously.
    pub fn release_now(&self, event: &WebhookEvent, token: ClaimToken) {
        let hash = self.hasher.hash_one(event);
        let mut state = self.lock();
        let released = state.remove(hash, |entry| {
            entry.event == *event
                && matches!(entry.slot, Slot::InProgress { token: held, .. } if held == token)
        });
        drop(state);
        drop(released);
    }

    /// The number of events remembered, in progress or done (expired ones may count until
    /// the next claim).
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update leaves the table consistent before it can panic, so a poisoned lock
        // still holds usable state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    /// Forgets the done events older than `ttl`; they are returned to be dropped once the
    /// lock is released.
    fn expire(&mut self, now: Instant, ttl: Duration) -> Vec<Entry> {
        let mut expired = Vec::new();
        while let Some(oldest) = self.done.front() {
            if now.saturating_duration_since(oldest.at) < ttl {
                break;
            }
            expired.extend(self.pop_oldest_done());
        }
        expired
    }

    /// Forgets the oldest done event, found by its hash and sequence number alone.
    fn pop_oldest_done(&mut self) -> Option<Entry> {
        let Queued { hash, seq, .. } = self.done.pop_front()?;
        self.remove(hash, |entry| entry.slot == Slot::Done { seq })
    }

    /// Removes the entry with `hash` that `is_it` picks, if there is one.
    fn remove(&mut self, hash: u64, is_it: impl FnMut(&Entry) -> bool) -> Option<Entry> {
        let found = self.events.find_entry(hash, is_it).ok()?;
        Some(found.remove().0)
    }
}

impl EventStore for MemoryStore {
    fn claim<'a>(&'a self, event: &'a WebhookEvent, lease: Duration) -> StoreFuture<'a, Claim> {
        let claim = self.claim_at(event, lease, Instant::now());
        Box::pin(std::future::ready(Ok(claim)))
    }

    fn complete<'a>(&'a self, event: &'a WebhookEvent, token: ClaimToken) -> StoreFuture<'a, ()> {
        self.complete_at(event, token, Instant::now());
        Box::pin(std::future::ready(Ok(())))
    }

    fn release<'a>(&'a self, event: &'a WebhookEvent, token: ClaimToken) -> StoreFuture<'a, ()> {
        self.release_now(event, token);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use soniox_types::{TranscriptionId, WebhookStatus};

    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

    fn event(id: &str, status: WebhookStatus) -> WebhookEvent {
        WebhookEvent::new(TranscriptionId::new(id), status)
    }

    #[track_caller]
    fn claimed(store: &MemoryStore, event: &WebhookEvent, now: Instant) -> ClaimToken {
        match store.claim_at(event, LEASE, now) {
            Claim::Claimed(token) => token,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[test]
    fn keyed_by_id_and_status() {
        let store = MemoryStore::new(8, Duration::from_secs(60));
        let now = Instant::now();
        let a = event("a", WebhookStatus::Completed);
        let token = claimed(&store, &a, now);
        store.complete_at(&a, token, now);
        assert_eq!(store.claim_at(&a, LEASE, now), Claim::Done);
        claimed(&store, &event("a", WebhookStatus::Error), now);
        claimed(&store, &event("b", WebhookStatus::Completed), now);
    }

    #[test]
    fn in_progress_until_the_lease_expires_then_taken_over() {
        let store = MemoryStore::new(8, Duration::from_secs(60));
        let start = Instant::now();
        let a = event("a", WebhookStatus::Completed);
        let first = claimed(&store, &a, start);
        assert_eq!(
            store.claim_at(&a, LEASE, start + Duration::from_secs(10)),
            Claim::InProgress {
                retry_after: Duration::from_secs(20)
            }
        );
        let second = claimed(&store, &a, start + LEASE);
        assert_ne!(first, second);
        assert_eq!(store.len(), 1);
        // The expired claimant cannot release the claim that took over.
        store.release_now(&a, first);
        assert!(matches!(
            store.claim_at(&a, LEASE, start + LEASE),
            Claim::InProgress { .. }
        ));
        store.release_now(&a, second);
        claimed(&store, &a, start + LEASE);
    }

    #[test]
    fn done_expires_after_ttl() {
        let store = MemoryStore::new(8, Duration::from_secs(60));
        let start = Instant::now();
        let a = event("a", WebhookStatus::Completed);
        store.complete_at(&a, claimed(&store, &a, start), start);
        assert_eq!(
            store.claim_at(&a, LEASE, start + Duration::from_secs(59)),
            Claim::Done
        );
        claimed(&store, &a, start + Duration::from_secs(60));
    }

    #[test]
    fn capacity_evicts_the_oldest_done_event_never_one_in_progress() {
        let store = MemoryStore::new(2, Duration::from_secs(60));
        let now = Instant::now();
        let [a, b, c, d] = ["a", "b", "c", "d"].map(|id| event(id, WebhookStatus::Completed));
        for done in [&a, &b, &c] {
            store.complete_at(done, claimed(&store, done, now), now);
        }
        let _held = claimed(&store, &d, now);
        assert_eq!(store.len(), 3);
        assert_eq!(store.claim_at(&c, LEASE, now), Claim::Done);
        assert!(matches!(
            store.claim_at(&d, LEASE, now),
            Claim::InProgress { .. }
        ));
        claimed(&store, &a, now);
    }

    #[test]
    fn at_capacity_each_completion_forgets_exactly_the_oldest() {
        let store = MemoryStore::new(3, Duration::from_secs(60));
        let now = Instant::now();
        let events: Vec<_> = (0..50)
            .map(|n| event(&format!("e{n}"), WebhookStatus::Completed))
            .collect();
        for (n, done) in events.iter().enumerate() {
            store.complete_at(done, claimed(&store, done, now), now);
            assert_eq!(store.len(), (n + 1).min(3));
            assert_eq!(store.lock().done.len(), (n + 1).min(3));
        }
        for remembered in &events[47..] {
            assert_eq!(store.claim_at(remembered, LEASE, now), Claim::Done);
        }
        claimed(&store, &events[46], now);
    }

    #[test]
    fn completing_an_event_whose_claim_was_lost_records_it_and_evicts() {
        let store = MemoryStore::new(1, Duration::from_secs(60));
        let now = Instant::now();
        let [a, b] = ["a", "b"].map(|id| event(id, WebhookStatus::Completed));
        store.complete_at(&a, claimed(&store, &a, now), now);
        let token = claimed(&store, &b, now);
        store.release_now(&b, token);
        store.complete_at(&b, token, now);
        assert_eq!(store.claim_at(&b, LEASE, now), Claim::Done);
        claimed(&store, &a, now);
        assert_eq!(store.lock().done.len(), 1);
    }

    #[test]
    fn release_and_retry_stays_bounded() {
        let store = MemoryStore::new(2, Duration::from_secs(60));
        let now = Instant::now();
        let a = event("a", WebhookStatus::Completed);
        for _ in 0..100 {
            let token = claimed(&store, &a, now);
            store.release_now(&a, token);
        }
        assert!(store.is_empty());
        assert!(store.lock().done.is_empty());
    }

    #[test]
    fn done_is_final() {
        let store = MemoryStore::new(8, Duration::from_secs(60));
        let now = Instant::now();
        let a = event("a", WebhookStatus::Completed);
        let token = claimed(&store, &a, now);
        store.complete_at(&a, token, now);
        store.release_now(&a, token);
        store.complete_at(&a, token, now);
        assert_eq!(store.claim_at(&a, LEASE, now), Claim::Done);
        assert_eq!(store.lock().done.len(), 1);
    }

    #[test]
    fn zero_capacity_remembers_no_done_event() {
        let store = MemoryStore::new(0, Duration::from_secs(60));
        let a = event("a", WebhookStatus::Completed);
        let now = Instant::now();
        store.complete_at(&a, claimed(&store, &a, now), now);
        claimed(&store, &a, now);
    }
}
