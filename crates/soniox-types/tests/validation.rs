//! Every documented request limit, at, below and above its bound, and every invalid combination
//! of fields, through one [`check`] helper that compares the violations' locations and error
//! types with the API's own.

use soniox_types::{
    CreateTemporaryApiKey, CreateTranscription, ListParams, Secret, StructuredContext,
    TemporaryKeyUsage, Translation, UploadMetadata, ValidationErrors, Violation, ViolationKind,
    validation::limits,
};

/// A request that can be checked against the documented limits.
trait Request {
    fn violations(self) -> Result<(), ValidationErrors>;
}

impl Request for CreateTranscription {
    fn violations(self) -> Result<(), ValidationErrors> {
        self.validate()
    }
}

impl Request for CreateTemporaryApiKey {
    fn violations(self) -> Result<(), ValidationErrors> {
        self.validate()
    }
}

impl Request for ListParams {
    fn violations(self) -> Result<(), ValidationErrors> {
        self.validate()
    }
}

/// An upload: its form fields and, when known, the file's size in bytes.
struct Upload(UploadMetadata, Option<u64>);

impl Request for Upload {
    fn violations(self) -> Result<(), ValidationErrors> {
        self.0.validate(self.1)
    }
}

/// Asserts that `request` breaks exactly the `expected` rules, given as (location, error type)
/// pairs in the order they are reported; an empty list means the request is valid.
#[track_caller]
fn check(request: impl Request, expected: &[(&str, &str)]) {
    let result = request.violations();
    let violations = result.as_ref().err().map(ValidationErrors::violations);
    if let Some(violations) = violations {
        assert!(!violations.is_empty(), "an error always has a violation");
    }
    let actual: Vec<(&str, &str)> = violations
        .unwrap_or_default()
        .iter()
        .map(|violation| (violation.location(), violation.error_type()))
        .collect();
    assert_eq!(actual, expected);
}

fn by_url() -> CreateTranscription {
    CreateTranscription::new("stt-async-v5").audio_url("https://example.com/audio.mp3")
}

fn repeat(c: char, count: usize) -> String {
    std::iter::repeat_n(c, count).collect()
}

/// An `https` URL exactly `len` characters long, padded with `c`.
fn url(len: usize, c: char) -> String {
    let base = "https://example.com/";
    format!("{base}{}", repeat(c, len - base.len()))
}

const OK: &[(&str, &str)] = &[];
const MODEL_TOO_LONG: &[(&str, &str)] = &[("body.payload.model", "string_too_long")];
const PAYLOAD_RULE: &[(&str, &str)] = &[("body.payload", "value_error")];

#[test]
fn model_length() {
    for (model, expected) in [
        (repeat('m', 31), OK),
        (repeat('m', 32), OK),
        (repeat('m', 33), MODEL_TOO_LONG),
        // Characters, not bytes: 32 two-byte characters are 64 bytes and still fit.
        (repeat('é', 32), OK),
        (repeat('é', 33), MODEL_TOO_LONG),
    ] {
        check(CreateTranscription::new(model).file_id("f1"), expected);
    }
}

#[test]
fn audio_url_length_and_pattern() {
    let too_long = &[("body.payload.audio_url", "string_too_long")];
    let mismatch = &[("body.payload.audio_url", "string_pattern_mismatch")];
    for (audio_url, expected) in [
        (url(4095, 'a'), OK),
        (url(limits::AUDIO_URL_MAX_CHARS, 'a'), OK),
        (url(4097, 'a'), too_long),
        (url(4096, '音'), OK),
        (url(4097, '音'), too_long),
        ("http://example.com/a.wav".to_owned(), OK),
        ("ftp://example.com/a.wav".to_owned(), mismatch),
        ("example.com/a.wav".to_owned(), mismatch),
        ("https://".to_owned(), mismatch),
        ("https://example.com/my file.wav".to_owned(), mismatch),
        ("https://example.com/a.wav\n".to_owned(), mismatch),
        ("https://example.com/\ta.wav".to_owned(), mismatch),
        // The API's pattern is case-sensitive.
        ("HTTPS://example.com/a.wav".to_owned(), mismatch),
        ("".to_owned(), mismatch),
    ] {
        check(
            CreateTranscription::new("stt-async-v5").audio_url(audio_url),
            expected,
        );
    }
    let mut both = vec![("body.payload.audio_url", "string_too_long")];
    both.extend_from_slice(mismatch);
    check(
        CreateTranscription::new("stt-async-v5").audio_url(format!("ftp://{}", repeat('a', 4091))),
        &both,
    );
}

