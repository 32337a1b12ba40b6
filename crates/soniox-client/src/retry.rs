//! When to retry a request: a pure policy, decided without doing any I/O.
//!
//! The client asks [`RetryPolicy::decide`] after every failed attempt and sleeps for the delay
//! it returns. Keeping the decision pure makes every rule unit-testable: which statuses retry,
//! how `Retry-After` is honoured, how many attempts and how much time are allowed, and — most
//! important — that a request which may already have created a transcription is not replayed
//! unless the client can look it up first ([`Replay::AfterLookup`]).

use std::time::{Duration, SystemTime};

/// How a request may be replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Replay {
    /// Replaying cannot change anything on the server (GET, DELETE): retry any transient
    /// failure.
    Safe,
    /// Replaying could create a second job or file (`POST`): retry only where the server
    /// certainly did not act — the connection never opened, or it answered 408 or 429.
    OnlyIfNotProcessed,
    /// A `POST` whose effect the client can look up (a job created under a reference of the
    /// client's own, unique): retried as [`OnlyIfNotProcessed`](Self::OnlyIfNotProcessed),
    /// and also after a 503, once a lookup has shown that the earlier attempt did not act.
    /// The other failures that [may have acted](AttemptOutcome::may_have_acted) (no answer,
    /// 500, 502, 504) are looked up but not replayed: the request may still be running on
    /// the server, where a lookup cannot see it yet.
    AfterLookup,
    /// The request cannot be sent again at all (its body came from a reader that is now
    /// consumed): never retry.
    Never,
}

/// What happened to one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The server answered with this non-success status, and maybe a `Retry-After`.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` header, already turned into a delay.
        retry_after: Option<Duration>,
    },
    /// No connection could be made, so the request was never sent.
    ConnectFailed,
    /// The request was (or may have been) sent, then the attempt timed out or the connection
    /// broke before a response arrived.
    FailedAfterSend,
}

impl AttemptOutcome {
    /// Whether the server may have carried out the request although the attempt failed: it
    /// was sent and no answer came, or the answer was a server error (500) or a gateway's
    /// (502, 503, 504), which may come after the request was forwarded and acted on. The
    /// other failures prove it was not carried out (the connection never opened, 408, 429)
    /// or are final answers.
    ///
    /// ```
    /// use soniox_client::retry::AttemptOutcome;
    ///
    /// let busy = AttemptOutcome::Status { status: 429, retry_after: None };
    /// assert!(!busy.may_have_acted());
    /// assert!(AttemptOutcome::FailedAfterSend.may_have_acted());
    /// ```
    pub fn may_have_acted(&self) -> bool {
        match self {
            AttemptOutcome::FailedAfterSend => true,
            // A transient status the server may give after acting on the request.
            AttemptOutcome::Status { status, .. } => {
                is_transient_status(*status) && !is_unprocessed_status(*status)
            }
            AttemptOutcome::ConnectFailed => false,
        }
    }
}

/// The policy's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// Give up and return the last error.
    Stop,
}

