//! `webhook listen` and `webhook send`, end to end: good and bad deliveries, and a real job's.

mod common;

use std::time::Duration;

use common::{Server, at, command, emulator, soniox, soniox_at, wav};

const SECRET: &str = "s3cr3t-value";

async fn listener(extra: &[&str]) -> Server {
    let mut args = vec![
        "webhook",
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--path",
        "/hook",
        "--secret",
        SECRET,
    ];
    args.extend_from_slice(extra);
    Server::start(command(&args)).await
}

#[tokio::test]
async fn listen_accepts_good_deliveries_and_logs_bad_ones() {
    let server = listener(&[]).await;
    assert!(
        server
            .first_line
            .starts_with("listening on http://127.0.0.1:"),
        "{}",
        server.first_line
    );
    let url = server.url().to_owned();
    let with_query = format!("{url}?source=cli");

    let send = |url: String, id: &'static str, secret: &'static str| async move {
        soniox(&[
            "webhook",
            "send",
            "--url",
            &url,
            "--id",
            id,
            "--status",
            "completed",
            "--secret",
            secret,
            "--meta",
            "order=42",
            "--meta",
            "order=43",
        ])
        .await
    };
    let run = send(with_query.clone(), "tr-1", SECRET).await;
    assert_eq!(run.success(), "200 OK\nok\n");
    let run = send(with_query.clone(), "tr-1", SECRET).await;
    assert_eq!(
        run.success(),
        "200 OK\nduplicate\n",
        "a duplicate is acknowledged, not printed again"
    );
    let run = send(with_query.clone(), "tr-2", "wrong-secret").await;
    assert_eq!(
        run.stdout,
        "401 Unauthorized\nwebhook authentication failed\n"
    );
    assert_eq!(
        run.failure(3),
        format!("error: {with_query}&order=42&order=43 answered 401 Unauthorized")
    );
    let other = url.replace("/hook", "/elsewhere");
    let run = send(other, "tr-3", SECRET).await;
    assert!(run.stdout.starts_with("404 Not Found\n"), "{}", run.stdout);
    let run = soniox(&[
        "--json", "webhook", "send", "--url", &url, "--id", "tr-4", "--status", "error",
        "--secret", SECRET,
    ])
    .await;
    assert_eq!(run.success(), "{\"body\":\"ok\",\"status\":200}\n");
    let run = soniox(&[
        "webhook", "send", "--url", &url, "--id", "tr-5", "--status", "error",
    ])
    .await;
    assert_eq!(run.code, 3, "no secret, no header: refused");

    let run = server.stop().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"id\":\"tr-1\",\"status\":\"completed\",\"metadata\":{\"order\":[\"42\",\"43\"],\"source\":\"cli\"}}\n\
         {\"id\":\"tr-4\",\"status\":\"error\",\"metadata\":{}}\n"
    );
    assert!(run.stderr.contains("status=401"), "{}", run.stderr);
    assert!(
        !run.stderr.contains(SECRET) && !run.stderr.contains("wrong-secret"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn listen_prints_every_delivery_it_accepts_from_many_at_once() {
    let server = listener(&[]).await;
    let url = server.url().to_owned();
    let ids: Vec<String> = (0..16).map(|n| format!("tr-{n}")).collect();
    let runs = futures_util::future::join_all(ids.iter().map(|id| {
        let url = &url;
        async move {
            soniox(&[
                "webhook",
                "send",
                "--url",
                url,
                "--id",
                id,
                "--status",
                "completed",
                "--secret",
                SECRET,
            ])
            .await
        }
    }))
    .await;
    for run in &runs {
        assert_eq!(run.success(), "200 OK\nok\n");
    }
    let run = server.stop().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut printed: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).expect("a whole JSON line");
            line["id"].as_str().expect("an id").to_owned()
        })
        .collect();
    printed.sort();
    let mut expected = ids;
    expected.sort();
    assert_eq!(printed, expected);
}

