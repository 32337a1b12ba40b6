//! The header-read timeout, with one timer per connection.
//!
//! hyper's own `header_read_timeout` makes a timer for every request head, registers it while
//! the connection waits, and drops it when the head arrives; registering a timer can wake the
//! runtime's timer driver on another thread, which cost the receiver more than anything else
//! it adds to a request. Here a connection keeps one timer for its whole life: each request
//! moves the deadline by storing an instant in an atomic, and the timer, whenever it fires,
//! only checks that deadline and re-arms itself.

use std::{
    future::{Future, poll_fn},
    pin::pin,
    sync::atomic::{AtomicU64, Ordering},
    task::Poll,
    time::Duration,
};

use tokio::{task::coop::unconstrained, time::Instant};

use crate::deadline::deadline_after;

/// When the request head a connection waits for must have arrived: `timeout` after the
/// connection opened or after its last answer was ready. Shared by the connection's task and
/// the service answering its requests.
#[derive(Debug)]
pub(super) struct HeadDeadline {
    timeout: Duration,
    opened: Instant,
    /// Nanoseconds after `opened` at which the connection began waiting for a head, or
    /// [`SERVING`] while a request is being answered.
    waiting_since: AtomicU64,
}

/// No head is awaited: a request is being answered.
const SERVING: u64 = u64::MAX;

impl HeadDeadline {
    pub(super) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            opened: Instant::now(),
            waiting_since: AtomicU64::new(0),
        }
    }

    /// A head arrived: no deadline until its answer is ready.
    pub(super) fn serving(&self) {
        self.waiting_since.store(SERVING, Ordering::Relaxed);
    }

    /// The answer is ready: the next head is due within the timeout.
    pub(super) fn waiting(&self) {
        let since = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(SERVING - 1);
        self.waiting_since.store(since, Ordering::Relaxed);
    }

    /// When the awaited head is due; `None` while a request is being answered.
    fn due(&self) -> Option<Instant> {
        match self.waiting_since.load(Ordering::Relaxed) {
            SERVING => None,
            since => Some(deadline_after(
                self.opened + Duration::from_nanos(since),
                self.timeout,
            )),
        }
    }

    /// Drives `connection` to its end, or ends it (`None`) once a request head is overdue.
    pub(super) async fn enforce<C: Future>(&self, connection: C) -> Option<C::Output> {
        let mut connection = pin!(connection);
        // The timer fires no later than the deadline: it is set to a deadline, or to a full
        // timeout from a moment before the head could start being awaited.
        let mut timer = pin!(tokio::time::sleep_until(deadline_after(
            self.opened,
            self.timeout,
        )));
        poll_fn(|cx| {
            if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
                return Poll::Ready(Some(ended));
            }
            // Without a coop budget: checking the timer must not make the connection yield.
            while pin!(unconstrained(timer.as_mut())).poll(cx).is_ready() {
                let now = Instant::now();
                match self.due() {
                    Some(due) if due <= now => return Poll::Ready(None),
                    Some(due) => timer.as_mut().reset(due),
                    None => timer.as_mut().reset(deadline_after(now, self.timeout)),
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn a_connection_waiting_past_the_timeout_is_ended() {
        let head = HeadDeadline::new(TIMEOUT);
        let start = Instant::now();
        assert!(head.enforce(std::future::pending::<()>()).await.is_none());
        assert_eq!(start.elapsed(), TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn each_answer_restarts_the_wait_and_serving_stops_it() {
        let head = HeadDeadline::new(TIMEOUT);
        let start = Instant::now();
        let requests = async {
            // Two requests, each arriving just in time; the second is served for longer
            // than the timeout.
            tokio::time::sleep(TIMEOUT - Duration::from_secs(1)).await;
            head.serving();
            head.waiting();
            tokio::time::sleep(TIMEOUT - Duration::from_secs(1)).await;
            head.serving();
            tokio::time::sleep(3 * TIMEOUT).await;
            head.waiting();
            std::future::pending::<()>().await;
        };
        assert!(head.enforce(requests).await.is_none());
        let expected = 2 * (TIMEOUT - Duration::from_secs(1)) + 3 * TIMEOUT + TIMEOUT;
        assert_eq!(start.elapsed(), expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_ends_returns_its_output() {
        let head = HeadDeadline::new(TIMEOUT);
        assert_eq!(head.enforce(async { 5 }).await, Some(5));
    }
}
