//! Time limits and shutdown for the inbox's futures, paid for only by futures that wait.
//!
//! `tokio::time::timeout` and `select!` on a cancellation token build a timer and a waiter
//! for every request, and registering the waiter takes the token's locks, which every
//! request on every worker shares. Almost every delivery reads a body that is already in the
//! buffer and runs a handler that finishes in its first poll, so [`guarded`] polls the future
//! first and makes the timer and the waiter only once it is pending. The limit still counts
//! from the first poll, as `timeout`'s does from a call followed by `.await`.

use std::{
    future::Future,
    pin::Pin,
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
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::deadline::deadline_after;

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
pub(super) fn guarded<F: Future>(
    future: F,
    limit: Duration,
    shutdown: Option<&Shutdown>,
) -> Guard<'_, F> {
    Guard {
        future,
        cancelled: None,
        deadline: None,
        start: None,
        limit,
        shutdown,
    }
}

pin_project_lite::pin_project! {
    /// The future [`guarded`] returns. A struct rather than an `async fn`: an `async fn` keeps
    /// its argument and the pinned local it is moved into as two fields, so each such layer
    /// doubled the handler's future, and every move of the request's future copied it all.
    pub(super) struct Guard<'a, F> {
        #[pin]
        future: F,
        #[pin]
        cancelled: Option<WaitForCancellationFuture<'a>>,
        #[pin]
        deadline: Option<Unconstrained<Sleep>>,
        // The first poll.
        start: Option<Instant>,
        limit: Duration,
        shutdown: Option<&'a Shutdown>,
    }
}

impl<F> Guard<'_, F> {
    /// The guarded future.
    pub(super) fn future(self: Pin<&mut Self>) -> Pin<&mut F> {
        self.project().future
    }
}

impl<F: Future> Future for Guard<'_, F> {
    type Output = Guarded<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let start = *this.start.get_or_insert_with(Instant::now);
        let shutdown = *this.shutdown;
        if shutdown.is_some_and(Shutdown::is_started) {
            return Poll::Ready(Guarded::ShutDown);
        }
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Guarded::Finished(output));
        }
        if let Some(shutdown) = shutdown
            && poll_lazily(this.cancelled, || shutdown.token.cancelled(), cx).is_ready()
        {
            return Poll::Ready(Guarded::ShutDown);
        }
        // Polled without a coop budget: a future that spends the task's budget must not
        // keep its deadline from being noticed.
        let limit = *this.limit;
        let sleep = || unconstrained(tokio::time::sleep_until(deadline_after(start, limit)));
        poll_lazily(this.deadline, sleep, cx).map(|()| Guarded::TimedOut)
    }
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
