//! `webhook relay`, end to end: jobs finishing on an emulator are delivered to a local
//! `webhook listen` exactly once each, with their own query, filtered by reference prefix;
//! jobs finished before it starts are not.

mod common;

use std::time::Duration;

use common::{Server, at, client, command, emulator};
use soniox_client::Upload;
use soniox_types::{CreateTranscription, Transcription};

const SECRET: &str = "relay-secret";

async fn create(
    client: &soniox_client::Client,
    audio: &[u8],
    reference: &str,
    webhook_url: &str,
) -> Transcription {
    let file = client
        .files()
        .upload(Upload::bytes(audio.to_vec(), "a.wav"))
        .await
        .expect("upload");
    let request = CreateTranscription::new("stt-async-v5")
        .file_id(file.id)
        .client_reference_id(reference)
        .webhook_url(webhook_url);
    client
        .transcriptions()
        .create(&request)
        .await
        .expect("create")
}

#[tokio::test]
async fn relays_each_job_that_finishes_once_with_its_query() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let audio = soniox_emulator::wav(Duration::from_secs(1));
    // Finished before the relay starts: never relayed.
    create(&client, &audio, "app-0", "http://127.0.0.1:9/hook?old=1").await;
    emulator.finish_jobs().await;

    let mut listener = Server::start(command(&[
        "webhook",
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--path",
        "/local",
        "--secret",
        SECRET,
    ]))
    .await;
    let to = listener.url().to_owned();
    let mut relay = Server::start(at(
        &emulator,
        &[
            "--json",
            "webhook",
            "relay",
            "--to",
            &to,
            "--secret",
            SECRET,
            "--reference-prefix",
            "app-",
            "--interval",
            "10ms",
            "--retry-schedule",
            "0s,10ms",
        ],
    ))
    .await;
    assert!(
        relay.first_line.starts_with(&format!("relaying to {to}")),
        "{}",
        relay.first_line
    );

    let wanted = create(
        &client,
        &audio,
        "app-1",
        "http://127.0.0.1:9/hook?order=42&note=a%20b",
    )
    .await;
    create(&client, &audio, "other-1", "http://127.0.0.1:9/hook?skip=1").await;
    let received: serde_json::Value =
        serde_json::from_str(&listener.next_line().await).expect("JSON");
    assert_eq!(
        received,
        serde_json::json!({"id": wanted.id, "status": "completed", "metadata": {"order": "42", "note": "a b"}})
    );
    let relayed: serde_json::Value = serde_json::from_str(&relay.next_line().await).expect("JSON");
    assert_eq!(relayed["id"], wanted.id.as_str());
    assert_eq!(relayed["url"], format!("{to}?order=42&note=a%20b"));
    assert_eq!(
        (relayed["answer"].as_u64(), relayed["delivered"].as_bool()),
        (Some(200), Some(true))
    );

    // More looks at the list go by: nothing is delivered twice.
    let lists = || emulator.request_counts().get("GET", "/v1/transcriptions");
    let seen = lists();
    while lists() < seen + 5 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let relay = relay.stop().await;
    assert_eq!(relay.code, 0, "{}", relay.stderr);
    assert_eq!(relay.stdout, "", "one line per job: {}", relay.stdout);
    let listener = listener.stop().await;
    assert_eq!(listener.stdout, "");
    emulator.shutdown().await;
}

#[tokio::test]
async fn gives_up_after_the_retry_schedule() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let audio = soniox_emulator::wav(Duration::from_secs(1));
    let listener = Server::start(command(&[
        "webhook",
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--secret",
        SECRET,
    ]))
    .await;
    let to = listener.url().to_owned();
    // The wrong secret is refused each time; the relay gives up after its schedule.
    let mut relay = Server::start(at(
        &emulator,
        &[
            "webhook",
            "relay",
            "--to",
            &to,
            "--secret",
            "not-it",
            "--interval",
            "10ms",
            "--retry-schedule",
            "0s,10ms,10ms",
        ],
    ))
    .await;
    let job = create(&client, &audio, "x", "http://127.0.0.1:9/hook").await;
    let line = relay.next_line().await;
    assert_eq!(
        line,
        format!(
            "{} completed -> {to}: 401 (gave up after 3 attempts)",
            job.id
        )
    );
    relay.stop().await;
    assert_eq!(listener.stop().await.stdout, "");
    emulator.shutdown().await;
}

#[tokio::test]
async fn retries_until_the_receiver_is_up() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let audio = soniox_emulator::wav(Duration::from_secs(1));
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let to = format!("http://{addr}/hook");
    let mut relay = Server::start(at(
        &emulator,
        &[
            "webhook",
            "relay",
            "--to",
            &to,
            "--secret",
            SECRET,
            "--interval",
            "10ms",
            "--retry-schedule",
            "0s,100ms,200ms,400ms,800ms,2s,5s",
        ],
    ))
    .await;
    let job = create(&client, &audio, "x", "http://127.0.0.1:9/hook?n=1").await;
    // The first attempt finds nobody listening.
    let warning = relay.next_stderr_line().await;
    assert!(warning.contains("delivery failed; retrying"), "{warning}");
    let addr = addr.to_string();
    let listener = Server::start(command(&[
        "webhook", "listen", "--addr", &addr, "--secret", SECRET,
    ]))
    .await;
    let line = relay.next_line().await;
    assert!(
        line.starts_with(&format!(
            "{} completed -> {to}?n=1: 200 (delivered after ",
            job.id
        )),
        "{line}"
    );
    relay.stop().await;
    let listener = listener.stop().await;
    assert_eq!(listener.stdout.lines().count(), 1, "{}", listener.stdout);
    emulator.shutdown().await;
}
