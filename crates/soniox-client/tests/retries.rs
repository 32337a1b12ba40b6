//! Retries under the emulator's injected faults: reads recover, and creating a job never
//! makes a duplicate (failures that may have been carried out: see outcomes.rs).

mod common;

use std::{collections::HashSet, io::Write, time::Duration};

use futures_util::TryStreamExt;
use soniox_client::{Client, Error, RetryPolicy, Upload, types::ApiErrorType};
use soniox_emulator::{Emulator, FaultAction, FaultRule};
use soniox_types::{CreateTranscription, ListParams, TranscriptionId};

use common::{
    KEY, client, client_builder, emulator, fast_retries, on_create, start, url_request, wav,
};

fn request() -> CreateTranscription {
    url_request("stt-async-v5")
}

fn on_reads(action: FaultAction) -> FaultRule {
    common::on("GET", "/v1/", action)
}

/// A burst of three failures after every fourth request: the 2nd, 3rd and 4th fail, the 5th
/// succeeds, the 6th fails, and so on. Four attempts (the default) always get through.
fn add_bursts(emulator: &Emulator, rule: impl Fn(FaultAction) -> FaultRule) {
    for n in [2, 3] {
        emulator.add_fault(rule(FaultAction::Error { status: 503 }).every_nth(n));
    }
}

/// The ids of every job the emulator holds, through the API with no fault in force.
async fn job_ids(emulator: &Emulator, client: &Client) -> HashSet<TranscriptionId> {
    emulator.clear_faults();
    let jobs: Vec<_> = client
        .transcriptions()
        .list(ListParams::new())
        .map_ok(|job| job.id)
        .try_collect()
        .await
        .expect("list");
    let ids: HashSet<_> = jobs.iter().cloned().collect();
    assert_eq!(ids.len(), jobs.len(), "ids are unique");
    let count = client.transcriptions().count().await.expect("count");
    assert_eq!(count.total, jobs.len() as u64);
    ids
}

/// Every kind of read, for the fault tests to exercise.
async fn read_everything(client: &Client, file: &soniox_types::FileId, job: &TranscriptionId) {
    for _ in 0..3 {
        client.files().get(file).await.expect("files get");
        client.files().count().await.expect("files count");
        client
            .files()
            .list_page(&ListParams::new())
            .await
            .expect("files list");
        client.transcriptions().get(job).await.expect("get");
        client.transcriptions().count().await.expect("count");
        client
            .transcriptions()
            .list_page(&ListParams::new())
            .await
            .expect("list");
        client.models().list().await.expect("models");
    }
}

/// A file and a job to read.
async fn fixtures(client: &Client) -> (soniox_types::FileId, TranscriptionId) {
    let file = client
        .files()
        .upload(Upload::bytes(wav(100), "a.wav"))
        .await
        .expect("upload");
    let job = client
        .transcriptions()
        .create(&request())
        .await
        .expect("create");
    (file.id, job.id)
}

#[tokio::test]
async fn reads_recover_from_503_bursts() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let (file, job) = fixtures(&client).await;
    add_bursts(&emulator, on_reads);
    read_everything(&client, &file, &job).await;

    // With fewer attempts than the burst is long, the 503 comes back.
    let impatient = client_builder(&emulator)
        .retry_policy(fast_retries().max_attempts(2))
        .build()
        .expect("client");
    let mut failures = 0;
    for _ in 0..4 {
        if let Err(error) = impatient.models().list().await {
            assert_eq!(error.status().map(|s| s.as_u16()), Some(503), "{error}");
            assert_eq!(
                error.api_error_type(),
                Some(&ApiErrorType::ServiceUnavailable)
            );
            assert!(error.is_retryable());
            failures += 1;
        }
    }
    assert!(failures > 0, "some burst outlasted two attempts");
    emulator.shutdown().await;
}

#[tokio::test]
async fn reads_recover_from_dropped_connections() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let (file, job) = fixtures(&client).await;
    emulator.add_fault(on_reads(FaultAction::DropConnection).every_nth(2));
    read_everything(&client, &file, &job).await;

    let never = client_builder(&emulator)
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client");
    let mut dropped = 0;
    for _ in 0..2 {
        if let Err(error) = never.models().list().await {
            assert!(matches!(error, Error::Transport(_)), "{error:?}");
            assert!(error.is_retryable());
            assert_eq!(error.status(), None);
            dropped += 1;
        }
    }
    assert_eq!(dropped, 1, "one of two requests is dropped");
    emulator.shutdown().await;
}

