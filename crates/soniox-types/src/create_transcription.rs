//! `POST /v1/transcriptions`: the request that starts a transcription job.

use serde::{Deserialize, Serialize};

use crate::{
    context::Context,
    ids::FileId,
    secret::Secret,
    validation::{Checker, ValidationErrors, ViolationKind, limits},
};

/// The model both official SDKs use when none is chosen.
pub const DEFAULT_ASYNC_MODEL: &str = "stt-async-v5";

/// The request body of `POST /v1/transcriptions`.
///
/// Start with [`CreateTranscription::new`] and chain the setters; [`validate`](Self::validate)
/// checks every documented limit, and the client calls it before sending, so a request that
/// breaks one never reaches the wire. Absent options are omitted from the JSON rather than sent
/// as `null`.
///
/// ```
/// use soniox_types::CreateTranscription;
///
/// let request = CreateTranscription::new("stt-async-v5")
///     .audio_url("https://example.com/call.mp3")
///     .speaker_diarization(true)
///     .webhook_url("https://example.com/hooks/soniox?customer=42")
///     .webhook_auth("X-Soniox-Webhook-Secret", "s3cr3t");
/// assert!(request.validate().is_ok());
///
/// let error = CreateTranscription::new("stt-async-v5").validate().unwrap_err();
/// assert!(error.has("body.payload"));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct CreateTranscription {
    /// The model, such as `stt-async-v5` (≤ 32 characters).
    pub model: String,
    /// Audio to download (`http`/`https`, ≤ 4096 characters); exclusive with `file_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_url: Option<String>,
    /// A previously uploaded file; exclusive with `audio_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<FileId>,
    /// Languages expected in the audio (≤ 100 codes of ≤ 10 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_hints: Option<Vec<String>>,
    /// Restrict recognition to the hinted languages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_hints_strict: Option<bool>,
    /// Label tokens with speakers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_speaker_diarization: Option<bool>,
    /// Label tokens with their language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_language_identification: Option<bool>,
    /// Translate the transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<Translation>,
    /// What the audio is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// Where to POST the completion webhook (`http`/`https`, ≤ 256 characters, query included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// A header to send with the webhook, such as `X-Soniox-Webhook-Secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_auth_header_name: Option<String>,
    /// The header's value: a secret the receiver checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_auth_header_value: Option<Secret>,
    /// A reference of the caller's own (≤ 256 characters; need not be unique).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_reference_id: Option<String>,
}

