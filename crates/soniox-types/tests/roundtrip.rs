//! Property tests: every main wire type survives encode → decode unchanged, and generated valid
//! requests pass `validate()`.

use std::fmt::Debug;

use proptest::{collection::vec, option, prelude::*, sample::select};
use serde::{Serialize, de::DeserializeOwned};
use soniox_types::{
    ApiError, ApiErrorType, CompactString, Context, CreateTranscription, File, FileId, FileList,
    Model, ModelLanguage, OffsetDateTime, Secret, StructuredContext, Token, Transcript,
    Transcription, TranscriptionId, TranscriptionMode, TranscriptionStatus, Translation,
    TranslationStatus, ValidationErrorDetail, WebhookEvent, WebhookStatus,
};
use time::{Duration, UtcOffset};

/// Encodes `value`, decodes it back, and returns the decoded value with the first encoding.
fn reencode<T: Serialize + DeserializeOwned>(value: &T) -> Result<(T, serde_json::Value), String> {
    let encoded = serde_json::to_value(value).map_err(|error| error.to_string())?;
    let decoded = serde_json::from_value(encoded.clone()).map_err(|error| error.to_string())?;
    Ok((decoded, encoded))
}

/// For types with `PartialEq`: the decoded value equals the original.
fn assert_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let (decoded, _) = reencode(value).map_err(TestCaseError::fail)?;
    prop_assert_eq!(&decoded, value);
    Ok(())
}

/// For types without `PartialEq` (they hold a [`Secret`], which deliberately has none): the
/// decoded value encodes to the same JSON.
fn assert_json_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned,
{
    let (decoded, encoded) = reencode(value).map_err(TestCaseError::fail)?;
    let again =
        serde_json::to_value(&decoded).map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!(again, encoded);
    Ok(())
}

/// Any short string without control characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("\\PC{{0,{max}}}")).expect("a valid regex")
}

