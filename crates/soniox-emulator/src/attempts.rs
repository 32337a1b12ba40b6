//! The webhook attempt log's records: what the emulator tried, when, and how it ended. A leaf
//! module, so that the state (`store.rs`) can hold the log without depending on delivery.

use std::collections::BTreeMap;

use serde::Serialize;
use soniox_types::{OffsetDateTime, TranscriptionId, WebhookStatus};

/// How the emulator shows a secret header value in the attempt log.
pub const REDACTED: &str = "[redacted]";

/// One try at delivering a webhook, as recorded in the attempt log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WebhookAttempt {
    /// The transcription the webhook is about.
    pub transcription_id: TranscriptionId,
    /// The status the webhook reported.
    pub status: WebhookStatus,
    /// 1, or 2 for the copy a `duplicate` fault adds.
    pub delivery: u32,
    /// 1 for the first try, counting up through the retry schedule.
    pub attempt: u32,
    /// The URL posted to, query string as given.
    pub url: String,
    /// The headers sent; the auth header's value is [`REDACTED`].
    pub headers: BTreeMap<String, String>,
    /// When the attempt began.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// What happened.
    pub outcome: DeliveryOutcome,
}

impl WebhookAttempt {
    /// The HTTP status the receiver answered with, if it answered.
    pub fn status_code(&self) -> Option<u16> {
        self.outcome.status_code()
    }

    /// Whether the receiver accepted the delivery (any 2xx).
    pub fn succeeded(&self) -> bool {
        self.outcome.succeeded()
    }
}

impl DeliveryOutcome {
    /// The HTTP status the receiver answered with, if it answered.
    pub fn status_code(&self) -> Option<u16> {
        match *self {
            DeliveryOutcome::Answered { status_code } => Some(status_code),
            _ => None,
        }
    }

    /// Whether the receiver accepted the delivery (any 2xx).
    pub fn succeeded(&self) -> bool {
        self.status_code()
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// The result of one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// The receiver answered; only a 2xx counts as delivered.
    Answered {
        /// The HTTP status received.
        status_code: u16,
    },
    /// No answer within the attempt timeout.
    TimedOut,
    /// The request could not be sent or the connection broke.
    Failed {
        /// What went wrong.
        error: String,
    },
    /// A `withhold` fault kept the webhook from being sent at all.
    Withheld,
}
