//! The options of a transcription request, shared by `transcribe` and `batch`.

use clap::Args;
use soniox_types::{CreateTranscription, DEFAULT_ASYNC_MODEL, StructuredContext, Translation};

use crate::failure::Failure;

/// What to ask of the model.
#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    /// The model.
    #[arg(long, default_value = DEFAULT_ASYNC_MODEL)]
    model: String,

    /// Languages the audio probably contains, comma-separated (`en,es`).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    language_hints: Vec<String>,

    /// Tell speakers apart.
    #[arg(long)]
    diarize: bool,

    /// Tag each token with its language.
    #[arg(long)]
    identify_language: bool,

    /// Translate everything into this language.
    #[arg(long, value_name = "LANG", conflicts_with = "translate_between")]
    translate_to: Option<String>,

    /// Translate between two languages, each into the other (`en,es`).
    #[arg(long, value_name = "A,B", value_delimiter = ',', num_args = 1)]
    translate_between: Vec<String>,

    /// Reference text about the audio, to improve accuracy.
    #[arg(long, value_name = "TEXT")]
    context_text: Option<String>,
}

impl RequestArgs {
    /// Checks what clap cannot, before anything is uploaded.
    ///
    /// # Errors
    /// A usage failure for `--translate-between` without exactly two languages.
    pub(crate) fn check(&self) -> Result<(), Failure> {
        if !self.translate_between.is_empty() && self.translate_between.len() != 2 {
            return Err(Failure::usage(
                "--translate-between takes two languages: A,B",
            ));
        }
        Ok(())
    }

    /// A request with these options; the caller sets the audio (and webhook).
    pub(crate) fn request(&self) -> CreateTranscription {
        let mut request = CreateTranscription::new(self.model.clone());
        if !self.language_hints.is_empty() {
            request = request.language_hints(self.language_hints.iter().cloned());
        }
        if self.diarize {
            request = request.speaker_diarization(true);
        }
        if self.identify_language {
            request = request.language_identification(true);
        }
        if let Some(target) = &self.translate_to {
            request = request.translation(Translation::one_way(target.clone()));
        }
        if let [a, b] = self.translate_between.as_slice() {
            request = request.translation(Translation::two_way(a.clone(), b.clone()));
        }
        if let Some(text) = &self.context_text {
            request = request.context(StructuredContext::new().text(text.clone()));
        }
        request
    }
}
