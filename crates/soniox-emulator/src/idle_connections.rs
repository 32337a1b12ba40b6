//! Which open connections sit idle between requests, so that a connection arriving when every
//! slot is taken can take the place of the one idle the longest.
//!
//! Without this, a client whose pool keeps hundreds of keep-alive connections (one pool per
//! client object, as reqwest has) fills the slots with connections that serve nothing until
//! their keep-alive times out, while new connections wait in the backlog: a bench making a
//! client per flow dropped from thousands of flows per second to a few dozen. Web servers
//! handle this the same way: when out of connections, they end idle keep-alive ones first.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

// The clock `make_room` waits on: measured on another, idleness would lag behind the wait,
// which then goes round its loop (at once, on a paused clock) until the two agree.
use tokio::{sync::Notify, time::Instant};

/// The open connections, each with whether it is answering a request and since when it idles.
#[derive(Debug)]
pub(crate) struct IdleConnections {
    /// What `idle_since` counts from.
    epoch: Instant,
    next_id: AtomicU64,
    /// Touched when a connection opens, closes or is chosen to close; never per request.
    open: Mutex<HashMap<u64, Arc<ConnectionState>>>,
}

/// One connection's activity, updated by its requests without any lock.
#[derive(Debug, Default)]
pub(crate) struct ConnectionState {
    /// Requests being answered (more than one only while a pipelined request waits).
    busy: AtomicUsize,
    /// Milliseconds since the registry's epoch at which the last request was answered.
    idle_since: AtomicU64,
    /// Set once the connection was chosen to close, so it is not chosen twice.
    closing: AtomicBool,
    close: Notify,
}

impl IdleConnections {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records a newly accepted connection; it is forgotten when the handle drops.
    pub(crate) fn open(self: &Arc<Self>) -> Connection {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnectionState::default());
        state.idle_since.store(self.now_ms(), Ordering::Relaxed);
        self.lock().insert(id, Arc::clone(&state));
        Connection {
            registry: Arc::clone(self),
            id,
            state,
        }
    }

    /// Asks the connection idle the longest, for at least `min_idle`, to close; false when
    /// every connection is busy or idle for less.
    pub(crate) fn close_longest_idle(&self, min_idle: Duration) -> bool {
        let now = self.now_ms();
        let min_idle = u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX);
        let open = self.lock();
        let longest = open
            .values()
            .filter(|state| {
                state.busy.load(Ordering::Acquire) == 0 && !state.closing.load(Ordering::Relaxed)
            })
            .map(|state| (state.idle_since.load(Ordering::Relaxed), state))
            .filter(|(since, _)| now.saturating_sub(*since) >= min_idle)
            .min_by_key(|(since, _)| *since);
        match longest {
            Some((_, state)) => {
                state.closing.store(true, Ordering::Relaxed);
                // A stored permit: the connection's task may not be waiting yet.
                state.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnectionState>>> {
        // The map stays consistent whatever panicked while holding it.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An open connection's entry in [`IdleConnections`].
#[derive(Debug)]
pub(crate) struct Connection {
    registry: Arc<IdleConnections>,
    id: u64,
    state: Arc<ConnectionState>,
}

impl Connection {
    /// Marks a request as being answered until the returned guard drops, whether the answer
    /// completes or the request is cancelled.
    pub(crate) fn busy(&self) -> Busy {
        self.state.busy.fetch_add(1, Ordering::AcqRel);
        Busy {
            registry: Arc::clone(&self.registry),
            state: Arc::clone(&self.state),
        }
    }

    /// Completes once the connection has been chosen to close.
    pub(crate) async fn close_requested(&self) {
        self.state.close.notified().await;
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// A request being answered on a connection; see [`Connection::busy`].
#[derive(Debug)]
pub(crate) struct Busy {
    registry: Arc<IdleConnections>,
    state: Arc<ConnectionState>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        // Idle from now, stored before the count drops so a reader never sees an idle
        // connection with the time of its previous request.
        self.state
            .idle_since
            .store(self.registry.now_ms(), Ordering::Relaxed);
        self.state.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idle_connections_are_chosen_and_each_once() {
        let registry = Arc::new(IdleConnections::new());
        let idle = registry.open();
        let busy = registry.open();
        let _request = busy.busy();
        assert!(registry.close_longest_idle(Duration::ZERO));
        assert!(idle.state.closing.load(Ordering::Relaxed));
        assert!(!busy.state.closing.load(Ordering::Relaxed));
        assert!(!registry.close_longest_idle(Duration::ZERO));
    }

    #[test]
    fn a_connection_idle_for_less_than_asked_is_kept() {
        let registry = Arc::new(IdleConnections::new());
        let _idle = registry.open();
        assert!(!registry.close_longest_idle(Duration::from_secs(3600)));
    }

    #[test]
    fn a_closed_connection_is_forgotten() {
        let registry = Arc::new(IdleConnections::new());
        drop(registry.open());
        assert!(registry.lock().is_empty());
        assert!(!registry.close_longest_idle(Duration::ZERO));
    }

    #[test]
    fn the_longest_idle_is_chosen_first() {
        let registry = Arc::new(IdleConnections::new());
        let older = registry.open();
        let newer = registry.open();
        older.state.idle_since.store(0, Ordering::Relaxed);
        newer.state.idle_since.store(5, Ordering::Relaxed);
        assert!(registry.close_longest_idle(Duration::ZERO));
        assert!(older.state.closing.load(Ordering::Relaxed));
        assert!(!newer.state.closing.load(Ordering::Relaxed));
    }
}
