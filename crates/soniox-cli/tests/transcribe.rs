//! `soniox transcribe` end to end: formats, output file, keep, no-wait, errors, Ctrl-C.

mod common;

use common::{
    KEY, Stderr, at, emulator, emulator_with, held, hold, requested, soniox, soniox_at, wav,
};
use soniox_emulator::{FaultAction, FaultRule, JobClock};

const SCRIPT: &str = "Hello there. How are you today? I am fine, thanks for asking.";

/// An emulator with a scripted transcript for a 3-second WAV at `dir/call.wav`.
async fn scripted(dir: &std::path::Path) -> (soniox_emulator::Emulator, String) {
    let emulator = emulator().await;
    let path = wav(dir, "call.wav", 3);
    emulator.script_transcript_for(&std::fs::read(&path).expect("read"), SCRIPT);
    (emulator, path)
}

#[tokio::test]
async fn formats_are_pinned_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, path) = scripted(dir.path()).await;
    for format in ["text", "srt", "vtt", "speakers"] {
        let run = soniox_at(
            &emulator,
            &[
                "transcribe",
                &path,
                "--diarize",
                "--format",
                format,
                "--poll-interval",
                "10ms",
            ],
        )
        .await;
        insta::assert_snapshot!(format!("transcribe_{format}"), run.success());
        assert_eq!(
            run.stderr, "",
            "nothing on stderr when it is not a terminal"
        );
    }
    let run = soniox_at(
        &emulator,
        &["--json", "transcribe", &path, "--poll-interval", "10ms"],
    )
    .await;
    let transcript: serde_json::Value = serde_json::from_str(run.success()).expect("one JSON line");
    assert_eq!(transcript["text"].as_str().map(str::trim), Some(SCRIPT));
    assert!(
        transcript["tokens"]
            .as_array()
            .is_some_and(|tokens| !tokens.is_empty())
    );
    assert_eq!(
        held(&emulator).await,
        (0, 0),
        "uploads and jobs are deleted"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn output_file_keep_and_several_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, path) = scripted(dir.path()).await;
    let out = dir.path().join("call.srt");
    let run = soniox_at(
        &emulator,
        &[
            "transcribe",
            &path,
            "--format",
            "srt",
            "-o",
            out.to_str().expect("utf-8"),
            "--keep",
            "--poll-interval",
            "10ms",
        ],
    )
    .await;
    assert_eq!(run.success(), "");
    let srt = std::fs::read_to_string(&out).expect("written");
    assert!(srt.starts_with("1\n00:00:00,"), "{srt}");
    assert!(run.stderr.contains("kept transcription"), "{}", run.stderr);
    assert_eq!(
        held(&emulator).await,
        (1, 1),
        "--keep keeps the upload and the job"
    );

    let other = wav(dir.path(), "other.wav", 1);
    let run = soniox_at(
        &emulator,
        &["transcribe", &path, &other, "--poll-interval", "10ms"],
    )
    .await;
    let stdout = run.success();
    assert!(
        stdout.starts_with(&format!("==> {path} <==\n{SCRIPT}\n==> {other} <==\n")),
        "{stdout}"
    );

    let run = soniox_at(&emulator, &["transcribe", &path, &other, "-o", "x.txt"]).await;
    assert!(run.failure(2).contains("--output takes one input"));
    emulator.shutdown().await;
}