impl CreateTranscription {
    /// Starts a request for `model`. Choose the audio with [`audio_url`](Self::audio_url) or
    /// [`file_id`](Self::file_id).
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            audio_url: None,
            file_id: None,
            language_hints: None,
            language_hints_strict: None,
            enable_speaker_diarization: None,
            enable_language_identification: None,
            translation: None,
            context: None,
            webhook_url: None,
            webhook_auth_header_name: None,
            webhook_auth_header_value: None,
            client_reference_id: None,
        }
    }

    /// Transcribe audio the API downloads from `url`.
    #[must_use]
    pub fn audio_url(mut self, url: impl Into<String>) -> Self {
        self.audio_url = Some(url.into());
        self
    }

    /// Transcribe a file uploaded earlier.
    #[must_use]
    pub fn file_id(mut self, id: impl Into<FileId>) -> Self {
        self.file_id = Some(id.into());
        self
    }

    /// Languages expected in the audio, as ISO codes such as `en`.
    #[must_use]
    pub fn language_hints<I, S>(mut self, hints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.language_hints = Some(hints.into_iter().map(Into::into).collect());
        self
    }

    /// Restrict recognition to the hinted languages.
    #[must_use]
    pub fn language_hints_strict(mut self, strict: bool) -> Self {
        self.language_hints_strict = Some(strict);
        self
    }

    /// Label tokens with speakers.
    #[must_use]
    pub fn speaker_diarization(mut self, enable: bool) -> Self {
        self.enable_speaker_diarization = Some(enable);
        self
    }

    /// Label tokens with their language.
    #[must_use]
    pub fn language_identification(mut self, enable: bool) -> Self {
        self.enable_language_identification = Some(enable);
        self
    }

    /// Translate the transcript.
    #[must_use]
    pub fn translation(mut self, translation: Translation) -> Self {
        self.translation = Some(translation);
        self
    }

    /// What the audio is about.
    #[must_use]
    pub fn context(mut self, context: impl Into<Context>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Where to POST the completion webhook. Metadata goes in its query string.
    #[must_use]
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// A header the webhook carries so the receiver can authenticate it.
    #[must_use]
    pub fn webhook_auth(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.webhook_auth_header_name = Some(name.into());
        self.webhook_auth_header_value = Some(value.into());
        self
    }

    /// A reference of the caller's own.
    #[must_use]
    pub fn client_reference_id(mut self, id: impl Into<String>) -> Self {
        self.client_reference_id = Some(id.into());
        self
    }

    /// Checks the request against every documented limit, reporting all violations at once.
    ///
    /// # Errors
    /// A [`ValidationErrors`] with one entry per broken rule, located like the API's own
    /// (`body.payload.webhook_url`).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut check = Checker::new("body.payload");
        check.max_chars("model", &self.model, limits::MODEL_MAX_CHARS);
        match (&self.audio_url, &self.file_id) {
            (Some(_), Some(_)) => {
                check.push_root(ViolationKind::Invalid(
                    "audio_url and file_id cannot both be set",
                ));
            }
            (None, None) => {
                check.push_root(ViolationKind::Invalid(
                    "either audio_url or file_id must be set",
                ));
            }
            _ => {}
        }
        if let Some(url) = &self.audio_url {
            check.http_url("audio_url", url, limits::AUDIO_URL_MAX_CHARS);
        }
        if let Some(hints) = &self.language_hints {
            if hints.len() > limits::LANGUAGE_HINTS_MAX_ITEMS {
                check.push(
                    "language_hints",
                    ViolationKind::TooMany {
                        max: limits::LANGUAGE_HINTS_MAX_ITEMS,
                    },
                );
            }
            for (i, hint) in hints.iter().enumerate() {
                check.max_chars(
                    &format!("language_hints.{i}"),
                    hint,
                    limits::LANGUAGE_HINT_MAX_CHARS,
                );
            }
        }
        if let Some(translation) = &self.translation {
            translation.check(&mut check);
        }
        if let Some(context) = &self.context
            && context.char_len() > limits::CONTEXT_MAX_CHARS
        {
            check.push(
                "context",
                ViolationKind::TooLong {
                    max: limits::CONTEXT_MAX_CHARS,
                },
            );
        }
        if let Some(url) = &self.webhook_url {
            check.webhook_url(url);
        }
        self.check_webhook_auth(&mut check);
        if let Some(id) = &self.client_reference_id {
            check.max_chars(
                "client_reference_id",
                id,
                limits::CLIENT_REFERENCE_ID_MAX_CHARS,
            );
        }
        check.finish()
    }

    fn check_webhook_auth(&self, check: &mut Checker) {
        let name = self.webhook_auth_header_name.as_deref();
        let value = self.webhook_auth_header_value.as_ref();
        if name.is_some() != value.is_some() {
            check.push_root(ViolationKind::Invalid(
                "webhook_auth_header_name and webhook_auth_header_value must be set together",
            ));
        }
        if let Some(name) = name {
            check.max_chars(
                "webhook_auth_header_name",
                name,
                limits::WEBHOOK_HEADER_NAME_MAX_CHARS,
            );
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                check.push("webhook_auth_header_name", ViolationKind::InvalidHeaderName);
            }
        }
        if let Some(value) = value {
            if value.is_masked() {
                // A value read back from the API: sending it would make every delivery carry
                // eighteen asterisks, which a receiver should never accept.
                check.push("webhook_auth_header_value", ViolationKind::MaskedSecret);
            }
            // The secret is measured and checked, never quoted: violations carry no value.
            let value = value.expose_secret();
            check.max_chars(
                "webhook_auth_header_value",
                value,
                limits::WEBHOOK_HEADER_VALUE_MAX_CHARS,
            );
            // An empty value is a valid header but no receiver can tell it from a missing one:
            // soniox-webhook's `Verifier` refuses it, so every delivery would be rejected.
            if value.is_empty() {
                check.push(
                    "webhook_auth_header_value",
                    ViolationKind::Invalid("the webhook auth header value must not be empty"),
                );
            } else if http::HeaderValue::from_str(value).is_err() {
                check.push(
                    "webhook_auth_header_value",
                    ViolationKind::InvalidHeaderValue,
                );
            }
        }
    }
}

/// Which way a transcript is translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TranslationType {
    /// Everything into one target language.
    OneWay,
    /// Between two languages, each into the other.
    TwoWay,
}

/// The `translation` of a transcription request.
///
/// ```
/// use soniox_types::Translation;
///
/// let one_way = Translation::one_way("de");
/// assert_eq!(serde_json::to_string(&one_way)?, r#"{"type":"one_way","target_language":"de"}"#);
/// let two_way = Translation::two_way("en", "es");
/// assert_eq!(
///     serde_json::to_string(&two_way)?,
///     r#"{"type":"two_way","language_a":"en","language_b":"es"}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Translation {
    /// One-way or two-way.
    #[serde(rename = "type")]
    pub kind: TranslationType,
    /// For one-way: the language to translate into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_language: Option<String>,
    /// For two-way: the first language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_a: Option<String>,
    /// For two-way: the second language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_b: Option<String>,
}

impl Translation {
    /// Translate everything into `target_language`.
    pub fn one_way(target_language: impl Into<String>) -> Self {
        Self {
            kind: TranslationType::OneWay,
            target_language: Some(target_language.into()),
            language_a: None,
            language_b: None,
        }
    }

    /// Translate `language_a` into `language_b` and back.
    pub fn two_way(language_a: impl Into<String>, language_b: impl Into<String>) -> Self {
        Self {
            kind: TranslationType::TwoWay,
            target_language: None,
            language_a: Some(language_a.into()),
            language_b: Some(language_b.into()),
        }
    }

    fn check(&self, check: &mut Checker) {
        let required: &[(&str, &Option<String>)] = match self.kind {
            TranslationType::OneWay => &[("translation.target_language", &self.target_language)],
            TranslationType::TwoWay => &[
                ("translation.language_a", &self.language_a),
                ("translation.language_b", &self.language_b),
            ],
        };
        for (field, value) in required {
            match value {
                Some(language) if !language.is_empty() => {
                    check.max_chars(field, language, limits::LANGUAGE_HINT_MAX_CHARS);
                }
                _ => check.push(field, ViolationKind::Missing),
            }
        }
    }
}
