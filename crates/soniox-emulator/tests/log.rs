//! The binary's log when stderr is not a terminal: plain text that tools can read.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
};

#[test]
fn a_redirected_log_has_no_colour_codes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soniox-emulator"))
        .args(["--addr", "127.0.0.1:0", "--log-level", "info"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    assert!(line.starts_with("listening on "), "{line}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("the log is UTF-8");
    assert!(child.wait().expect("exits").success());
    assert!(log.contains("soniox emulator listening"), "{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in {log:?}");
}
