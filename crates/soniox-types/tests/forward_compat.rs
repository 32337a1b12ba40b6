//! Responses from a newer (or older) API must still decode: unknown fields and enum values,
//! missing optional fields, and the variations the real API shows where the spec is stricter.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use soniox_types::{
    ApiError, ApiErrorType, Count, File, FileList, Model, ModelList, OffsetDateTime,
    TemporaryApiKey, TemporaryKeyUsage, Token, Transcript, Transcription, TranscriptionList,
    TranscriptionMode, TranscriptionStatus, TranslationStatus, WebhookEvent, WebhookStatus,
};
use time::macros::datetime;

#[track_caller]
fn decode<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|error| panic!("does not decode: {error}"))
}

/// Adds an unknown field of every JSON kind to `object`.
fn with_unknown_fields(mut object: Value) -> Value {
    let map = object.as_object_mut().expect("an object");
    map.insert("added_later".into(), json!("x"));
    map.insert("added_later_number".into(), json!(1.5));
    map.insert("added_later_null".into(), Value::Null);
    map.insert(
        "added_later_object".into(),
        json!({"nested": [1, {"deep": true}]}),
    );
    object
}

fn minimal_transcription() -> Value {
    json!({
        "id": "73d4357d-cad2-4338-a60d-ec6f2044f721",
        "status": "queued",
        "created_at": "2026-11-27T02:40:00Z",
        "model": "stt-async-v5",
        "filename": "a.mp3"
    })
}

fn file_value() -> Value {
    json!({
        "id": "84c32fc6-4fb5-4e7a-b656-b5ec70493753",
        "filename": "a.mp3",
        "size": 42,
        "created_at": "2026-11-27T02:40:00Z"
    })
}

fn model() -> Value {
    json!({"id": "stt-async-v5", "name": "Async v5", "transcription_mode": "async"})
}

#[test]
fn unknown_fields_are_ignored_everywhere() {
    let transcription: Transcription = decode(with_unknown_fields(minimal_transcription()));
    assert_eq!(transcription.filename, "a.mp3");

    let list: TranscriptionList = decode(with_unknown_fields(json!({
        "transcriptions": [with_unknown_fields(minimal_transcription())],
        "next_page_cursor": null
    })));
    assert_eq!(list.transcriptions.len(), 1);

    let files: FileList = decode(with_unknown_fields(json!({
        "files": [with_unknown_fields(file_value())]
    })));
    assert_eq!(files.files[0].size, 42);

    let value = with_unknown_fields(json!({
        "id": "t1",
        "text": "Hi",
        "tokens": [with_unknown_fields(json!({"text": "Hi", "start_ms": 0, "end_ms": 5, "confidence": 0.9}))]
    }));
    let bytes = serde_json::to_vec(&value).expect("encodes");
    let transcript: Transcript = decode(value);
    assert_eq!(transcript.tokens[0].text, "Hi");
    let fast = Transcript::from_json(&bytes).expect("the client's decoder skips them too");
    assert_eq!(fast, transcript);

    let models: ModelList = decode(with_unknown_fields(json!({
        "models": [with_unknown_fields(json!({
            "id": "stt-async-v5",
            "name": "Async v5",
            "transcription_mode": "async",
            "languages": [with_unknown_fields(json!({"code": "en", "name": "English"}))],
            "translation_targets": [with_unknown_fields(json!({"target_language": "de"}))]
        }))]
    })));
    assert_eq!(models.models[0].languages[0].code, "en");

    let error: ApiError = decode(with_unknown_fields(json!({
        "status_code": 400,
        "error_type": "invalid_request",
        "message": "Invalid request.",
        "validation_errors": [with_unknown_fields(json!({
            "error_type": "missing", "location": "file.file", "message": "Field required"
        }))],
        "request_id": "r1"
    })));
    assert_eq!(error.validation_errors[0].location, "file.file");

    let count: Count = decode(with_unknown_fields(
        json!({"total": 3, "public_api": 2, "playground": 1}),
    ));
    assert_eq!(count, Count::new(3, 2, 1));

    let key: TemporaryApiKey = decode(with_unknown_fields(
        json!({"api_key": "temp:abc", "expires_at": "2026-11-27T02:40:00Z"}),
    ));
    assert_eq!(key.api_key.expose_secret(), "temp:abc");

    let event: WebhookEvent = decode(with_unknown_fields(json!({"id": "t1", "status": "error"})));
    assert_eq!(event.status, WebhookStatus::Error);
}

