//! `files`, `transcriptions`, `models`, `temp-key` and `emulator`, end to end.

mod common;

use common::{command, emulator, emulator_with, held, soniox_at, wav};
use soniox_emulator::JobClock;
use tokio::io::AsyncBufReadExt as _;

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

#[tokio::test]
async fn files_upload_list_get_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator().await;
    let a = wav(dir.path(), "a.wav", 1);
    let b = wav(dir.path(), "b.wav", 1);
    let run = soniox_at(
        &emulator,
        &[
            "--json",
            "files",
            "upload",
            &a,
            &b,
            "--client-reference-id",
            "ref-1",
        ],
    )
    .await;
    let uploaded = json_lines(run.success());
    assert_eq!(uploaded.len(), 2);
    assert_eq!(uploaded[0]["filename"], "a.wav");
    assert_eq!(uploaded[1]["client_reference_id"], "ref-1");

    // One item per page: the stream follows the cursor.
    let run = soniox_at(&emulator, &["files", "list", "--page-size", "1"]).await;
    let lines: Vec<&str> = run.success().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let id = uploaded[0]["id"].as_str().expect("id");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with(&format!("{id}\ta.wav\t"))),
        "{lines:?}"
    );
    let run = soniox_at(&emulator, &["--json", "files", "list"]).await;
    assert_eq!(json_lines(run.success()).len(), 2);

    let run = soniox_at(&emulator, &["--json", "files", "get", id]).await;
    assert_eq!(json_lines(run.success())[0]["id"], id);
    let run = soniox_at(&emulator, &["files", "delete", id]).await;
    assert_eq!(run.success(), format!("deleted {id}\n"));
    let run = soniox_at(&emulator, &["files", "get", id]).await;
    let line = run.failure(3);
    assert!(
        line.starts_with("error: API error 404 file_not_found: "),
        "{line}"
    );
    assert!(line.contains("(request id "), "{line}");
    let run = soniox_at(&emulator, &["files", "upload", "/no/such.wav"]).await;
    let line = run.failure(1);
    assert!(
        line.starts_with("error: cannot read /no/such.wav: No such file"),
        "{line}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn transcriptions_list_wait_transcript_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator_with(JobClock::Manual).await;
    let path = wav(dir.path(), "a.wav", 2);
    emulator.script_transcript_for(&std::fs::read(&path).expect("read"), "One two three.");
    let run = soniox_at(&emulator, &["transcribe", &path, "--no-wait"]).await;
    let id = run.success().trim().to_owned();

    let run = soniox_at(&emulator, &["transcriptions", "list"]).await;
    assert!(
        run.success().starts_with(&format!("{id}\tqueued\t")),
        "{}",
        run.stdout
    );
    let run = soniox_at(&emulator, &["transcriptions", "delete", &id]).await;
    let line = run.failure(3);
    assert!(line.starts_with("error: API error 409 "), "{line}");
    let run = soniox_at(&emulator, &["transcriptions", "transcript", &id]).await;
    assert!(run.failure(3).starts_with("error: API error 409 "));

    emulator.finish_jobs().await;
    let run = soniox_at(
        &emulator,
        &[
            "--json",
            "transcriptions",
            "wait",
            &id,
            "--poll-interval",
            "10ms",
        ],
    )
    .await;
    assert_eq!(json_lines(run.success())[0]["status"], "completed");
    let run = soniox_at(&emulator, &["transcriptions", "get", &id]).await;
    assert!(run.success().starts_with(&format!("{id}\tcompleted\t")));
    let run = soniox_at(&emulator, &["transcriptions", "transcript", &id]).await;
    assert_eq!(run.success(), "One two three.\n");
    let run = soniox_at(
        &emulator,
        &["transcriptions", "transcript", &id, "--format", "srt"],
    )
    .await;
    assert!(run.success().starts_with("1\n00:00:00,000 --> "));
    let run = soniox_at(&emulator, &["--json", "transcriptions", "delete", &id]).await;
    assert_eq!(
        json_lines(run.success())[0],
        serde_json::json!({"id": id, "deleted": true})
    );
    assert_eq!(held(&emulator).await, (1, 0));

    // A job that fails: `wait` shows it and exits 5.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not audio").expect("write");
    let run = soniox_at(
        &emulator,
        &["transcribe", text.to_str().expect("utf-8"), "--no-wait"],
    )
    .await;
    let id = run.success().trim().to_owned();
    emulator.finish_jobs().await;
    let run = soniox_at(
        &emulator,
        &["transcriptions", "wait", &id, "--poll-interval", "10ms"],
    )
    .await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stdout.starts_with(&format!("{id}\terror\t")));
    emulator.shutdown().await;
}

#[tokio::test]
async fn models_and_temporary_keys() {
    let emulator = emulator().await;
    let run = soniox_at(&emulator, &["models"]).await;
    assert!(
        run.success()
            .lines()
            .any(|line| line.starts_with("stt-async-v5\t")),
        "{}",
        run.stdout
    );
    let run = soniox_at(&emulator, &["--json", "models"]).await;
    assert!(
        json_lines(run.success())
            .iter()
            .any(|model| model["id"] == "stt-async-v5")
    );

    let run = soniox_at(&emulator, &["temp-key", "--expires-in", "120"]).await;
    assert!(run.success().starts_with("temp:"), "{}", run.stdout);
    let run = soniox_at(&emulator, &["--json", "temp-key", "--single-use"]).await;
    let key = &json_lines(run.success())[0];
    assert!(
        key["api_key"]
            .as_str()
            .is_some_and(|key| key.starts_with("temp:"))
    );
    assert!(key["expires_at"].is_string());
    let run = soniox_at(&emulator, &["temp-key", "--expires-in", "0"]).await;
    assert!(
        run.failure(2)
            .starts_with("error: invalid request: body.payload.expires_in_seconds"),
        "{}",
        run.stderr
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn emulator_serves_until_interrupted() {
    let mut child = command(&["emulator", "--processing", "0", "--accept-api-key", "k1"])
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines.next_line().await.expect("read").expect("a line");
    let url = first
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();

    let run = common::finish({
        let mut run = command(&["--base-url", &url, "--api-key", "k1", "models"]);
        run.kill_on_drop(true);
        run
    })
    .await;
    assert!(run.success().contains("stt-async-v5"));
    let run = common::finish(command(&[
        "--base-url",
        &url,
        "--api-key",
        "other",
        "models",
    ]))
    .await;
    assert!(run.failure(3).contains("401 unauthenticated"));

    common::interrupt(&child).await;
    assert_eq!(child.wait().await.expect("exits").code(), Some(0));
}

#[tokio::test]
async fn a_closed_stdout_ends_quietly() {
    let mut child = command(&["--emulator", "models"]).spawn().expect("spawn");
    // Closed before the command can print (it starts an emulator first), as `| head -0` does.
    drop(child.stdout.take());
    let output = child.wait_with_output().await.expect("exits");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
