//! The helpers other SDKs have, end to end against the emulator: fetching on delivery through
//! a real `soniox-webhook` receiver, `destroy`, bulk `clean_up`, and the one rule for failed
//! jobs.

mod common;

use std::{convert::Infallible, time::Duration};

use soniox_client::{
    Audio, CleanUp, Client, Error, FetchOnDelivery, TranscribeOptions, Transcribed, Upload,
    WaitOptions, Webhook,
    types::{CreateTranscription, FileId, TranscriptionId, TranscriptionStatus},
};
use soniox_emulator::{JobClock, WebhookAttempt};
use soniox_webhook::{ReceivedEvent, Receiver, Secret, Verifier, WebhookService};
use tokio::sync::mpsc;

use common::{client, counts, emulator, job_for, start, url_request, wav};

const HEADER: &str = "X-Soniox-Webhook-Secret";
const SECRET: &str = "delivery-secret";

/// Uploads `audio` and creates a job for it with `configure` applied to the request.
async fn job_with(
    client: &Client,
    audio: Vec<u8>,
    configure: impl FnOnce(CreateTranscription) -> CreateTranscription,
) -> (TranscriptionId, FileId) {
    let file = client
        .files()
        .upload(Upload::bytes(audio, "speech.wav"))
        .await
        .expect("upload");
    let request = configure(CreateTranscription::new("stt-async-v5").file_id(file.id.clone()));
    let job = client
        .transcriptions()
        .create(&request)
        .await
        .expect("create");
    (job.id, file.id)
}

#[tokio::test]
async fn a_delivery_fetches_its_transcript_through_a_real_receiver() {
    let emulator = start(emulator().webhook_retry_schedule([Duration::ZERO])).await;
    let client = client(&emulator);

    // The receiver a user writes: verify with soniox-webhook, fetch with soniox-client.
    let (results, mut received) = mpsc::unbounded_channel();
    let fetching = client.clone();
    let handler = move |event: ReceivedEvent| {
        let (client, results) = (fetching.clone(), results.clone());
        async move {
            let fetched = event.fetch(&client).await;
            let job = event.fetch_transcription(&client).await;
            let _ = results.send((event, fetched, job));
            Ok::<(), Infallible>(())
        }
    };
    let verifier = Verifier::new(HEADER, Secret::new(SECRET)).expect("a verifier");
    let running = Receiver::bind("127.0.0.1:0", WebhookService::new(verifier, handler))
        .await
        .expect("bind")
        .spawn()
        .expect("spawn");
    let webhook = Webhook::new(format!("http://{}/hooks/soniox", running.local_addr()))
        .metadata("order", "42")
        .auth(HEADER, SECRET);

    let audio = wav(800);
    emulator.script_transcript_for(&audio, "Fetched on delivery.");
    let (completed, _) = job_with(&client, audio, |request| {
        webhook.apply(request).expect("webhook")
    })
    .await;
    let (failed, _) = job_with(&client, b"not audio".to_vec(), |request| {
        webhook.apply(request).expect("webhook")
    })
    .await;
    emulator.finish_jobs().await;

    for _ in 0..2 {
        let (event, fetched, job) = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a delivery is handled")
            .expect("the receiver runs");
        assert_eq!(event.metadata().get("order"), Some("42"));
        let job = job.expect("the job is fetched whatever its state");
        assert_eq!(&job.id, event.id());
        if *event.id() == completed {
            let Transcribed {
                transcription,
                transcript,
                ..
            } = fetched.expect("the transcript is fetched");
            assert_eq!(transcription.status, TranscriptionStatus::Completed);
            assert_eq!(transcript.text, "Fetched on delivery.");
        } else {
            assert_eq!(*event.id(), failed);
            assert_eq!(job.status, TranscriptionStatus::Error);
            let error = fetched.expect_err("a failed job has no transcript");
            let Error::TranscriptionFailed { id, error_type, .. } = &error else {
                panic!("expected a failed transcription, got {error:?}");
            };
            assert_eq!((id, error_type.as_str()), (&failed, "audio_decode_error"));
        }
    }
    let attempts = emulator.wait_for_attempts(2).await;
    assert!(
        attempts.iter().all(WebhookAttempt::succeeded),
        "{attempts:?}"
    );
    running.shutdown().await.expect("the receiver stops");
    emulator.shutdown().await;
}