#[test]
fn audio_source_is_exactly_one_of_url_and_file_id() {
    check(CreateTranscription::new("stt-async-v5").file_id("f1"), OK);
    check(by_url(), OK);
    check(by_url().file_id("f1"), PAYLOAD_RULE);
    check(CreateTranscription::new("stt-async-v5"), PAYLOAD_RULE);
    // Every violation is reported at once, in field order.
    check(
        CreateTranscription::new(repeat('m', 33)),
        &[
            ("body.payload.model", "string_too_long"),
            ("body.payload", "value_error"),
        ],
    );
}

#[test]
fn explicit_nulls_are_unset_options() {
    // The official examples send `"file_id": null` next to `audio_url`.
    let request: CreateTranscription = serde_json::from_str(
        r#"{"model":"stt-async-v5","audio_url":"https://example.com/a.mp3","file_id":null,
            "context":null,"translation":null,"webhook_auth_header_name":null,
            "webhook_auth_header_value":null}"#,
    )
    .expect("nulls decode as absent");
    check(request, OK);
}

#[test]
fn language_hints() {
    let hints = |count: usize| (0..count).map(|i| format!("l{i}")).collect::<Vec<_>>();
    check(by_url().language_hints(hints(99)), OK);
    check(
        by_url().language_hints(hints(limits::LANGUAGE_HINTS_MAX_ITEMS)),
        OK,
    );
    check(
        by_url().language_hints(hints(101)),
        &[("body.payload.language_hints", "too_long")],
    );
    check(by_url().language_hints(Vec::<String>::new()), OK);

    let hint_too_long = &[("body.payload.language_hints.1", "string_too_long")];
    for (hint, expected) in [
        (repeat('x', 9), OK),
        (repeat('x', 10), OK),
        (repeat('x', 11), hint_too_long),
        (repeat('ñ', 10), OK),
        (repeat('ñ', 11), hint_too_long),
    ] {
        check(by_url().language_hints(["en".to_owned(), hint]), expected);
    }
}

#[test]
fn translation() {
    check(by_url().translation(Translation::one_way("de")), OK);
    check(by_url().translation(Translation::two_way("en", "es")), OK);

    let mut no_target = Translation::one_way("de");
    no_target.target_language = None;
    check(
        by_url().translation(no_target),
        &[("body.payload.translation.target_language", "missing")],
    );
    check(
        by_url().translation(Translation::one_way("")),
        &[("body.payload.translation.target_language", "missing")],
    );
    check(
        by_url().translation(Translation::one_way(repeat('x', 11))),
        &[(
            "body.payload.translation.target_language",
            "string_too_long",
        )],
    );

    let mut no_b = Translation::two_way("en", "es");
    no_b.language_b = None;
    check(
        by_url().translation(no_b),
        &[("body.payload.translation.language_b", "missing")],
    );
    let mut no_a = Translation::two_way("en", "es");
    no_a.language_a = None;
    check(
        by_url().translation(no_a),
        &[("body.payload.translation.language_a", "missing")],
    );
    let mut neither = Translation::two_way("en", "es");
    neither.language_a = None;
    neither.language_b = None;
    check(
        by_url().translation(neither),
        &[
            ("body.payload.translation.language_a", "missing"),
            ("body.payload.translation.language_b", "missing"),
        ],
    );
}

