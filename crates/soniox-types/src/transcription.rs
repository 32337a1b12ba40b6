//! `/v1/transcriptions`: the transcription job as the API returns it.

use serde::{Deserialize, Deserializer, Serialize};

use crate::{
    context::Context,
    ids::{FileId, TranscriptionId},
    open_enum::open_enum,
    pagination::{Page, next_cursor},
    secret::Secret,
    timestamp::{OffsetDateTime, rfc3339},
};

open_enum! {
    /// Where a transcription job is in its life.
    pub enum TranscriptionStatus in crate::generated::enum_values::TRANSCRIPTION_STATUS {
        /// Accepted, waiting to be processed.
        Queued => "queued",
        /// Being transcribed.
        Processing => "processing",
        /// Done; the transcript can be fetched.
        Completed => "completed",
        /// Failed; `error_type` and `error_message` say why.
        Error => "error",
    }
}

impl TranscriptionStatus {
    /// Whether the job has finished, successfully or not. Unknown statuses count as not
    /// finished, so a poller keeps waiting rather than stopping early.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed | Self::Error)
    }
}

/// A transcription job.
///
/// Fields the API marks nullable are `Option`s; they are written as `null` (not omitted) when
/// serialized, as the API does.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Transcription {
    /// The job's id.
    pub id: TranscriptionId,
    /// Where the job is in its life.
    pub status: TranscriptionStatus,
    /// When the job was created.
    #[serde(with = "rfc3339")]
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub created_at: OffsetDateTime,
    /// The model transcribing it.
    pub model: String,
    /// The audio URL, for jobs created from one.
    #[serde(default)]
    pub audio_url: Option<String>,
    /// The uploaded file, for jobs created from one.
    #[serde(default)]
    pub file_id: Option<FileId>,
    /// The file's name, or the last path segment of the audio URL.
    pub filename: String,
    /// Language hints given at creation.
    #[serde(default)]
    pub language_hints: Option<Vec<String>>,
    /// Whether tokens carry speakers.
    #[serde(default)]
    pub enable_speaker_diarization: bool,
    /// Whether tokens carry languages.
    #[serde(default)]
    pub enable_language_identification: bool,
    /// Audio length; `None` (or `Some(0)`) until processing begins.
    #[serde(default)]
    pub audio_duration_ms: Option<u64>,
    /// Why the job failed; `None` unless `status` is `error`.
    #[serde(default)]
    pub error_type: Option<String>,
    /// A description of the failure; `None` unless `status` is `error`.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Where the completion webhook goes.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The webhook auth header's name.
    #[serde(default)]
    pub webhook_auth_header_name: Option<String>,
    /// The webhook auth header's value; the API always returns it masked
    /// ([`Secret::MASKED`]).
    #[serde(default)]
    pub webhook_auth_header_value: Option<Secret>,
    /// The HTTP status the webhook receiver last answered; `None` if it never answered.
    #[serde(default)]
    pub webhook_status_code: Option<u16>,
    /// The caller's own reference.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// The context given at creation. Not in the published schema, but some responses carry
    /// it; a shape this crate does not know is ignored rather than failing the response.
    #[serde(
        default,
        deserialize_with = "lenient_context",
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<Context>,
}

impl Transcription {
    /// A freshly created job: every optional field empty, both feature flags off.
    pub fn new(
        id: TranscriptionId,
        status: TranscriptionStatus,
        created_at: OffsetDateTime,
        model: impl Into<String>,
        filename: impl Into<String>,
    ) -> Self {
        Self {
            id,
            status,
            created_at,
            model: model.into(),
            audio_url: None,
            file_id: None,
            filename: filename.into(),
            language_hints: None,
            enable_speaker_diarization: false,
            enable_language_identification: false,
            audio_duration_ms: None,
            error_type: None,
            error_message: None,
            webhook_url: None,
            webhook_auth_header_name: None,
            webhook_auth_header_value: None,
            webhook_status_code: None,
            client_reference_id: None,
            context: None,
        }
    }
}

fn lenient_context<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Context>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// A page of `GET /v1/transcriptions`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct TranscriptionList {
    /// The transcriptions on this page.
    pub transcriptions: Vec<Transcription>,
    /// The cursor of the next page; `None` on the last page.
    #[serde(default)]
    pub next_page_cursor: Option<String>,
}

impl TranscriptionList {
    /// A page with the given parts.
    pub fn new(transcriptions: Vec<Transcription>, next_page_cursor: Option<String>) -> Self {
        Self {
            transcriptions,
            next_page_cursor,
        }
    }
}

impl Page for TranscriptionList {
    type Item = Transcription;

    fn into_parts(self) -> (Vec<Transcription>, Option<String>) {
        (self.transcriptions, next_cursor(self.next_page_cursor))
    }
}