/// A known value of an open enum, or an unknown one that must survive verbatim.
fn open_enum<E>(known: &'static [E]) -> impl Strategy<Value = E>
where
    E: Clone + Debug + for<'a> From<&'a str> + 'static,
{
    prop_oneof![
        select(known),
        "[a-z_]{1,16}".prop_map(|wire| E::from(wire.as_str())),
    ]
}

/// Any instant from 1970 to 9998 at any whole-minute offset RFC 3339 can write.
fn timestamp() -> impl Strategy<Value = OffsetDateTime> {
    (
        0i64..253_370_764_800,
        0i64..1_000_000_000,
        -1_439i32..=1_439,
    )
        .prop_map(|(seconds, nanos, offset_minutes)| {
            let offset =
                UtcOffset::from_whole_seconds(offset_minutes * 60).expect("within ±24 hours");
            (OffsetDateTime::from_unix_timestamp(seconds).expect("in range")
                + Duration::nanoseconds(nanos))
            .to_offset(offset)
        })
}

/// A confidence in 0..=1 with at most four decimals. serde_json's default float parser is
/// exact only for short decimals, and the API sends two or three.
fn confidence() -> impl Strategy<Value = f64> {
    (0u32..=10_000).prop_map(|n| f64::from(n) / 10_000.0)
}

fn token() -> impl Strategy<Value = Token> {
    (
        text(12),
        option::of(0u64..10_000_000),
        option::of(0u64..10_000_000),
        confidence(),
        option::of("[1-9]"),
        option::of("[a-z]{2}"),
        option::of(open_enum(TranslationStatus::KNOWN)),
        option::of("[a-z]{2}"),
        option::of(any::<bool>()),
    )
        .prop_map(
            |(text, start, end, confidence, speaker, language, status, source, event)| {
                let mut token = Token::spoken(text, 0, 0, confidence);
                token.start_ms = start;
                token.end_ms = end;
                token.speaker = speaker.map(CompactString::from);
                token.language = language.map(CompactString::from);
                token.translation_status = status;
                token.source_language = source.map(CompactString::from);
                token.is_audio_event = event;
                token
            },
        )
}

fn transcript() -> impl Strategy<Value = Transcript> {
    (text(36), text(200), vec(token(), 0..40))
        .prop_map(|(id, text, tokens)| Transcript::new(TranscriptionId::new(id), text, tokens))
}

fn file() -> impl Strategy<Value = File> {
    (
        text(36),
        text(40),
        any::<u64>(),
        timestamp(),
        option::of(text(256)),
    )
        .prop_map(|(id, filename, size, created_at, reference)| {
            let mut file = File::new(FileId::new(id), filename, size, created_at);
            file.client_reference_id = reference;
            file
        })
}

fn context() -> impl Strategy<Value = Context> {
    prop_oneof![
        text(200).prop_map(Context::Text),
        (
            vec((text(20), text(40)), 0..4),
            option::of(text(200)),
            vec(text(20), 0..4),
            vec((text(20), text(20)), 0..4),
        )
            .prop_map(|(general, text, terms, translations)| {
                let mut context = StructuredContext::new();
                for (key, value) in general {
                    context = context.general(key, value);
                }
                if let Some(text) = text {
                    context = context.text(text);
                }
                for term in terms {
                    context = context.term(term);
                }
                for (source, target) in translations {
                    context = context.translation_term(source, target);
                }
                Context::Structured(context)
            }),
    ]
}

fn transcription() -> impl Strategy<Value = Transcription> {
    let identity = (
        text(36),
        open_enum(TranscriptionStatus::KNOWN),
        timestamp(),
        text(32),
        text(60),
    );
    let source = (
        option::of(text(100)),
        option::of(text(36)),
        option::of(vec("[a-z]{2}", 0..5)),
        any::<bool>(),
        any::<bool>(),
        option::of(any::<u64>()),
    );
    let outcome = (
        option::of(text(30)),
        option::of(text(60)),
        option::of(text(100)),
        option::of(text(30)),
        option::of(prop_oneof![Just(Secret::MASKED.to_owned()), text(30)]),
        option::of(any::<u16>()),
        option::of(text(60)),
        option::of(context()),
    );
    (identity, source, outcome).prop_map(
        |(
            (id, status, created_at, model, filename),
            (audio_url, file_id, hints, diarization, identification, duration),
            (error_type, error_message, webhook_url, header, value, code, reference, context),
        )| {
            let mut transcription = Transcription::new(
                TranscriptionId::new(id),
                status,
                created_at,
                model,
                filename,
            );
            transcription.audio_url = audio_url;
            transcription.file_id = file_id.map(FileId::new);
            transcription.language_hints = hints;
            transcription.enable_speaker_diarization = diarization;
            transcription.enable_language_identification = identification;
            transcription.audio_duration_ms = duration;
            transcription.error_type = error_type;
            transcription.error_message = error_message;
            transcription.webhook_url = webhook_url;
            transcription.webhook_auth_header_name = header;
            transcription.webhook_auth_header_value = value.map(Secret::new);
            transcription.webhook_status_code = code;
            transcription.client_reference_id = reference;
            transcription.context = context;
            transcription
        },
    )
}

fn api_error() -> impl Strategy<Value = ApiError> {
    (
        any::<u16>(),
        open_enum(ApiErrorType::KNOWN),
        text(120),
        vec((text(20), text(40), text(60)), 0..4),
        option::of(text(36)),
        any::<bool>(),
    )
        .prop_map(
            |(status, error_type, message, details, request_id, more_info)| {
                let details = details
                    .into_iter()
                    .map(|(kind, location, message)| {
                        ValidationErrorDetail::new(kind, location, message)
                    })
                    .collect();
                let mut error =
                    ApiError::new(status, error_type, message).validation_errors(details);
                error.request_id = request_id;
                if !more_info {
                    error.more_info = None;
                }
                error
            },
        )
}

fn model() -> impl Strategy<Value = Model> {
    (
        (
            text(32),
            text(60),
            open_enum(TranscriptionMode::KNOWN),
            option::of(text(32)),
        ),
        (
            option::of(any::<u32>()),
            vec(("[a-z]{2}", text(20)), 0..6),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            vec("[a-z]{2}:[a-z]{2}", 0..4),
            option::of(text(16)),
            option::of(text(16)),
        ),
        (any::<bool>(), any::<bool>(), any::<u32>()),
    )
        .prop_map(
            |(
                (id, name, mode, alias),
                (context_version, languages, strict, delay),
                (pairs, one_way, two_way),
                (sensitivity, latency, level),
            )| {
                let mut model = Model::new(id, name, mode);
                model.aliased_model_id = alias;
                model.context_version = context_version;
                model.languages = languages
                    .into_iter()
                    .map(|(code, name)| ModelLanguage::new(code, name))
                    .collect();
                model.supports_language_hints_strict = strict;
                model.supports_max_endpoint_delay = delay;
                model.two_way_translation_pairs = pairs;
                model.one_way_translation = one_way;
                model.two_way_translation = two_way;
                model.supports_endpoint_sensitivity = sensitivity;
                model.supports_endpoint_latency_adjustment = latency;
                model.endpoint_latency_adjustment_max_level = level;
                model
            },
        )
}

/// A non-empty string of at most `max` characters, none of them a control character.
fn visible(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("\\PC{{1,{max}}}")).expect("a valid regex")
}

