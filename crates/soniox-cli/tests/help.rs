//! `--help` of every command, pinned.

mod common;

use common::soniox;

#[track_caller]
fn check(name: &str, stdout: &str) {
    insta::assert_snapshot!(name, stdout);
}

#[tokio::test]
async fn every_command_has_pinned_help() {
    let commands: &[&[&str]] = &[
        &[],
        &["transcribe"],
        &["files"],
        &["files", "list"],
        &["files", "get"],
        &["files", "delete"],
        &["files", "upload"],
        &["transcriptions"],
        &["transcriptions", "list"],
        &["transcriptions", "get"],
        &["transcriptions", "delete"],
        &["transcriptions", "transcript"],
        &["transcriptions", "wait"],
        &["models"],
        &["temp-key"],
        &["batch"],
        &["webhook"],
        &["webhook", "listen"],
        &["webhook", "send"],
        &["webhook", "relay"],
        &["emulator"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let run = soniox(&args).await;
        let name = if command.is_empty() {
            "help".to_owned()
        } else {
            format!("help_{}", command.join("_").replace('-', "_"))
        };
        check(&name, run.success());
    }
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let run = soniox(&["transcribe"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("<PATH|URL>"), "{}", run.stderr);
    let run = soniox(&["no-such-command"]).await;
    assert_eq!(run.code, 2);
}

#[tokio::test]
async fn version_prints_and_exits_0() {
    let run = soniox(&["--version"]).await;
    assert_eq!(
        run.success().trim(),
        concat!("soniox ", env!("CARGO_PKG_VERSION"))
    );
}