#[test]
fn translation_missing_fields_from_json() {
    let one_way: CreateTranscription = serde_json::from_str(
        r#"{"model":"stt-async-v5","file_id":"f1","translation":{"type":"one_way"}}"#,
    )
    .expect("decodes; validation is separate");
    check(
        one_way,
        &[("body.payload.translation.target_language", "missing")],
    );
    let two_way: CreateTranscription = serde_json::from_str(
        r#"{"model":"stt-async-v5","file_id":"f1","translation":{"type":"two_way","language_a":"en"}}"#,
    )
    .expect("decodes; validation is separate");
    check(
        two_way,
        &[("body.payload.translation.language_b", "missing")],
    );
}

#[test]
fn legacy_text_context_length() {
    let too_long = &[("body.payload.context", "string_too_long")];
    for (text, expected) in [
        (repeat('c', 9_999), OK),
        (repeat('c', limits::CONTEXT_MAX_CHARS), OK),
        (repeat('c', 10_001), too_long),
        (repeat('ü', 10_000), OK),
        (repeat('ü', 10_001), too_long),
    ] {
        check(by_url().context(text), expected);
    }
}

#[test]
fn structured_context_length_counts_every_section() {
    // 1000 + 2000 + 3000 + 2 × 1000 + 2 × 1000 = 10 000 characters, spread over every section.
    let structured = |extra: usize| {
        StructuredContext::new()
            .general(repeat('k', 1_000), repeat('v', 2_000))
            .text(repeat('t', 3_000 + extra))
            .term(repeat('a', 1_000))
            .term(repeat('b', 1_000))
            .translation_term(repeat('s', 1_000), repeat('ß', 1_000))
    };
    check(by_url().context(structured(0)), OK);
    check(
        by_url().context(structured(1)),
        &[("body.payload.context", "string_too_long")],
    );
    check(by_url().context(StructuredContext::new()), OK);
}

#[test]
fn webhook_url() {
    let too_long = &[("body.payload.webhook_url", "string_too_long")];
    let mismatch = &[("body.payload.webhook_url", "string_pattern_mismatch")];
    let with_query = |len: usize| {
        let base = "https://example.com/hook?customer=";
        format!("{base}{}", repeat('1', len - base.len()))
    };
    for (webhook_url, expected) in [
        (url(255, 'w'), OK),
        (url(limits::WEBHOOK_URL_MAX_CHARS, 'w'), OK),
        (url(257, 'w'), too_long),
        // The query string counts toward the limit.
        (with_query(256), OK),
        (with_query(257), too_long),
        (url(256, 'ü'), OK),
        (url(257, 'ü'), too_long),
        ("mailto:hooks@example.com".to_owned(), mismatch),
        ("https://example.com/hook?a=1 b".to_owned(), mismatch),
        ("/relative/hook".to_owned(), mismatch),
    ] {
        check(by_url().webhook_url(webhook_url), expected);
    }
}

#[test]
fn webhook_auth_header_lengths() {
    let name_too_long = &[("body.payload.webhook_auth_header_name", "string_too_long")];
    for (name, expected) in [
        (repeat('x', 255), OK),
        (repeat('x', limits::WEBHOOK_HEADER_NAME_MAX_CHARS), OK),
        (repeat('x', 257), name_too_long),
    ] {
        check(by_url().webhook_auth(name, "secret"), expected);
    }
    let value_too_long = &[("body.payload.webhook_auth_header_value", "string_too_long")];
    for (value, expected) in [
        (repeat('v', 255), OK),
        (repeat('v', limits::WEBHOOK_HEADER_VALUE_MAX_CHARS), OK),
        (repeat('v', 257), value_too_long),
        // Multibyte values are measured in characters.
        (repeat('é', 256), OK),
        (repeat('é', 257), value_too_long),
    ] {
        check(
            by_url().webhook_auth("X-Soniox-Webhook-Secret", value),
            expected,
        );
    }
}

