//! SIGTERM, as a deploy sends it, to a real receiver process: running handlers finish within
//! the drain deadline, and those still running at the deadline are released and answered 503.

mod common;

use std::{process::Stdio, time::Duration};

use common::Case;
use soniox_webhook::{ReceivedEvent, Receiver, WebhookService, termination};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, ChildStdout, Command},
};

/// Set in the child process's environment: `finish` or `hang`.
const CHILD: &str = "SONIOX_WEBHOOK_SIGTERM_CHILD";

/// Not a test of its own: the receiver process that the tests below start and stop with
/// SIGTERM. Without the variable (a plain `cargo test`) it returns at once.
#[tokio::test]
#[allow(clippy::print_stdout)]
async fn child_receiver_process() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    let hang = mode == "hang";
    // Installed before "listening" is printed, so the parent's SIGTERM cannot come too early.
    let shutdown = termination();
    let handler = move |_: ReceivedEvent| async move {
        println!("handler started");
        if hang {
            std::future::pending::<()>().await;
        }
        // A handler that takes a while, far less than the drain deadline.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<(), std::convert::Infallible>(())
    };
    let deadline = if hang {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(20)
    };
    let receiver = Receiver::bind(
        "127.0.0.1:0",
        WebhookService::new(common::verifier(), handler),
    )
    .await
    .expect("bind")
    .drain_deadline(deadline);
    println!("listening {}", receiver.local_addr().expect("addr"));
    receiver.run_until(shutdown).await.expect("receiver");
    println!("drained");
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<ChildStdout>>, prefix: &str) -> String {
    loop {
        let line = lines
            .next_line()
            .await
            .expect("child stdout")
            .unwrap_or_else(|| panic!("the child ended before printing {prefix:?}"));
        // libtest prints its own "test child_receiver_process ... " before the first line.
        if let Some((_, rest)) = line.split_once(prefix) {
            return rest.trim().to_owned();
        }
    }
}

/// Starts the child in `mode`, delivers one event, sends SIGTERM once its handler runs, and
/// returns the delivery's answer and whether the child printed "drained" and exited cleanly.
async fn deliver_then_terminate(mode: &str) -> (String, bool) {
    let mut child: Child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "child_receiver_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, mode)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the child starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let addr = next_line(&mut lines, "listening ").await;
    let delivery = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(&Case::good("sigterm").to_wire())
            .await
            .expect("write");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    });
    next_line(&mut lines, "handler started").await;
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let answer = delivery.await.expect("the delivery task");
    next_line(&mut lines, "drained").await;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the child exits after draining")
        .expect("wait");
    (answer, status.success())
}

#[tokio::test]
async fn sigterm_lets_a_running_handler_finish_and_answers_200() {
    let (answer, clean) = deliver_then_terminate("finish").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    assert!(clean);
}

#[tokio::test]
async fn sigterm_past_the_drain_deadline_releases_the_event_and_answers_503() {
    let (answer, clean) = deliver_then_terminate("hang").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.ends_with("shutting down"), "{answer}");
    assert!(clean);
}