#[tokio::test]
async fn wait_and_transcribe_report_a_failed_job_the_same_way() {
    let emulator = start(emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
    let client = client(&emulator);
    let quick = || WaitOptions::new().initial_interval(Duration::from_millis(2));

    let (id, _) = job_with(&client, b"not audio".to_vec(), |request| request).await;
    let waited = client
        .transcriptions()
        .wait(&id, quick())
        .await
        .expect_err("the job fails");
    let transcribed = client
        .transcribe(
            Audio::Upload(Upload::bytes(b"not audio".to_vec(), "notes.txt")),
            TranscribeOptions::new().wait(quick()),
        )
        .await
        .expect_err("the job fails");
    for error in [&waited, &transcribed] {
        let Error::TranscriptionFailed { error_type, .. } = error else {
            panic!("expected a failed transcription, got {error:?}");
        };
        assert_eq!(error_type, "audio_decode_error");
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_webhook_with_cleanup_is_refused_before_anything_is_sent() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let error = client
        .transcribe(
            Audio::Upload(Upload::bytes(wav(100), "a.wav")),
            TranscribeOptions::new()
                .webhook(Webhook::new("http://127.0.0.1:9/hooks"))
                .cleanup(true),
        )
        .await
        .expect_err("refused");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("webhook"), "{error}");
    assert_eq!(counts(&client).await, (0, 0), "nothing was uploaded");
    emulator.shutdown().await;
}

#[tokio::test]
async fn destroy_deletes_a_finished_job_and_its_file() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let queued = job_for(&client, wav(300)).await;
    let error = client
        .transcriptions()
        .destroy(&queued.id)
        .await
        .expect_err("a queued job cannot be deleted");
    assert!(error.is_invalid_state(), "{error:?}");
    assert_eq!(counts(&client).await, (1, 1), "nothing was deleted");

    let by_url = client
        .transcriptions()
        .create(&url_request("stt-async-v5"))
        .await
        .expect("create");
    emulator.finish_jobs().await;
    client
        .transcriptions()
        .destroy(&queued.id)
        .await
        .expect("destroyed");
    assert_eq!(
        counts(&client).await,
        (1, 0),
        "the job and its file are gone"
    );
    // A job made from a URL has no file.
    client
        .transcriptions()
        .destroy(&by_url.id)
        .await
        .expect("destroyed");
    assert_eq!(counts(&client).await, (0, 0));
    let error = client
        .transcriptions()
        .destroy(&by_url.id)
        .await
        .expect_err("already gone");
    assert!(error.is_not_found(), "{error:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn clean_up_deletes_old_finished_jobs_and_unused_files() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let (old_job, old_file) = job_with(&client, wav(200), |request| request).await;
    let (kept_job, kept_job_file) = job_with(&client, wav(200), |request| {
        request.client_reference_id("keep")
    })
    .await;
    emulator.finish_jobs().await;
    // Still queued: neither it nor its file may go.
    let (_, queued_file) = job_with(&client, wav(200), |request| request).await;
    let lone_file = client
        .files()
        .upload(Upload::bytes(wav(100), "lone.wav"))
        .await
        .expect("upload")
        .id;
    assert_eq!(counts(&client).await, (3, 4));

    let plan = || {
        CleanUp::older_than(Duration::ZERO)
            .transcriptions_where(|job| job.client_reference_id.as_deref() != Some("keep"))
    };
    let sorted = |mut ids: Vec<FileId>| {
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids
    };
    let expected_files = sorted(vec![old_file, kept_job_file, lone_file]);

    let dry = client
        .clean_up(plan().dry_run(true))
        .await
        .expect("dry run");
    assert_eq!(dry.transcriptions, std::slice::from_ref(&old_job));
    assert_eq!(sorted(dry.files), expected_files);
    assert_eq!(counts(&client).await, (3, 4), "a dry run deletes nothing");

    let done = client.clean_up(plan()).await.expect("clean up");
    assert_eq!(done.transcriptions, [old_job]);
    assert_eq!(sorted(done.files), expected_files);
    assert!(done.failures.is_empty(), "{:?}", done.failures);
    assert_eq!(counts(&client).await, (2, 1));
    client
        .transcriptions()
        .get(&kept_job)
        .await
        .expect("the filtered-out job is kept");
    client
        .files()
        .get(&queued_file)
        .await
        .expect("the file of a queued job is kept");

    let nothing = client
        .clean_up(CleanUp::older_than(Duration::from_secs(3600)))
        .await
        .expect("clean up");
    assert!(nothing.transcriptions.is_empty() && nothing.files.is_empty());
    let jobs_only = client
        .clean_up(
            CleanUp::older_than(Duration::ZERO)
                .keep_files()
                .dry_run(true),
        )
        .await
        .expect("dry run");
    assert_eq!(jobs_only.transcriptions, [kept_job]);
    assert!(jobs_only.files.is_empty());
    emulator.shutdown().await;
}