/// An `http(s)` URL of at most `max` characters without whitespace.
fn http_url(max: usize) -> impl Strategy<Value = String> {
    (
        select(&["http://", "https://"][..]),
        proptest::string::string_regex(&format!("[!-~]{{1,{}}}", max - "https://".len()))
            .expect("a valid regex"),
    )
        .prop_map(|(scheme, rest)| format!("{scheme}{rest}"))
}

/// Every builder option, each set or not, within the documented limits.
fn valid_request() -> impl Strategy<Value = Result<CreateTranscription, String>> {
    let translation = prop_oneof![
        visible(10).prop_map(Translation::one_way),
        (visible(10), visible(10)).prop_map(|(a, b)| Translation::two_way(a, b)),
    ];
    let audio = prop_oneof![
        http_url(4096).prop_map(|url| (Some(url), None)),
        text(36).prop_map(|id| (None, Some(id))),
    ];
    (
        (text(32), audio, option::of(vec(text(10), 0..=100))),
        (
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
        ),
        (option::of(translation), option::of(context())),
        (
            option::of(http_url(256)),
            option::of(("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}", "[!-~][ -~]{0,255}")),
            option::of(text(256)),
        ),
    )
        .prop_map(
            |(
                (model, (audio_url, file_id), hints),
                (strict, diarization, identification),
                (translation, context),
                (webhook_url, auth, reference),
            )| {
                let mut builder = CreateTranscription::new(model);
                if let Some(url) = audio_url {
                    builder = builder.audio_url(url);
                }
                if let Some(id) = file_id {
                    builder = builder.file_id(id.as_str());
                }
                if let Some(hints) = hints {
                    builder = builder.language_hints(hints);
                }
                if let Some(strict) = strict {
                    builder = builder.language_hints_strict(strict);
                }
                if let Some(enable) = diarization {
                    builder = builder.speaker_diarization(enable);
                }
                if let Some(enable) = identification {
                    builder = builder.language_identification(enable);
                }
                if let Some(translation) = translation {
                    builder = builder.translation(translation);
                }
                if let Some(context) = context {
                    builder = builder.context(context);
                }
                if let Some(url) = webhook_url {
                    builder = builder.webhook_url(url);
                }
                if let Some((name, value)) = auth {
                    builder = builder.webhook_auth(name, value);
                }
                if let Some(reference) = reference {
                    builder = builder.client_reference_id(reference);
                }
                builder.validate().map_err(|error| error.to_string())?;
                Ok(builder)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn transcription_round_trips(transcription in transcription()) {
        assert_json_round_trip(&transcription)?;
    }

    #[test]
    fn transcript_round_trips(transcript in transcript()) {
        assert_round_trip(&transcript)?;
    }

    #[test]
    fn token_round_trips(token in token()) {
        assert_round_trip(&token)?;
    }

    #[test]
    fn file_round_trips(file in file()) {
        assert_round_trip(&file)?;
    }

    #[test]
    fn file_list_round_trips(files in vec(file(), 0..5), cursor in option::of(text(40))) {
        assert_round_trip(&FileList::new(files, cursor))?;
    }

    #[test]
    fn webhook_event_round_trips(id in text(36), status in open_enum(WebhookStatus::KNOWN)) {
        assert_round_trip(&WebhookEvent::new(TranscriptionId::new(id), status))?;
    }

    #[test]
    fn api_error_round_trips(error in api_error()) {
        assert_round_trip(&error)?;
    }

    #[test]
    fn model_round_trips(model in model()) {
        assert_round_trip(&model)?;
    }

    #[test]
    fn valid_requests_build_validate_and_round_trip(request in valid_request()) {
        let request = request.map_err(TestCaseError::fail)?;
        prop_assert_eq!(request.validate(), Ok(()));
        assert_json_round_trip(&request)?;
        let (decoded, _) = reencode(&request).map_err(TestCaseError::fail)?;
        prop_assert_eq!(decoded.validate(), Ok(()));
    }
}
