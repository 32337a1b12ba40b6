//! What an inbox answered, counted: for dashboards, and for alerts on rejections (a wrong
//! secret) or a store that keeps failing.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Outcome;

/// How many deliveries an [`Inbox`](crate::Inbox) (and every inbox derived from it with
/// [`Inbox::verifier`](crate::Inbox::verifier)) answered each way, since it was
/// made. Read with [`Inbox::counts`](crate::Inbox::counts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryCounts {
    /// Requests refused before their event was known (wrong secret, bad body, too large...).
    pub rejected: u64,
    /// Events handled and recorded as done ([`Outcome::Handled`]).
    pub handled: u64,
    /// Deliveries of events already done, dropped without calling the handler
    /// ([`Outcome::Duplicate`]).
    pub duplicates: u64,
    /// Deliveries of events being handled by another delivery ([`Outcome::InProgress`]).
    pub in_progress: u64,
    /// Handlers that returned `Err` or panicked ([`Outcome::Failed`]).
    pub failed: u64,
    /// Handlers cancelled at their deadline ([`Outcome::DeadlineExceeded`]).
    pub deadline_exceeded: u64,
    /// Deliveries the store could not claim or record ([`Outcome::StoreUnavailable`]).
    pub store_unavailable: u64,
    /// Deliveries refused or cancelled by a shutdown ([`Outcome::ShuttingDown`]).
    pub shutting_down: u64,
}

/// The live counters behind [`DeliveryCounts`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    rejected: AtomicU64,
    outcomes: [AtomicU64; 7],
}

impl Counters {
    pub(super) fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record(&self, outcome: Outcome) {
        self.outcomes[slot(outcome)].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> DeliveryCounts {
        let read = |outcome| self.outcomes[slot(outcome)].load(Ordering::Relaxed);
        DeliveryCounts {
            rejected: self.rejected.load(Ordering::Relaxed),
            handled: read(Outcome::Handled),
            duplicates: read(Outcome::Duplicate),
            in_progress: read(Outcome::InProgress {
                retry_after: std::time::Duration::ZERO,
            }),
            failed: read(Outcome::Failed),
            deadline_exceeded: read(Outcome::DeadlineExceeded),
            store_unavailable: read(Outcome::StoreUnavailable),
            shutting_down: read(Outcome::ShuttingDown),
        }
    }
}

fn slot(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Handled => 0,
        Outcome::Duplicate => 1,
        Outcome::InProgress { .. } => 2,
        Outcome::Failed => 3,
        Outcome::DeadlineExceeded => 4,
        Outcome::StoreUnavailable => 5,
        Outcome::ShuttingDown => 6,
    }
}