/// Decodes `wire` as an open enum and checks that it displays, encodes and parses verbatim.
#[track_caller]
fn check_unknown<E>(wire: &str)
where
    E: DeserializeOwned + Serialize + std::fmt::Display + std::str::FromStr,
{
    let value: E = decode(json!(wire));
    assert_eq!(value.to_string(), wire);
    assert_eq!(
        serde_json::to_string(&value).expect("enums encode"),
        format!("\"{wire}\"")
    );
    let Ok(parsed) = wire.parse::<E>() else {
        panic!("FromStr is infallible");
    };
    assert_eq!(parsed.to_string(), wire);
}

#[test]
fn unknown_enum_values_round_trip_verbatim() {
    check_unknown::<TranscriptionStatus>("archived");
    check_unknown::<WebhookStatus>("partially_completed");
    check_unknown::<TranslationStatus>("summary");
    check_unknown::<ApiErrorType>("quota_exceeded");
    check_unknown::<TranscriptionMode>("batch");
    check_unknown::<TemporaryKeyUsage>("transcribe_async");

    assert!(TranscriptionStatus::from("archived").is_unknown());
    assert!(!TranscriptionStatus::from("archived").is_terminal());
    assert!(WebhookStatus::from("partially_completed").is_unknown());
    assert!(TranslationStatus::from("summary").is_unknown());
    assert!(ApiErrorType::from("quota_exceeded").is_unknown());
    assert!(TranscriptionMode::from("batch").is_unknown());
    assert!(TemporaryKeyUsage::from("transcribe_async").is_unknown());
    // Values differing from a known one only in case are not that value.
    assert!(TranscriptionStatus::from("Completed").is_unknown());
}

#[test]
fn unknown_enum_values_inside_responses() {
    let mut value = minimal_transcription();
    value["status"] = json!("archived");
    let transcription: Transcription = decode(value);
    assert_eq!(
        transcription.status,
        TranscriptionStatus::Unknown("archived".into())
    );
    assert_eq!(
        serde_json::to_value(&transcription).expect("encodes")["status"],
        "archived"
    );

    let event: WebhookEvent = decode(json!({"id": "t1", "status": "cancelled"}));
    assert_eq!(
        serde_json::to_string(&event).expect("encodes"),
        r#"{"id":"t1","status":"cancelled"}"#
    );

    let token: Token = decode(json!({"text": "x", "translation_status": "summary"}));
    assert_eq!(
        token.translation_status,
        Some(TranslationStatus::Unknown("summary".into()))
    );
    assert!(!token.is_translation());

    let mut model_value = model();
    model_value["transcription_mode"] = json!("batch");
    let model: Model = decode(model_value);
    assert!(model.transcription_mode.is_unknown());

    let error: ApiError = decode(json!({
        "status_code": 418, "error_type": "teapot", "message": "short and stout",
        "validation_errors": [], "request_id": null
    }));
    assert_eq!(error.error_type.as_str(), "teapot");
    assert_eq!(error.to_string(), "418 teapot: short and stout");
}

#[test]
fn every_known_enum_value_round_trips() {
    fn known<E: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(values: &[E]) {
        for value in values {
            let encoded = serde_json::to_value(value).expect("enums encode");
            assert_eq!(&decode::<E>(encoded), value);
        }
    }
    known(TranscriptionStatus::KNOWN);
    known(WebhookStatus::KNOWN);
    known(TranslationStatus::KNOWN);
    known(ApiErrorType::KNOWN);
    known(TranscriptionMode::KNOWN);
    known(TemporaryKeyUsage::KNOWN);
    assert!(ApiErrorType::KNOWN.iter().all(|value| !value.is_unknown()));
}

