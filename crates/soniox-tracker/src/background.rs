//! Writes the tracker leaves running after the call that made them has returned (the ids of
//! the jobs `submit` created), counted so that [`Background::idle`] can wait for them.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::Notify;
use tracing::Instrument as _;

/// Tasks running in the background, and a way to wait until none is.
#[derive(Debug, Default)]
pub(crate) struct Background {
    running: AtomicUsize,
    idle: Notify,
}

impl Background {
    /// Runs `work` in a task of its own, inside the caller's current span, so that what it
    /// logs carries the caller's context.
    pub(crate) fn spawn(self: &Arc<Self>, work: impl Future<Output = ()> + Send + 'static) {
        self.running.fetch_add(1, Ordering::SeqCst);
        let finished = Finished(Arc::clone(self));
        tokio::spawn(
            async move {
                // Counted out when the task ends, or is dropped with its runtime.
                let _finished = finished;
                work.await;
            }
            .in_current_span(),
        );
    }

    /// Waits until no task spawned so far, nor any spawned meanwhile, is running.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the count is read, so a task that ends in between still wakes
            // this waiter.
            notified.as_mut().enable();
            if self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Counts a background task out.
struct Finished(Arc<Background>);

impl Drop for Finished {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    #[tokio::test]
    async fn idle_waits_for_every_task() {
        let background = Arc::new(Background::default());
        background.idle().await;
        let gate = Arc::new(Semaphore::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let (gate, done) = (Arc::clone(&gate), Arc::clone(&done));
            background.spawn(async move {
                let _permit = gate.acquire().await.expect("the gate stays open");
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        let mut idle = std::pin::pin!(background.idle());
        // The tasks cannot end before the gate opens, however long this waits.
        let early = tokio::time::timeout(Duration::from_millis(10), idle.as_mut()).await;
        assert!(early.is_err());
        gate.add_permits(3);
        idle.await;
        assert_eq!(done.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_task_runs_in_the_span_it_was_spawned_from() {
        // For this thread only: the test's runtime runs the task on it.
        let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
        let background = Arc::new(Background::default());
        let (sender, receiver) = tokio::sync::oneshot::channel();
        tracing::info_span!("caller").in_scope(|| {
            background.spawn(async move {
                let span = tracing::Span::current();
                let _ = sender.send(span.metadata().map(|metadata| metadata.name()));
            });
        });
        assert_eq!(receiver.await.expect("the task sends"), Some("caller"));
    }
}
