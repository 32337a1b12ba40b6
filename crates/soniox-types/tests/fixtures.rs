//! Every example payload of the published OpenAPI document, parsed by the type that models it.
//!
//! The fixtures in `tests/fixtures/` hold the examples' values, one file per operation and
//! status (`get_file_404.json`), plus the request example and the schema examples that differ
//! from every operation example. Each fixture decodes, re-encodes to the same JSON (up to the
//! differences listed with its [`Body`]), and decodes again to an equal value.

use std::{collections::BTreeSet, fmt::Debug, path::PathBuf};

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use soniox_types::{
    ApiError, Context, Count, CreateTemporaryApiKey, File, FileList, ModelList, TemporaryApiKey,
    TemporaryKeyUsage, Token, Transcript, Transcription, TranscriptionList, TranscriptionMode,
    TranscriptionStatus,
};

/// What a fixture holds, and so which type must parse it.
enum Body {
    File,
    FileList,
    Count,
    Transcription,
    TranscriptionList,
    Transcript,
    Token,
    ModelList,
    TemporaryApiKey,
    CreateTemporaryApiKey,
    /// An error body whose `status_code` reads `status_code` and whose `error_type` is a known
    /// one with this wire name.
    Error {
        status_code: u16,
        error_type: &'static str,
    },
}

const fn error(status_code: u16, error_type: &'static str) -> Body {
    Body::Error {
        status_code,
        error_type,
    }
}

/// Every fixture, with what it holds. The 404 and 409 examples of the spec say
/// `"status_code": 400` although the HTTP status differs (a known spec error); the bodies must
/// parse all the same, so the table pins what they say.
const FIXTURES: &[(&str, Body)] = &[
    ("get_files_200", Body::FileList),
    ("get_files_400", error(400, "invalid_cursor")),
    ("get_files_401", error(401, "unauthenticated")),
    ("get_files_500", error(500, "internal_error")),
    ("upload_file_201", Body::File),
    ("upload_file_400", error(400, "invalid_request")),
    ("upload_file_401", error(401, "unauthenticated")),
    ("upload_file_500", error(500, "internal_error")),
    ("get_files_count_200", Body::Count),
    ("get_files_count_401", error(401, "unauthenticated")),
    ("get_files_count_500", error(500, "internal_error")),
    ("get_file_200", Body::File),
    ("get_file_401", error(401, "unauthenticated")),
    ("get_file_404", error(400, "file_not_found")),
    ("get_file_500", error(500, "internal_error")),
    ("delete_file_401", error(401, "unauthenticated")),
    ("delete_file_404", error(400, "file_not_found")),
    ("delete_file_500", error(500, "internal_error")),
    ("get_transcriptions_200", Body::TranscriptionList),
    ("get_transcriptions_400", error(400, "invalid_cursor")),
    ("get_transcriptions_401", error(401, "unauthenticated")),
    ("get_transcriptions_500", error(500, "internal_error")),
    ("create_transcription_201", Body::Transcription),
    ("create_transcription_400", error(400, "invalid_request")),
    ("create_transcription_401", error(401, "unauthenticated")),
    ("create_transcription_500", error(500, "internal_error")),
    ("get_transcriptions_count_200", Body::Count),
    (
        "get_transcriptions_count_401",
        error(401, "unauthenticated"),
    ),
    ("get_transcriptions_count_500", error(500, "internal_error")),
    ("get_transcription_200", Body::Transcription),
    ("get_transcription_401", error(401, "unauthenticated")),
    (
        "get_transcription_404",
        error(400, "transcription_not_found"),
    ),
    ("get_transcription_500", error(500, "internal_error")),
    ("delete_transcription_401", error(401, "unauthenticated")),
    (
        "delete_transcription_404",
        error(400, "transcription_not_found"),
    ),
    (
        "delete_transcription_409",
        error(400, "transcription_invalid_state"),
    ),
    ("delete_transcription_500", error(500, "internal_error")),
    ("get_transcription_transcript_200", Body::Transcript),
    (
        "get_transcription_transcript_401",
        error(401, "unauthenticated"),
    ),
    (
        "get_transcription_transcript_404",
        error(400, "transcription_not_found"),
    ),
    (
        "get_transcription_transcript_409",
        error(400, "transcription_invalid_state"),
    ),
    (
        "get_transcription_transcript_500",
        error(500, "internal_error"),
    ),
    ("get_models_200", Body::ModelList),
    ("get_models_401", error(401, "unauthenticated")),
    ("get_models_500", error(500, "internal_error")),
    (
        "create_temporary_api_key_request",
        Body::CreateTemporaryApiKey,
    ),
    ("create_temporary_api_key_201", Body::TemporaryApiKey),
    (
        "create_temporary_api_key_400",
        error(400, "invalid_request"),
    ),
    (
        "create_temporary_api_key_401",
        error(401, "unauthenticated"),
    ),
    ("create_temporary_api_key_500", error(500, "internal_error")),
    ("transcription_schema", Body::Transcription),
    ("token_schema", Body::Token),
];

