//! Whole flows against the emulator: `wait`, `Client::transcribe` with cleanup, and webhook
//! setup end to end.

mod common;

use std::{io::Write, time::Duration};

use bytes::Bytes;
use soniox_client::{Audio, Error, TranscribeOptions, Upload, WaitOptions, Webhook};
use soniox_emulator::{DeliveryOutcome, JobClock, REDACTED};
use soniox_types::TranscriptionStatus;
use tokio::sync::mpsc;

use common::{Server, client, counts, emulator, job_for, quick_wait, start, url_request, wav};

#[tokio::test]
async fn wait_reports_every_status_change() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let job = job_for(&client, wav(500)).await;

    let (seen, mut statuses) = mpsc::unbounded_channel();
    let options = WaitOptions::new()
        .initial_interval(Duration::from_millis(1))
        .max_interval(Duration::from_millis(5))
        .timeout(None)
        .on_status_change(move |job| {
            let _ = seen.send(job.status.clone());
        });
    let waiter = {
        let client = client.clone();
        let id = job.id.clone();
        tokio::spawn(async move { client.transcriptions().wait(&id, options).await })
    };

    // Each step happens only after the waiter has seen the previous status.
    assert_eq!(statuses.recv().await, Some(TranscriptionStatus::Queued));
    emulator.advance_jobs().await;
    assert_eq!(statuses.recv().await, Some(TranscriptionStatus::Processing));
    emulator.advance_jobs().await;
    assert_eq!(statuses.recv().await, Some(TranscriptionStatus::Completed));
    let done = waiter.await.expect("the waiter runs").expect("wait");
    assert_eq!(done.id, job.id);
    assert_eq!(done.status, TranscriptionStatus::Completed);
    assert_eq!(statuses.recv().await, None, "no further callbacks");
    emulator.shutdown().await;
}

// Paused time on a current-thread runtime: the emulator, client and timers share one thread,
// so the clock jumps only when every task waits, and loopback I/O completes before that.
#[tokio::test(start_paused = true)]
async fn wait_times_out_under_paused_time() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let job = client
        .transcriptions()
        .create(&url_request("stt-async-v5"))
        .await
        .expect("create");

    // The manual clock never moves, so only the timeout can end the wait: ten virtual minutes
    // of polls from 1 s growing to 30 s.
    let started = tokio::time::Instant::now();
    let error = client
        .transcriptions()
        .wait(
            &job.id,
            WaitOptions::new().timeout(Some(Duration::from_secs(600))),
        )
        .await
        .expect_err("the job never finishes");
    let Error::WaitTimeout {
        id,
        waited,
        last_status,
    } = &error
    else {
        panic!("expected a wait timeout, got {error:?}");
    };
    assert_eq!(id, &job.id);
    assert_eq!(last_status, &TranscriptionStatus::Queued);
    assert!(*waited >= Duration::from_secs(600), "{waited:?}");
    assert!(started.elapsed() >= Duration::from_secs(600));
    assert_eq!(error.status(), None);
    emulator.shutdown().await;
}