/// Retry rules: bounded attempts and total time, exponential backoff with full jitter, and
/// `Retry-After` honoured.
///
/// ```
/// use std::time::Duration;
/// use soniox_client::retry::{AttemptOutcome, RetryDecision, Replay, RetryPolicy};
///
/// let policy = RetryPolicy::default();
/// let busy = AttemptOutcome::Status { status: 429, retry_after: Some(Duration::from_secs(2)) };
/// assert_eq!(
///     policy.decide(1, Duration::ZERO, Replay::OnlyIfNotProcessed, busy, |max| max),
///     RetryDecision::RetryAfter(Duration::from_secs(2)),
/// );
/// // A create request that timed out after sending might have created the job: never replay it.
/// assert_eq!(
///     policy.decide(1, Duration::ZERO, Replay::OnlyIfNotProcessed, AttemptOutcome::FailedAfterSend, |max| max),
///     RetryDecision::Stop,
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, backoff from 500 ms up to 30 s, at most two minutes in all.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the most attempts, the first included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first backoff step; each retry doubles it.
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the longest single wait, `Retry-After` included.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets the most time spent on one call, all attempts and waits included.
    #[must_use]
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// The most attempts this policy allows.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Decides what to do after attempt number `attempt` (1-based) failed with `outcome`,
    /// `elapsed` after the call began.
    ///
    /// `jitter` picks a delay uniformly in `0..=max`; the client passes a random source and
    /// tests pass a fixed one.
    pub fn decide(
        &self,
        attempt: u32,
        elapsed: Duration,
        replay: Replay,
        outcome: AttemptOutcome,
        jitter: impl FnOnce(Duration) -> Duration,
    ) -> RetryDecision {
        if attempt >= self.max_attempts || !is_retryable(replay, outcome) {
            return RetryDecision::Stop;
        }
        let delay = match outcome {
            AttemptOutcome::Status {
                retry_after: Some(after),
                ..
            } => {
                // The server said when: waiting less is pointless, waiting longer than allowed
                // means giving up now rather than sleeping past the budget.
                if after > self.max_delay {
                    return RetryDecision::Stop;
                }
                after
            }
            _ => jitter(self.backoff_ceiling(attempt)),
        };
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return RetryDecision::Stop;
        }
        RetryDecision::RetryAfter(delay)
    }

    /// The upper bound of the full-jitter delay after attempt `attempt`: `base · 2^(attempt-1)`,
    /// capped at the maximum delay.
    fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

fn is_retryable(replay: Replay, outcome: AttemptOutcome) -> bool {
    match (replay, outcome) {
        (Replay::Never, _) => false,
        (_, AttemptOutcome::ConnectFailed) => true,
        (Replay::Safe, AttemptOutcome::FailedAfterSend) => true,
        (Replay::OnlyIfNotProcessed | Replay::AfterLookup, AttemptOutcome::FailedAfterSend) => {
            false
        }
        (Replay::Safe, AttemptOutcome::Status { status, .. }) => is_transient_status(status),
        (Replay::OnlyIfNotProcessed, AttemptOutcome::Status { status, .. }) => {
            is_unprocessed_status(status)
        }
        (Replay::AfterLookup, AttemptOutcome::Status { status, .. }) => {
            is_unprocessed_status(status) || status == 503
        }
    }
}

/// Whether the same request, sent again, may get another answer than `status`: a timeout
/// reading the request (408), a rate limit (429), a server error or an overloaded gateway
/// (500, 502, 503, 504). The one list of retryable statuses: [`RetryPolicy::decide`] and
/// [`Error::is_retryable`](crate::Error::is_retryable) both ask it.
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The transient statuses a server answers before acting on the request, so that replaying
/// even a `POST` cannot do its work twice: 408 (it gave up reading the request) and 429 (it
/// refused to start). A 503 may come from a gateway that forwarded the request, and a 500 or
/// another gateway error may come after the job was created.
fn is_unprocessed_status(status: u16) -> bool {
    matches!(status, 408 | 429)
}