/// The nullable fields of a transcription. The spec's examples leave some of them out; we
/// always write them, as `null` when empty, because that is what the API sends.
const TRANSCRIPTION_NULLABLE: &[&str] = &[
    "audio_url",
    "file_id",
    "language_hints",
    "audio_duration_ms",
    "error_type",
    "error_message",
    "webhook_url",
    "webhook_auth_header_name",
    "webhook_auth_header_value",
    "webhook_status_code",
    "client_reference_id",
];

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Value {
    let path = fixtures_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{name} is not JSON: {error}"))
}

/// Decodes `original` as `T`, checks that encoding is a fixpoint (decode → encode → decode →
/// encode gives the same JSON) and that the encoding equals `original` once `expected_changes`
/// has applied the documented differences to it.
#[track_caller]
fn roundtrip<T>(name: &str, original: &Value, expected_changes: impl FnOnce(&mut Value)) -> (T, T)
where
    T: DeserializeOwned + Serialize,
{
    let decoded: T = serde_json::from_value(original.clone())
        .unwrap_or_else(|error| panic!("{name} does not decode: {error}"));
    let encoded = serde_json::to_value(&decoded).expect("responses always encode");
    let again: T = serde_json::from_value(encoded.clone())
        .unwrap_or_else(|error| panic!("{name} does not decode once re-encoded: {error}"));
    assert_eq!(
        serde_json::to_value(&again).expect("responses always encode"),
        encoded,
        "{name}: encoding is not a fixpoint"
    );
    let mut expected = original.clone();
    expected_changes(&mut expected);
    assert_eq!(encoded, expected, "{name}: re-encoded JSON differs");
    (decoded, again)
}

/// [`roundtrip`] for types with `PartialEq`, which also compares the two decoded values.
#[track_caller]
fn roundtrip_eq<T>(name: &str, original: &Value, expected_changes: impl FnOnce(&mut Value)) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let (decoded, again) = roundtrip::<T>(name, original, expected_changes);
    assert_eq!(
        decoded, again,
        "{name}: decode → encode → decode changed the value"
    );
    decoded
}

fn no_changes(_: &mut Value) {}

fn objects_mut<'a>(value: &'a mut Value, pointer: &str) -> impl Iterator<Item = &'a mut Value> {
    value
        .pointer_mut(pointer)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn null_when_absent(object: &mut Value, fields: &[&str]) {
    let object = object.as_object_mut().expect("fixture bodies are objects");
    for field in fields {
        object.entry(*field).or_insert(Value::Null);
    }
}

/// Documented differences of a transcription's encoding from the spec's examples.
fn transcription_changes(transcription: &mut Value) {
    null_when_absent(transcription, TRANSCRIPTION_NULLABLE);
    // Required in the schema but missing from its examples; decoding defaults them to false.
    let object = transcription.as_object_mut().expect("an object");
    for flag in [
        "enable_speaker_diarization",
        "enable_language_identification",
    ] {
        object.entry(flag).or_insert(Value::Bool(false));
    }
}

