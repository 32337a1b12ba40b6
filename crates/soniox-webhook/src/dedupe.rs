//! Dropping the duplicate deliveries that retries produce.
//!
//! Soniox sends no delivery id and no timestamp, so a retried delivery is byte-for-byte the
//! same as the first one; the only key is the event itself, (transcription id, status). That
//! also means there is no replay window: a captured delivery can be replayed by anyone holding
//! the secret, and recognising it is only possible while its key is remembered. Handlers
//! should therefore be idempotent anyway (fetching a transcript twice is harmless).

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    pin::Pin,
    sync::Mutex,
    time::{Duration, Instant},
};

use soniox_types::WebhookEvent;

/// The future a [`Dedupe`] method returns.
pub type DedupeFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Remembers which events have been handled.
///
/// Implement it over a shared store (Redis `SET NX EX`, a database unique key) when several
/// processes receive webhooks; [`MemoryDedupe`] serves a single process. The methods return
/// boxed futures so that such stores can do I/O and the trait stays usable as `dyn Dedupe`.
/// A store that fails should answer `true` from `first_delivery`: handling an event twice is
/// harmless, losing one is not.
pub trait Dedupe: Send + Sync {
    /// Records `event` and resolves to `true` if it had not been seen (or had been forgotten);
    /// `false` means it is a duplicate and should be acknowledged without handling.
    fn first_delivery<'a>(&'a self, event: &'a WebhookEvent) -> DedupeFuture<'a, bool>;

    /// Forgets `event`, because handling it failed and the retry must be handled again.
    fn release<'a>(&'a self, event: &'a WebhookEvent) -> DedupeFuture<'a, ()>;
}

/// A bounded, in-memory [`Dedupe`]: remembers at most `capacity` events, each for `ttl`.
///
/// When full, the oldest entry is forgotten first. Lookups and inserts are O(1) amortised.
///
/// ```
/// use std::time::Duration;
/// use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};
/// use soniox_webhook::{Dedupe, MemoryDedupe};
///
/// let dedupe = MemoryDedupe::new(10_000, Duration::from_secs(24 * 3600));
/// let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed);
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// assert!(dedupe.first_delivery(&event).await);
/// assert!(!dedupe.first_delivery(&event).await);
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct MemoryDedupe {
    capacity: usize,
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Event → the sequence number of its live entry in `order`; the number tells a live entry
    /// from a stale one left behind by `release`.
    seen: HashMap<WebhookEvent, u64>,
    /// Insertion order, oldest first; with one TTL for all entries this is also expiry order.
    order: VecDeque<Entry>,
    next_seq: u64,
}

#[derive(Debug)]
struct Entry {
    event: WebhookEvent,
    at: Instant,
    seq: u64,
}

impl MemoryDedupe {
    /// Remembers up to `capacity` events for `ttl` each. A capacity of 0 remembers nothing.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    /// [`Dedupe::first_delivery`], synchronously and at a given instant (so tests can move
    /// time explicitly).
    pub fn first_delivery_at(&self, event: &WebhookEvent, now: Instant) -> bool {
        if self.capacity == 0 {
            return true;
        }
        let mut state = self.lock();
        state.expire(now, self.ttl);
        if state.seen.contains_key(event) {
            return false;
        }
        while state.seen.len() >= self.capacity {
            state.pop_oldest();
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.seen.insert(event.clone(), seq);
        state.order.push_back(Entry {
            event: event.clone(),
            at: now,
            seq,
        });
        // `release` leaves stale entries in `order`; compact so it stays bounded.
        if state.order.len() > self.capacity.saturating_mul(2) {
            let State { seen, order, .. } = &mut *state;
            order.retain(|entry| seen.get(&entry.event) == Some(&entry.seq));
        }
        true
    }

    /// [`Dedupe::release`], synchronously.
    pub fn forget(&self, event: &WebhookEvent) {
        self.lock().seen.remove(event);
    }

    /// The number of events currently remembered (expired ones may still count until the next
    /// insert).
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock cannot leave the maps inconsistent in a way
        // that matters here (worst case: one duplicate is handled twice), so keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    fn expire(&mut self, now: Instant, ttl: Duration) {
        while let Some(entry) = self.order.front() {
            if now.saturating_duration_since(entry.at) < ttl {
                break;
            }
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(entry) = self.order.pop_front()
            && self.seen.get(&entry.event) == Some(&entry.seq)
        {
            self.seen.remove(&entry.event);
        }
    }
}

impl Dedupe for MemoryDedupe {
    fn first_delivery<'a>(&'a self, event: &'a WebhookEvent) -> DedupeFuture<'a, bool> {
        let first = self.first_delivery_at(event, Instant::now());
        Box::pin(std::future::ready(first))
    }

    fn release<'a>(&'a self, event: &'a WebhookEvent) -> DedupeFuture<'a, ()> {
        self.forget(event);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use soniox_types::{TranscriptionId, WebhookStatus};

    use super::*;

    fn event(id: &str, status: WebhookStatus) -> WebhookEvent {
        WebhookEvent::new(TranscriptionId::new(id), status)
    }

    #[test]
    fn keyed_by_id_and_status() {
        let dedupe = MemoryDedupe::new(8, Duration::from_secs(60));
        let now = Instant::now();
        assert!(dedupe.first_delivery_at(&event("a", WebhookStatus::Completed), now));
        assert!(!dedupe.first_delivery_at(&event("a", WebhookStatus::Completed), now));
        assert!(dedupe.first_delivery_at(&event("a", WebhookStatus::Error), now));
        assert!(dedupe.first_delivery_at(&event("b", WebhookStatus::Completed), now));
    }

    #[test]
    fn expires_after_ttl() {
        let dedupe = MemoryDedupe::new(8, Duration::from_secs(60));
        let start = Instant::now();
        let a = event("a", WebhookStatus::Completed);
        assert!(dedupe.first_delivery_at(&a, start));
        assert!(!dedupe.first_delivery_at(&a, start + Duration::from_secs(59)));
        assert!(dedupe.first_delivery_at(&a, start + Duration::from_secs(60)));
    }

    #[test]
    fn capacity_evicts_oldest() {
        let dedupe = MemoryDedupe::new(2, Duration::from_secs(60));
        let now = Instant::now();
        let (a, b, c) = (
            event("a", WebhookStatus::Completed),
            event("b", WebhookStatus::Completed),
            event("c", WebhookStatus::Completed),
        );
        assert!(dedupe.first_delivery_at(&a, now));
        assert!(dedupe.first_delivery_at(&b, now));
        assert!(dedupe.first_delivery_at(&c, now));
        assert_eq!(dedupe.len(), 2);
        assert!(!dedupe.first_delivery_at(&c, now));
        assert!(dedupe.first_delivery_at(&a, now));
    }

    #[test]
    fn release_allows_retry_and_stays_bounded() {
        let dedupe = MemoryDedupe::new(2, Duration::from_secs(60));
        let now = Instant::now();
        let a = event("a", WebhookStatus::Completed);
        for _ in 0..100 {
            assert!(dedupe.first_delivery_at(&a, now));
            dedupe.forget(&a);
        }
        assert!(dedupe.is_empty());
        assert!(dedupe.lock().order.len() <= 4);
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let dedupe = MemoryDedupe::new(0, Duration::from_secs(60));
        let a = event("a", WebhookStatus::Completed);
        let now = Instant::now();
        assert!(dedupe.first_delivery_at(&a, now));
        assert!(dedupe.first_delivery_at(&a, now));
    }
}
