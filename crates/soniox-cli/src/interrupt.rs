//! Ctrl-C and SIGTERM as a value commands can wait on at the points where stopping is safe.

use std::{io::Write as _, sync::Arc};

use tokio::sync::watch;

/// Becomes set on the first SIGINT or SIGTERM. The handlers are installed when it is made, at
/// start-up, so a signal is never lost between two steps of a command. A second signal ends
/// the process at once with code 130, skipping the cleanup or the wait the first one began:
/// the user who presses Ctrl-C again does not want to wait for it.
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
            // Made after the first signal, so only a later one completes it.
            soniox_webhook::termination().await;
            let _ = writeln!(
                std::io::stderr().lock(),
                "error: interrupted again: stopped at once, without finishing cleanup"
            );
            std::process::exit(i32::from(crate::failure::code::INTERRUPTED));
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
