//! Instants a duration after another, for timeouts the user sets: `Instant + Duration`
//! panics when the sum does not fit, and `Duration::MAX` is a fair way to say "no limit".

use std::time::Duration;

use tokio::time::Instant;

/// `start + limit`, or about 30 years away when that does not fit (as `tokio::time::timeout`).
pub(crate) fn deadline_after(start: Instant, limit: Duration) -> Instant {
    start
        .checked_add(limit)
        .unwrap_or_else(|| start + Duration::from_secs(86_400 * 365 * 30))
}
