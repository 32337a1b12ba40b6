//! Running the built `soniox` binary against an emulator started in the test.

#![allow(dead_code, unreachable_pub)]

use std::{path::Path, process::Stdio, time::Duration};

use futures_util::TryStreamExt as _;
use soniox_client::Client;
use soniox_emulator::{Emulator, FaultAction, FaultRule, JobClock};
use soniox_types::ListParams;

/// The key the test emulators accept.
pub const KEY: &str = "test-key";

/// The variables the binary reads, removed so the caller's environment cannot leak in.
const SONIOX_VARS: [&str; 5] = [
    "SONIOX_API_KEY",
    "SONIOX_API_BASE_URL",
    "SONIOX_API_WEBHOOK_SECRET",
    "SONIOX_API_WEBHOOK_HEADER",
    "SONIOX_EMULATOR_API_KEYS",
];

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn success(&self) -> &str {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        &self.stdout
    }

    #[track_caller]
    pub fn failure(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert_eq!(self.stderr.lines().count(), 1, "one line: {}", self.stderr);
        self.stderr.trim_end()
    }
}

/// The binary with a clean environment.
pub fn command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_soniox"));
    for var in SONIOX_VARS {
        command.env_remove(var);
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs the binary with `args` and a clean environment.
pub async fn soniox(args: &[&str]) -> Run {
    finish(command(args)).await
}

/// Runs the binary against `emulator`, with its URL and key in the environment.
pub async fn soniox_at(emulator: &Emulator, args: &[&str]) -> Run {
    finish(at(emulator, args)).await
}

/// The command for `args` against `emulator`.
pub fn at(emulator: &Emulator, args: &[&str]) -> tokio::process::Command {
    let mut command = command(args);
    command
        .env("SONIOX_API_BASE_URL", emulator.base_url())
        .env("SONIOX_API_KEY", KEY);
    command
}

pub async fn finish(mut command: tokio::process::Command) -> Run {
    let output = command.output().await.expect("the binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// An emulator whose jobs finish at once, accepting only [`KEY`].
pub async fn emulator() -> Emulator {
    emulator_with(JobClock::Fixed(Duration::ZERO)).await
}

pub async fn emulator_with(clock: JobClock) -> Emulator {
    Emulator::builder()
        .api_key(KEY)
        .job_clock(clock)
        .webhook_retry_schedule([Duration::ZERO, Duration::from_millis(50)])
        .start()
        .await
        .expect("the emulator starts")
}

/// A client of `emulator`, to look at what the binary left behind.
pub fn client(emulator: &Emulator) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .build()
        .expect("client")
}

/// The files `emulator` holds.
pub async fn files(emulator: &Emulator) -> Vec<soniox_types::File> {
    client(emulator)
        .files()
        .list(ListParams::new())
        .try_collect()
        .await
        .expect("files")
}

/// How many files and transcriptions `emulator` holds.
pub async fn held(emulator: &Emulator) -> (usize, usize) {
    let client = client(emulator);
    let files = files(emulator).await;
    let jobs: Vec<_> = client
        .transcriptions()
        .list(ListParams::new())
        .try_collect()
        .await
        .expect("transcriptions");
    (files.len(), jobs.len())
}

/// Writes a WAV of `seconds` into `dir` and returns its path as a string.
pub fn wav(dir: &Path, name: &str, seconds: u64) -> String {
    let path = dir.join(name);
    std::fs::write(&path, soniox_emulator::wav(Duration::from_secs(seconds))).expect("write wav");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Makes `emulator` wait `millis` before handling each `method` request under `path_prefix`.
pub fn hold(emulator: &Emulator, method: &str, path_prefix: &str, millis: u64) {
    emulator.add_fault(
        FaultRule::new(FaultAction::Latency { millis })
            .method(method)
            .path_prefix(path_prefix),
    );
}

/// Waits until `emulator` has had a `method` request for `route` (such as
/// `/v1/transcriptions/{id}`).
pub async fn requested(emulator: &Emulator, method: &str, route: &str) {
    while emulator.request_counts().get(method, route) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A running command's stderr, read a line at a time and kept.
pub struct Stderr {
    lines: Lines<tokio::process::ChildStderr>,
    /// What was read so far.
    pub text: String,
}

impl Stderr {
    /// Takes `child`'s piped stderr.
    pub fn of(child: &mut tokio::process::Child) -> Stderr {
        let stderr = child.stderr.take().expect("stderr piped");
        Stderr {
            lines: tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr)),
            text: String::new(),
        }
    }

    /// Reads up to and including the first line that contains `needle`.
    pub async fn until(&mut self, needle: &str) {
        loop {
            let Some(line) = self.next_line().await else {
                panic!("no line with {needle:?}: {}", self.text);
            };
            if line.contains(needle) {
                return;
            }
        }
    }

    /// Reads to the end; all it printed.
    pub async fn rest(mut self) -> String {
        while self.next_line().await.is_some() {}
        self.text
    }

    /// The next line, also added to `text`; `None` at the end.
    async fn next_line(&mut self) -> Option<String> {
        let line = self.lines.next_line().await.expect("read stderr")?;
        self.text.push_str(&line);
        self.text.push('\n');
        Some(line)
    }
}

/// Sends SIGINT to `child`, as Ctrl-C does.
pub async fn interrupt(child: &tokio::process::Child) {
    let pid = child.id().expect("still running").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
}

/// A long-running `soniox` (a listener, a relay) whose first stderr line was read.
pub struct Server {
    pub child: tokio::process::Child,
    /// The first stderr line, such as `listening on http://127.0.0.1:PORT/hook`.
    pub first_line: String,
    /// `None` once closed.
    stdout: Option<Lines<tokio::process::ChildStdout>>,
    stderr: Lines<tokio::process::ChildStderr>,
}

type Lines<R> = tokio::io::Lines<tokio::io::BufReader<R>>;

impl Server {
    /// Starts `command` and waits for its first line on stderr.
    pub async fn start(mut command: tokio::process::Command) -> Server {
        use tokio::io::AsyncBufReadExt as _;
        let mut child = command.spawn().expect("spawn");
        let stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut stderr = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
        let first_line = stderr
            .next_line()
            .await
            .expect("read")
            .expect("a first line");
        Server {
            child,
            first_line,
            stdout: Some(stdout),
            stderr,
        }
    }

    /// The URL in the first line (`... on URL`).
    pub fn url(&self) -> &str {
        self.first_line
            .split(' ')
            .find(|word| word.starts_with("http"))
            .expect("a URL")
    }

    /// The next line it prints on stdout.
    pub async fn next_line(&mut self) -> String {
        self.stdout
            .as_mut()
            .expect("stdout is open")
            .next_line()
            .await
            .expect("read")
            .expect("a line")
    }

    /// Closes the reading end of its stdout, as a reader that went away does.
    pub fn close_stdout(&mut self) {
        self.stdout = None;
    }

    /// The next line it prints on stderr.
    pub async fn next_stderr_line(&mut self) -> String {
        self.stderr
            .next_line()
            .await
            .expect("read")
            .expect("a line")
    }

    /// Stops it with SIGINT and returns its exit code, the rest of stdout and of stderr.
    pub async fn stop(self) -> Run {
        interrupt(&self.child).await;
        self.exit().await
    }

    /// Waits for it to exit on its own and returns its exit code, the rest of stdout and of
    /// stderr.
    pub async fn exit(mut self) -> Run {
        let mut stdout = String::new();
        if let Some(lines) = &mut self.stdout {
            while let Some(line) = lines.next_line().await.expect("stdout") {
                stdout.push_str(&line);
                stdout.push('\n');
            }
        }
        let mut stderr = String::new();
        while let Some(line) = self.stderr.next_line().await.expect("stderr") {
            stderr.push_str(&line);
            stderr.push('\n');
        }
        let status = self.child.wait().await.expect("exits");
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}