#[tokio::test]
async fn rate_limits_honour_retry_after() {
    let emulator = start(emulator()).await;
    // Allows the emulator's one-second Retry-After.
    let patient = client_builder(&emulator)
        .retry_policy(fast_retries().max_delay(Duration::from_secs(2)))
        .build()
        .expect("client");
    let limited = FaultAction::RateLimited {
        retry_after_seconds: 1,
    };
    emulator.add_fault(on_reads(limited.clone()).every_nth(2));
    emulator.add_fault(on_create(limited).every_nth(2));

    patient.models().list().await.expect("not limited");
    patient
        .models()
        .list()
        .await
        .expect("limited once, then retried");
    let first = patient
        .transcriptions()
        .create(&request())
        .await
        .expect("not limited");
    let second = patient
        .transcriptions()
        .create(&request())
        .await
        .expect("limited once, then retried");

    // A client that may not wait that long gives the 429 back at once.
    let hasty = client(&emulator);
    let mut limited = Vec::new();
    for _ in 0..2 {
        if let Err(error) = hasty.models().list().await {
            limited.push(error);
        }
    }
    let [error] = limited.as_slice() else {
        panic!("expected exactly one 429, got {limited:?}");
    };
    assert_eq!(error.status().map(|s| s.as_u16()), Some(429), "{error}");
    assert_eq!(error.api_error_type(), Some(&ApiErrorType::LimitExceeded));
    assert!(error.is_retryable());

    let ids = job_ids(&emulator, &hasty).await;
    assert_eq!(
        ids,
        HashSet::from([first.id, second.id]),
        "no duplicate job"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn create_retries_503_bursts_without_duplicates() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    add_bursts(&emulator, on_create);
    let mut created = HashSet::new();
    for _ in 0..6 {
        let job = client
            .transcriptions()
            .create(&request())
            .await
            .expect("created after retries");
        created.insert(job.id);
    }
    assert_eq!(created.len(), 6);
    assert_eq!(job_ids(&emulator, &client).await, created);

    // Unavailable for longer than the policy allows: the 503 comes back and no job exists.
    emulator.add_fault(on_create(FaultAction::Error { status: 503 }));
    let error = client
        .transcriptions()
        .create(&request())
        .await
        .expect_err("always unavailable");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503), "{error}");
    assert_eq!(job_ids(&emulator, &client).await, created);
    emulator.shutdown().await;
}

