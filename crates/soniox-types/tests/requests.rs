//! The JSON of every request type, minimal and full, pinned with insta snapshots.
//!
//! These snapshots fix field names and, above all, absent-versus-null: an option left unset
//! must be absent from a request, never `null`. The last test pins a transcription as the
//! emulator serves it, where the opposite holds: empty nullable fields are written as `null`.

use insta::assert_json_snapshot;
use soniox_types::{
    CreateTemporaryApiKey, CreateTranscription, FileId, ListParams, Secret, StructuredContext,
    TemporaryKeyUsage, Transcription, TranscriptionId, TranscriptionStatus, Translation,
    UploadMetadata,
};
use time::macros::datetime;

const FILE_ID: &str = "84c32fc6-4fb5-4e7a-b656-b5ec70493753";

#[test]
fn create_transcription_minimal_url() {
    let request = CreateTranscription::new("stt-async-v5")
        .audio_url("https://example.com/audio/interview.mp3");
    assert_json_snapshot!("create_transcription_minimal_url", request);
}

#[test]
fn create_transcription_minimal_file_id() {
    let request = CreateTranscription::new("stt-async-v5").file_id(FILE_ID);
    assert_json_snapshot!("create_transcription_minimal_file_id", request);
}

#[test]
fn create_transcription_full_structured_context_one_way() {
    let context = StructuredContext::new()
        .general("domain", "medicine")
        .general("speakers", "a cardiologist and a patient")
        .text("A follow-up visit after a stent placement.")
        .term("myocardial infarction")
        .term("stent")
        .translation_term("stent", "Stent");
    let request = CreateTranscription::new("stt-async-v5")
        .file_id(FileId::new(FILE_ID))
        .language_hints(["en", "de"])
        .language_hints_strict(true)
        .speaker_diarization(true)
        .language_identification(true)
        .translation(Translation::one_way("de"))
        .context(context)
        .webhook_url("https://example.com/hooks/soniox?customer=42&order=7")
        .webhook_auth("X-Soniox-Webhook-Secret", "s3cr3t-value")
        .client_reference_id("visit-2026-11-27");
    assert_json_snapshot!(
        "create_transcription_full_structured_context_one_way",
        request
    );
}

#[test]
fn create_transcription_two_way_legacy_context() {
    let request = CreateTranscription::new("stt-async-v4")
        .audio_url("https://example.com/audio/call.wav")
        .language_hints(["en", "es"])
        .speaker_diarization(false)
        .translation(Translation::two_way("en", "es"))
        .context("A support call about a delayed delivery.")
        .webhook_url("https://example.com/hooks/soniox")
        .webhook_auth("Authorization", Secret::new("Bearer token-123"));
    assert_json_snapshot!("create_transcription_two_way_legacy_context", request);
}

#[test]
fn create_temporary_api_key_minimal() {
    let request = CreateTemporaryApiKey::new(TemporaryKeyUsage::TranscribeWebsocket, 300);
    assert_eq!(request.validate(), Ok(()));
    assert_json_snapshot!("create_temporary_api_key_minimal", request);
}

#[test]
fn create_temporary_api_key_full() {
    let request = CreateTemporaryApiKey::new(TemporaryKeyUsage::TtsRt, 3600)
        .client_reference_id("browser-session-9")
        .single_use(true)
        .max_session_duration_seconds(18_000);
    assert_eq!(request.validate(), Ok(()));
    assert_json_snapshot!("create_temporary_api_key_full", request);
}

#[test]
fn upload_metadata_minimal() {
    let metadata = UploadMetadata::new();
    assert_eq!(metadata.validate(Some(1)), Ok(()));
    assert_json_snapshot!("upload_metadata_minimal", metadata);
}

#[test]
fn upload_metadata_full() {
    let metadata = UploadMetadata::new().client_reference_id("upload-17");
    assert_eq!(metadata.validate(Some(123_456)), Ok(()));
    assert_json_snapshot!("upload_metadata_full", metadata);
}

#[test]
fn list_params_minimal() {
    let params = ListParams::new();
    assert_eq!(params.validate(), Ok(()));
    assert!(params.to_query().is_empty());
    assert_json_snapshot!("list_params_minimal", params);
}

#[test]
fn list_params_full() {
    let params = ListParams::new().limit(250).cursor("opaque-cursor");
    assert_eq!(params.validate(), Ok(()));
    assert_eq!(
        params.to_query(),
        vec![
            ("limit", "250".to_owned()),
            ("cursor", "opaque-cursor".to_owned())
        ]
    );
    assert_json_snapshot!("list_params_full", params);
}

#[test]
fn transcription_as_served_queued() {
    let mut transcription = Transcription::new(
        TranscriptionId::new("73d4357d-cad2-4338-a60d-ec6f2044f721"),
        TranscriptionStatus::Queued,
        datetime!(2026-11-27 02:40:00 UTC),
        "stt-async-v5",
        "interview.mp3",
    );
    transcription.audio_url = Some("https://example.com/audio/interview.mp3".into());
    transcription.webhook_url = Some("https://example.com/hooks/soniox?customer=42".into());
    transcription.webhook_auth_header_name = Some("X-Soniox-Webhook-Secret".into());
    transcription.webhook_auth_header_value = Some(Secret::masked());
    assert_json_snapshot!("transcription_as_served_queued", transcription);
}

#[test]
fn transcription_as_served_completed() {
    let mut transcription = Transcription::new(
        TranscriptionId::new("548d023b-2b3d-4dc2-a3ef-cca26d05fd9a"),
        TranscriptionStatus::Completed,
        datetime!(2026-11-27 02:40:00.25 UTC),
        "stt-async-v5",
        "call.wav",
    );
    transcription.file_id = Some(FileId::new(FILE_ID));
    transcription.language_hints = Some(vec!["en".into(), "es".into()]);
    transcription.enable_speaker_diarization = true;
    transcription.enable_language_identification = true;
    transcription.audio_duration_ms = Some(16_079);
    transcription.webhook_url = Some("https://example.com/hooks/soniox".into());
    transcription.webhook_auth_header_name = Some("Authorization".into());
    transcription.webhook_auth_header_value = Some(Secret::masked());
    transcription.webhook_status_code = Some(200);
    transcription.client_reference_id = Some("call-7".into());
    assert_json_snapshot!("transcription_as_served_completed", transcription);
}
