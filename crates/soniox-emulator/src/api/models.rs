//! `GET /v1/models` and `POST /v1/auth/temporary-api-key`.

use http::{Request, StatusCode};
use soniox_types::{
    CreateTemporaryApiKey, Model, ModelLanguage, ModelList, Secret, TemporaryApiKey,
    TranscriptionMode,
};

use super::{generated::bodies, payload};
use crate::{
    request_body::RequestBody,
    respond::{Failure, Reply, json},
};

/// Current models, then aliases with the model each routes to.
const MODELS: &[(&str, Option<&str>, &str, bool)] = &[
    ("stt-rt-v5", None, "Speech-to-Text Real-time v5", true),
    ("stt-async-v5", None, "Speech-to-Text Async v5", false),
    ("stt-rt-v4", None, "Speech-to-Text Real-time v4", true),
    ("stt-async-v4", None, "Speech-to-Text Async v4", false),
    (
        "stt-rt-v3",
        Some("stt-rt-v4"),
        "Speech-to-Text Real-time v3",
        true,
    ),
    (
        "stt-async-v3",
        Some("stt-async-v4"),
        "Speech-to-Text Async v3",
        false,
    ),
    (
        "stt-rt-preview",
        Some("stt-rt-v4"),
        "Speech-to-Text Real-time Preview",
        true,
    ),
    (
        "stt-async-preview",
        Some("stt-async-v4"),
        "Speech-to-Text Async Preview",
        false,
    ),
    (
        "stt-rt-v3-preview",
        Some("stt-rt-v4"),
        "Speech-to-Text Real-time v3 Preview",
        true,
    ),
    (
        "stt-rt-preview-v2",
        Some("stt-rt-v4"),
        "Speech-to-Text Real-time Preview v2",
        true,
    ),
    (
        "stt-async-preview-v1",
        Some("stt-async-v4"),
        "Speech-to-Text Async Preview v1",
        false,
    ),
];

const LANGUAGES: &[(&str, &str)] = &[
    ("ar", "Arabic"),
    ("de", "German"),
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("hi", "Hindi"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ru", "Russian"),
    ("sl", "Slovenian"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("zh", "Chinese"),
];

/// Whether `model` can run transcription jobs: an async model or an alias of one.
pub(super) fn is_async_model(model: &str) -> bool {
    MODELS
        .iter()
        .any(|(id, _, _, real_time)| *id == model && !real_time)
}

pub(super) fn list() -> Reply {
    let models = MODELS
        .iter()
        .map(|(id, alias, name, real_time)| {
            let mode = if *real_time {
                TranscriptionMode::RealTime
            } else {
                TranscriptionMode::Async
            };
            let mut model = Model::new(*id, *name, mode);
            model.aliased_model_id = alias.map(str::to_owned);
            model.context_version = Some(2);
            model.languages = LANGUAGES
                .iter()
                .map(|(code, name)| ModelLanguage::new(*code, *name))
                .collect();
            model.supports_language_hints_strict = true;
            model.supports_max_endpoint_delay = *real_time;
            model.one_way_translation = Some("all_languages".to_owned());
            model.two_way_translation = Some("all_languages".to_owned());
            model
        })
        .collect();
    json(StatusCode::OK, &ModelList::new(models))
}

pub(super) async fn temporary_api_key(request: Request<RequestBody>) -> Result<Reply, Failure> {
    let body = super::read_json(request, super::MAX_JSON_BODY).await?;
    let request: CreateTemporaryApiKey =
        payload::decode(body, "body.payload", bodies::CREATE_TEMPORARY_KEY)?;
    request
        .validate()
        .map_err(|errors| Failure::validation(errors.to_details()))?;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let key: String = (0..26)
        .map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())]))
        .collect();
    let expires_at =
        crate::issued::now() + time::Duration::seconds(request.expires_in_seconds.into());
    let key = TemporaryApiKey::new(Secret::new(format!("temp:{key}")), expires_at);
    Ok(json(StatusCode::CREATED, &key))
}