#[tokio::test]
async fn create_is_not_retried_after_a_500() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    emulator.add_fault(on_create(FaultAction::Error { status: 500 }).every_nth(2));
    let first = client
        .transcriptions()
        .create(&request())
        .await
        .expect("not faulted");
    // The next attempt would succeed, so an error proves there was no retry.
    let error = client
        .transcriptions()
        .create(&request())
        .await
        .expect_err("a 500 is final for create");
    // It may come after the job was created, which the lookup did not find (yet).
    assert!(matches!(error, Error::OutcomeUnknown { .. }), "{error:?}");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(500), "{error}");
    assert_eq!(error.api_error_type(), Some(&ApiErrorType::InternalError));
    assert!(!error.is_retryable(), "look the job up before trying again");
    assert_eq!(job_ids(&emulator, &client).await, HashSet::from([first.id]));

    // Reads do retry a 500.
    emulator.add_fault(on_reads(FaultAction::Error { status: 500 }).every_nth(2));
    for _ in 0..4 {
        client.models().list().await.expect("retried");
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn uploads_are_restreamed_from_their_source() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    // Several hundred kilobytes, so the body is still streaming when the fault is decided.
    let audio = wav(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("retry.wav");
    std::fs::File::create(&path)
        .and_then(|mut file| file.write_all(&audio))
        .expect("write");
    // A 429, which proves the file was not stored: an upload is not replayed after a failure
    // that may have stored it (see outcomes.rs).
    let uploads = || {
        common::on(
            "POST",
            "/v1/files",
            FaultAction::RateLimited {
                retry_after_seconds: 0,
            },
        )
    };
    emulator.add_fault(uploads());

    let failed = client
        .files()
        .upload(Upload::path(&path))
        .await
        .expect_err("always limited");
    assert_eq!(failed.status().map(|s| s.as_u16()), Some(429), "{failed:?}");

    emulator.clear_faults();
    // From here every second upload attempt fails.
    emulator.add_fault(uploads().every_nth(2));
    client
        .files()
        .upload(Upload::bytes(audio.clone(), "warm-up.wav"))
        .await
        .expect("not faulted");
    let from_path = client
        .files()
        .upload(Upload::path(&path))
        .await
        .expect("retried from the path");
    assert_eq!(from_path.size, audio.len() as u64);
    let from_bytes = client
        .files()
        .upload(Upload::bytes(audio.clone(), "bytes.wav"))
        .await
        .expect("retried from the bytes");
    assert_eq!(from_bytes.size, audio.len() as u64);

    // A reader cannot be read twice: the first attempt's error comes back.
    let reader = tokio::fs::File::open(&path).await.expect("open");
    let error = client
        .files()
        .upload(Upload::reader(reader, audio.len() as u64, "reader.wav"))
        .await
        .expect_err("a reader is not replayed");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(429), "{error:?}");

    emulator.clear_faults();
    assert_eq!(client.files().count().await.expect("count").total, 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    // Port 1: privileged, so no test's server can be listening there (a port bound and
    // closed here could be taken by another test's emulator meanwhile).
    let client = Client::builder()
        .api_key(KEY)
        .base_url("http://127.0.0.1:1")
        .retry_policy(fast_retries())
        .build()
        .expect("client");
    let error = client.models().list().await.expect_err("nothing listens");
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
    let error = client
        .transcriptions()
        .create(&request())
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(!format!("{error:?}").contains(KEY));
}

#[tokio::test]
async fn a_proxy_error_page_keeps_a_bounded_snippet() {
    let page = format!(
        "<html><body>502 Bad Gateway{}</body></html>",
        " ".repeat(2_000)
    );
    let mut proxy = common::Server::start(vec![(502, bytes::Bytes::from(page))]).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(proxy.url(""))
        .retry_policy(fast_retries())
        .build()
        .expect("client");

    let error = client.models().list().await.expect_err("a 502 page");
    let Error::UnexpectedResponse {
        status, snippet, ..
    } = &error
    else {
        panic!("expected an unexpected response, got {error:?}");
    };
    assert_eq!(status.as_u16(), 502);
    assert!(
        snippet.starts_with("<html><body>502 Bad Gateway"),
        "{snippet}"
    );
    assert_eq!(snippet.chars().count(), 512);
    assert!(error.is_retryable());
    // Reads are retried up to the policy's four attempts.
    for _ in 0..fast_retries().get_max_attempts() {
        assert_eq!(proxy.next_request().await, "/v1/models");
    }

    // A 502 may come after the job was created: create is sent once. (Under a reference of
    // the caller's own, so that no lookup comes in between.)
    let error = client
        .transcriptions()
        .create(&request().client_reference_id("r-502"))
        .await
        .expect_err("a 502 page");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(502), "{error}");
    assert_eq!(proxy.next_request().await, "/v1/transcriptions");
    client.models().list().await.expect_err("a 502 page");
    assert_eq!(
        proxy.next_request().await,
        "/v1/models",
        "the create was not replayed"
    );
}

#[tokio::test]
async fn a_success_that_does_not_decode_keeps_a_snippet() {
    let proxy = common::Server::serving(b"OK, but not JSON".to_vec()).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(proxy.url("/v1"))
        .build()
        .expect("client");
    let error = client.files().count().await.expect_err("not JSON");
    let Error::Decode { snippet, .. } = &error else {
        panic!("expected a decode error, got {error:?}");
    };
    assert_eq!(snippet, "OK, but not JSON");
    assert!(!error.is_retryable());
}

/// Each upload attempt reports its progress from zero: a retried upload's count starts
/// again, and an empty file's body is whole from the start.
#[tokio::test]
async fn a_retried_upload_reports_its_progress_from_zero_again() {
    let emulator = start(emulator()).await;
    // Allows the emulator's one-second Retry-After.
    let patient = client_builder(&emulator)
        .retry_policy(fast_retries().max_delay(Duration::from_secs(2)))
        .build()
        .expect("client");
    emulator.add_fault(
        FaultRule::new(FaultAction::RateLimited {
            retry_after_seconds: 1,
        })
        .method("POST")
        .path_prefix("/v1/files")
        .every_nth(2),
    );
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let upload = |bytes: Vec<u8>| {
        let sink = std::sync::Arc::clone(&log);
        Upload::bytes(bytes, "a.wav").on_progress(move |sent, total| {
            sink.lock().expect("lock").push((sent, total));
        })
    };
    let take = || std::mem::take(&mut *log.lock().expect("lock"));

    patient
        .files()
        .upload(upload(vec![7; 1000]))
        .await
        .expect("not limited");
    assert_eq!(take(), [(0, 1000), (1000, 1000)]);
    patient
        .files()
        .upload(upload(vec![7; 1000]))
        .await
        .expect("limited once, then retried");
    assert_eq!(take(), [(0, 1000), (1000, 1000), (0, 1000), (1000, 1000)]);
    patient
        .files()
        .upload(upload(Vec::new()))
        .await
        .expect("limited once, then retried");
    assert_eq!(take(), [(0, 0), (0, 0)], "an empty body is whole at once");
    emulator.shutdown().await;
}
