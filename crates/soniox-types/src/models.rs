//! `GET /v1/models`: the models an account can use.

use serde::{Deserialize, Serialize};

use crate::open_enum::open_enum;

open_enum! {
    /// How a model is used.
    pub enum TranscriptionMode in crate::generated::enum_values::TRANSCRIPTION_MODE {
        /// Streaming over the WebSocket API.
        RealTime => "real_time",
        /// Transcription jobs over the REST API.
        Async => "async",
    }
}

/// The response of `GET /v1/models`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ModelList {
    /// Every model, aliases included.
    pub models: Vec<Model>,
}

impl ModelList {
    /// A list of the given models.
    pub fn new(models: Vec<Model>) -> Self {
        Self { models }
    }
}

/// A model, or an alias of one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Model {
    /// The id to request, such as `stt-async-v4`.
    pub id: String,
    /// For an alias, the model it routes to.
    #[serde(default)]
    pub aliased_model_id: Option<String>,
    /// A display name.
    pub name: String,
    /// Which context format the model takes.
    #[serde(default)]
    pub context_version: Option<u32>,
    /// Real-time or async.
    pub transcription_mode: TranscriptionMode,
    /// The languages it recognizes.
    #[serde(default)]
    pub languages: Vec<ModelLanguage>,
    /// Whether it honours `language_hints_strict`.
    #[serde(default)]
    pub supports_language_hints_strict: bool,
    /// Whether it takes `max_endpoint_delay_ms` (real-time).
    #[serde(default)]
    pub supports_max_endpoint_delay: bool,
    /// One-way translation targets and their sources.
    #[serde(default)]
    pub translation_targets: Vec<TranslationTarget>,
    /// Supported two-way pairs, such as `en:es`.
    #[serde(default)]
    pub two_way_translation_pairs: Vec<String>,
    /// One-way translation support; `all_languages` means any pair.
    #[serde(default)]
    pub one_way_translation: Option<String>,
    /// Two-way translation support; `all_languages` means any pair.
    #[serde(default)]
    pub two_way_translation: Option<String>,
    /// Whether it takes an endpoint sensitivity (newer than the published schema).
    #[serde(default)]
    pub supports_endpoint_sensitivity: bool,
    /// Whether it takes an endpoint latency adjustment (newer than the published schema).
    #[serde(default)]
    pub supports_endpoint_latency_adjustment: bool,
    /// The highest endpoint latency adjustment level (newer than the published schema).
    #[serde(default)]
    pub endpoint_latency_adjustment_max_level: u32,
}

impl Model {
    /// A model with the given id, name and mode, and no languages or features.
    pub fn new(id: impl Into<String>, name: impl Into<String>, mode: TranscriptionMode) -> Self {
        Self {
            id: id.into(),
            aliased_model_id: None,
            name: name.into(),
            context_version: None,
            transcription_mode: mode,
            languages: Vec::new(),
            supports_language_hints_strict: false,
            supports_max_endpoint_delay: false,
            translation_targets: Vec::new(),
            two_way_translation_pairs: Vec::new(),
            one_way_translation: None,
            two_way_translation: None,
            supports_endpoint_sensitivity: false,
            supports_endpoint_latency_adjustment: false,
            endpoint_latency_adjustment_max_level: 0,
        }
    }
}

/// A language a model recognizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ModelLanguage {
    /// ISO code, such as `en`.
    pub code: String,
    /// English name, such as `English`.
    pub name: String,
}

impl ModelLanguage {
    /// A language entry.
    pub fn new(code: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            name: name.into(),
        }
    }
}

/// A one-way translation target and the languages that can be translated into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct TranslationTarget {
    /// The language translated into.
    pub target_language: String,
    /// Languages that can be translated into it.
    #[serde(default)]
    pub source_languages: Vec<String>,
    /// Languages that cannot.
    #[serde(default)]
    pub exclude_source_languages: Vec<String>,
}
