//! The reconciler's decisions, as pure functions: what to do about one tracked job, given the
//! time and what the API says about it. No I/O, no clock of its own, so every rule is tested
//! with plain values.
//!
//! A tracked job is recorded *before* its create request is sent, under a fresh
//! `client_reference_id`. From then on it is in one of the [`Stage`]s below, and the reconciler
//! looks at it when [`next_check`] says so:
//!
//! | Stage | Looked at | What the API can say | Decision |
//! |---|---|---|---|
//! | submitting | `create_grace` after recording (a create may still be in flight) | a job with the reference | [`Decision::Adopt`] |
//! | | | no such job | [`Decision::Resubmit`], under the same reference |
//! | submitted | `webhook_grace` after submission, then with growing intervals | queued or processing | [`Decision::Wait`] (flagged `stuck` past `stuck_after`) |
//! | | | completed or error | [`Decision::Handle`], with what became of the webhook |
//! | | | no such job | [`Decision::Lost`] |
//! | finished (webhook came, handler not yet done) | `retry_interval` after each try | — | [`Decision::Handle`] again |

use std::time::Duration;

use soniox_types::{OffsetDateTime, Transcription, TranscriptionId, TranscriptionStatus};

/// When the reconciler looks at jobs, and what it calls stuck.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// How long a job recorded as submitting is left alone: its create request may still be
    /// on its way, and adopting or resubmitting under it would race it. The tracker gives up
    /// waiting for a create's answer half of it after recording the job (and sends none
    /// when recording took that long); the other half must cover the longest a create can
    /// take to land at the API after that, or a resubmission can create the job twice. At
    /// least [`Policy::MIN_CREATE_GRACE`].
    pub create_grace: Duration,
    /// How long after submission the webhook is awaited before the first poll.
    pub webhook_grace: Duration,
    /// The longest interval between polls of one job; intervals double from `webhook_grace`
    /// up to this.
    pub max_poll_interval: Duration,
    /// A job queued or processing for longer than this is reported as stuck (and still
    /// polled).
    pub stuck_after: Duration,
    /// How long after a failed or abandoned handling a finished job is handled again.
    pub retry_interval: Duration,
}

impl Policy {
    /// The longest any of its durations may be: ten years. An instant plus any of them then
    /// stays far inside the dates the tracker computes with (`Duration::MAX` for "never"
    /// would overflow them).
    pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

    /// The least `create_grace` may be: a fifth of a second, of which a create's answer is
    /// awaited half. With none, no create would ever be sent.
    pub const MIN_CREATE_GRACE: Duration = Duration::from_millis(200);

    /// Refuses a duration over [`Self::MAX_DURATION`], naming its field, and a create grace
    /// under [`Self::MIN_CREATE_GRACE`].
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.create_grace < Self::MIN_CREATE_GRACE {
            return Err(format!(
                "create_grace is {:?}, under the least a policy takes, {:?}: half of it is how long a create's answer is awaited",
                self.create_grace,
                Self::MIN_CREATE_GRACE
            ));
        }
        let fields = [
            ("create_grace", self.create_grace),
            ("webhook_grace", self.webhook_grace),
            ("max_poll_interval", self.max_poll_interval),
            ("stuck_after", self.stuck_after),
            ("retry_interval", self.retry_interval),
        ];
        match fields
            .iter()
            .find(|(_, duration)| *duration > Self::MAX_DURATION)
        {
            Some((name, duration)) => Err(format!(
                "{name} is {duration:?}, over the most a policy takes, {:?}",
                Self::MAX_DURATION
            )),
            None => Ok(()),
        }
    }
}

impl Default for Policy {
    /// 2 minutes of create grace, 5 minutes of webhook grace, polls at most every 30 minutes,
    /// stuck after 6 hours, handling retried after 1 minute.
    fn default() -> Self {
        Self {
            create_grace: Duration::from_secs(120),
            webhook_grace: Duration::from_secs(300),
            max_poll_interval: Duration::from_secs(1800),
            stuck_after: Duration::from_secs(6 * 3600),
            retry_interval: Duration::from_secs(60),
        }
    }
}

/// Where a tracked job is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Recorded; the create request was sent or is about to be, and its answer is not recorded.
    Submitting,
    /// The API accepted the job; its webhook is awaited.
    Submitted {
        /// The job's id.
        id: TranscriptionId,
        /// When it was accepted.
        at: OffsetDateTime,
        /// How many times the reconciler has polled it.
        polls: u32,
        /// When to poll it next.
        next_poll: OffsetDateTime,
    },
    /// The job finished (a webhook or a poll said so) and its handling has not succeeded yet.
    Finished {
        /// The job's id.
        id: TranscriptionId,
        /// How it ended.
        status: TranscriptionStatus,
        /// When to try its handling again, should it not be done by then.
        retry_at: OffsetDateTime,
    },
    /// Handled successfully; nothing more to decide (a cleanup the job owes is retried by
    /// the tracker, not decided here).
    Done,
}

impl Stage {
    /// The stage of a job the API has just accepted at `at`: first poll after the webhook grace.
    pub fn submitted(id: TranscriptionId, at: OffsetDateTime, policy: &Policy) -> Self {
        Self::Submitted {
            id,
            at,
            polls: 0,
            next_poll: at + policy.webhook_grace,
        }
    }
}