#[tokio::test]
async fn transcribes_a_url_and_cleans_up() {
    let emulator = start(emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
    let client = client(&emulator);
    let audio = wav(2_000);
    emulator.script_transcript_for(&audio, "Downloaded and transcribed.");
    let mut server = Server::serving(audio).await;

    let done = client
        .transcribe(
            Audio::url(server.url("/media/talk.wav?token=abc")),
            TranscribeOptions::new()
                .configure(|request| request.client_reference_id("url-flow"))
                .wait(quick_wait())
                .cleanup(true),
        )
        .await
        .expect("transcribe");
    assert_eq!(done.transcription.status, TranscriptionStatus::Completed);
    assert_eq!(
        done.transcription.client_reference_id.as_deref(),
        Some("url-flow")
    );
    assert_eq!(done.transcription.audio_duration_ms, Some(2_000));
    assert_eq!(done.transcript.text, "Downloaded and transcribed.");
    assert_eq!(done.transcript.id, done.transcription.id);
    assert_eq!(
        server.next_request().await,
        "/media/talk.wav?token=abc",
        "the emulator downloaded the audio"
    );
    assert_eq!(counts(&client).await, (0, 0), "the job was deleted");

    // Without cleanup the job stays.
    let kept = client
        .transcribe(
            Audio::url(server.url("/media/again.wav")),
            TranscribeOptions::new().wait(quick_wait()),
        )
        .await
        .expect("transcribe");
    assert_eq!(counts(&client).await, (1, 0));
    client
        .transcriptions()
        .transcript(&kept.transcription.id)
        .await
        .expect("still there");
    emulator.shutdown().await;
}

#[tokio::test]
async fn transcribes_a_local_file_and_cleans_up() {
    let emulator = start(emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
    let client = client(&emulator);
    let audio = wav(1_500);
    emulator.script_transcript_for(&audio, "Uploaded and transcribed.");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("local.wav");
    std::fs::File::create(&path)
        .and_then(|mut file| file.write_all(&audio))
        .expect("write");

    let done = client
        .transcribe(
            Audio::path(&path),
            TranscribeOptions::new()
                .model("stt-async-v4")
                .configure(|request| request.speaker_diarization(true))
                .wait(quick_wait())
                .cleanup(true),
        )
        .await
        .expect("transcribe");
    assert_eq!(done.transcription.model, "stt-async-v4");
    assert_eq!(done.transcription.filename, "local.wav");
    assert!(done.transcription.enable_speaker_diarization);
    assert_eq!(done.transcript.text, "Uploaded and transcribed.");
    assert_eq!(counts(&client).await, (0, 0), "job and upload deleted");

    // A file uploaded beforehand is never deleted by the flow.
    let file = client
        .files()
        .upload(Upload::bytes(audio, "mine.wav"))
        .await
        .expect("upload");
    client
        .transcribe(
            Audio::File(file.id.clone()),
            TranscribeOptions::new().wait(quick_wait()).cleanup(true),
        )
        .await
        .expect("transcribe");
    assert_eq!(counts(&client).await, (0, 1));
    client.files().get(&file.id).await.expect("still there");
    emulator.shutdown().await;
}

#[tokio::test]
async fn failed_jobs_are_cleaned_up_and_keep_their_error() {
    let emulator = start(emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
    let client = client(&emulator);

    let error = client
        .transcribe(
            Audio::Upload(Upload::bytes(
                b"this is plain text, not audio".to_vec(),
                "notes.txt",
            )),
            TranscribeOptions::new().wait(quick_wait()).cleanup(true),
        )
        .await
        .expect_err("not audio");
    let Error::TranscriptionFailed { error_type, .. } = &error else {
        panic!("expected a failed transcription, got {error:?}");
    };
    assert_eq!(error_type, "audio_decode_error");
    assert_eq!(counts(&client).await, (0, 0), "job and upload deleted");

    let mut server = Server::start(vec![(404, Bytes::new())]).await;
    let error = client
        .transcribe(
            Audio::url(server.url("/missing.wav")),
            TranscribeOptions::new().wait(quick_wait()).cleanup(true),
        )
        .await
        .expect_err("download fails");
    let Error::TranscriptionFailed { error_type, .. } = &error else {
        panic!("expected a failed transcription, got {error:?}");
    };
    assert_eq!(error_type, "audio_download_error");
    assert_eq!(server.next_request().await, "/missing.wav");
    assert_eq!(counts(&client).await, (0, 0));

    // A request the API refuses: the API's error comes back, and the upload is still removed.
    let error = client
        .transcribe(
            Audio::Upload(Upload::bytes(wav(100), "a.wav")),
            TranscribeOptions::new()
                .model("stt-no-such-model")
                .wait(quick_wait())
                .cleanup(true),
        )
        .await
        .expect_err("unknown model");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400), "{error}");
    assert_eq!(counts(&client).await, (0, 0));
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unfinished_job_times_out_and_cleanup_keeps_that_error() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let error = client
        .transcribe(
            Audio::Upload(Upload::bytes(wav(100), "a.wav")),
            TranscribeOptions::new()
                .wait(
                    WaitOptions::new()
                        .initial_interval(Duration::from_millis(1))
                        .timeout(Some(Duration::from_millis(20))),
                )
                .cleanup(true),
        )
        .await
        .expect_err("the manual clock never moves");
    assert!(matches!(error, Error::WaitTimeout { .. }), "{error:?}");
    // The queued job cannot be deleted (409, logged), and it still needs its audio: the upload
    // is kept too, rather than failing the job.
    assert_eq!(counts(&client).await, (1, 1));
    emulator.shutdown().await;
}

#[tokio::test]
async fn webhook_urls_reach_the_receiver_byte_for_byte() {
    let emulator = start(emulator().webhook_retry_schedule([Duration::ZERO, Duration::ZERO])).await;
    let client = client(&emulator);
    // The first delivery fails, so the emulator has recorded it by the time the second one
    // arrives.
    let mut receiver = Server::start(vec![(500, Bytes::new()), (200, Bytes::new())]).await;
    let webhook = Webhook::new(receiver.url("/hooks/soniox?source=app&x=%7E"))
        .metadata("order", "Zoë & Co")
        .metadata("path", "/a?b=c#d")
        .metadata("ключ", "🎙 100%")
        .auth("X-Hook-Secret", "hook-secret-value");
    let expected_query = "source=app&x=%7E&order=Zo%C3%AB+%26+Co&path=%2Fa%3Fb%3Dc%23d\
                          &%D0%BA%D0%BB%D1%8E%D1%87=%F0%9F%8E%99+100%25";
    let expected_url = receiver.url(&format!("/hooks/soniox?{expected_query}"));
    assert_eq!(webhook.url().expect("a valid URL"), expected_url);

    let request = webhook.apply(url_request("stt-async-v5")).expect("apply");
    let job = client
        .transcriptions()
        .create(&request)
        .await
        .expect("create");
    assert_eq!(job.webhook_url.as_deref(), Some(expected_url.as_str()));
    emulator.finish_jobs().await;

    let target = format!("/hooks/soniox?{expected_query}");
    assert_eq!(receiver.next_request().await, target);
    assert_eq!(receiver.next_request().await, target);
    let attempts = emulator.webhook_attempts();
    let first = attempts.first().expect("the first attempt is recorded");
    assert_eq!(first.transcription_id, job.id);
    assert_eq!(first.url, expected_url);
    assert_eq!(
        first.outcome,
        DeliveryOutcome::Answered { status_code: 500 }
    );
    assert_eq!(
        first.headers.get("x-hook-secret").map(String::as_str),
        Some(REDACTED)
    );

    // Over the limit once the metadata is added: refused before sending.
    let long =
        Webhook::new(receiver.url(&format!("/{}", "p".repeat(220)))).metadata("k", "v".repeat(20));
    let error = long
        .apply(url_request("stt-async-v5"))
        .expect_err("too long");
    let Error::Validation(errors) = &error else {
        panic!("expected a validation error, got {error:?}");
    };
    assert!(errors.has("body.payload.webhook_url"), "{errors}");
    emulator.shutdown().await;
}