/// Parses a `Retry-After` header: delay-seconds or an HTTP-date (relative to `now`).
/// A date in the past means "now"; anything unparsable is ignored.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use soniox_client::retry::parse_retry_after;
///
/// assert_eq!(parse_retry_after("7", SystemTime::now()), Some(Duration::from_secs(7)));
/// assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A uniformly random delay in `0..=max` (full jitter).
pub(crate) fn full_jitter(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn status(status: u16) -> AttemptOutcome {
        AttemptOutcome::Status {
            status,
            retry_after: None,
        }
    }

    #[track_caller]
    fn check(replay: Replay, outcome: AttemptOutcome, expect_retry: bool) {
        let decision = RetryPolicy::default().decide(1, Duration::ZERO, replay, outcome, |max| max);
        assert_eq!(
            decision != RetryDecision::Stop,
            expect_retry,
            "{replay:?} {outcome:?}"
        );
    }

    #[test]
    fn which_outcomes_retry() {
        use AttemptOutcome::{ConnectFailed, FailedAfterSend};
        use Replay::{AfterLookup as Lookup, OnlyIfNotProcessed as Post, Safe};
        for code in [408, 429, 500, 502, 503, 504] {
            check(Safe, status(code), true);
        }
        for code in [400, 401, 402, 403, 404, 409, 413, 501, 505] {
            check(Safe, status(code), false);
            check(Post, status(code), false);
            check(Lookup, status(code), false);
        }
        for replay in [Post, Lookup] {
            check(replay, status(408), true);
            check(replay, status(429), true);
            check(replay, status(500), false);
            check(replay, status(502), false);
            check(replay, status(504), false);
            check(replay, ConnectFailed, true);
        }
        // May have acted: a 503 is replayed only by a call that looks it up first; no
        // answer at all, by neither (the request may still be running).
        check(Post, status(503), false);
        check(Lookup, status(503), true);
        check(Post, FailedAfterSend, false);
        check(Lookup, FailedAfterSend, false);
        check(Safe, ConnectFailed, true);
        check(Safe, FailedAfterSend, true);
        for outcome in [ConnectFailed, FailedAfterSend, status(429), status(503)] {
            check(Replay::Never, outcome, false);
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default()
            .max_attempts(10)
            .base_delay(SECOND)
            .max_delay(5 * SECOND)
            .max_elapsed(Duration::from_secs(3600));
        let delays: Vec<_> = (1..=5)
            .map(|attempt| {
                policy.decide(attempt, Duration::ZERO, Replay::Safe, status(503), |max| {
                    max
                })
            })
            .collect();
        let expected = [1, 2, 4, 5, 5].map(|s| RetryDecision::RetryAfter(s * SECOND));
        assert_eq!(delays, expected);
    }

    #[test]
    fn jitter_receives_the_ceiling() {
        let policy = RetryPolicy::default().base_delay(SECOND);
        let decision = policy.decide(2, Duration::ZERO, Replay::Safe, status(500), |max| {
            assert_eq!(max, 2 * SECOND);
            Duration::from_millis(123)
        });
        assert_eq!(
            decision,
            RetryDecision::RetryAfter(Duration::from_millis(123))
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy::default().max_attempts(3);
        let retry =
            |attempt| policy.decide(attempt, Duration::ZERO, Replay::Safe, status(503), |m| m);
        assert_ne!(retry(2), RetryDecision::Stop);
        assert_eq!(retry(3), RetryDecision::Stop);
        assert_eq!(
            RetryPolicy::never().decide(1, Duration::ZERO, Replay::Safe, status(503), |m| m),
            RetryDecision::Stop
        );
    }

    #[test]
    fn total_time_is_bounded() {
        let policy = RetryPolicy::default()
            .base_delay(SECOND)
            .max_elapsed(10 * SECOND);
        let at = |elapsed| policy.decide(1, elapsed, Replay::Safe, status(503), |max| max);
        assert_eq!(at(9 * SECOND), RetryDecision::RetryAfter(SECOND));
        assert_eq!(
            at(9 * SECOND + Duration::from_millis(1)),
            RetryDecision::Stop
        );
    }

    #[test]
    fn retry_after_is_honoured_and_bounded() {
        let policy = RetryPolicy::default().max_delay(10 * SECOND);
        let after = |seconds| AttemptOutcome::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(seconds)),
        };
        let decide = |outcome| {
            policy.decide(
                1,
                Duration::ZERO,
                Replay::OnlyIfNotProcessed,
                outcome,
                |_| SECOND,
            )
        };
        assert_eq!(decide(after(3)), RetryDecision::RetryAfter(3 * SECOND));
        assert_eq!(decide(after(0)), RetryDecision::RetryAfter(Duration::ZERO));
        assert_eq!(decide(after(11)), RetryDecision::Stop);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        for bad in ["", "-1", "1.5", "tomorrow", "Wed, 99 Foo 2026 00:00:00 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let policy = RetryPolicy::default()
            .max_attempts(u32::MAX)
            .max_elapsed(Duration::MAX);
        let decision = policy.decide(200, Duration::ZERO, Replay::Safe, status(503), |max| max);
        assert_eq!(decision, RetryDecision::RetryAfter(Duration::from_secs(30)));
    }

    #[test]
    fn full_jitter_stays_in_range() {
        for _ in 0..1000 {
            assert!(full_jitter(SECOND) <= SECOND);
        }
        assert_eq!(full_jitter(Duration::ZERO), Duration::ZERO);
    }
}
