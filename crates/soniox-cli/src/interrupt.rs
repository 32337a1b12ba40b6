//! Ctrl-C and SIGTERM as a value commands can wait on at the points where stopping is safe.

use std::{
    io::Write as _,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::watch;

use crate::failure::{Failure, Kind, code};

/// How long after the first signal a second one is taken for the same: a wrapper such as
/// `npm run` forwards the terminal's SIGINT to a process that got it already.
const REPEAT_WINDOW: Duration = Duration::from_millis(500);

/// Becomes set on the first SIGINT or SIGTERM. The handlers are installed when it is made, at
/// start-up, so a signal is never lost between two steps of a command. A second signal (after
/// [`REPEAT_WINDOW`]) ends the process at once with code 130, skipping the cleanup or the wait
/// the first one began: the user who presses Ctrl-C again does not want to wait for it. What
/// that leaves behind, as set with [`Interrupt::leaving`], is named first.
#[derive(Clone, Debug)]
pub(crate) struct Interrupt {
    received: watch::Receiver<bool>,
    _sender: Arc<watch::Sender<bool>>,
    leftovers: Leftovers,
}

/// Notes on what stopping at once would leave behind.
type Leftovers = Arc<Mutex<Vec<String>>>;

impl Interrupt {
    /// Installs the handlers; call inside the runtime.
    pub(crate) fn install() -> Self {
        let (sender, received) = watch::channel(false);
        let sender = Arc::new(sender);
        let leftovers = Leftovers::default();
        let signalled = soniox_webhook::termination();
        let (notify, left) = (Arc::clone(&sender), Arc::clone(&leftovers));
        tokio::spawn(async move {
            signalled.await;
            notify.send_replace(true);
            tokio::time::sleep(REPEAT_WINDOW).await;
            // Made now, so only a later signal completes it.
            let again = soniox_webhook::termination();
            tracing::info!("a second signal now stops at once");
            again.await;
            stop_at_once(&left);
        });
        Self {
            received,
            _sender: sender,
            leftovers,
        }
    }

    /// Sets what stopping at once would leave behind (empty: nothing), one note a line.
    pub(crate) fn leaving(&self, notes: Vec<String>) {
        *self
            .leftovers
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = notes;
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

/// Names what is left behind, then ends the process as interrupted.
fn stop_at_once(leftovers: &Mutex<Vec<String>>) -> ! {
    let mut stderr = std::io::stderr().lock();
    for note in leftovers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        let _ = writeln!(stderr, "{note}");
    }
    let failure = Failure::new(
        Kind::Interrupted,
        "interrupted again: stopped at once, without finishing cleanup",
    );
    let _ = writeln!(stderr, "{}", failure.line());
    std::process::exit(i32::from(code::INTERRUPTED))
}
