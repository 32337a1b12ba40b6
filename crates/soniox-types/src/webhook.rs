//! The body Soniox POSTs to a transcription's `webhook_url`.

use serde::{Deserialize, Serialize};

use crate::{ids::TranscriptionId, open_enum::open_enum};

/// Environment variable naming the webhook auth header, as in the official SDKs.
pub const WEBHOOK_HEADER_ENV: &str = "SONIOX_API_WEBHOOK_HEADER";
/// Environment variable holding the webhook auth header's value, as in the official SDKs.
pub const WEBHOOK_SECRET_ENV: &str = "SONIOX_API_WEBHOOK_SECRET";
/// The auth header name used when [`WEBHOOK_HEADER_ENV`] is not set, as in the official SDKs.
pub const DEFAULT_WEBHOOK_HEADER: &str = "X-Soniox-Webhook-Secret";

open_enum! {
    /// The outcome a webhook reports.
    pub enum WebhookStatus {
        /// The transcript is ready to fetch.
        Completed => "completed",
        /// The job failed; the transcription's `error_type` and `error_message` say why.
        Error => "error",
    }
}

/// A webhook delivery's body: `{"id": "...", "status": "completed" | "error"}`.
///
/// Soniox sends no timestamp, signature or delivery id; the transcription id is the only key
/// for recognising a retried delivery.
///
/// ```
/// use soniox_types::{WebhookEvent, WebhookStatus};
///
/// let event: WebhookEvent =
///     serde_json::from_str(r#"{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"completed"}"#)?;
/// assert_eq!(event.status, WebhookStatus::Completed);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The transcription the event is about.
    pub id: TranscriptionId,
    /// How it ended.
    pub status: WebhookStatus,
}

/// Lets helpers that accept `impl AsRef<WebhookEvent>` take the event itself as well as the
/// wrappers around it (such as `soniox-webhook`'s verified `ReceivedEvent`).
impl AsRef<WebhookEvent> for WebhookEvent {
    fn as_ref(&self) -> &WebhookEvent {
        self
    }
}

impl WebhookEvent {
    /// An event for `id` with `status`.
    pub fn new(id: TranscriptionId, status: WebhookStatus) -> Self {
        Self { id, status }
    }
}
