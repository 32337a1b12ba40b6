//! [`MemoryStore`]: the event states in a bounded map, for one process.
//!
//! The receiver's steady state is a full store: every delivery claims a new event, and its
//! completion forgets the oldest done one. What that costs is memory traffic, not
//! instructions, so the layout keeps each step's memory small or sequential:
//!
//! - claims in progress sit in a table of their own, as small as the number of handlers
//!   running, so it stays in cache;
//! - done events sit in a queue in completion order, which with one TTL for all is also the
//!   order in which they expire and are evicted: eviction and expiry read it front to back;
//! - done events are found through an index of 8-byte items (the event's place in the queue
//!   and the low half of its hash): about 1 MiB at the default capacity, where the events
//!   take about ten, so its lookups mostly hit a core's cache; a lookup reads an event only
//!   when an item's hash tag matches.
//!
//! Evicting an event removes its index item, one lookup. Leaving dead items behind for a
//! periodic sweep saves that lookup but doubles the index, and measured no cheaper.

use std::{
    collections::VecDeque,
    hash::{BuildHasher, RandomState},
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use hashbrown::{HashTable, hash_table::Entry as Found};
use soniox_types::WebhookEvent;

use super::{Claim, ClaimToken, EventStore, StoreFuture};

/// The largest capacity: queue places are numbered modulo 2³², and the queue holds one
/// event more than the capacity for a moment before evicting.
const MAX_CAPACITY: usize = 1 << 31;

/// A bounded, in-memory [`EventStore`] for a single process: remembers at most `capacity`
/// done events, each for `ttl`, and forgets everything on restart.
///
/// When full, the oldest done event is forgotten first (a replay of it would be handled
/// again). Events in progress are never evicted; there are at most as many as handlers running.
///
/// ```
/// use std::time::Duration;
/// use soniox_webhook::{
///     TranscriptionId, WebhookEvent, WebhookStatus,
///     store::{Claim, MemoryStore},
/// };
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
    /// Keyed SipHash: event ids come from the network, so a fixed hash would let a sender
    /// pick ids that collide. Hashed outside the lock; every item keeps its hash, so no
    /// event is hashed again.
    hasher: RandomState,
    /// One lock: each operation holds it for a few lookups in memory that is mostly in
    /// cache, and a completion has to update the shared queue anyway.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    claims: HashTable<Claimed>,
    /// Done events, oldest first. An item whose event was claimed again after it expired
    /// is stale: the index no longer points at it, and it waits for its turn to be dropped.
    done: VecDeque<Done>,
    index: HashTable<Place>,
    /// The number of the queue's front item; the others follow it, modulo 2³².
    first: u32,
    /// The last claim token handed out.
    tokens: u64,
}

#[derive(Debug)]
struct Claimed {
    hash: u64,
    event: WebhookEvent,
    token: ClaimToken,
    until: Instant,
}

#[derive(Debug)]
struct Done {
    hash: u64,
    event: WebhookEvent,
    at: Instant,
}

/// A done event in the index: its number in the queue and the low half of its hash, enough
/// to place it in the index again when the index grows, without reading the queue.
#[derive(Debug, Clone, Copy)]
struct Place {
    seq: u32,
    hash: u32,
}

