//! Fault injection: REST failures and misbehaving webhook deliveries, so that retry and
//! recovery code can be exercised on purpose.

use std::{sync::Mutex, time::Duration};

use serde::{Deserialize, Serialize};

/// When a fault rule fires, among the requests (or webhook deliveries) it matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trigger {
    /// Every time.
    #[default]
    Always,
    /// At random with this probability (0 to 1), from the emulator's seeded generator.
    Probability {
        /// The chance of firing.
        probability: f64,
    },
    /// On the n-th, 2n-th, ... match (n ≥ 1).
    EveryNth {
        /// The period.
        n: u64,
    },
}

/// What a REST fault does to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this status (500 and 503 get the API's `internal_error` and
    /// `service_unavailable` bodies) instead of handling the request.
    Error {
        /// The HTTP status to answer with.
        status: u16,
    },
    /// Answer 429 `limit_exceeded` with a `Retry-After` header.
    RateLimited {
        /// The `Retry-After` value in seconds.
        retry_after_seconds: u64,
    },
    /// Wait this long, then handle the request normally.
    Latency {
        /// The added latency in milliseconds.
        millis: u64,
    },
    /// Close the connection without answering.
    DropConnection,
    /// Handle the request, then close the connection without sending the answer: the server
    /// acted (a job was created, a file deleted) and the client cannot know, as when a proxy
    /// times out after the upstream did its work.
    DropResponse,
}

/// A REST fault: which requests it applies to, when it fires and what it does.
///
/// ```
/// use soniox_emulator::{FaultAction, FaultRule};
///
/// let rule = FaultRule::new(FaultAction::Error { status: 503 })
///     .method("POST")
///     .path_prefix("/v1/transcriptions")
///     .every_nth(2);
/// assert_eq!(rule.method.as_deref(), Some("POST"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultRule {
    /// Only requests with this method (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path starts with this (any when absent).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// When the rule fires among matching requests.
    #[serde(default)]
    pub trigger: Trigger,
    /// What happens when it fires.
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule that applies `action` to every request.
    pub fn new(action: FaultAction) -> Self {
        Self {
            method: None,
            path_prefix: None,
            trigger: Trigger::Always,
            action,
        }
    }

    /// Restricts the rule to one method.
    #[must_use]
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Restricts the rule to paths starting with `prefix`.
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Fires on every n-th matching request.
    #[must_use]
    pub fn every_nth(mut self, n: u64) -> Self {
        self.trigger = Trigger::EveryNth { n };
        self
    }

    /// Fires at random with `probability`.
    #[must_use]
    pub fn probability(mut self, probability: f64) -> Self {
        self.trigger = Trigger::Probability { probability };
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|prefix| path.starts_with(prefix))
    }
}

/// What a webhook fault does to a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WebhookFault {
    /// Deliver the webhook twice, independently (each with its own retries).
    Duplicate,
    /// Wait this long before the first attempt.
    Delay {
        /// The added delay in milliseconds.
        millis: u64,
    },
    /// Never deliver it; the attempt log records it as withheld.
    Withhold,
}

/// A webhook fault and when it fires, among finished jobs that have a webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebhookFaultRule {
    /// When the rule fires.
    #[serde(default)]
    pub trigger: Trigger,
    /// What happens to the delivery.
    pub fault: WebhookFault,
}

impl WebhookFaultRule {
    /// A rule applying `fault` to every delivery.
    pub fn new(fault: WebhookFault) -> Self {
        Self {
            trigger: Trigger::Always,
            fault,
        }
    }

    /// Fires on every n-th delivery.
    #[must_use]
    pub fn every_nth(mut self, n: u64) -> Self {
        self.trigger = Trigger::EveryNth { n };
        self
    }

    /// Fires at random with `probability`.
    #[must_use]
    pub fn probability(mut self, probability: f64) -> Self {
        self.trigger = Trigger::Probability { probability };
        self
    }
}

/// What the REST faults decided for one request.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FaultDecision {
    pub(crate) latency: Duration,
    pub(crate) action: Option<FaultAction>,
}

/// The faults in force, changeable while the emulator runs.
#[derive(Debug)]
pub(crate) struct Faults {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: Vec<(FaultRule, u64)>,
    webhook_rules: Vec<(WebhookFaultRule, u64)>,
    rng: fastrand::Rng,
}

impl Inner {
    fn fires(rng: &mut fastrand::Rng, trigger: &Trigger, seen: &mut u64) -> bool {
        *seen += 1;
        match trigger {
            Trigger::Always => true,
            Trigger::Probability { probability } => rng.f64() < *probability,
            Trigger::EveryNth { n } => *n > 0 && seen.is_multiple_of(*n),
        }
    }
}