/// The transcript is written before the job and the upload are deleted: when it cannot be
/// written, both are kept, and the note says so, so that it can be fetched again.
#[tokio::test]
async fn a_transcript_that_cannot_be_written_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, path) = scripted(dir.path()).await;
    let out = dir.path().join("missing").join("call.txt");
    let run = soniox_at(
        &emulator,
        &[
            "transcribe",
            &path,
            "-o",
            out.to_str().expect("utf-8"),
            "--poll-interval",
            "10ms",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let stderr: Vec<&str> = run.stderr.lines().collect();
    assert!(
        matches!(
            stderr[..],
            [job, file, error] if job.starts_with("kept transcription ")
                && file.starts_with("kept file ")
                && error.starts_with("error: ") && error.contains("call.txt")
        ),
        "{stderr:?}"
    );
    assert_eq!(held(&emulator).await, (1, 1), "the job and the upload kept");
    emulator.shutdown().await;
}

#[tokio::test]
async fn no_wait_prints_the_job_and_leaves_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, path) = scripted(dir.path()).await;
    let run = soniox_at(
        &emulator,
        &[
            "transcribe",
            &path,
            "--no-wait",
            "--webhook-url",
            "http://127.0.0.1:9/hook",
            "--webhook-secret",
            "s3cr3t",
            "--webhook-meta",
            "order=42",
        ],
    )
    .await;
    let id = run.success().trim().to_owned();
    let job = common::client(&emulator)
        .transcriptions()
        .get(&soniox_types::TranscriptionId::new(id))
        .await
        .expect("the job exists");
    assert_eq!(
        job.webhook_url.as_deref(),
        Some("http://127.0.0.1:9/hook?order=42")
    );
    assert_eq!(
        job.webhook_auth_header_name.as_deref(),
        Some("X-Soniox-Webhook-Secret")
    );

    let run = soniox_at(&emulator, &["--json", "transcribe", &path, "--no-wait"]).await;
    let job: serde_json::Value = serde_json::from_str(run.success()).expect("JSON line");
    assert_eq!(job["status"], "queued");
    assert!(!run.stdout.contains("s3cr3t"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn translations_follow_the_spoken_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, path) = scripted(dir.path()).await;
    let run = soniox_at(
        &emulator,
        &[
            "transcribe",
            &path,
            "--translate-to",
            "de",
            "--poll-interval",
            "10ms",
        ],
    )
    .await;
    let (spoken, translated) = run
        .success()
        .split_once("\n\n")
        .expect("a blank line between");
    assert_eq!(spoken, SCRIPT);
    assert!(!translated.trim().is_empty());
    let run = soniox_at(
        &emulator,
        &["transcribe", &path, "--translate-between", "en"],
    )
    .await;
    assert_eq!(
        run.failure(2),
        "error: --translate-between takes two languages: A,B"
    );
    let run = soniox_at(
        &emulator,
        &[
            "transcribe",
            &path,
            "--translate-to",
            "de",
            "--translate-between",
            "en,es",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "the two translations conflict");
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_embedded_emulator_needs_no_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = wav(dir.path(), "a.wav", 2);
    let run = soniox(&["--emulator", "transcribe", &path, "--format", "vtt"]).await;
    assert!(
        run.success().starts_with("WEBVTT\n\n00:00:00.000 --> "),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn errors_are_one_line_with_distinct_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, path) = scripted(dir.path()).await;

    let run = soniox(&["transcribe", &path]).await;
    assert_eq!(
        run.failure(2),
        "error: no API key: pass --api-key or set SONIOX_API_KEY (or use --emulator)"
    );

    let long = "m".repeat(40);
    let run = soniox_at(&emulator, &["transcribe", &path, "--model", &long]).await;
    assert_eq!(
        run.failure(2),
        "error: invalid request: body.payload.model: String should have at most 32 characters"
    );

    let run = soniox_at(&emulator, &["--api-key", "wrong", "transcribe", &path]).await;
    let line = run.failure(3);
    assert!(
        line.starts_with("error: API error 401 unauthenticated: "),
        "{line}"
    );
    assert!(line.contains("(request id "), "{line}");
    assert!(!line.contains("wrong"), "the key never shows: {line}");

    let run = soniox_at(
        &emulator,
        &["transcribe", &path, "--model", "no-such-model"],
    )
    .await;
    let line = run.failure(3);
    assert!(
        line.starts_with("error: API error 400 invalid_request: "),
        "{line}"
    );

    let run = soniox(&[
        "--api-key",
        KEY,
        "--base-url",
        "http://127.0.0.1:1",
        "transcribe",
        &path,
    ])
    .await;
    assert!(
        run.failure(4).contains("Connection refused"),
        "{}",
        run.stderr
    );

    // Plain http to another machine would send the key in cleartext: refused before any
    // request, unless allowed (0.0.0.0 is not loopback, yet connecting to it fails at once).
    let insecure = ["--api-key", KEY, "--base-url", "http://0.0.0.0:1", "models"];
    let run = soniox(&insecure).await;
    let line = run.failure(2);
    assert!(line.contains("in cleartext"), "{line}");
    assert!(!line.contains(KEY), "{line}");
    let run = soniox(&[&["--allow-insecure-http"][..], &insecure[..]].concat()).await;
    assert!(
        run.failure(4).contains("Connection refused"),
        "{}",
        run.stderr
    );

    let run = soniox_at(&emulator, &["transcribe", "/no/such/file.wav"]).await;
    assert!(
        run.failure(1)
            .starts_with("error: cannot read /no/such/file.wav: No such file"),
        "{}",
        run.stderr
    );

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not audio at all").expect("write");
    let run = soniox_at(
        &emulator,
        &[
            "transcribe",
            text.to_str().expect("utf-8"),
            "--poll-interval",
            "10ms",
        ],
    )
    .await;
    assert!(
        run.failure(5).starts_with("error: transcription "),
        "{}",
        run.stderr
    );
    assert_eq!(
        held(&emulator).await,
        (0, 0),
        "a failed job is cleaned up too"
    );
    emulator.shutdown().await;
}

/// An upload whose answer never comes may have stored the file (here it did): the command
/// fails, and finds the file by the reference it uploaded it with, and deletes it, or with
/// `--keep` names that reference.
#[tokio::test]
async fn an_upload_whose_answer_was_lost_is_found_and_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, path) = scripted(dir.path()).await;
    emulator.add_fault(
        FaultRule::new(FaultAction::DropResponse)
            .method("POST")
            .path_prefix("/v1/files"),
    );
    let run = soniox_at(&emulator, &["transcribe", &path]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    let [found, error] = lines[..] else {
        panic!("a note and the error: {}", run.stderr);
    };
    assert!(
        found.starts_with("the upload was stored though its answer never came: deleting file "),
        "{found}"
    );
    assert!(
        error.contains("may or may not have been carried out"),
        "{error}"
    );
    assert_eq!(
        emulator.request_counts().get("POST", "/v1/files"),
        1,
        "not sent twice"
    );
    assert_eq!(
        held(&emulator).await,
        (0, 0),
        "the stored upload is deleted"
    );
    // With --keep nothing is deleted, and the reference to look for is named.
    let run = soniox_at(&emulator, &["transcribe", &path, "--keep"]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the upload may have been stored: look for client_reference_id soniox-cli-"),
        "{}",
        run.stderr
    );
    assert_eq!(held(&emulator).await, (1, 0));
    emulator.shutdown().await;
}