#[track_caller]
fn check(name: &str, body: &Body) {
    let original = fixture(name);
    match body {
        Body::File => {
            roundtrip_eq::<File>(name, &original, |file| {
                null_when_absent(file, &["client_reference_id"]);
            });
        }
        Body::FileList => {
            roundtrip_eq::<FileList>(name, &original, |list| {
                for file in objects_mut(list, "/files") {
                    null_when_absent(file, &["client_reference_id"]);
                }
            });
        }
        Body::Count => {
            roundtrip_eq::<Count>(name, &original, no_changes);
        }
        Body::Transcription => {
            roundtrip::<Transcription>(name, &original, transcription_changes);
        }
        Body::TranscriptionList => {
            roundtrip::<TranscriptionList>(name, &original, |list| {
                objects_mut(list, "/transcriptions").for_each(transcription_changes);
            });
        }
        Body::Transcript => {
            let decoded = roundtrip_eq::<Transcript>(name, &original, no_changes);
            // The client's decoder reads the file's own bytes to the same value.
            let path = fixtures_dir().join(format!("{name}.json"));
            let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{name}: {error}"));
            let fast =
                Transcript::from_json(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(fast, decoded, "{name}");
        }
        Body::Token => {
            roundtrip_eq::<Token>(name, &original, no_changes);
        }
        Body::ModelList => {
            roundtrip_eq::<ModelList>(name, &original, |list| {
                // Fields newer than the published schema; its example lacks them, and decoding
                // gives the defaults the official SDKs use.
                for model in objects_mut(list, "/models") {
                    let model = model.as_object_mut().expect("an object");
                    model.insert("supports_endpoint_sensitivity".into(), false.into());
                    model.insert("supports_endpoint_latency_adjustment".into(), false.into());
                    model.insert("endpoint_latency_adjustment_max_level".into(), 0.into());
                }
            });
        }
        Body::TemporaryApiKey => {
            let (decoded, again) = roundtrip::<TemporaryApiKey>(name, &original, |key| {
                // The same instant; `time` writes the fraction without its trailing zero.
                key["expires_at"] = "2025-02-22T22:47:37.15Z".into();
            });
            assert_eq!(decoded.expires_at, again.expires_at);
            assert_eq!(
                decoded.api_key.expose_secret(),
                again.api_key.expose_secret()
            );
        }
        Body::CreateTemporaryApiKey => {
            let request = roundtrip_eq::<CreateTemporaryApiKey>(name, &original, no_changes);
            assert_eq!(
                request.validate(),
                Ok(()),
                "{name}: the spec's example is valid"
            );
        }
        Body::Error {
            status_code,
            error_type,
        } => {
            let error = roundtrip_eq::<ApiError>(name, &original, no_changes);
            assert_eq!(error.status_code, *status_code, "{name}");
            assert_eq!(error.error_type.as_str(), *error_type, "{name}");
            assert!(
                !error.error_type.is_unknown(),
                "{name}: {error_type} is known"
            );
            assert!(error.request_id.is_some(), "{name}: request_id parsed");
        }
    }
}

#[test]
fn every_fixture_round_trips() {
    for (name, body) in FIXTURES {
        check(name, body);
    }
}

#[test]
fn every_fixture_is_in_the_table() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
        .expect("the fixtures directory exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            path.file_stem()
                .and_then(|stem| stem.to_str())
                .expect("UTF-8 file names")
                .to_owned()
        })
        .collect();
    let listed: BTreeSet<String> = FIXTURES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(
        on_disk, listed,
        "every JSON file in tests/fixtures must be listed in FIXTURES"
    );
}

#[test]
fn transcription_examples_keep_what_the_api_sends() {
    let created: Transcription = serde_json::from_value(fixture("create_transcription_201"))
        .expect("the create example decodes");
    assert_eq!(created.status, TranscriptionStatus::Queued);
    // The schema says null until processing begins; the example says 0. Both are accepted.
    assert_eq!(created.audio_duration_ms, Some(0));
    assert!(
        created
            .webhook_auth_header_value
            .as_ref()
            .is_some_and(|value| value.is_masked())
    );
    // `context` is not in the schema, but the examples carry the legacy string form.
    assert_eq!(
        created.context,
        Some(Context::Text("extra context for the transcription".into()))
    );
    assert_eq!(created.file_id, None);

    let listed: TranscriptionList = serde_json::from_value(fixture("get_transcriptions_200"))
        .expect("the list example decodes");
    let [completed] = listed.transcriptions.as_slice() else {
        panic!("the list example holds one transcription");
    };
    assert_eq!(completed.status, TranscriptionStatus::Completed);
    assert_eq!(completed.audio_duration_ms, Some(16_079));
    // The example's cursor is a placeholder string, but a string nonetheless.
    assert_eq!(listed.next_page_cursor.as_deref(), Some("cursor_or_null"));
}

#[test]
fn models_example_lists_aliases_and_modes() {
    let models: ModelList =
        serde_json::from_value(fixture("get_models_200")).expect("the models example decodes");
    assert_eq!(models.models.len(), 9);
    let alias = models
        .models
        .iter()
        .find(|model| model.id == "stt-async-preview")
        .expect("the example lists stt-async-preview");
    assert_eq!(alias.aliased_model_id.as_deref(), Some("stt-async-v4"));
    assert_eq!(alias.transcription_mode, TranscriptionMode::Async);
    assert!(
        models
            .models
            .iter()
            .all(|model| model.languages.len() == 60)
    );
}

#[test]
fn temporary_key_examples_parse() {
    let request: CreateTemporaryApiKey =
        serde_json::from_value(fixture("create_temporary_api_key_request"))
            .expect("the request example decodes");
    assert_eq!(request.usage_type, TemporaryKeyUsage::TranscribeWebsocket);
    assert_eq!(request.max_session_duration_seconds, Some(120));

    let key: TemporaryApiKey = serde_json::from_value(fixture("create_temporary_api_key_201"))
        .expect("the response example decodes");
    assert!(key.api_key.expose_secret().starts_with("temp:"));
    assert_eq!(key.expires_at.millisecond(), 150);
}
