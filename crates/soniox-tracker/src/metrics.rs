//! What the tracker has done, for dashboards and alerts.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since the tracker started, plus the jobs still needing work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Jobs recorded whose id the tracker does not hold yet: their create answer is pending or
    /// was lost, or their id is still being recorded (or failed to be) in the background.
    pub submitting: u64,
    /// Jobs the API accepted whose outcome is awaited.
    pub awaiting: u64,
    /// Finished jobs whose handling has not succeeded yet.
    pub unhandled: u64,
    /// Jobs due for the reconciler now (their webhook is overdue, or a retry or an owed
    /// cleanup is due).
    pub overdue: u64,
    /// Jobs submitted through the tracker.
    pub submitted: u64,
    /// Jobs whose create answer was lost and that the reconciler found under their reference.
    pub adopted: u64,
    /// Jobs whose create request never reached the API and that the reconciler sent again.
    pub resubmitted: u64,
    /// Finished jobs found by polling, not by their webhook.
    pub recovered_by_polling: u64,
    /// Of those, jobs whose webhook our receiver (or another) answered with a non-2xx status:
    /// usually a wrong secret or path.
    pub rejected_deliveries: u64,
    /// Finished jobs handed to the handler successfully.
    pub handled: u64,
    /// Handlings that did not succeed: the result could not be fetched, or the handler
    /// failed, panicked or ran past its deadline. Each is retried, unless the API no longer
    /// has the job (then it counts in [`Metrics::lost`]).
    pub handler_failures: u64,
    /// Webhook deliveries of jobs already handled, answered 200 without calling the handler.
    pub duplicate_deliveries: u64,
    /// Webhook requests the receiver refused before reading their event (a wrong secret, a
    /// bad body): many of them usually mean a misconfigured secret.
    pub unverified_deliveries: u64,
    /// Jobs the API no longer had before they were handled.
    pub lost: u64,
    /// Polls that found a job queued or processing past `stuck_after`.
    pub stuck: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) submitted: AtomicU64,
    pub(crate) adopted: AtomicU64,
    pub(crate) resubmitted: AtomicU64,
    pub(crate) recovered_by_polling: AtomicU64,
    pub(crate) rejected_deliveries: AtomicU64,
    pub(crate) handled: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) stuck: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Metrics {
            submitted: read(&self.submitted),
            adopted: read(&self.adopted),
            resubmitted: read(&self.resubmitted),
            recovered_by_polling: read(&self.recovered_by_polling),
            rejected_deliveries: read(&self.rejected_deliveries),
            handled: read(&self.handled),
            lost: read(&self.lost),
            stuck: read(&self.stuck),
            ..Metrics::default()
        }
    }
}
