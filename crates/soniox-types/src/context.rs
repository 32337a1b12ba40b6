//! The `context` of a transcription request: what the audio is about, to improve accuracy.

use serde::{Deserialize, Serialize};

/// Context that helps the model: domain facts, reference text, terms and translations.
///
/// ```
/// use soniox_types::{Context, StructuredContext};
///
/// let context: Context = StructuredContext::new()
///     .general("domain", "medicine")
///     .term("myocardial infarction")
///     .into();
/// assert_eq!(
///     serde_json::to_string(&context)?,
///     r#"{"general":[{"key":"domain","value":"medicine"}],"terms":["myocardial infarction"]}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(untagged)]
#[non_exhaustive]
pub enum Context {
    /// The current, structured form.
    Structured(StructuredContext),
    /// The legacy plain-text form of older models.
    Text(String),
}

impl Context {
    /// Characters of text the context holds, counted over every string in it; this is what
    /// the API's context limit applies to.
    pub fn char_len(&self) -> usize {
        match self {
            Context::Text(text) => text.chars().count(),
            Context::Structured(structured) => structured.char_len(),
        }
    }
}

impl From<StructuredContext> for Context {
    fn from(context: StructuredContext) -> Self {
        Context::Structured(context)
    }
}

impl From<String> for Context {
    fn from(text: String) -> Self {
        Context::Text(text)
    }
}

impl From<&str> for Context {
    fn from(text: &str) -> Self {
        Context::Text(text.to_owned())
    }
}

/// The structured form of [`Context`]. Every section is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct StructuredContext {
    /// Key/value facts such as `domain: medicine`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general: Option<Vec<ContextEntry>>,
    /// Free text related to the audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Words and phrases likely to occur.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<Vec<String>>,
    /// Preferred translations of specific terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation_terms: Option<Vec<TranslationTerm>>,
}

impl StructuredContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key/value fact.
    #[must_use]
    pub fn general(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.general
            .get_or_insert_with(Vec::new)
            .push(ContextEntry {
                key: key.into(),
                value: value.into(),
            });
        self
    }

    /// Sets the free text.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Adds a term.
    #[must_use]
    pub fn term(mut self, term: impl Into<String>) -> Self {
        self.terms.get_or_insert_with(Vec::new).push(term.into());
        self
    }

    /// Adds a preferred translation.
    #[must_use]
    pub fn translation_term(
        mut self,
        source: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        self.translation_terms
            .get_or_insert_with(Vec::new)
            .push(TranslationTerm {
                source: source.into(),
                target: target.into(),
            });
        self
    }

    fn char_len(&self) -> usize {
        let count = |s: &str| s.chars().count();
        let general = self
            .general
            .iter()
            .flatten()
            .map(|e| count(&e.key) + count(&e.value));
        let terms = self.terms.iter().flatten().map(|t| count(t));
        let translations = self
            .translation_terms
            .iter()
            .flatten()
            .map(|t| count(&t.source) + count(&t.target));
        self.text.as_deref().map_or(0, count)
            + general.sum::<usize>()
            + terms.sum::<usize>()
            + translations.sum::<usize>()
    }
}

/// A key/value fact in [`StructuredContext::general`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ContextEntry {
    /// What the fact is about, such as `domain`.
    pub key: String,
    /// The fact, such as `medicine`.
    pub value: String,
}

/// A preferred translation in [`StructuredContext::translation_terms`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct TranslationTerm {
    /// The term as spoken.
    pub source: String,
    /// How to translate it.
    pub target: String,
}
