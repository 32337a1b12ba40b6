//! `client.transcriptions()`, models, temporary keys and error mapping against the emulator.

mod common;

use std::collections::HashSet;

use futures_util::{StreamExt, TryStreamExt, stream};
use soniox_client::{Client, Error, RetryPolicy, Upload, types::ApiErrorType};
use soniox_emulator::{FaultAction, FaultRule, Quotas};
use soniox_types::{
    CreateTemporaryApiKey, CreateTranscription, ListParams, StructuredContext, TemporaryKeyUsage,
    TranscriptionId, TranscriptionStatus, Translation,
};

use common::{KEY, client, client_builder, emulator, job_for, start, url_request, wav};

#[tokio::test]
async fn create_sends_every_request_field() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let file = client
        .files()
        .upload(Upload::bytes(wav(300), "speech.wav"))
        .await
        .expect("upload");
    let context = StructuredContext::new()
        .general("domain", "medicine")
        .text("A cardiology consultation.")
        .term("myocardial infarction")
        .translation_term("heart", "Herz");
    let request = CreateTranscription::new("stt-async-v5")
        .file_id(file.id.clone())
        .language_hints(["en", "de"])
        .language_hints_strict(true)
        .speaker_diarization(true)
        .language_identification(true)
        .translation(Translation::one_way("de"))
        .context(context)
        .webhook_url("http://127.0.0.1:9/hook?a=1")
        .webhook_auth("X-Hook-Secret", "hook-secret-value")
        .client_reference_id("order-7");

    let created = client
        .transcriptions()
        .create(&request)
        .await
        .expect("create");
    assert_eq!(created.status, TranscriptionStatus::Queued);
    assert_eq!(created.model, "stt-async-v5");
    assert_eq!(created.file_id.as_ref(), Some(&file.id));
    assert_eq!(created.audio_url, None);
    assert_eq!(created.filename, "speech.wav");
    assert_eq!(
        created.language_hints,
        Some(vec!["en".to_owned(), "de".to_owned()])
    );
    assert!(created.enable_speaker_diarization);
    assert!(created.enable_language_identification);
    assert_eq!(
        created.webhook_url.as_deref(),
        Some("http://127.0.0.1:9/hook?a=1")
    );
    assert_eq!(
        created.webhook_auth_header_name.as_deref(),
        Some("X-Hook-Secret")
    );
    // The API never echoes the secret back.
    assert!(
        created
            .webhook_auth_header_value
            .as_ref()
            .is_some_and(|value| value.expose_secret() != "hook-secret-value")
    );
    assert_eq!(created.client_reference_id.as_deref(), Some("order-7"));

    let fetched = client.transcriptions().get(&created.id).await.expect("get");
    assert_eq!(fetched.id, created.id);
    assert_eq!(fetched.client_reference_id.as_deref(), Some("order-7"));

    let from_url = client
        .transcriptions()
        .create(
            &CreateTranscription::new("stt-async-v4")
                .audio_url("http://127.0.0.1:9/audio/talk.mp3")
                .translation(Translation::two_way("en", "es")),
        )
        .await
        .expect("create from a URL");
    assert_eq!(
        from_url.audio_url.as_deref(),
        Some("http://127.0.0.1:9/audio/talk.mp3")
    );
    assert_eq!(from_url.filename, "talk.mp3");
    assert_eq!(from_url.file_id, None);
    assert_eq!(
        client.transcriptions().count().await.expect("count").total,
        2
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn create_errors_keep_the_api_explanation() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);

    let error = client
        .transcriptions()
        .create(
            // Valid as far as the client knows.
            &url_request("stt-no-such-model"),
        )
        .await
        .expect_err("an unknown model");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400), "{error}");
    assert_eq!(error.api_error_type(), Some(&ApiErrorType::InvalidRequest));
    assert!(error.request_id().is_some_and(|id| !id.is_empty()));
    let Error::Api { status, body } = &error else {
        panic!("expected an API error, got {error:?}");
    };
    assert_eq!(status.as_u16(), 400);
    assert_eq!(body.status_code, 400);
    assert!(!body.message.is_empty());
    assert_eq!(body.request_id.as_deref(), error.request_id());
    assert!(
        body.validation_errors
            .iter()
            .any(|detail| detail.location == "body.payload.model"),
        "{:?}",
        body.validation_errors
    );

    let error = client
        .transcriptions()
        .create(
            &CreateTranscription::new("stt-async-v5")
                .file_id("6f2c1d9e-0000-4000-8000-000000000000"),
        )
        .await
        .expect_err("an unknown file");
    assert!(error.is_not_found(), "{error}");
    assert_eq!(error.api_error_type(), Some(&ApiErrorType::FileNotFound));

    // Invalid requests are refused before sending: a dropped connection would say otherwise.
    emulator.add_fault(FaultRule::new(FaultAction::DropConnection));
    let mut invalid = url_request("stt-async-v5");
    invalid.file_id = Some("6f2c1d9e-0000-4000-8000-000000000000".into());
    let error = client
        .transcriptions()
        .create(&invalid)
        .await
        .expect_err("both audio_url and file_id");
    assert!(matches!(error, Error::Validation(_)), "{error}");
    emulator.clear_faults();
    assert_eq!(
        client.transcriptions().count().await.expect("count").total,
        0
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn job_lifecycle_get_transcript_delete() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let audio = wav(1_000);
    emulator.script_transcript_for(&audio, "Hello from the emulator.");
    let job = job_for(&client, audio).await;

    for expected in [TranscriptionStatus::Queued, TranscriptionStatus::Processing] {
        let current = client.transcriptions().get(&job.id).await.expect("get");
        assert_eq!(current.status, expected);
        for error in [
            client
                .transcriptions()
                .transcript(&job.id)
                .await
                .expect_err("not completed"),
            client
                .transcriptions()
                .delete(&job.id)
                .await
                .expect_err("not finished"),
        ] {
            assert!(error.is_invalid_state(), "{expected}: {error}");
            assert_eq!(error.status().map(|s| s.as_u16()), Some(409));
            assert_eq!(
                error.api_error_type(),
                Some(&ApiErrorType::TranscriptionInvalidState)
            );
            assert!(!error.is_retryable());
        }
        emulator.advance_jobs().await;
    }

    let done = client.transcriptions().get(&job.id).await.expect("get");
    assert_eq!(done.status, TranscriptionStatus::Completed);
    assert_eq!(done.audio_duration_ms, Some(1_000));
    let transcript = client
        .transcriptions()
        .transcript(&job.id)
        .await
        .expect("transcript");
    assert_eq!(transcript.id, job.id);
    assert_eq!(transcript.text, "Hello from the emulator.");
    assert!(!transcript.tokens.is_empty());

    client
        .transcriptions()
        .delete(&job.id)
        .await
        .expect("delete");
    assert_eq!(
        client.transcriptions().count().await.expect("count").total,
        0
    );
    let missing = TranscriptionId::new("6f2c1d9e-0000-4000-8000-000000000000");
    for error in [
        client
            .transcriptions()
            .get(&job.id)
            .await
            .expect_err("deleted"),
        client
            .transcriptions()
            .delete(&job.id)
            .await
            .expect_err("deleted"),
        client
            .transcriptions()
            .transcript(&job.id)
            .await
            .expect_err("deleted"),
        client
            .transcriptions()
            .get(&missing)
            .await
            .expect_err("never existed"),
    ] {
        assert!(error.is_not_found(), "{error}");
        assert_eq!(
            error.api_error_type(),
            Some(&ApiErrorType::TranscriptionNotFound)
        );
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn lists_stream_over_thousands_of_jobs() {
    const JOBS: usize = 2_600;
    let emulator = start(emulator().quotas(Quotas::new(JOBS, JOBS, 10))).await;
    let client = client(&emulator);
    let created: HashSet<TranscriptionId> = stream::iter(0..JOBS)
        .map(|index| {
            let client = client.clone();
            async move {
                let request = CreateTranscription::new("stt-async-v5")
                    .audio_url(format!("http://127.0.0.1:9/{index}.wav"));
                client
                    .transcriptions()
                    .create(&request)
                    .await
                    .map(|job| job.id)
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await
        .expect("create every job");
    assert_eq!(created.len(), JOBS);
    let count = client.transcriptions().count().await.expect("count");
    assert_eq!(count.total, JOBS as u64);

    for limit in [97, 1_000] {
        let listed: Vec<_> = client
            .transcriptions()
            .list(ListParams::new().limit(limit))
            .try_collect()
            .await
            .expect("list");
        assert_eq!(listed.len(), JOBS, "limit {limit}");
        let ids: HashSet<TranscriptionId> = listed.iter().map(|job| job.id.clone()).collect();
        assert_eq!(ids, created, "limit {limit}");
        assert!(
            listed
                .windows(2)
                .all(|pair| pair[0].created_at >= pair[1].created_at),
            "newest first"
        );
    }

    // A failure after the first page: its items, the error once, then the end.
    let fragile = client_builder(&emulator)
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client");
    emulator.add_fault(
        FaultRule::new(FaultAction::Error { status: 503 })
            .method("GET")
            .path_prefix("/v1/transcriptions")
            .every_nth(2),
    );
    let items: Vec<_> = fragile
        .transcriptions()
        .list(ListParams::new().limit(100))
        .collect()
        .await;
    assert_eq!(items.len(), 101);
    assert!(items[..100].iter().all(Result::is_ok));
    let error = items[100].as_ref().expect_err("the second page fails");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(
        error.api_error_type(),
        Some(&ApiErrorType::ServiceUnavailable)
    );
    assert!(error.is_retryable());
    emulator.shutdown().await;
}

#[tokio::test]
async fn models_and_temporary_keys() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);

    let models = client.models().list().await.expect("models");
    assert!(models.models.iter().any(|model| model.id == "stt-async-v5"));

    let key = client
        .auth()
        .create_temporary_api_key(
            &CreateTemporaryApiKey::new(TemporaryKeyUsage::TranscribeWebsocket, 300)
                .client_reference_id("browser-1")
                .single_use(true)
                .max_session_duration_seconds(600),
        )
        .await
        .expect("temporary key");
    assert!(key.api_key.expose_secret().starts_with("temp:"));
    assert!(!format!("{key:?}").contains(key.api_key.expose_secret()));

    // Out of range: refused before sending, which a dropped connection would otherwise show.
    emulator.add_fault(FaultRule::new(FaultAction::DropConnection));
    let error = client
        .auth()
        .create_temporary_api_key(&CreateTemporaryApiKey::new(
            TemporaryKeyUsage::TranscribeWebsocket,
            3_601,
        ))
        .await
        .expect_err("too long a lifetime");
    let Error::Validation(errors) = &error else {
        panic!("expected a validation error, got {error:?}");
    };
    assert!(errors.has("body.payload.expires_in_seconds"), "{errors}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_is_unauthenticated() {
    let emulator = start(emulator()).await;
    let client = Client::builder()
        .api_key("not-the-key")
        .base_url(format!("{}/v1/", emulator.base_url()))
        .build()
        .expect("client");
    let error = client.files().count().await.expect_err("wrong key");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401), "{error}");
    assert_eq!(error.api_error_type(), Some(&ApiErrorType::Unauthenticated));
    assert!(error.request_id().is_some_and(|id| !id.is_empty()));
    assert!(!error.is_retryable());
    assert!(!error.is_not_found());
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains("not-the-key"), "{shown}");
    }

    // A temporary key is refused on the REST API, as by the real one.
    let temp = common::client(&emulator)
        .auth()
        .create_temporary_api_key(&CreateTemporaryApiKey::new(
            TemporaryKeyUsage::TranscribeWebsocket,
            60,
        ))
        .await
        .expect("temporary key");
    let with_temp = Client::builder()
        .api_key(temp.api_key)
        .base_url(emulator.base_url())
        .build()
        .expect("client");
    let error = with_temp.models().list().await.expect_err("temporary key");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401), "{error}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn debug_never_shows_the_key() {
    let emulator = start(emulator()).await;
    let builder = client_builder(&emulator);
    let client = builder.clone().build().expect("client");
    for shown in [
        format!("{client:?}"),
        format!("{client:#?}"),
        format!("{builder:?}"),
        format!("{builder:#?}"),
        format!("{:?}", client.files()),
        format!("{:?}", client.transcriptions()),
    ] {
        assert!(!shown.contains(KEY), "{shown}");
    }
    assert!(format!("{client:?}").contains(emulator.base_url()));
    emulator.shutdown().await;
}