#[test]
fn missing_optional_fields() {
    let transcription: Transcription = decode(minimal_transcription());
    assert_eq!(transcription.audio_url, None);
    assert_eq!(transcription.file_id, None);
    assert_eq!(transcription.language_hints, None);
    assert!(!transcription.enable_speaker_diarization);
    assert!(!transcription.enable_language_identification);
    assert_eq!(transcription.audio_duration_ms, None);
    assert_eq!(transcription.webhook_status_code, None);
    assert!(transcription.webhook_auth_header_value.is_none());
    assert_eq!(transcription.context, None);

    let list: TranscriptionList = decode(json!({"transcriptions": []}));
    assert_eq!(list.next_page_cursor, None);

    let file: File = decode(file_value());
    assert_eq!(file.client_reference_id, None);
    let files: FileList = decode(json!({"files": [file_value()]}));
    assert_eq!(files.next_page_cursor, None);

    // A translation token has no timestamps; a bare token has nothing but its text.
    let token: Token = decode(json!({"text": " Hallo"}));
    assert_eq!(token.start_ms, None);
    assert_eq!(token.end_ms, None);
    assert_eq!(token.speaker, None);
    assert!(token.confidence.abs() < f64::EPSILON);
    let encoded = serde_json::to_value(&token).expect("encodes");
    assert_eq!(encoded, json!({"text": " Hallo", "confidence": 0.0}));

    let model: Model = decode(model());
    assert_eq!(model.aliased_model_id, None);
    assert!(model.languages.is_empty());
    assert!(!model.supports_endpoint_sensitivity);
    assert_eq!(model.endpoint_latency_adjustment_max_level, 0);

    let error: ApiError = decode(json!({
        "status_code": 500, "error_type": "internal_error", "message": "boom"
    }));
    assert!(error.validation_errors.is_empty());
    assert_eq!(error.request_id, None);
    assert_eq!(error.more_info, None);
}

#[test]
fn audio_duration_ms_zero_and_null() {
    for (duration, expected) in [
        (json!(0), Some(0)),
        (Value::Null, None),
        (json!(16_079), Some(16_079)),
    ] {
        let mut value = minimal_transcription();
        value["audio_duration_ms"] = duration;
        let transcription: Transcription = decode(value);
        assert_eq!(transcription.audio_duration_ms, expected);
    }
}

#[test]
fn masked_webhook_header_value() {
    let mut value = minimal_transcription();
    value["webhook_auth_header_name"] = json!("Authorization");
    value["webhook_auth_header_value"] = json!("******************");
    let transcription: Transcription = decode(value);
    let secret = transcription
        .webhook_auth_header_value
        .as_ref()
        .expect("the masked value is kept");
    assert!(secret.is_masked());
    assert_eq!(
        serde_json::to_value(&transcription).expect("encodes")["webhook_auth_header_value"],
        "******************"
    );

    // Only the exact 18-asterisk form is the mask.
    let mut value = minimal_transcription();
    value["webhook_auth_header_value"] = json!("*****");
    let transcription: Transcription = decode(value);
    assert!(
        !transcription
            .webhook_auth_header_value
            .expect("a value")
            .is_masked()
    );
}

