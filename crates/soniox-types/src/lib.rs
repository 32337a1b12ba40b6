//! Wire types for the [Soniox](https://soniox.com) Speech-to-Text **async** REST API and its
//! webhooks.
//!
//! This crate is the shared vocabulary of the soniox-rs workspace: the client sends these
//! types, the webhook receiver parses them, the emulator serves them. It does no I/O and needs
//! no async runtime, so it fits anywhere — a queue worker that only renders subtitles from a
//! stored transcript needs nothing else.
//!
//! # Quick start
//!
//! Build a request; `validate` checks every documented limit (and refuses a webhook auth
//! header that HTTP cannot carry), and the client runs it before anything is sent:
//!
//! ```
//! use soniox_types::{CreateTranscription, Translation};
//!
//! let request = CreateTranscription::new("stt-async-v5")
//!     .audio_url("https://example.com/interview.mp3")
//!     .language_hints(["en", "de"])
//!     .speaker_diarization(true)
//!     .translation(Translation::one_way("de"))
//!     .webhook_url("https://example.com/hooks/soniox?order=1234")
//!     .webhook_auth("X-Soniox-Webhook-Secret", "s3cr3t");
//! request.validate()?;
//! let body = serde_json::to_string(&request).expect("requests always serialize");
//! assert!(body.starts_with(r#"{"model":"stt-async-v5","audio_url":"#));
//! # Ok::<(), soniox_types::ValidationErrors>(())
//! ```
//!
//! A broken limit is a typed error that names the field the way the API does:
//!
//! ```
//! use soniox_types::CreateTranscription;
//!
//! let error = CreateTranscription::new("a-model-name-much-longer-than-32-characters")
//!     .file_id("b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11")
//!     .validate()
//!     .unwrap_err();
//! let violation = &error.violations()[0];
//! assert_eq!(violation.location(), "body.payload.model");
//! assert_eq!(violation.error_type(), "string_too_long");
//! ```
//!
//! Decode what the API returns; unknown fields and enum values never fail a response:
//!
//! ```
//! use soniox_types::{Transcript, TranscriptionStatus};
//!
//! let status: TranscriptionStatus = serde_json::from_str(r#""archived""#)?;
//! assert!(status.is_unknown());
//!
//! // `from_json` is serde's decoding, made fast for long transcripts.
//! let transcript = Transcript::from_json(
//!     br#"{"id":"t1","text":"Hello world","tokens":[
//!         {"text":"Hello","start_ms":0,"end_ms":400,"confidence":0.98,"speaker":"1"},
//!         {"text":" world","start_ms":420,"end_ms":800,"confidence":0.97,"speaker":"1","new_field":true}]}"#,
//! )?;
//! assert_eq!(transcript.tokens.len(), 2);
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! # Map of the crate
//!
//! | API | Types |
//! |---|---|
//! | `/v1/files` | [`File`], [`FileList`], [`UploadMetadata`], [`Count`] |
//! | `/v1/transcriptions` | [`CreateTranscription`], [`Transcription`], [`TranscriptionStatus`], [`TranscriptionList`] |
//! | `.../transcript` | [`Transcript`], [`Token`], [`TranslationStatus`] |
//! | `/v1/models` | [`ModelList`], [`Model`] |
//! | `/v1/auth/temporary-api-key` | [`CreateTemporaryApiKey`], [`TemporaryApiKey`] |
//! | errors | [`ApiError`], [`ApiErrorType`], [`ValidationErrorDetail`] |
//! | webhooks | [`WebhookEvent`], [`WebhookStatus`] |
//! | pagination | [`ListParams`], [`Page`] |
//! | transcript helpers | [`render`]: [`Segment`], [`Tracks`], [`Cue`], [`SubtitleOptions`], [`Track`] |
//!
//! # Transcript helpers
//!
//! A finished [`Transcript`] renders as plain text, as [`Segment`]s grouped by speaker, split
//! into its spoken and translated [`Tracks`], or as SRT and WebVTT subtitles split by
//! [`SubtitleOptions`]. The same helpers work on any token slice in [`render`].
//!
//! ```
//! use soniox_types::{SubtitleOptions, Token, Transcript, TranscriptionId};
//!
//! let transcript = Transcript::new(
//!     TranscriptionId::new("t1"),
//!     "Hello there.",
//!     vec![
//!         Token::spoken("Hello", 0, 400, 0.98).speaker("1"),
//!         Token::spoken(" there.", 420, 900, 0.97).speaker("1"),
//!     ],
//! );
//! assert_eq!(transcript.segments()[0].text, "Hello there.");
//! let vtt = transcript.to_vtt(&SubtitleOptions::default().speaker_labels(true));
//! assert_eq!(vtt, "WEBVTT\n\n00:00:00.000 --> 00:00:00.900\n<v Speaker 1>Hello there.\n");
//! ```
//!
//! # Conventions
//!
//! - **Responses are tolerant.** Unknown fields are ignored. Every enum the server may extend is
//!   `#[non_exhaustive]` with an `Unknown(String)` variant that keeps the value verbatim.
//! - **Requests are strict.** Builders and `validate` methods enforce the documented limits and
//!   report [`ValidationErrors`] located like the API's own `validation_errors`.
//! - **Secrets stay secret.** API keys and webhook auth header values are [`Secret`]s: `Debug`
//!   and `Display` print `[redacted]`.
//! - **Timestamps** are [`OffsetDateTime`]s read from and written as RFC 3339.
//! - **Where the published spec is wrong, the types follow the real API**: translation tokens
//!   carry no timestamps, tokens may carry `source_language`, `audio_duration_ms` may be `0` or
//!   `null` before processing, and the webhook header value comes back masked.
//!
//! # Features
//!
//! | Feature | Effect |
//! |---|---|
//! | `schemars` | derives `schemars::JsonSchema` for every wire type (the crate's `schemas/` folder holds each as a file) |
#![cfg_attr(docsrs, feature(doc_cfg))]

mod context;
mod count;
mod create_transcription;
mod error;
mod files;
mod generated;
mod ids;
mod models;
mod open_enum;
mod pagination;
pub mod render;
mod secret;
mod temporary_key;
mod timestamp;
mod transcript;
mod transcription;
pub mod validation;
mod webhook;

pub use compact_str::CompactString;

pub use crate::{
    context::{Context, ContextEntry, StructuredContext, TranslationTerm},
    count::Count,
    create_transcription::{
        CreateTranscription, DEFAULT_ASYNC_MODEL, Translation, TranslationType,
    },
    error::{ApiError, ApiErrorType, ValidationErrorDetail},
    files::{FILE_TOO_LARGE_MESSAGE, File, FileList, UploadMetadata},
    ids::{FileId, TranscriptionId},
    models::{Model, ModelLanguage, ModelList, TranscriptionMode, TranslationTarget},
    pagination::{ListParams, Page},
    render::{Cue, Segment, SubtitleOptions, Track, Tracks},
    secret::Secret,
    temporary_key::{CreateTemporaryApiKey, TemporaryApiKey, TemporaryKeyUsage},
    timestamp::OffsetDateTime,
    transcript::{Token, Transcript, TranslationStatus},
    transcription::{Transcription, TranscriptionList, TranscriptionStatus},
    validation::{ValidationErrors, Violation, ViolationKind},
    webhook::{
        DEFAULT_WEBHOOK_HEADER, WEBHOOK_HEADER_ENV, WEBHOOK_SECRET_ENV, WebhookEvent, WebhookStatus,
    },
};

// The README's code runs as a doctest, so what a user copies from it compiles and works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
