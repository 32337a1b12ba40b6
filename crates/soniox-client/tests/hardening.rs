//! The client under hostile servers and hostile input: ids that would change the route, bodies
//! without end, repeated cursors, stalled uploads, cancelled flows, cleartext secrets.

mod common;

use bytes::Bytes;
use soniox_client::{
    Client, Error,
    types::{FileId, TranscriptionId},
};

use common::{KEY, Server};

/// A client for a test server, with no retries.
fn client_for(server: &Server) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(server.url(""))
        .retry_policy(soniox_client::RetryPolicy::never())
        .build()
        .expect("the client builds")
}

#[tokio::test]
async fn dot_segment_ids_are_refused_before_sending() {
    let mut server = Server::start(vec![(204, Bytes::new())]).await;
    let client = client_for(&server);
    for id in ["..", ".", ""] {
        let job = TranscriptionId::new(id);
        let file = FileId::new(id);
        let errors = [
            client.transcriptions().delete(&job).await.map(drop),
            client.transcriptions().get(&job).await.map(drop),
            client.transcriptions().transcript(&job).await.map(drop),
            client.files().get(&file).await.map(drop),
            client.files().delete(&file).await.map(drop),
        ];
        for error in errors {
            let error = error.expect_err("a dot segment id is refused");
            assert!(
                matches!(&error, Error::InvalidId { id: given } if given == id),
                "{id:?}: {error:?}"
            );
        }
    }
    // Nothing reached the server: the first request it sees is this one.
    client
        .files()
        .delete(&FileId::new("f"))
        .await
        .expect("delete");
    assert_eq!(server.next_request().await, "/v1/files/f");
}

#[tokio::test]
async fn ids_with_dots_inside_are_encoded_not_refused() {
    let mut server = Server::start(vec![(204, Bytes::new())]).await;
    let client = client_for(&server);
    client
        .files()
        .delete(&FileId::new("../a b"))
        .await
        .expect("delete");
    assert_eq!(server.next_request().await, "/v1/files/..%2Fa%20b");
}

#[tokio::test]
async fn a_success_body_over_the_limit_is_refused() {
    let body = format!(r#"{{"total": 1, "pad": "{}"}}"#, "x".repeat(4096));
    let server = Server::start(vec![(200, Bytes::from(body))]).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.url(""))
        .max_response_bytes(1024)
        .build()
        .expect("the client builds");
    let error = client.files().count().await.expect_err("too large");
    assert!(
        matches!(error, Error::ResponseTooLarge { limit: 1024 }),
        "{error:?}"
    );
}

/// A create or an upload answered 201 whose answer does not decode did create a job or a
/// file, and which one is unknown: an unknown outcome under its reference, not a retryable
/// error that a caller would answer by creating a second one. A read (GET) keeps its error.
#[tokio::test]
async fn a_created_answer_that_does_not_decode_is_an_unknown_outcome() {
    use soniox_client::{Upload, types::CreateTranscription};
    let server = Server::start(vec![(201, Bytes::from_static(b"{\"id\": tr"))]).await;
    let client = client_for(&server);
    let request = CreateTranscription::new("stt-async-v4")
        .audio_url("https://example.com/a.wav")
        .client_reference_id("ref-1");
    let error = client
        .transcriptions()
        .create(&request)
        .await
        .expect_err("does not decode");
    let Error::OutcomeUnknown {
        client_reference_id,
        source,
        ..
    } = &error
    else {
        panic!("expected an unknown outcome, got {error:?}");
    };
    assert_eq!(client_reference_id.as_deref(), Some("ref-1"));
    assert!(matches!(**source, Error::Decode { .. }), "{source:?}");
    assert!(!error.is_retryable());

    let upload = Upload::bytes(vec![0; 64], "a.wav").client_reference_id("ref-2");
    let error = client
        .files()
        .upload(upload)
        .await
        .expect_err("does not decode");
    assert!(
        matches!(&error, Error::OutcomeUnknown { client_reference_id: Some(id), .. } if id == "ref-2"),
        "{error:?}"
    );

    let error = client.files().count().await.expect_err("does not decode");
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
}

#[tokio::test]
async fn a_chunked_success_body_over_the_limit_is_refused() {
    // No Content-Length: the limit is enforced while reading.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut head = [0u8; 4096];
        let _ = stream.read(&mut head).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        // An endless body: one 1 KiB chunk after another until the client hangs up.
        let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .max_response_bytes(64 * 1024)
        .build()
        .expect("the client builds");
    let error = client.files().count().await.expect_err("too large");
    assert!(matches!(error, Error::ResponseTooLarge { .. }), "{error:?}");
}