#[tokio::test]
async fn ctrl_c_while_waiting_cleans_up_and_exits_130() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator_with(JobClock::Manual).await;
    let path = wav(dir.path(), "a.wav", 1);
    let child = at(&emulator, &["transcribe", &path, "--poll-interval", "10ms"])
        .spawn()
        .expect("spawn");
    // Waiting has begun once the job has been polled.
    requested(&emulator, "GET", "/v1/transcriptions/{id}").await;
    common::interrupt(&child).await;
    let output = child.wait_with_output().await.expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.ends_with("error: interrupted\n"), "{stderr}");
    // A queued job cannot be deleted; the upload is, and the way to delete the job is shown.
    assert!(stderr.contains("soniox transcriptions delete"), "{stderr}");
    assert_eq!(held(&emulator).await, (0, 1));
    emulator.shutdown().await;
}

/// Ctrl-C after the upload's body went out whole: the server stores the file all the same
/// (here after its latency, with the body waiting in its socket), and only the answer names
/// it. The command waits for that answer, deletes the file and exits 130, instead of
/// looking for the file before it is stored and leaving it behind.
#[tokio::test]
async fn ctrl_c_after_the_upload_went_out_whole_deletes_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator_with(JobClock::Manual).await;
    let path = wav(dir.path(), "a.wav", 1);
    // Long enough that the signal, sent once the body has gone out, comes before the answer.
    hold(&emulator, "POST", "/v1/files", 4_000);
    let mut child = at(&emulator, &["-v", "transcribe", &path])
        .spawn()
        .expect("spawn");
    let mut stderr = Stderr::of(&mut child);
    stderr.until("upload sent whole").await;
    common::interrupt(&child).await;
    let stderr = stderr.rest().await;
    let status = child.wait().await.expect("exits");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted after the upload went out whole: waiting for its answer"),
        "the signal came before the answer: {stderr}"
    );
    assert!(stderr.ends_with("error: interrupted\n"), "{stderr}");
    assert_eq!(
        emulator.request_counts().get("DELETE", "/v1/files/{id}"),
        1,
        "the file named by the answer is deleted: {stderr}"
    );
    assert_eq!(
        emulator.request_counts().get("POST", "/v1/transcriptions"),
        0,
        "no job is created after Ctrl-C"
    );
    assert_eq!(held(&emulator).await, (0, 0), "nothing is left: {stderr}");
    emulator.shutdown().await;
}