/// The index's hash of an event whose full hash is `hash`: the low half spread over 64 bits
/// (an odd multiplier keeps the low bits, which pick the bucket, a bijection of the hash's),
/// so that a [`Place`] can rebuild it.
fn index_hash(hash: u64) -> u64 {
    u64::from(hash as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Events taken off the queue under the lock, dropped (their ids freed) after it.
#[derive(Default)]
struct Forgotten {
    evicted: Option<Done>,
    expired: Vec<Done>,
}

impl Default for MemoryStore {
    /// 100,000 events for 24 hours.
    fn default() -> Self {
        Self::new(100_000, Duration::from_secs(24 * 3600))
    }
}

impl MemoryStore {
    /// Remembers up to `capacity` done events (at most 2³¹) for `ttl` each. A capacity of 0
    /// remembers no done event (every delivery that is not in progress is handled).
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity: capacity.min(MAX_CAPACITY),
            ttl,
            hasher: RandomState::new(),
            state: Mutex::default(),
        }
    }

    /// [`EventStore::claim`], synchronously and at a given instant (so tests can move time).
    pub fn claim_at(&self, event: &WebhookEvent, lease: Duration, now: Instant) -> Claim {
        let hash = self.hasher.hash_one(event);
        // Copied before locking, so that other operations do not wait on the allocation; a
        // duplicate wastes the copy.
        let copy = event.clone();
        let until = now
            .checked_add(lease)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let mut forgotten = Forgotten::default();
        let mut state = self.lock();
        state.forget_expired(now, self.ttl, &mut forgotten.expired);
        let State {
            claims,
            done,
            index,
            first,
            tokens,
        } = &mut *state;
        let token = ClaimToken::new(*tokens + 1);
        match claims.entry(hash, |claim| claim.event == *event, |claim| claim.hash) {
            Found::Occupied(mut found) => {
                let claim = found.get_mut();
                if claim.until > now {
                    return Claim::InProgress {
                        retry_after: claim.until.saturating_duration_since(now),
                    };
                }
                // An expired claim is taken over.
                claim.token = token;
                claim.until = until;
            }
            Found::Vacant(vacant) => {
                let place = index.find_entry(index_hash(hash), |place| {
                    queued(done, *first, place.seq).is_some_and(|item| item.event == *event)
                });
                if let Ok(place) = place {
                    let at = queued(done, *first, place.get().seq).map(|item| item.at);
                    if at.is_some_and(|at| now.saturating_duration_since(at) < self.ttl) {
                        return Claim::Done;
                    }
                    // Expired but not yet dropped (completions finish slightly out of
                    // order): new again, and its queue item goes stale.
                    place.remove();
                }
                vacant.insert(Claimed {
                    hash,
                    event: copy,
                    token,
                    until,
                });
            }
        }
        *tokens += 1;
        Claim::Claimed(token)
    }

    /// [`EventStore::complete`], synchronously.
    pub fn complete_at(&self, event: &WebhookEvent, _token: ClaimToken, now: Instant) {
        let hash = self.hasher.hash_one(event);
        let mut forgotten = Forgotten::default();
        let mut state = self.lock();
        let claimed = state
            .claims
            .find_entry(hash, |claim| claim.event == *event)
            .ok()
            .map(|found| found.remove().0);
        let event = match claimed {
            Some(claimed) if self.capacity == 0 => {
                // Nothing is ever done at capacity 0: forget the claim.
                drop(state);
                drop(claimed);
                return;
            }
            Some(claimed) => claimed.event,
            // Done is final.
            None if self.capacity == 0 || state.find_done(hash, event) => return,
            // The claim was lost (expired and released by another delivery): done all the
            // same.
            None => event.clone(),
        };
        state.push_done(Done {
            hash,
            event,
            at: now,
        });
        // The queue held at most `capacity` before this one, the newest: this forgets one
        // event at most, never this one.
        if state.done.len() > self.capacity {
            forgotten.evicted = state.pop_oldest();
        }
        state.forget_expired(now, self.ttl, &mut forgotten.expired);
        drop(state);
        drop(forgotten);
    }

    /// [`EventStore::release`], synchronously.
    pub fn release_now(&self, event: &WebhookEvent, token: ClaimToken) {
        let hash = self.hasher.hash_one(event);
        let mut state = self.lock();
        let released = state
            .claims
            .find_entry(hash, |claim| claim.event == *event && claim.token == token)
            .ok()
            .map(|found| found.remove().0);
        drop(state);
        drop(released);
    }

    /// The number of events remembered, in progress or done (expired ones may count until
    /// the next claim or completion).
    pub fn len(&self) -> usize {
        let state = self.lock();
        state.claims.len() + state.index.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent before anything that could panic, so a
        // poisoned lock still holds usable state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The queue item numbered `seq`, if it is still queued.
fn queued(done: &VecDeque<Done>, first: u32, seq: u32) -> Option<&Done> {
    done.get(seq.wrapping_sub(first) as usize)
}

impl State {
    /// Whether `event` (with `hash`) is in the index, expired or not.
    fn find_done(&self, hash: u64, event: &WebhookEvent) -> bool {
        self.index
            .find(index_hash(hash), |place| {
                queued(&self.done, self.first, place.seq).is_some_and(|item| item.event == *event)
            })
            .is_some()
    }

    /// Queues `item` at the back and indexes it.
    fn push_done(&mut self, item: Done) {
        let seq = self.first.wrapping_add(self.done.len() as u32);
        let hash = item.hash;
        self.done.push_back(item);
        let place = Place {
            seq,
            hash: hash as u32,
        };
        self.index.insert_unique(index_hash(hash), place, |place| {
            index_hash(u64::from(place.hash))
        });
    }

    /// Takes the oldest item off the queue and, unless it is stale, out of the index.
    fn pop_oldest(&mut self) -> Option<Done> {
        let oldest = self.done.pop_front()?;
        let seq = self.first;
        self.first = self.first.wrapping_add(1);
        if let Ok(place) = self
            .index
            .find_entry(index_hash(oldest.hash), |place| place.seq == seq)
        {
            place.remove();
        }
        Some(oldest)
    }

    /// Takes the items older than `ttl` off the front of the queue, into `expired`.
    fn forget_expired(&mut self, now: Instant, ttl: Duration, expired: &mut Vec<Done>) {
        while self
            .done
            .front()
            .is_some_and(|oldest| now.saturating_duration_since(oldest.at) >= ttl)
        {
            expired.extend(self.pop_oldest());
        }
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

    /// `count` distinct events, `e0` first.
    fn numbered(count: usize) -> Vec<WebhookEvent> {
        (0..count)
            .map(|n| event(&format!("e{n}"), WebhookStatus::Completed))
            .collect()
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
        let events = numbered(50);
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
    fn an_expired_done_event_is_new_even_before_the_queue_forgets_it() {
        let store = MemoryStore::new(8, Duration::from_secs(60));
        let start = Instant::now();
        let [a, b] = ["a", "b"].map(|id| event(id, WebhookStatus::Completed));
        // Completions that finish out of order queue a behind b, though a expires first.
        let (token_a, token_b) = (claimed(&store, &a, start), claimed(&store, &b, start));
        store.complete_at(&b, token_b, start + Duration::from_secs(10));
        store.complete_at(&a, token_a, start);
        let later = start + Duration::from_secs(65);
        let again = claimed(&store, &a, later);
        assert_eq!(store.lock().done.len(), 2);
        store.complete_at(&a, again, later);
        assert_eq!(store.claim_at(&a, LEASE, later), Claim::Done);
        // Once b expires, the queue drops it and a's stale item, leaving a's fresh one.
        let after_b = start + Duration::from_secs(70);
        assert_eq!(store.claim_at(&a, LEASE, after_b), Claim::Done);
        assert_eq!(store.lock().done.len(), 1);
        assert_eq!(store.len(), 1);
        claimed(&store, &b, after_b);
    }

    #[test]
    fn queue_numbers_wrap_around() {
        let store = MemoryStore::new(3, Duration::from_secs(60));
        store.lock().first = u32::MAX - 4;
        let now = Instant::now();
        let events = numbered(12);
        for (n, done) in events.iter().enumerate() {
            store.complete_at(done, claimed(&store, done, now), now);
            // The three newest are done, whichever side of the wrap their numbers are.
            for (m, earlier) in events[..=n].iter().enumerate() {
                let remembered = store.claim_at(earlier, LEASE, now) == Claim::Done;
                assert_eq!(remembered, m + 3 > n, "event {m} after completing {n}");
                if !remembered {
                    // Claimed by the check: give it back.
                    let token = ClaimToken::new(store.lock().tokens);
                    store.release_now(earlier, token);
                }
            }
        }
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn of_concurrent_claims_of_an_event_exactly_one_wins() {
        let store = MemoryStore::new(1000, Duration::from_secs(60));
        let events = numbered(200);
        let wins: Vec<Vec<bool>> = std::thread::scope(|scope| {
            let claimers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let now = Instant::now();
                        events
                            .iter()
                            .map(|event| {
                                matches!(store.claim_at(event, LEASE, now), Claim::Claimed(_))
                            })
                            .collect()
                    })
                })
                .collect();
            claimers
                .into_iter()
                .map(|claimer| claimer.join().expect("a claimer"))
                .collect()
        });
        for (n, event) in events.iter().enumerate() {
            let winners = wins.iter().filter(|won| won[n]).count();
            assert_eq!(winners, 1, "{event:?}");
        }
        assert_eq!(store.len(), 200);
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