impl Faults {
    pub(crate) fn new(
        rules: Vec<FaultRule>,
        webhook_rules: Vec<WebhookFaultRule>,
        seed: u64,
    ) -> Self {
        Self {
            inner: Mutex::new(Inner {
                rules: rules.into_iter().map(|rule| (rule, 0)).collect(),
                webhook_rules: webhook_rules.into_iter().map(|rule| (rule, 0)).collect(),
                rng: fastrand::Rng::with_seed(seed),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the rules half-written, so a poisoned lock is usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Latencies of every firing rule add up; the first firing non-latency action wins.
    pub(crate) fn decide(&self, method: &str, path: &str) -> FaultDecision {
        let mut inner = self.lock();
        let Inner { rules, rng, .. } = &mut *inner;
        let mut decision = FaultDecision::default();
        for (rule, seen) in rules.iter_mut() {
            if !rule.matches(method, path) || !Inner::fires(rng, &rule.trigger, seen) {
                continue;
            }
            match &rule.action {
                FaultAction::Latency { millis } => {
                    // Saturating: rules come from callers, and their sum must not panic.
                    decision.latency = decision
                        .latency
                        .saturating_add(Duration::from_millis(*millis));
                }
                action if decision.action.is_none() => decision.action = Some(action.clone()),
                _ => {}
            }
        }
        decision
    }

    /// The webhook faults that fire for one delivery.
    pub(crate) fn decide_webhook(&self) -> Vec<WebhookFault> {
        let mut inner = self.lock();
        let Inner {
            webhook_rules, rng, ..
        } = &mut *inner;
        webhook_rules
            .iter_mut()
            .filter_map(|(rule, seen)| {
                Inner::fires(rng, &rule.trigger, seen).then(|| rule.fault.clone())
            })
            .collect()
    }

    /// The wait before the first attempt that `faults` add up to, saturating.
    pub(crate) fn webhook_delay(faults: &[WebhookFault]) -> Duration {
        faults
            .iter()
            .map(|fault| match fault {
                WebhookFault::Delay { millis } => Duration::from_millis(*millis),
                WebhookFault::Duplicate | WebhookFault::Withhold => Duration::ZERO,
            })
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    pub(crate) fn add(&self, rule: FaultRule) {
        self.lock().rules.push((rule, 0));
    }

    pub(crate) fn add_webhook(&self, rule: WebhookFaultRule) {
        self.lock().webhook_rules.push((rule, 0));
    }

    /// Adds `rule` unless `max` REST rules are already in force; whether it was added.
    pub(crate) fn add_within(&self, rule: FaultRule, max: usize) -> bool {
        push_within(&mut self.lock().rules, rule, max)
    }

    /// Adds `rule` unless `max` webhook rules are already in force; whether it was added.
    pub(crate) fn add_webhook_within(&self, rule: WebhookFaultRule, max: usize) -> bool {
        push_within(&mut self.lock().webhook_rules, rule, max)
    }

    pub(crate) fn rules(&self) -> Vec<FaultRule> {
        self.lock()
            .rules
            .iter()
            .map(|(rule, _)| rule.clone())
            .collect()
    }

    pub(crate) fn webhook_rules(&self) -> Vec<WebhookFaultRule> {
        self.lock()
            .webhook_rules
            .iter()
            .map(|(rule, _)| rule.clone())
            .collect()
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.rules.clear();
        inner.webhook_rules.clear();
    }
}

/// Adds a rule (with its count of requests seen) unless `max` are already there.
fn push_within<T>(rules: &mut Vec<(T, u64)>, rule: T, max: usize) -> bool {
    let room = rules.len() < max;
    if room {
        rules.push((rule, 0));
    }
    room
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_fires_on_the_period() {
        let faults = Faults::new(
            vec![
                FaultRule::new(FaultAction::Error { status: 503 })
                    .method("POST")
                    .path_prefix("/v1/files")
                    .every_nth(2),
            ],
            Vec::new(),
            1,
        );
        let fired: Vec<bool> = (0..4)
            .map(|_| faults.decide("POST", "/v1/files").action.is_some())
            .collect();
        assert_eq!(fired, [false, true, false, true]);
        assert_eq!(faults.decide("GET", "/v1/files"), FaultDecision::default());
    }

    #[test]
    fn latencies_add_up_and_first_action_wins() {
        let faults = Faults::new(
            vec![
                FaultRule::new(FaultAction::Latency { millis: 5 }),
                FaultRule::new(FaultAction::DropConnection),
                FaultRule::new(FaultAction::Latency { millis: 7 }),
                FaultRule::new(FaultAction::Error { status: 500 }),
            ],
            Vec::new(),
            1,
        );
        let decision = faults.decide("GET", "/v1/models");
        assert_eq!(decision.latency, Duration::from_millis(12));
        assert_eq!(decision.action, Some(FaultAction::DropConnection));
    }

    #[test]
    fn delays_saturate_instead_of_overflowing() {
        // A `Duration` holds u64::MAX seconds: a thousand and one of the longest millisecond
        // values overflow it.
        let rules = vec![FaultRule::new(FaultAction::Latency { millis: u64::MAX }); 1001];
        let faults = Faults::new(rules, Vec::new(), 1);
        assert_eq!(faults.decide("GET", "/v1/models").latency, Duration::MAX);
        let mut delays = vec![WebhookFault::Delay { millis: u64::MAX }; 1001];
        delays.push(WebhookFault::Duplicate);
        assert_eq!(Faults::webhook_delay(&delays), Duration::MAX);
        assert_eq!(
            Faults::webhook_delay(&[
                WebhookFault::Delay { millis: 5 },
                WebhookFault::Delay { millis: 7 }
            ]),
            Duration::from_millis(12)
        );
    }

    #[test]
    fn rules_round_trip_as_json() {
        let rule = FaultRule::new(FaultAction::RateLimited {
            retry_after_seconds: 3,
        })
        .probability(0.5);
        let json = serde_json::to_value(&rule).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"method": null, "path_prefix": null,
                "trigger": {"kind": "probability", "probability": 0.5},
                "action": {"type": "rate_limited", "retry_after_seconds": 3}})
        );
        let back: FaultRule = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, rule);
    }
}
