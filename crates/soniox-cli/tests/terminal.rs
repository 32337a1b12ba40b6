//! Progress in a real pseudo-terminal (through util-linux `script`): the upload bar and the
//! status spinner are drawn on a terminal, and never when stderr is a pipe (the other tests
//! check stderr stays empty there).

mod common;

use common::wav;

#[tokio::test]
async fn progress_is_drawn_on_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A minute of audio: the embedded emulator takes a few seconds over it, long enough for
    // the spinner to be drawn.
    let path = wav(dir.path(), "long.wav", 60);
    let soniox = env!("CARGO_BIN_EXE_soniox");
    let output = tokio::process::Command::new("script")
        .args([
            "-qefc",
            &format!("{soniox} --emulator transcribe {path}"),
            "/dev/null",
        ])
        .env("TERM", "xterm")
        .env_remove("SONIOX_API_KEY")
        .env_remove("SONIOX_API_BASE_URL")
        .output()
        .await
        .expect("util-linux `script` runs");
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{terminal}");
    assert!(
        terminal.contains("uploading long.wav ["),
        "no upload bar: {terminal}"
    );
    assert!(
        terminal.contains("/1.83 MiB"),
        "the bar counts bytes: {terminal}"
    );
    assert!(
        terminal.contains(" processing ("),
        "no status spinner: {terminal}"
    );
    assert!(
        terminal.contains("\u{1b}[2K"),
        "lines are redrawn in place: {terminal}"
    );
    // -q hides it all.
    let output = tokio::process::Command::new("script")
        .args([
            "-qefc",
            &format!("{soniox} --emulator -q transcribe {path}"),
            "/dev/null",
        ])
        .output()
        .await
        .expect("runs");
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(
        !terminal.contains("uploading") && !terminal.contains('\u{1b}'),
        "{terminal}"
    );
}