/// Ctrl-C while the upload's body is still going out: the cut request stores nothing, so the
/// command stops at once, without waiting for an answer or looking for the file.
#[tokio::test]
async fn ctrl_c_before_the_upload_went_out_whole_stops_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator_with(JobClock::Manual).await;
    // More than the sockets between the two can hold while the server does not read: the body
    // cannot have gone out whole when the signal comes. Sparse, so the disk is spared.
    let path = dir.path().join("big.wav");
    std::fs::File::create(&path)
        .and_then(|file| file.set_len(64 << 20))
        .expect("create the file");
    hold(&emulator, "POST", "/v1/files", 30_000);
    let child = at(
        &emulator,
        &["transcribe", path.to_str().expect("utf-8 path")],
    )
    .spawn()
    .expect("spawn");
    // The upload has begun once its request has come.
    requested(&emulator, "POST", "/v1/files").await;
    common::interrupt(&child).await;
    let output = child.wait_with_output().await.expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr, "error: interrupted\n", "no wait and no note");
    assert_eq!(
        emulator.request_counts().get("GET", "/v1/files"),
        0,
        "no file is looked for"
    );
    // Dropped, not shut down: a shutdown would wait for the held upload.
    drop(emulator);
}

/// A second Ctrl-C ends the command at once, without waiting for the cleanup the first one
/// began (here stuck: the emulator holds the file's delete for longer than the cleanup's
/// limit), and names what is left: the file, not the transcription already deleted.
#[tokio::test]
async fn a_second_ctrl_c_stops_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The job is done at once, so the cleanup can delete it; the wait's first look is held,
    // so the first Ctrl-C comes while waiting.
    let emulator = emulator().await;
    let path = wav(dir.path(), "a.wav", 1);
    hold(&emulator, "GET", "/v1/transcriptions/", 60_000);
    hold(&emulator, "DELETE", "/v1/files/", 60_000);
    let mut child = at(
        &emulator,
        &["-v", "transcribe", &path, "--poll-interval", "10ms"],
    )
    .spawn()
    .expect("spawn");
    let mut stderr = Stderr::of(&mut child);
    requested(&emulator, "GET", "/v1/transcriptions/{id}").await;
    common::interrupt(&child).await;
    requested(&emulator, "DELETE", "/v1/files/{id}").await;
    // A second signal is no longer taken for a copy of the first.
    stderr.until("a second signal now stops at once").await;
    common::interrupt(&child).await;
    let stderr = stderr.rest().await;
    let status = child.wait().await.expect("exits");
    assert_eq!(status.code(), Some(130), "{stderr}");
    let file = &common::files(&emulator).await[0].id;
    assert!(
        stderr.ends_with(&format!(
            "left file {file}\n\
             error: interrupted again: stopped at once, without finishing cleanup\n"
        )),
        "what is left is named: {stderr}"
    );
    assert!(!stderr.contains("left transcription"), "{stderr}");
    assert_eq!(
        emulator
            .request_counts()
            .get("DELETE", "/v1/transcriptions/{id}"),
        1,
        "the transcription was deleted: {stderr}"
    );
    // Dropped, not shut down: a shutdown would wait for the held requests.
    drop(emulator);
}
