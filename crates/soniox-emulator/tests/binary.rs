//! The `soniox-emulator` binary: first stdout line, serving, clean stop on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

#[tokio::test]
async fn prints_the_address_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soniox-emulator"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--api-key",
            "bin-key",
            "--processing",
            "0",
            "--log-level",
            "warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("first line names the address")
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let client = reqwest::Client::new();
    let response = client
        .get(format!("{base}/v1/models"))
        .bearer_auth("bin-key")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let response = client
        .get(format!("{base}/v1/models"))
        .bearer_auth("other")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("exits");
    assert!(status.success(), "{status}");
}

#[test]
fn help_documents_every_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_soniox-emulator"))
        .arg("--help")
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--addr",
        "--api-key",
        "--data-dir",
        "--processing",
        "--webhook-retry-schedule",
        "--webhook-timeout",
        "--webhook-concurrency",
        "--allow-audio-host",
        "--allow-any-audio-url",
        "--allow-webhook-host",
        "--allow-any-webhook-host",
        "--allow-admin-host",
        "--admin-token",
        "--header-timeout",
        "--max-connections",
        "--max-pending",
        "--max-transcriptions",
        "--max-files",
        "--fault",
        "--webhook-fault",
        "--seed",
        "--log-level",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
}