#[tokio::test]
async fn a_repeated_cursor_ends_the_list_with_an_error() {
    use futures_util::StreamExt as _;
    let page = r#"{"files": [{"id": "f", "filename": "a.wav", "size": 1,
        "created_at": "2026-01-01T00:00:00Z"}], "next_page_cursor": "same"}"#;
    let server = Server::start(vec![(200, Bytes::from_static(page.as_bytes()))]).await;
    let client = client_for(&server);
    // Bounded, so that the old behaviour (an endless list) fails instead of hanging.
    let items: Vec<_> = client
        .files()
        .list(soniox_client::types::ListParams::new())
        .take(100)
        .collect()
        .await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items[..2].iter().all(Result::is_ok), "{items:?}");
    assert!(
        matches!(&items[2], Err(Error::RepeatedCursor { cursor }) if cursor == "same"),
        "{items:?}"
    );
}

/// A loopback server that hands each connection to `serve`, and its address.
async fn raw_server<F>(serve: fn(tokio::net::TcpStream) -> F) -> std::net::SocketAddr
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}

/// A server that reads each request's whole body (when `read_body`) and then never answers,
/// or that never reads anything past the head (when not).
async fn silent_server(read_body: bool) -> std::net::SocketAddr {
    use tokio::io::AsyncReadExt as _;
    if read_body {
        raw_server(|mut stream| async move {
            let mut buffer = vec![0u8; 64 * 1024];
            // Drain until the client hangs up, answering nothing.
            while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
        })
        .await
    } else {
        raw_server(|mut stream| async move {
            let mut buffer = vec![0u8; 64 * 1024];
            let _ = stream.read(&mut buffer).await;
            // Hold the connection open without reading further.
            std::future::pending::<()>().await;
        })
        .await
    }
}

fn stalled_client(addr: std::net::SocketAddr) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .upload_idle_timeout(std::time::Duration::from_millis(300))
        .upload_response_timeout(std::time::Duration::from_millis(300))
        .build()
        .expect("the client builds")
}

/// The outer timeout is a safety net, so that the old behaviour (hanging forever) fails.
async fn upload_error(client: &Client, bytes: usize) -> Error {
    let upload = soniox_client::Upload::bytes(vec![0u8; bytes], "a.wav");
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        client.files().upload(upload),
    )
    .await
    .expect("the upload gives up on its own")
    .expect_err("nothing answers")
}