#[test]
fn webhook_auth_header_name_and_value_go_together() {
    let mut name_only = by_url();
    name_only.webhook_auth_header_name = Some("X-Soniox-Webhook-Secret".into());
    check(name_only, PAYLOAD_RULE);

    let mut value_only = by_url();
    value_only.webhook_auth_header_value = Some(Secret::new("s3cr3t"));
    check(value_only, PAYLOAD_RULE);
}

#[test]
fn webhook_auth_header_name_must_be_a_header_name() {
    let invalid = &[("body.payload.webhook_auth_header_name", "value_error")];
    for (name, expected) in [
        ("X-Soniox-Webhook-Secret", OK),
        ("authorization", OK),
        ("X Soniox", invalid),
        ("X-Secret:", invalid),
        ("X-Secret\n", invalid),
        ("Ünïcode", invalid),
        ("", invalid),
    ] {
        check(by_url().webhook_auth(name, "s3cr3t"), expected);
    }
}

#[test]
fn webhook_auth_header_value_must_be_a_header_value() {
    let invalid = &[("body.payload.webhook_auth_header_value", "value_error")];
    for (value, expected) in [
        ("Bearer abc.def-123", OK),
        ("s3cr3t\n", invalid),
        ("s3cr3t\r\nX-Injected: 1", invalid),
        ("s3\u{0}cr3t", invalid),
        ("s3\u{1}cr3t", invalid),
        ("s3cr3t\u{7f}", invalid),
        // Valid in HTTP, but no receiver can tell it from a missing header.
        ("", invalid),
        (Secret::MASKED, invalid),
        ("*****************", OK),
    ] {
        check(
            by_url().webhook_auth("X-Soniox-Webhook-Secret", value),
            expected,
        );
    }
}

#[test]
fn client_reference_id_length() {
    let too_long = &[("body.payload.client_reference_id", "string_too_long")];
    for (id, expected) in [
        (repeat('r', 255), OK),
        (repeat('r', limits::CLIENT_REFERENCE_ID_MAX_CHARS), OK),
        (repeat('r', 257), too_long),
        (repeat('р', 256), OK),
        (repeat('р', 257), too_long),
    ] {
        check(by_url().client_reference_id(id), expected);
    }
}

#[test]
fn violations_never_show_the_webhook_secret() {
    const SECRET: &str = "hunter2-do-not-print";
    let cases = [
        by_url().webhook_auth("X-Soniox-Webhook-Secret", format!("{SECRET}\n")),
        by_url().webhook_auth("X-Soniox-Webhook-Secret", SECRET.repeat(20)),
        by_url().webhook_auth("Bad Name", SECRET),
    ];
    for request in cases {
        assert!(!format!("{request:?}").contains(SECRET));
        let error = request.validate().expect_err("each case is invalid");
        let details = serde_json::to_string(&error.to_details()).expect("details encode");
        for shown in [format!("{error}"), format!("{error:?}"), details] {
            assert!(!shown.contains("hunter2"), "the secret leaked: {shown}");
        }
        for violation in error.violations() {
            assert!(!violation.to_string().contains("hunter2"));
            assert!(!violation.message().contains("hunter2"));
        }
    }
}

#[test]
fn violations_read_like_the_api() {
    let error = CreateTranscription::new(repeat('m', 33))
        .file_id("f1")
        .validate()
        .expect_err("the model is too long");
    assert_eq!(
        serde_json::to_value(error.to_details()).expect("details encode"),
        serde_json::json!([{
            "error_type": "string_too_long",
            "location": "body.payload.model",
            "message": "String should have at most 32 characters"
        }])
    );
    assert!(error.has("body.payload.model"));
    assert_eq!(
        error.to_string(),
        "invalid request: body.payload.model: String should have at most 32 characters"
    );
}

