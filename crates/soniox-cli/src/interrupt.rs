//! Ctrl-C and SIGTERM as a value commands can wait on at the points where stopping is safe.

use std::sync::Arc;

use tokio::sync::watch;

/// Becomes set on the first SIGINT or SIGTERM. The handlers are installed when it is made, at
/// start-up, so a signal is never lost between two steps of a command.
#[derive(Clone, Debug)]
pub(crate) struct Interrupt {
    received: watch::Receiver<bool>,
    _sender: Arc<watch::Sender<bool>>,
}

impl Interrupt {
    /// Installs the handlers; call inside the runtime.
    pub(crate) fn install() -> Self {
        let (sender, received) = watch::channel(false);
        let sender = Arc::new(sender);
        let signalled = soniox_webhook::termination();
        let notify = Arc::clone(&sender);
        tokio::spawn(async move {
            signalled.await;
            notify.send_replace(true);
        });
        Self {
            received,
            _sender: sender,
        }
    }

    /// Completes once a signal has arrived.
    pub(crate) async fn wait(&self) {
        let mut received = self.received.clone();
        // The sender lives as long as `self`, so this only fails if the task died, and then
        // no signal can come: wait forever.
        if received.wait_for(|set| *set).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Runs `work` unless a signal comes first; `None` when interrupted (the work is dropped).
    pub(crate) async fn guard<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            () = self.wait() => None,
            value = work => Some(value),
        }
    }

    /// Whether a signal has arrived.
    pub(crate) fn is_set(&self) -> bool {
        *self.received.borrow()
    }
}
