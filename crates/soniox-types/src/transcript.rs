//! `GET /v1/transcriptions/{id}/transcript`: the recognized text and its tokens.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::{ids::TranscriptionId, open_enum::open_enum};

mod decode;
pub(crate) mod json_cursor;

open_enum! {
    /// Whether a token belongs to the spoken words or to their translation.
    pub enum TranslationStatus in crate::generated::enum_values::TRANSLATION_STATUS {
        /// Spoken and not translated (for example a third language in two-way mode).
        None => "none",
        /// Spoken, and translated by tokens that follow.
        Original => "original",
        /// A translation of preceding original tokens; it has no timestamps.
        Translation => "translation",
    }
}

/// A finished transcription's result.
///
/// Decoding is tuned for long transcripts: token strings are short and stored inline
/// ([`CompactString`]), so a five-hour transcript decodes without an allocation per field.
// `Transcript::from_json` (decode.rs) reads this type as its serde attributes say; a change to
// them must be mirrored there. The same holds for `Token`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Transcript {
    /// The transcription this belongs to.
    pub id: TranscriptionId,
    /// The whole text, as the API assembled it.
    pub text: String,
    /// The recognized tokens, in order.
    pub tokens: Vec<Token>,
}

impl Transcript {
    /// A transcript with the given parts.
    pub fn new(id: TranscriptionId, text: impl Into<String>, tokens: Vec<Token>) -> Self {
        Self {
            id,
            text: text.into(),
            tokens,
        }
    }
}

/// One recognized (or translated) piece of text: a word, part of a word, or punctuation.
///
/// Leading spaces belong to `text`, so concatenating token texts gives the transcript's text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Token {
    /// The text, with any leading space.
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub text: CompactString,
    /// Where the token starts in the audio; absent on translation tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    /// Where the token ends in the audio; absent on translation tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    /// How sure the model is, from 0 to 1.
    #[serde(default)]
    pub confidence: f64,
    /// Who spoke it (`"1"`, `"2"`, ...), with speaker diarization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub speaker: Option<CompactString>,
    /// Its language, with language identification or translation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub language: Option<CompactString>,
    /// Whether it is spoken text or a translation, with translation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation_status: Option<TranslationStatus>,
    /// On a translation token, the language it was translated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub source_language: Option<CompactString>,
    /// Whether it marks a non-speech sound rather than words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_audio_event: Option<bool>,
}

impl Token {
    /// A spoken token with timestamps and confidence; other fields empty.
    pub fn spoken(
        text: impl Into<CompactString>,
        start_ms: u64,
        end_ms: u64,
        confidence: f64,
    ) -> Self {
        Self {
            text: text.into(),
            start_ms: Some(start_ms),
            end_ms: Some(end_ms),
            confidence,
            speaker: None,
            language: None,
            translation_status: None,
            source_language: None,
            is_audio_event: None,
        }
    }

    /// A translation token: no timestamps, translated from `source_language` into `language`.
    pub fn translation(
        text: impl Into<CompactString>,
        language: impl Into<CompactString>,
        source_language: impl Into<CompactString>,
        confidence: f64,
    ) -> Self {
        Self {
            text: text.into(),
            start_ms: None,
            end_ms: None,
            confidence,
            speaker: None,
            language: Some(language.into()),
            translation_status: Some(TranslationStatus::Translation),
            source_language: Some(source_language.into()),
            is_audio_event: None,
        }
    }

    /// Sets the speaker.
    #[must_use]
    pub fn speaker(mut self, speaker: impl Into<CompactString>) -> Self {
        self.speaker = Some(speaker.into());
        self
    }

    /// Sets the language.
    #[must_use]
    pub fn language(mut self, language: impl Into<CompactString>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets the translation status.
    #[must_use]
    pub fn translation_status(mut self, status: TranslationStatus) -> Self {
        self.translation_status = Some(status);
        self
    }

    /// Whether this token is a translation rather than spoken text.
    pub fn is_translation(&self) -> bool {
        self.translation_status == Some(TranslationStatus::Translation)
    }
}