#[test]
fn temporary_key_expiry() {
    let usage = TemporaryKeyUsage::TranscribeWebsocket;
    for (seconds, expected) in [
        (
            0,
            &[("body.payload.expires_in_seconds", "greater_than_equal")][..],
        ),
        (1, OK),
        (2, OK),
        (3_599, OK),
        (3_600, OK),
        (
            3_601,
            &[("body.payload.expires_in_seconds", "less_than_equal")],
        ),
        (
            u32::MAX,
            &[("body.payload.expires_in_seconds", "less_than_equal")],
        ),
    ] {
        check(CreateTemporaryApiKey::new(usage.clone(), seconds), expected);
    }
}

#[test]
fn temporary_key_session_cap() {
    let key = || CreateTemporaryApiKey::new(TemporaryKeyUsage::TranscribeWebsocket, 300);
    for (seconds, expected) in [
        (
            0,
            &[(
                "body.payload.max_session_duration_seconds",
                "greater_than_equal",
            )][..],
        ),
        (1, OK),
        (17_999, OK),
        (18_000, OK),
        (
            18_001,
            &[(
                "body.payload.max_session_duration_seconds",
                "less_than_equal",
            )],
        ),
    ] {
        check(key().max_session_duration_seconds(seconds), expected);
    }
}

#[test]
fn temporary_key_client_reference_id_and_order() {
    let key = || CreateTemporaryApiKey::new(TemporaryKeyUsage::TtsRt, 300);
    check(key().client_reference_id(repeat('r', 256)), OK);
    check(
        key().client_reference_id(repeat('r', 257)),
        &[("body.payload.client_reference_id", "string_too_long")],
    );
    check(
        CreateTemporaryApiKey::new(TemporaryKeyUsage::TtsRt, 0)
            .client_reference_id(repeat('r', 257))
            .max_session_duration_seconds(0),
        &[
            ("body.payload.expires_in_seconds", "greater_than_equal"),
            ("body.payload.client_reference_id", "string_too_long"),
            (
                "body.payload.max_session_duration_seconds",
                "greater_than_equal",
            ),
        ],
    );
}

#[test]
fn list_limit() {
    for (limit, expected) in [
        (0, &[("query.limit", "greater_than_equal")][..]),
        (1, OK),
        (2, OK),
        (999, OK),
        (1_000, OK),
        (1_001, &[("query.limit", "less_than_equal")]),
    ] {
        check(ListParams::new().limit(limit), expected);
    }
    check(ListParams::new(), OK);
    check(ListParams::new().cursor(""), OK);
}

#[test]
fn upload_metadata_and_file_size() {
    let too_large = &[("file.file", "value_error")];
    for (size, expected) in [
        (None, OK),
        (Some(1), OK),
        (Some(limits::FILE_MAX_BYTES - 1), OK),
        (Some(limits::FILE_MAX_BYTES), OK),
        (Some(limits::FILE_MAX_BYTES + 1), too_large),
        (Some(u64::MAX), too_large),
    ] {
        check(Upload(UploadMetadata::new(), size), expected);
    }
    check(
        Upload(
            UploadMetadata::new().client_reference_id(repeat('r', 256)),
            None,
        ),
        OK,
    );
    check(
        Upload(
            UploadMetadata::new().client_reference_id(repeat('r', 257)),
            Some(limits::FILE_MAX_BYTES + 1),
        ),
        &[
            ("file.client_reference_id", "string_too_long"),
            ("file.file", "value_error"),
        ],
    );
}

#[test]
fn violations_built_outside_the_crate() {
    assert_eq!(ValidationErrors::from_violations(Vec::new()), None);
    let violation = Violation::new(
        "body.payload.webhook_url",
        ViolationKind::TooLong {
            max: limits::WEBHOOK_URL_MAX_CHARS,
        },
    );
    let errors = ValidationErrors::from_violations(vec![violation.clone()]).expect("one violation");
    assert_eq!(errors.violations(), [violation]);
    assert!(errors.has("body.payload.webhook_url"));
    assert_eq!(errors.violations()[0].error_type(), "string_too_long");
}
