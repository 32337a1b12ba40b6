//! [`MemoryStore`]: the event states in a bounded map, for one process.

use std::{
    collections::VecDeque,
    hash::{BuildHasher, RandomState},
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hashbrown::{HashTable, hash_table::Entry as Found};
use soniox_types::WebhookEvent;

use super::{Claim, ClaimToken, EventStore, StoreFuture};

/// Events are spread over this many tables, each with a lock of its own, so that concurrent
/// claims and completions rarely wait for one another; only the done queue is shared.
const SHARDS: usize = 16;

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
    /// Hashes events outside the locks; each entry keeps its hash, so neither a lookup from
    /// the done queue nor a growing table hashes an event again.
    hasher: RandomState,
    shards: Box<[Padded<Mutex<Shard>>]>,
    /// Done events, oldest first, by their hash and the sequence number of their completion
    /// in their shard (which identifies the entry without reading its event); with one TTL
    /// for all, this is also expiry order. An item whose entry is gone or was claimed again
    /// is stale and skipped.
    done: Mutex<VecDeque<Queued>>,
    /// When the oldest queued event was completed, in whole seconds after `epoch`, rounded
    /// down (`u64::MAX` when none is): lets a claim see that nothing has expired without
    /// taking the queue's lock. Claims check expiry on the entry itself; this only bounds
    /// memory. In seconds so that it changes, and is written, about once a second rather than
    /// at every completion, which would take the line away from the other worker's claims.
    oldest: AtomicU64,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Shard {
    events: HashTable<Entry>,
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
    Done { seq: u64, at: Instant },
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
            shards: (0..SHARDS).map(|_| Padded(Mutex::default())).collect(),
            done: Mutex::default(),
            oldest: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
        }
    }

    /// [`EventStore::claim`], synchronously and at a given instant (so tests can move time).
    pub fn claim_at(&self, event: &WebhookEvent, lease: Duration, now: Instant) -> Claim {
        // The oldest completion, rounded down to its second: expired if this says not.
        let oldest = self
            .oldest
            .load(Ordering::Relaxed)
            .saturating_mul(1_000_000_000);
        if self.nanos(now).saturating_sub(oldest) >= self.ttl_nanos() {
            self.forget(|queue| Forgotten {
                expired: pop_expired(queue, now, self.ttl),
                evicted: None,
            });
        }
        let hash = self.hasher.hash_one(event);
        // Copied before locking, so that other claims do not wait on the allocation; a
        // duplicate wastes the copy.
        let copy = event.clone();
        let until = now
            .checked_add(lease)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let mut shard = self.shard(hash);
        let token = ClaimToken::new(shard.next + 1);
        let claimed = Slot::InProgress { token, until };
        match shard
            .events
            .entry(hash, |entry| entry.event == *event, |entry| entry.hash)
        {
            Found::Occupied(mut found) => match found.get().slot {
                Slot::Done { at, .. } if now.saturating_duration_since(at) < self.ttl => {
                    return Claim::Done;
                }
                Slot::InProgress { until: held, .. } if held > now => {
                    return Claim::InProgress {
                        retry_after: held.saturating_duration_since(now),
                    };
                }
                // An expired claim is taken over; an expired done event is new again (its
                // queue item goes stale).
                Slot::Done { .. } | Slot::InProgress { .. } => found.get_mut().slot = claimed,
            },
            Found::Vacant(vacant) => {
                vacant.insert(Entry {
                    hash,
                    event: copy,
                    slot: claimed,
                });
            }
        }
        shard.next += 1;
        Claim::Claimed(token)
    }

    /// [`EventStore::complete`], synchronously.
    pub fn complete_at(&self, event: &WebhookEvent, _token: ClaimToken, now: Instant) {
        let hash = self.hasher.hash_one(event);
        let mut shard = self.shard(hash);
        if self.capacity == 0 {
            // Nothing is ever done at capacity 0: forget the claim.
            let forgotten = shard.remove(hash, |entry| entry.event == *event);
            drop(shard);
            drop(forgotten);
            return;
        }
        let seq = shard.next + 1;
        let done = Slot::Done { seq, at: now };
        match shard.events.find_mut(hash, |entry| entry.event == *event) {
            Some(Entry {
                slot: Slot::Done { .. },
                ..
            }) => return,
            Some(entry) => entry.slot = done,
            None => {
                // The claim was lost (expired and released by another delivery): done is
                // final all the same.
                let entry = Entry {
                    hash,
                    event: event.clone(),
                    slot: done,
                };
                shard.events.insert_unique(hash, entry, |entry| entry.hash);
            }
        }
        shard.next = seq;
        drop(shard);
        self.forget(|queue| {
            queue.push_back(Queued { hash, seq, at: now });
            let expired = pop_expired(queue, now, self.ttl);
            // The queue held at most `capacity` before this one, the newest: this forgets
            // one event at most, never this one.
            let evicted = (queue.len() > self.capacity)
                .then(|| queue.pop_front())
                .flatten();
            Forgotten { expired, evicted }
        });
    }

    /// [`EventStore::release`], synchronously.
    pub fn release_now(&self, event: &WebhookEvent, token: ClaimToken) {
        let hash = self.hasher.hash_one(event);
        let mut shard = self.shard(hash);
        let released = shard.remove(hash, |entry| {
            entry.event == *event
                && matches!(entry.slot, Slot::InProgress { token: held, .. } if held == token)
        });
        drop(shard);
        drop(released);
    }

    /// The number of events remembered, in progress or done (expired ones may count until
    /// the next claim).
    pub fn len(&self) -> usize {
        (0..SHARDS)
            .map(|index| lock(&self.shards[index].0).events.len())
            .sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Updates the done queue with `change`, then forgets the done events it took off, each
    /// in its shard, one lock at a time.
    fn forget(&self, change: impl FnOnce(&mut VecDeque<Queued>) -> Forgotten) {
        let Forgotten { expired, evicted } = {
            let mut queue = lock(&self.done);
            let forgotten = change(&mut queue);
            let oldest = queue
                .front()
                .map_or(u64::MAX, |oldest| self.seconds(oldest.at));
            if self.oldest.load(Ordering::Relaxed) != oldest {
                self.oldest.store(oldest, Ordering::Relaxed);
            }
            forgotten
        };
        for Queued { hash, seq, .. } in expired.into_iter().chain(evicted) {
            let mut shard = self.shard(hash);
            let entry = shard.remove(
                hash,
                |entry| matches!(entry.slot, Slot::Done { seq: s, .. } if s == seq),
            );
            drop(shard);
            drop(entry);
        }
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // Bits that hashbrown uses for neither the bucket nor the tag inside a shard.
        lock(&self.shards[(hash >> 48) as usize % SHARDS].0)
    }

    fn seconds(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_secs()
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    fn ttl_nanos(&self) -> u64 {
        u64::try_from(self.ttl.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Every update leaves a table or the queue consistent before it can panic, so a poisoned
/// lock still holds usable state.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A value alone on its cache lines, so that locks of neighbouring shards taken by different
/// workers do not take the same line from each other.
#[derive(Debug)]
#[repr(align(128))]
struct Padded<T>(T);

/// What an update of the done queue took off it: the expired items (rarely any, so rarely
/// an allocation) and the one evicted to make room.
struct Forgotten {
    expired: Vec<Queued>,
    evicted: Option<Queued>,
}

/// Takes the items older than `ttl` off the front of `queue`.
fn pop_expired(queue: &mut VecDeque<Queued>, now: Instant, ttl: Duration) -> Vec<Queued> {
    let mut expired = Vec::new();
    while let Some(oldest) = queue.front() {
        if now.saturating_duration_since(oldest.at) < ttl {
            break;
        }
        expired.extend(queue.pop_front());
    }
    expired
}

impl Shard {
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
            assert_eq!(lock(&store.done).len(), (n + 1).min(3));
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
        assert_eq!(lock(&store.done).len(), 1);
    }

    #[test]
    fn an_expired_done_event_is_new_even_before_the_queue_forgets_it() {
        let mut store = MemoryStore::new(8, Duration::from_secs(60));
        let start = Instant::now();
        // An epoch later than every instant used hides the expiry from the claim's quick
        // check, so the queue keeps the expired item and the entry decides.
        store.epoch = start + Duration::from_secs(3600);
        let a = event("a", WebhookStatus::Completed);
        store.complete_at(&a, claimed(&store, &a, start), start);
        let later = start + Duration::from_secs(60);
        let again = claimed(&store, &a, later);
        assert_eq!(lock(&store.done).len(), 1);
        store.complete_at(&a, again, later);
        assert_eq!(store.claim_at(&a, LEASE, later), Claim::Done);
        // The next completion takes the stale item off as expired, leaving a's fresh entry.
        let b = event("b", WebhookStatus::Completed);
        store.complete_at(&b, claimed(&store, &b, later), later);
        assert_eq!(lock(&store.done).len(), 2);
        assert_eq!(store.len(), 2);
        assert_eq!(store.claim_at(&a, LEASE, later), Claim::Done);
    }

    #[test]
    fn of_concurrent_claims_of_an_event_exactly_one_wins() {
        let store = MemoryStore::new(1000, Duration::from_secs(60));
        let events: Vec<_> = (0..200)
            .map(|n| event(&format!("e{n}"), WebhookStatus::Completed))
            .collect();
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
        assert!(lock(&store.done).is_empty());
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
        assert_eq!(lock(&store.done).len(), 1);
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