#[tokio::test]
async fn an_upload_nobody_answers_fails_after_the_response_timeout() {
    let client = stalled_client(silent_server(true).await);
    let error = upload_error(&client, 4096).await;
    // The server has the whole body: it may have stored the file.
    let Error::OutcomeUnknown { source, .. } = &error else {
        panic!("expected an unknown outcome, got {error:?}");
    };
    assert!(
        matches!(
            **source,
            Error::UploadStalled {
                body_sent: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn an_upload_whose_body_is_not_read_fails_after_the_idle_timeout() {
    let client = stalled_client(silent_server(false).await);
    // Far more than loopback socket buffers hold, so the body must stall.
    let error = upload_error(&client, 64 * 1024 * 1024).await;
    assert!(
        matches!(
            error,
            Error::UploadStalled {
                body_sent: false,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_zero_polling_interval_does_not_busy_loop() {
    use soniox_client::{MIN_POLL_INTERVAL, WaitOptions};
    use std::time::Duration;
    let job = br#"{"id": "j", "status": "processing", "created_at": "2026-11-27T02:40:00Z",
        "model": "stt-async-v5", "filename": "a.mp3"}"#;
    let mut server = Server::start(vec![(200, Bytes::from_static(job))]).await;
    let client = client_for(&server);
    let timeout = Duration::from_millis(300);
    let options = WaitOptions::new()
        .initial_interval(Duration::ZERO)
        .max_interval(Duration::ZERO)
        .timeout(Some(timeout));
    let error = client
        .transcriptions()
        .wait(&TranscriptionId::new("j"), options)
        .await
        .expect_err("the job never finishes");
    assert!(matches!(error, Error::WaitTimeout { .. }), "{error:?}");
    // Polls are at least the floor apart; a busy loop makes thousands in the same time.
    let mut polls = 0u32;
    while server.try_next_request().is_some() {
        polls += 1;
    }
    let most = u32::try_from(timeout.as_millis() / MIN_POLL_INTERVAL.as_millis()).unwrap() + 2;
    assert!((1..=most).contains(&polls), "{polls} polls, at most {most}");
}

/// Waits (at most 10 s, a safety net) until the emulator holds `expected` (jobs, files).
async fn until_counts(client: &Client, expected: (u64, u64)) -> (u64, u64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = common::counts(client).await;
        if now == expected || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A `transcribe` of a short upload with cleanup, waiting as `wait` says, on a task of its
/// own for the test to abort.
fn cleaning_transcribe(
    client: &Client,
    wait: soniox_client::WaitOptions,
) -> tokio::task::JoinHandle<Result<soniox_client::Transcribed, Error>> {
    use soniox_client::{Audio, TranscribeOptions, Upload};
    let options = TranscribeOptions::new().cleanup(true).wait(wait);
    let client = client.clone();
    let upload = Upload::bytes(common::wav(500), "a.wav");
    tokio::spawn(async move { client.transcribe(Audio::Upload(upload), options).await })
}

#[tokio::test]
async fn a_cancelled_transcribe_still_cleans_up() {
    use soniox_client::WaitOptions;
    use soniox_emulator::FaultAction;
    use std::time::Duration;

    let emulator = common::start(common::emulator()).await;
    let client = common::client(&emulator);
    let (seen, mut statuses) = tokio::sync::mpsc::unbounded_channel();
    let wait = WaitOptions::new()
        .initial_interval(Duration::from_millis(10))
        .on_status_change(move |job| {
            let _ = seen.send(job.status.clone());
        });
    let flow = cleaning_transcribe(&client, wait);
    // The job exists and is polled: hold every later read, finish the job, and cancel the call
    // while it is stuck in a read.
    statuses.recv().await.expect("a first status");
    assert_eq!(common::counts(&client).await, (1, 1));
    emulator.add_fault(common::on(
        "GET",
        "/v1/transcriptions/",
        FaultAction::Latency { millis: 600_000 },
    ));
    emulator.finish_jobs().await;
    flow.abort();
    assert!(flow.await.expect_err("aborted").is_cancelled());
    // The cleanup deletes; the counts below read.
    emulator.clear_faults();
    assert_eq!(until_counts(&client, (0, 0)).await, (0, 0));
}

#[test]
fn a_plain_http_base_url_to_another_host_is_refused() {
    let build = |url: &str, allow: bool| {
        Client::builder()
            .api_key(KEY)
            .base_url(url)
            .allow_insecure_http(allow)
            .build()
    };
    let error = build("http://api.soniox.com", false).expect_err("cleartext key");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(!error.to_string().contains(KEY), "{error}");
    build("http://api.soniox.com", true).expect("explicitly allowed");
    build("http://127.0.0.1:1", false).expect("loopback is allowed");
    build("http://localhost:1", false).expect("loopback is allowed");
}

#[tokio::test]
async fn a_webhook_secret_over_plain_http_to_another_host_is_refused() {
    use soniox_client::types::CreateTranscription;
    let job = br#"{"id": "j", "status": "queued", "created_at": "2026-11-27T02:40:00Z",
        "model": "stt-async-v5", "filename": "a.mp3"}"#;
    let mut server = Server::start(vec![(201, Bytes::from_static(job))]).await;
    let request = |url: &str, secret: Option<&str>| {
        let builder = CreateTranscription::new("stt-async-v5")
            .audio_url("https://example.com/a.mp3")
            .webhook_url(url);
        match secret {
            Some(secret) => builder.webhook_auth("X-Secret", secret),
            None => builder,
        }
    };
    let client = client_for(&server);
    let error = client
        .transcriptions()
        .create(&request("http://example.com/hook", Some("webhook-secret")))
        .await
        .expect_err("cleartext secret");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(!error.to_string().contains("webhook-secret"), "{error}");
    // Nothing was sent; these are.
    for allowed in [
        request("https://example.com/hook", Some("webhook-secret")),
        request("http://127.0.0.1:9/hook", Some("webhook-secret")),
        request("http://example.com/hook", None),
    ] {
        client
            .transcriptions()
            .create(&allowed)
            .await
            .expect("allowed");
        assert_eq!(server.next_request().await, "/v1/transcriptions");
    }
    let permissive = Client::builder()
        .api_key(KEY)
        .base_url(server.url(""))
        .allow_insecure_http(true)
        .build()
        .expect("the client builds");
    permissive
        .transcriptions()
        .create(&request("http://example.com/hook", Some("webhook-secret")))
        .await
        .expect("explicitly allowed");
    assert_eq!(server.next_request().await, "/v1/transcriptions");
    assert!(server.try_next_request().is_none());
}

/// A gateway in front of `upstream` that forwards everything, but answers the first create
/// with `lie` (a status and a body) after forwarding it: the job exists, and the client was
/// told it does not (a 503), or cannot read that it does (a 201 that does not decode).
async fn lying_gateway(upstream: String, lie: (u16, &'static [u8])) -> String {
    use http_body_util::{BodyExt as _, Full};
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let first = Arc::new(AtomicBool::new(true));
    let http = reqwest::Client::new();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (first, http, upstream) = (Arc::clone(&first), http.clone(), upstream.clone());
            let service = hyper::service::service_fn(move |request: http::Request<_>| {
                let (first, http, upstream) = (Arc::clone(&first), http.clone(), upstream.clone());
                async move {
                    let (parts, body) = request.into_parts();
                    let body: hyper::body::Incoming = body;
                    let body = body.collect().await.expect("body").to_bytes();
                    let target = parts.uri.path_and_query().expect("target").to_string();
                    let mut forwarded = http
                        .request(parts.method.clone(), format!("{upstream}{target}"))
                        .body(body);
                    for name in [http::header::AUTHORIZATION, http::header::CONTENT_TYPE] {
                        if let Some(value) = parts.headers.get(&name) {
                            forwarded = forwarded.header(name, value);
                        }
                    }
                    let answer = forwarded.send().await.expect("the emulator answers");
                    let lying = parts.method == http::Method::POST
                        && target == "/v1/transcriptions"
                        && first.swap(false, Ordering::SeqCst);
                    let (status, bytes) = if lying {
                        (lie.0, Bytes::from_static(lie.1))
                    } else {
                        let status = answer.status().as_u16();
                        (status, answer.bytes().await.expect("body"))
                    };
                    let mut response = http::Response::new(Full::new(bytes));
                    *response.status_mut() = http::StatusCode::from_u16(status).expect("status");
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    format!("http://{addr}")
}

/// A create answered 503 after it acted, or 201 with an answer that does not decode, is
/// looked up under the client's own reference and the job found returned: made once.
#[tokio::test]
async fn a_create_that_acted_but_said_otherwise_is_not_made_twice() {
    for lie in [(503, &b"upstream busy"[..]), (201, &b"{\"id\": "[..])] {
        let emulator = common::start(common::emulator()).await;
        let gateway = lying_gateway(emulator.base_url().to_string(), lie).await;
        let client = Client::builder()
            .api_key(KEY)
            .base_url(gateway)
            .retry_policy(common::fast_retries())
            .build()
            .expect("the client builds");
        let request = common::url_request("stt-async-v5");
        let job = client
            .transcriptions()
            .create(&request)
            .await
            .expect("the job is found, not created again");
        let reference = job.client_reference_id.as_deref().unwrap_or_default();
        assert!(reference.starts_with("sxc-"), "{reference:?}");
        let direct = common::client(&emulator);
        assert_eq!(common::counts(&direct).await.0, 1, "{}", lie.0);
    }
}

#[tokio::test]
async fn endless_timeouts_mean_no_deadline() {
    use soniox_client::WaitOptions;
    use soniox_emulator::JobClock;
    use std::time::Duration;

    let emulator =
        common::start(common::emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
    let client = common::client_builder(&emulator)
        .upload_idle_timeout(Duration::MAX)
        .upload_response_timeout(Duration::MAX)
        .build()
        .expect("the client builds");
    let job = common::job_for(&client, common::wav(100)).await;
    let wait = WaitOptions::new()
        .initial_interval(Duration::from_millis(10))
        .timeout(Some(Duration::MAX));
    client
        .transcriptions()
        .wait(&job.id, wait)
        .await
        .expect("done");
}

#[tokio::test]
async fn a_temporary_key_that_does_not_decode_is_not_quoted() {
    use soniox_client::types::{CreateTemporaryApiKey, TemporaryKeyUsage};
    let secret = "temp:NEVERSHOWNKEY";
    for body in [
        format!(r#"{{"api_key": "{secret}", "expires_at": "not a date"}}"#),
        format!(r#""{secret}""#),
        format!(r#"{{"api_key": "{secret}""#),
    ] {
        let server = Server::start(vec![(201, Bytes::from(body.clone()))]).await;
        let error = client_for(&server)
            .auth()
            .create_temporary_api_key(&CreateTemporaryApiKey::new(
                TemporaryKeyUsage::TranscribeWebsocket,
                300,
            ))
            .await
            .expect_err("does not decode");
        // A key was minted, and which is unknown: an unknown outcome, of a decode error.
        let Error::OutcomeUnknown { source, .. } = &error else {
            panic!("{body}: expected an unknown outcome, got {error:?}");
        };
        let Error::Decode { snippet, .. } = &**source else {
            panic!("{body}: expected a decode error, got {source:?}");
        };
        assert_eq!(snippet, Error::WITHHELD_SNIPPET);
        let mut shown = common::messages(&error);
        shown.push(format!("{error:?}"));
        for text in shown {
            assert!(!text.contains("NEVERSHOWN"), "{body}: {text}");
        }
    }
}

/// A server that reads a whole (multipart) request, then sends the head of a 500 and never
/// its body.
async fn stalled_error_body_server() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    raw_server(|mut stream| async move {
        let mut request = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        // The multipart body ends with its closing boundary, `--` and a line break.
        while !request.ends_with(b"--\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        let head = "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 100\r\n\r\n{";
        let _ = stream.write_all(head.as_bytes()).await;
        std::future::pending::<()>().await;
    })
    .await
}

/// Cut off with most of its body unsent, the file cannot have been stored: a plain error,
/// not an unknown outcome.
#[tokio::test]
async fn an_upload_cut_off_before_its_body_went_out_is_not_an_unknown_outcome() {
    use tokio::io::AsyncReadExt as _;
    let addr = raw_server(|mut stream| async move {
        let mut head = vec![0u8; 1024];
        let _ = stream.read_exact(&mut head).await;
        // Dropped with the rest unread: the connection is reset under the client.
    })
    .await;
    // Far more than the loopback socket's buffers hold, so most of it is never handed over.
    let error = upload_error(&stalled_client(addr), 64 << 20).await;
    assert!(!matches!(error, Error::OutcomeUnknown { .. }), "{error:?}");
    assert!(error.is_retryable(), "{error:?}");
}

#[tokio::test]
async fn an_upload_error_body_that_stalls_is_bounded() {
    let client = stalled_client(stalled_error_body_server().await);
    let error = upload_error(&client, 4096).await;
    assert_eq!(error.status().map(|s| s.as_u16()), Some(500), "{error:?}");
}

/// Dropped while its create is in flight, the call cannot know whether the job exists; if it
/// does, it reads the file, so the file is kept (deleting it would fail the job).
#[tokio::test]
async fn a_transcribe_dropped_while_it_creates_keeps_the_file() {
    use soniox_client::WaitOptions;
    use soniox_emulator::FaultAction;
    use std::time::Duration;

    let emulator = common::start(common::emulator()).await;
    let client = common::client(&emulator);
    emulator.add_fault(common::on(
        "POST",
        "/v1/transcriptions",
        FaultAction::Latency { millis: 600_000 },
    ));
    let flow = cleaning_transcribe(&client, WaitOptions::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while common::requests(&emulator, "POST", "/v1/transcriptions") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no create");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    flow.abort();
    assert!(flow.await.expect_err("aborted").is_cancelled());
    emulator.clear_faults();
    // A cleanup sends its delete at once, on a loopback connection; this waits far longer
    // than that takes. (A kept file passes however long it waits.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(common::requests(&emulator, "DELETE", "/v1/files/{id}"), 0);
    assert_eq!(common::counts(&client).await.1, 1, "the upload kept");
}

#[tokio::test]
async fn a_transcribe_dropped_while_it_cleans_up_still_cleans_up() {
    use soniox_client::WaitOptions;
    use soniox_emulator::{FaultAction, JobClock};
    use std::time::Duration;

    // Dropped while deleting the job, then while deleting the file.
    for collection in ["/v1/transcriptions/", "/v1/files/"] {
        let emulator =
            common::start(common::emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
        let client = common::client(&emulator);
        emulator.add_fault(common::on(
            "DELETE",
            collection,
            FaultAction::Latency { millis: 600_000 },
        ));
        let flow = cleaning_transcribe(
            &client,
            WaitOptions::new().initial_interval(Duration::from_millis(10)),
        );
        // Cancel the call once its cleanup is held in that delete.
        let route = format!("{collection}{{id}}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while common::requests(&emulator, "DELETE", &route) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "{route}: no delete");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        flow.abort();
        assert!(flow.await.expect_err("aborted").is_cancelled());
        emulator.clear_faults();
        assert_eq!(until_counts(&client, (0, 0)).await, (0, 0), "{collection}");
    }
}