/// A tracked job as the reconciler sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackedJob {
    /// The `client_reference_id` it was (or is being) created with.
    pub reference: String,
    /// When it was recorded, before its create request.
    pub recorded_at: OffsetDateTime,
    /// Where it is.
    pub stage: Stage,
}

/// What the API says about a job.
#[derive(Clone, Copy, Debug)]
pub enum Observation<'a> {
    /// The API's record: for a submitting job, the one carrying its reference.
    Found(&'a Transcription),
    /// No such job: a GET answered 404, or, for a submitting job, no job created since it was
    /// recorded carries its reference.
    Missing,
    /// Nothing asked: enough for jobs that are not due, and for finished ones.
    NotAsked,
}

/// What became of a finished job's webhook, by the job's `webhook_status_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The job has no webhook status: never delivered (the receiver was unreachable through
    /// the whole retry schedule, or delivery has not finished yet).
    NeverDelivered,
    /// A receiver answered with this non-2xx status: usually a wrong secret or path on our
    /// side, worth reporting loudly.
    Rejected {
        /// The status it answered.
        status_code: u16,
    },
    /// A receiver answered 2xx, yet the tracker did not record the webhook: another receiver
    /// took it (a different deployment on the same URL, say).
    AcceptedElsewhere {
        /// The status it answered.
        status_code: u16,
    },
    /// The tracker itself received the webhook.
    Received,
}

impl Delivery {
    /// Classifies a finished job's `webhook_status_code`.
    pub fn of(webhook_status_code: Option<u16>) -> Self {
        match webhook_status_code {
            None => Self::NeverDelivered,
            Some(status_code @ 200..=299) => Self::AcceptedElsewhere { status_code },
            Some(status_code) => Self::Rejected { status_code },
        }
    }
}

/// What the reconciler does about a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing until `until`.
    Wait {
        /// When to look again.
        until: OffsetDateTime,
    },
    /// Polled: the job is still queued or processing. Record the poll; look again at `until`.
    Polled {
        /// When to poll again.
        until: OffsetDateTime,
        /// Whether the job has been queued or processing for longer than `stuck_after`.
        stuck: bool,
    },
    /// The create request reached the API: record this id for the job.
    Adopt {
        /// The job the API has under the reference.
        id: TranscriptionId,
    },
    /// The create request never reached the API: send it again, under the same reference.
    Resubmit,
    /// The job finished: hand it to the handler.
    Handle {
        /// How it ended.
        status: TranscriptionStatus,
        /// What became of its webhook.
        delivery: Delivery,
    },
    /// The API no longer has the job (deleted before it was handled): report it; nothing
    /// can be fetched.
    Lost,
    /// The job is done; nothing more, ever.
    Settled,
}

/// When the reconciler should next look at `job`; `None` for a done job.
pub fn next_check(job: &TrackedJob, policy: &Policy) -> Option<OffsetDateTime> {
    match &job.stage {
        Stage::Submitting => Some(job.recorded_at + policy.create_grace),
        Stage::Submitted { next_poll, .. } => Some(*next_poll),
        Stage::Finished { retry_at, .. } => Some(*retry_at),
        Stage::Done => None,
    }
}

/// The interval after poll number `polls` (1 for the first): the webhook grace doubled per
/// poll, capped at `max_poll_interval`.
pub fn poll_interval(polls: u32, policy: &Policy) -> Duration {
    let factor = 1_u32.checked_shl(polls.min(31)).unwrap_or(u32::MAX);
    policy
        .webhook_grace
        .checked_mul(factor)
        .unwrap_or(Duration::MAX)
        .min(policy.max_poll_interval)
}

/// What to do about `job` at `now`, given what the API says about it.
///
/// Before [`next_check`] the answer is [`Decision::Wait`] whatever the observation, so a
/// caller may ask about any job at any time; after it, the observation decides. A due job
/// that needs the API and got [`Observation::NotAsked`] waits until `now`, that is, stays due.
pub fn decide(
    job: &TrackedJob,
    now: OffsetDateTime,
    observation: Observation<'_>,
    policy: &Policy,
) -> Decision {
    let Some(due) = next_check(job, policy) else {
        return Decision::Settled;
    };
    if now < due {
        return Decision::Wait { until: due };
    }
    match (&job.stage, observation) {
        (Stage::Done, _) => Decision::Settled,
        (Stage::Finished { status, .. }, _) => Decision::Handle {
            status: status.clone(),
            delivery: Delivery::Received,
        },
        (_, Observation::NotAsked) => Decision::Wait { until: now },
        (Stage::Submitting, Observation::Found(transcription)) => Decision::Adopt {
            id: transcription.id.clone(),
        },
        (Stage::Submitting, Observation::Missing) => Decision::Resubmit,
        (Stage::Submitted { .. }, Observation::Missing) => Decision::Lost,
        (Stage::Submitted { at, polls, .. }, Observation::Found(transcription)) => {
            if transcription.status.is_terminal() {
                Decision::Handle {
                    status: transcription.status.clone(),
                    delivery: Delivery::of(transcription.webhook_status_code),
                }
            } else {
                Decision::Polled {
                    until: now + poll_interval(polls.saturating_add(1), policy),
                    stuck: now - *at > policy.stuck_after,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