#[test]
fn timestamps_with_and_without_fractions_and_offsets() {
    for (wire, expected) in [
        ("2024-11-26T00:00:00Z", datetime!(2024-11-26 00:00:00 UTC)),
        (
            "2025-02-22T22:47:37.150Z",
            datetime!(2025-02-22 22:47:37.15 UTC),
        ),
        (
            "2025-02-22T22:47:37.123456789Z",
            datetime!(2025-02-22 22:47:37.123456789 UTC),
        ),
        (
            "2024-11-26T02:00:00+02:00",
            datetime!(2024-11-26 00:00:00 UTC),
        ),
        (
            "2024-11-25T19:30:00-04:30",
            datetime!(2024-11-26 00:00:00 UTC),
        ),
        (
            "2024-11-26T00:00:00.5+00:00",
            datetime!(2024-11-26 00:00:00.5 UTC),
        ),
    ] {
        let mut value = file_value();
        value["created_at"] = json!(wire);
        let file: File = decode(value);
        assert_eq!(file.created_at, expected, "{wire}");
        let key: TemporaryApiKey = decode(json!({"api_key": "temp:x", "expires_at": wire}));
        assert_eq!(key.expires_at, expected, "{wire}");
    }
}

#[test]
fn timestamps_encode_as_rfc3339() {
    let encode = |at: OffsetDateTime| {
        let file = File::new("f1".into(), "a.mp3", 1, at);
        serde_json::to_value(&file).expect("encodes")["created_at"].clone()
    };
    assert_eq!(
        encode(datetime!(2024-11-26 00:00:00 UTC)),
        "2024-11-26T00:00:00Z"
    );
    assert_eq!(
        encode(datetime!(2025-02-22 22:47:37.15 UTC)),
        "2025-02-22T22:47:37.15Z"
    );
    // An offset is kept as given, so the instant survives a round trip.
    assert_eq!(
        encode(datetime!(2024-11-26 02:00:00 +2)),
        "2024-11-26T02:00:00+02:00"
    );
}

#[test]
fn invalid_timestamps_are_errors_not_panics() {
    for wire in [
        "",
        "yesterday",
        "2024-11-26",
        "2024-13-26T00:00:00Z",
        "2024-11-26 00:00:00",
    ] {
        let mut value = file_value();
        value["created_at"] = json!(wire);
        assert!(serde_json::from_value::<File>(value).is_err(), "{wire}");
    }
}

#[test]
fn websocket_style_error_body() {
    let error: ApiError = decode(json!({
        "error_code": 401,
        "error_type": "unauthenticated",
        "error_message": "Invalid API key.",
        "more_info": "https://soniox.com/docs/api-reference/errors#unauthenticated",
        "request_id": "3d37a3bd-5078-47ee-a369-b204e3bbedda"
    }));
    assert_eq!(error.status_code, 401);
    assert_eq!(error.error_type, ApiErrorType::Unauthenticated);
    assert_eq!(error.message, "Invalid API key.");
    assert!(error.validation_errors.is_empty());

    // Real-time error frames carry an empty token list as well.
    let frame: ApiError = decode(json!({
        "tokens": [],
        "error_code": 503,
        "error_type": "service_unavailable",
        "error_message": "Cannot continue request."
    }));
    assert_eq!(frame.status_code, 503);
    assert_eq!(frame.request_id, None);
}

#[test]
fn wrong_shapes_are_errors_not_panics() {
    for value in [
        json!(null),
        json!([]),
        json!("queued"),
        json!({"id": 5, "status": "completed"}),
        json!({"id": "t1", "status": 1}),
        json!({"id": "t1"}),
    ] {
        assert!(serde_json::from_value::<WebhookEvent>(value).is_err());
    }
    let mut value = minimal_transcription();
    value["audio_duration_ms"] = json!(-1);
    assert!(serde_json::from_value::<Transcription>(value).is_err());
    let mut value = minimal_transcription();
    value["webhook_status_code"] = json!(70_000);
    assert!(serde_json::from_value::<Transcription>(value).is_err());
}

#[test]
fn unknown_context_shape_does_not_fail_a_transcription() {
    let mut value = minimal_transcription();
    value["context"] = json!(42);
    let transcription: Transcription = decode(value);
    assert_eq!(transcription.context, None);

    let mut value = minimal_transcription();
    value["context"] = json!({"general": [{"key": "domain", "value": "law"}], "future": 1});
    let transcription: Transcription = decode(value);
    assert!(transcription.context.is_some());
}
