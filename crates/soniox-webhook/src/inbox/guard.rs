//! Time limits and shutdown for the inbox's futures, paid for only by futures that wait.
//!
//! `tokio::time::timeout` and `select!` on a cancellation token build a timer and a waiter
//! for every request, and registering the waiter takes the token's locks, which every
//! request on every worker shares. Almost every delivery reads a body that is already in the
//! buffer and runs a handler that finishes in its first poll, so [`guarded`] polls the future
//! first and makes the timer and the waiter only once it is pending. The limit still counts
//! from the first poll, as `timeout`'s does from a call followed by `.await`.

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    task::coop::{Unconstrained, unconstrained},
    time::{Instant, Sleep},
};
use tokio_util::sync::CancellationToken;

/// A shutdown that cancels the handlers still running: a flag that the fast path reads
/// without a lock, and a token that waiting futures register with.
#[derive(Clone, Debug, Default)]
pub(super) struct Shutdown {
    started: Arc<AtomicBool>,
    token: CancellationToken,
}

impl Shutdown {
    pub(super) fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Cancels every guarded future, now or at its next poll.
    pub(super) fn start(&self) {
        // The flag first: a future that sees it unset then registers with the token, which
        // the cancellation below wakes.
        self.started.store(true, Ordering::Release);
        self.token.cancel();
    }
}

/// How a [`guarded`] future ended.
pub(super) enum Guarded<T> {
    Finished(T),
    /// The limit passed first; the future was dropped.
    TimedOut,
    /// The shutdown started first; the future was dropped.
    ShutDown,
}

/// Runs `future` for at most `limit` from its first poll and, given a `shutdown`, until that
/// starts.
/// A shutdown already started wins without polling the future; otherwise the future is
/// polled before the limit is checked, as `tokio::time::timeout` does.
pub(super) async fn guarded<F: Future>(
    future: F,
    limit: Duration,
    shutdown: Option<&Shutdown>,
) -> Guarded<F::Output> {
    let start = Instant::now();
    let mut future = pin!(future);
    let mut cancelled = pin!(None);
    let mut deadline = pin!(None::<Unconstrained<Sleep>>);
    poll_fn(|cx| {
        if shutdown.is_some_and(Shutdown::is_started) {
            return Poll::Ready(Guarded::ShutDown);
        }
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Guarded::Finished(output));
        }
        if let Some(shutdown) = shutdown
            && poll_lazily(cancelled.as_mut(), || shutdown.token.cancelled(), cx).is_ready()
        {
            return Poll::Ready(Guarded::ShutDown);
        }
        // Polled without a coop budget: a future that spends the task's budget must not
        // keep its deadline from being noticed.
        let sleep = || unconstrained(tokio::time::sleep_until(deadline_after(start, limit)));
        poll_lazily(deadline.as_mut(), sleep, cx).map(|()| Guarded::TimedOut)
    })
    .await
}

/// Polls the future in `slot`, made by `make` on the first call.
fn poll_lazily<F: Future>(
    mut slot: Pin<&mut Option<F>>,
    make: impl FnOnce() -> F,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    if slot.is_none() {
        slot.set(Some(make()));
    }
    match slot.as_pin_mut() {
        Some(future) => future.poll(cx),
        None => Poll::Pending,
    }
}

/// `start + limit`, or about 30 years away when that does not fit (as `tokio::time::timeout`).
fn deadline_after(start: Instant, limit: Duration) -> Instant {
    start
        .checked_add(limit)
        .unwrap_or_else(|| start + Duration::from_secs(86_400 * 365 * 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_ready_future_finishes_even_with_no_time() {
        let ended = guarded(async { 7 }, Duration::ZERO, None).await;
        assert!(matches!(ended, Guarded::Finished(7)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_counts_from_the_first_poll() {
        let start = Instant::now();
        let slow = tokio::time::sleep(Duration::from_secs(5));
        let ended = guarded(slow, Duration::from_secs(2), None).await;
        assert!(matches!(ended, Guarded::TimedOut));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        let fast = tokio::time::sleep(Duration::from_secs(1));
        assert!(matches!(
            guarded(fast, Duration::from_secs(2), None).await,
            Guarded::Finished(())
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_started_shutdown_wins_without_polling() {
        let shutdown = Shutdown::default();
        shutdown.start();
        let polled = std::cell::Cell::new(false);
        let future = async { polled.set(true) };
        let ended = guarded(future, Duration::from_secs(1), Some(&shutdown)).await;
        assert!(matches!(ended, Guarded::ShutDown));
        assert!(!polled.get());
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_cancels_a_waiting_future() {
        let shutdown = Shutdown::default();
        let waiting = guarded(
            std::future::pending::<()>(),
            Duration::from_secs(60),
            Some(&shutdown),
        );
        let stop = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            shutdown.start();
        };
        let (ended, ()) = tokio::join!(waiting, stop);
        assert!(matches!(ended, Guarded::ShutDown));
    }
}