#[tokio::test]
async fn listen_stops_once_stdout_is_gone_and_answers_500_so_the_delivery_comes_again() {
    let mut server = listener(&[]).await;
    server.close_stdout();
    let url = server.url().to_owned();
    let run = soniox(&[
        "webhook",
        "send",
        "--url",
        &url,
        "--id",
        "tr-1",
        "--status",
        "completed",
        "--secret",
        SECRET,
    ])
    .await;
    assert_eq!(run.stdout, "500 Internal Server Error\nhandler failed\n");
    assert_eq!(run.code, 3, "{}", run.stderr);
    // It stops on its own, quietly, as a writer into `head` does.
    let run = tokio::time::timeout(Duration::from_secs(60), server.exit())
        .await
        .expect("it stops on its own");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot print the delivery: stdout's reader is gone"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn listen_fetches_the_transcript_of_a_real_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator().await;
    let path = wav(dir.path(), "a.wav", 1);
    emulator.script_transcript_for(&std::fs::read(&path).expect("read"), "Fetched text.");
    let mut listen = at(
        &emulator,
        &[
            "webhook",
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--secret",
            SECRET,
            "--fetch",
        ],
    );
    listen.env("SONIOX_API_WEBHOOK_HEADER", "X-My-Secret");
    let server = Server::start(listen).await;
    let hook = format!("{}hooks/soniox", server.url());
    let run = soniox_at(
        &emulator,
        &[
            "transcribe",
            &path,
            "--no-wait",
            "--webhook-url",
            &hook,
            "--webhook-header",
            "X-My-Secret",
            "--webhook-secret",
            SECRET,
            "--webhook-meta",
            "job=1",
        ],
    )
    .await;
    let id = run.success().trim().to_owned();
    // The emulator delivers once the job is done; wait for its successful attempt.
    loop {
        let attempts = emulator.webhook_attempts();
        if attempts.iter().any(|attempt| {
            matches!(
                attempt.outcome,
                soniox_emulator::DeliveryOutcome::Answered { status_code: 200 }
            )
        }) {
            break;
        }
        // Both attempts of the schedule made, none a success: fail rather than wait forever.
        assert!(attempts.len() < 2, "the listener refused: {attempts:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let run = server.stop().await;
    assert_eq!(
        run.stdout,
        format!(
            "{{\"id\":\"{id}\",\"status\":\"completed\",\"metadata\":{{\"job\":\"1\"}},\"text\":\"Fetched text.\"}}\n"
        )
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn listen_refuses_to_run_without_a_secret() {
    let run = soniox(&["webhook", "listen", "--addr", "127.0.0.1:0"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--secret"), "{}", run.stderr);
    let run = soniox(&[
        "webhook",
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--secret",
        SECRET,
        "--path",
        "hook",
    ])
    .await;
    assert_eq!(run.failure(2), "error: --path must start with `/`: hook");
}

/// `send` and `relay` refuse, before sending or polling anything, a secret that would cross
/// the network in cleartext (unless `--allow-insecure-http`), and a target no delivery can
/// be built for, as the client refuses a job's webhook secret over plain http.
#[tokio::test]
async fn send_and_relay_refuse_what_no_delivery_should_carry_before_starting() {
    let cleartext = "http://example.com/hook";
    let run = soniox(&[
        "webhook", "send", "--url", cleartext, "--id", "tr-1", "--status", "error", "--secret",
        SECRET,
    ])
    .await;
    let line = run.failure(2);
    assert!(line.contains("--allow-insecure-http"), "{line}");
    assert!(!line.contains(SECRET), "{line}");

    // No API key: the relay stops before it needs one.
    let run = soniox(&["webhook", "relay", "--to", cleartext, "--secret", SECRET]).await;
    let line = run.failure(2);
    assert!(line.contains("--allow-insecure-http"), "{line}");
    let run = soniox(&["webhook", "relay", "--to", "localhost:8080/hook"]).await;
    assert_eq!(
        run.failure(2),
        "error: localhost:8080/hook is not an http(s) URL"
    );
    let run = soniox(&[
        "webhook",
        "relay",
        "--to",
        "http://127.0.0.1:9/hook",
        "--header",
        "bad header",
        "--secret",
        SECRET,
    ])
    .await;
    let line = run.failure(2);
    // Named by where it goes wrong, not repeated: a secret there would be shown.
    assert!(
        line.contains("invalid webhook header name: the character at byte 3 of 10"),
        "{line}"
    );
}

/// Ctrl-C while a delivery waits for its answer stops `send` at once, exit 130.
#[tokio::test]
async fn send_stops_on_ctrl_c() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let child = command(&[
        "webhook",
        "send",
        "--url",
        &url,
        "--id",
        "tr-1",
        "--status",
        "completed",
    ])
    .spawn()
    .expect("spawn");
    // The delivery is out once its connection is taken; it is never answered.
    let (_connection, _) = listener.accept().await.expect("a delivery");
    common::interrupt(&child).await;
    let output = child.wait_with_output().await.expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr, "error: interrupted\n");
}
