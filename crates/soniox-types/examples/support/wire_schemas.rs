//! The JSON Schema of every public wire type, shared by the `json_schemas` example (which
//! `cargo xtask codegen` runs to write `schemas/`) and the test that holds `schemas/` to the
//! types.

use serde_json::Value;
use soniox_types::{
    ApiError, ApiErrorType, Context, ContextEntry, Count, CreateTemporaryApiKey,
    CreateTranscription, File, FileId, FileList, ListParams, Model, ModelLanguage, ModelList,
    StructuredContext, TemporaryApiKey, TemporaryKeyUsage, Token, Transcript, Transcription,
    TranscriptionId, TranscriptionList, TranscriptionMode, TranscriptionStatus, Translation,
    TranslationStatus, TranslationTarget, TranslationTerm, TranslationType, UploadMetadata,
    ValidationErrorDetail, WebhookEvent, WebhookStatus,
};

/// Each type's file name and the schema's text: pretty, keys sorted, a final newline.
pub(crate) fn all() -> Vec<(String, String)> {
    macro_rules! schemas {
        ($($ty:ident),+ $(,)?) => {
            vec![$(
                (
                    format!("{}.json", stringify!($ty)),
                    render(serde_json::to_value(schemars::schema_for!($ty)).expect("a schema is JSON")),
                ),
            )+]
        };
    }
    let mut all = schemas![
        ApiError,
        ApiErrorType,
        Context,
        ContextEntry,
        Count,
        CreateTemporaryApiKey,
        CreateTranscription,
        File,
        FileId,
        FileList,
        ListParams,
        Model,
        ModelLanguage,
        ModelList,
        StructuredContext,
        TemporaryApiKey,
        TemporaryKeyUsage,
        Token,
        Transcript,
        Transcription,
        TranscriptionId,
        TranscriptionList,
        TranscriptionMode,
        TranscriptionStatus,
        Translation,
        TranslationStatus,
        TranslationTarget,
        TranslationTerm,
        TranslationType,
        UploadMetadata,
        ValidationErrorDetail,
        WebhookEvent,
        WebhookStatus,
    ];
    all.sort();
    all
}

/// Pretty JSON with every object's keys sorted, whatever map serde_json was built with.
fn render(schema: Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(schema)).expect("a value is JSON");
    text.push('\n');
    text
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
