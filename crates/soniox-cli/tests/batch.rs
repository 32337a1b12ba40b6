//! `soniox batch`, end to end: a directory in, transcripts out, nothing left in the API;
//! interrupted and resumed without submitting anything twice.

mod common;

use std::{path::Path, time::Duration};

use common::{at, emulator, emulator_with, finish, held, soniox_at, wav};
use soniox_emulator::{Emulator, FaultAction, FaultRule, JobClock};

fn creates(emulator: &Emulator) -> u64 {
    emulator.request_counts().get("POST", "/v1/transcriptions")
}

fn uploads(emulator: &Emulator) -> u64 {
    emulator.request_counts().get("POST", "/v1/files")
}

/// Every one of `count` inputs has its text output, nothing is left in the API; stops the
/// emulator.
async fn transcribed_and_cleaned_up(emulator: Emulator, out: &str, count: u64) {
    for n in 1..=count {
        assert!(Path::new(out).join(format!("call-{n}.wav.txt")).exists());
    }
    assert_eq!(held(&emulator).await, (0, 0));
    emulator.shutdown().await;
}

/// `batch` arguments polling every 10ms, with `extra` ones.
fn quick_batch<'a, const N: usize>(
    input: &'a str,
    out: &'a str,
    concurrency: &'a str,
    extra: [&'a str; N],
) -> Vec<&'a str> {
    let mut args = vec!["batch", input, "--out", out, "--concurrency", concurrency];
    args.extend(["--poll-interval", "10ms"]);
    args.extend(extra);
    args
}

fn inputs(dir: &Path, count: u64) -> std::path::PathBuf {
    let input = dir.join("in");
    std::fs::create_dir(&input).expect("mkdir");
    for n in 1..=count {
        wav(&input, &format!("call-{n}.wav"), n);
    }
    input
}

#[tokio::test]
async fn a_directory_is_transcribed_and_cleaned_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator().await;
    let input = inputs(dir.path(), 5);
    std::fs::write(input.join("notes.txt"), "not audio").expect("write");
    let out = dir.path().join("out");
    let (input, out) = (input.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    let args = [
        "batch",
        input,
        "--out",
        out,
        "--concurrency",
        "2",
        "--poll-interval",
        "10ms",
        "--format",
        "srt",
    ];
    let run = soniox_at(&emulator, &args).await;
    assert_eq!(run.code, 5, "one input is not audio: {}", run.stderr);
    assert_eq!(
        run.stderr,
        "error: 1 of 6 files failed; see the .error.txt files\n"
    );
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines[0], "call-1.wav -> call-1.wav.srt");
    assert_eq!(lines[5], "notes.txt -> notes.txt.error.txt");
    for n in 1..=5 {
        let srt = std::fs::read_to_string(Path::new(out).join(format!("call-{n}.wav.srt")))
            .expect("written");
        assert!(srt.starts_with("1\n00:00:00,"), "{srt}");
    }
    let error =
        std::fs::read_to_string(Path::new(out).join("notes.txt.error.txt")).expect("written");
    assert!(error.starts_with("audio_decode_error: "), "{error}");
    assert_eq!(
        held(&emulator).await,
        (0, 0),
        "jobs and uploads are deleted once written"
    );
    assert_eq!(creates(&emulator), 6);
    let gets = emulator
        .request_counts()
        .get("GET", "/v1/transcriptions/{id}");
    // The tracker's, one a job (for its upload's id), and the batch's for the failed job's
    // upload: outputs are named by the jobs' references, without a GET each.
    assert!(gets <= 7, "{gets} GET /v1/transcriptions/{{id}}");

    // Run again: everything is done, nothing is submitted.
    let run = soniox_at(&emulator, &args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(creates(&emulator), 6);
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_interrupted_batch_resumes_without_submitting_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Jobs move only when the test says so.
    let emulator = emulator_with(JobClock::Manual).await;
    let input = inputs(dir.path(), 4);
    let out = dir.path().join("out");
    let (input, out) = (input.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    let args = quick_batch(input, out, "2", []);

    let child = at(&emulator, &args).spawn().expect("spawn");
    while creates(&emulator) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    common::interrupt(&child).await;
    let output = child.wait_with_output().await.expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    assert_eq!(creates(&emulator), 2, "the concurrency bound held");

    // Resume while jobs are finished as they come.
    let resumed = tokio::spawn(finish(at(&emulator, &args)));
    while !resumed.is_finished() {
        emulator.finish_jobs().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let run = resumed.await.expect("joined");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        creates(&emulator),
        4,
        "the two jobs of the first run were not submitted again"
    );
    transcribed_and_cleaned_up(emulator, out, 4).await;
}

/// The crash window between the tracker's record of a job and anything the batch writes
/// itself: the first create reaches the API but its answer never comes back, and the batch is
/// killed (SIGKILL, no cleanup) while it waits. The resumed batch finds the input by its
/// reference in the tracker's database: it neither uploads nor creates it again, and the
/// tracker adopts the job the API has.
#[tokio::test]
async fn a_batch_killed_mid_submit_resumes_without_a_second_create() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator().await;
    let input = inputs(dir.path(), 2);
    let out = dir.path().join("out");
    let (input, out) = (input.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    let args = quick_batch(input, out, "1", ["--create-grace", "1s"]);
    let lost_answer = FaultRule::new(FaultAction::DropResponse)
        .method("POST")
        .path_prefix("/v1/transcriptions");
    emulator.add_fault(lost_answer);

    let mut child = at(&emulator, &args).spawn().expect("spawn");
    let client = common::client(&emulator);
    // The job exists at the API; the batch never learnt its id.
    loop {
        let page = client.transcriptions().list_page(&Default::default()).await;
        if !page.expect("list").transcriptions.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("killed");
    assert_eq!((creates(&emulator), uploads(&emulator)), (1, 1));

    emulator.clear_faults();
    let run = soniox_at(&emulator, &args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        (creates(&emulator), uploads(&emulator)),
        (2, 2),
        "the killed run's input was neither uploaded nor created again"
    );
    transcribed_and_cleaned_up(emulator, out, 2).await;
}

#[tokio::test]
async fn bad_sources_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator().await;
    let out = dir.path().join("out");
    let out = out.to_str().expect("utf-8");
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "missing.wav\n").expect("write");
    let run = soniox_at(
        &emulator,
        &["batch", list.to_str().expect("utf-8"), "--out", out],
    )
    .await;
    assert!(
        run.failure(2).ends_with("missing.wav: not a file"),
        "{}",
        run.stderr
    );
    let run = soniox_at(
        &emulator,
        &[
            "batch",
            list.to_str().expect("utf-8"),
            "--out",
            out,
            "--concurrency",
            "101",
        ],
    )
    .await;
    assert_eq!(run.code, 2);
    emulator.shutdown().await;
}
