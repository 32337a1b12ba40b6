//! What a user reads when a call fails: each error's `Display` chain (the error, then every
//! `source`, as anyhow's `{:#}` or a CLI prints it), pinned with insta. Each cause appears
//! once, and each message says what to fix.

mod common;

use std::time::Duration;

use bytes::Bytes;
use soniox_client::{
    Audio, Client, Error, TranscribeOptions, Upload, WaitOptions, Webhook,
    types::{CreateTranscription, TranscriptionId},
};
use soniox_emulator::JobClock;

use common::{MISSING, Server, client, emulator, fast_retries, start};

/// The error and its causes, one per line, with the parts that change between runs (ports,
/// request ids) replaced.
fn chain(error: &Error, replace: &[(&str, &str)]) -> String {
    let mut text = common::messages(error).join("\ncaused by: ");
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    text
}

#[tokio::test]
async fn a_missing_file_names_its_path() {
    let emulator = start(emulator()).await;
    let error = client(&emulator)
        .files()
        .upload(Upload::path("/definitely/not/here.wav"))
        .await
        .expect_err("no such file");
    insta::assert_snapshot!("upload_missing_file", chain(&error, &[]));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_refused_connection_is_named_once() {
    // A port nothing listens on: bind one, then free it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let base = format!("http://{addr}");
    let client = Client::builder()
        .api_key("key")
        .base_url(&base)
        .retry_policy(fast_retries().max_attempts(1))
        .build()
        .expect("client");
    let error = client.models().list().await.expect_err("nothing listens");
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    insta::assert_snapshot!(
        "transport_connection_refused",
        chain(&error, &[(&base, "http://127.0.0.1:PORT")])
    );
}

#[tokio::test]
async fn an_undecodable_success_keeps_a_snippet() {
    let server = Server::start(vec![(200, Bytes::from_static(b"<html>maintenance</html>"))]).await;
    let client = Client::builder()
        .api_key("key")
        .base_url(server.url(""))
        .build()
        .expect("client");
    let error = client.models().list().await.expect_err("not JSON");
    insta::assert_snapshot!("decode_html", chain(&error, &[]));
}

#[tokio::test]
async fn api_errors_and_failed_jobs() {
    let emulator = start(emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
    let client = client(&emulator);
    let missing = TranscriptionId::new(MISSING);
    let error = client
        .transcriptions()
        .get(&missing)
        .await
        .expect_err("no such job");
    let request_id = error
        .request_id()
        .expect("the API names its request")
        .to_owned();
    insta::assert_snapshot!(
        "api_not_found",
        chain(&error, &[(&request_id, "[request id]")])
    );

    // Refused before sending, with the API's own location and wording.
    let refused = CreateTranscription::new("stt-async-v5")
        .audio_url("https://example.com/a.mp3")
        .webhook_url("https://example.com/hook")
        .webhook_auth("X-Secret", "")
        .validate()
        .expect_err("an empty secret");
    let error = Error::from(refused);
    insta::assert_snapshot!("validation_empty_webhook_secret", chain(&error, &[]));

    let error = client
        .transcribe(
            Audio::Upload(Upload::bytes(b"not audio".to_vec(), "notes.txt")),
            TranscribeOptions::new()
                .wait(WaitOptions::new().initial_interval(Duration::from_millis(2))),
        )
        .await
        .expect_err("not audio");
    let Error::TranscriptionFailed { id, .. } = &error else {
        panic!("expected a failed job, got {error:?}");
    };
    let id = id.to_string();
    insta::assert_snapshot!(
        "transcription_failed",
        chain(&error, &[(&id, "[transcription id]")])
    );

    let error = client
        .transcribe(
            Audio::url("https://example.com/a.mp3"),
            TranscribeOptions::new()
                .webhook(Webhook::new("https://example.com/hook"))
                .cleanup(true),
        )
        .await
        .expect_err("refused");
    insta::assert_snapshot!("webhook_with_cleanup", chain(&error, &[]));
    emulator.shutdown().await;
}

#[test]
fn a_missing_api_key_names_the_variable() {
    let error = Client::builder().build().expect_err("no key");
    insta::assert_snapshot!("config_no_api_key", chain(&error, &[]));
}
