//! Writes the tracker leaves running after the call that made them has returned (the ids of
//! the jobs `submit` created), counted so that [`Background::idle`] can wait for them.

use std::{
    collections::BTreeSet,
    future::Future,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::Notify;
use tracing::Instrument as _;

/// Tasks running in the background, and a way to wait until those spawned so far have ended.
#[derive(Debug, Default)]
pub(crate) struct Background {
    tasks: Mutex<Tasks>,
    ended: Notify,
}

/// The running tasks, each by the number it was spawned under.
#[derive(Debug, Default)]
struct Tasks {
    spawned: u64,
    running: BTreeSet<u64>,
}

impl Background {
    /// Runs `work` in a task of its own, inside the caller's current span, so that what it
    /// logs carries the caller's context (the span stays open until `work` ends).
    pub(crate) fn spawn(self: &Arc<Self>, work: impl Future<Output = ()> + Send + 'static) {
        let number = {
            let mut tasks = self.tasks();
            let number = tasks.spawned;
            tasks.spawned += 1;
            tasks.running.insert(number);
            number
        };
        let ended = Ended(Arc::clone(self), number);
        tokio::spawn(
            async move {
                // Counted out when the task ends, or is dropped with its runtime.
                let _ended = ended;
                work.await;
            }
            .in_current_span(),
        );
    }

    /// Waits until every task spawned before this call (not before the future is first
    /// polled) has ended; not those spawned after, so that a steady stream of them cannot hold
    /// it up.
    pub(crate) fn idle(&self) -> impl Future<Output = ()> + '_ {
        let before = self.tasks().spawned;
        async move {
            loop {
                let ended = self.ended.notified();
                let mut ended = std::pin::pin!(ended);
                // Registered before the tasks are read, so a task that ends in between still
                // wakes this waiter.
                ended.as_mut().enable();
                if self
                    .tasks()
                    .running
                    .first()
                    .is_none_or(|&first| first >= before)
                {
                    return;
                }
                ended.await;
            }
        }
    }

    /// The tasks; a panic elsewhere while they were locked leaves them whole (each change is
    /// one insert or remove).
    fn tasks(&self) -> MutexGuard<'_, Tasks> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts a background task out.
struct Ended(Arc<Background>, u64);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.tasks().running.remove(&self.1);
        self.0.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

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
    async fn idle_does_not_wait_for_tasks_spawned_after_it_was_called() {
        let background = Arc::new(Background::default());
        let first_gate = Arc::new(Semaphore::new(0));
        let gate = Arc::clone(&first_gate);
        background.spawn(async move {
            let _permit = gate.acquire().await.expect("the gate stays open");
        });
        let idle = background.idle();
        // Never ends while the test runs.
        let never = Arc::new(Semaphore::new(0));
        let gate = Arc::clone(&never);
        background.spawn(async move {
            let _permit = gate.acquire().await.expect("the gate stays open");
        });
        first_gate.add_permits(1);
        // The timeout only ends a wait that would otherwise never end.
        tokio::time::timeout(Duration::from_secs(10), idle)
            .await
            .expect("idle ends once the earlier task has");
        assert_eq!(
            background.tasks().running.len(),
            1,
            "the later task still runs"
        );
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
