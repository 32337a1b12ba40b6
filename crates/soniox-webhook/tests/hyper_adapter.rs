//! The hyper adapter over real loopback sockets, with raw HTTP/1.1 bytes so every request is
//! sent exactly as written (duplicate headers, chunked bodies, odd methods).

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{Case, bad_requests, good_requests, verifier};
use soniox_webhook::{
    Inbox, ReceivedEvent, Receiver, RunningReceiver, WebhookService, store::MemoryStore,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};

/// Sends `case` and returns the response status and body. The request is written from a
/// separate task so an early answer (the server refusing before reading the body) is read
/// even while the body is still being sent.
async fn send(addr: SocketAddr, case: &Case) -> (u16, String) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let request = case.to_wire();
    let write = tokio::spawn(async move {
        // The server may close after answering early; the answer is what matters.
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut response = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    drop(write.await);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{}: no status line in {text:?}", case.name));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

struct Server {
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    running: RunningReceiver,
}

impl Server {
    async fn start(fail_first: usize, dedupe: bool) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let handler = move |_: ReceivedEvent| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < fail_first {
                    Err("storage unavailable")
                } else {
                    Ok(())
                }
            }
        };
        // A store that remembers no done event hands every delivery to the handler.
        let capacity = if dedupe { 1024 } else { 0 };
        let inbox =
            Inbox::new(verifier()).store(MemoryStore::new(capacity, Duration::from_secs(3600)));
        let service = WebhookService::new(inbox, handler);
        let running = Receiver::bind("127.0.0.1:0", service)
            .await
            .expect("bind")
            .spawn()
            .expect("addr");
        Self {
            addr: running.local_addr(),
            calls,
            running,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn shutdown(self) {
        self.running.shutdown().await.expect("server result");
    }
}

#[tokio::test]
async fn bad_requests_are_refused_without_calling_the_handler() {
    let server = Server::start(0, false).await;
    // Only requests that HTTP parsing turns into valid ones (`wire_status` 200) may get through.
    let mut accepted = 0;
    for case in bad_requests() {
        let (status, body) = send(server.addr, &case).await;
        let expected = case.wire_status.unwrap_or(case.status);
        assert_eq!(status, expected, "{}: {body}", case.name);
        accepted += usize::from(expected == 200);
        assert_eq!(server.calls(), accepted, "{}", case.name);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn good_requests_reach_the_handler_once_each() {
    let server = Server::start(0, false).await;
    for (n, case) in good_requests().iter().enumerate() {
        let (status, body) = send(server.addr, case).await;
        assert_eq!((status, body.as_str()), (200, "ok"), "{}", case.name);
        assert_eq!(server.calls(), n + 1, "{}", case.name);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn duplicates_are_dropped_and_failures_retried() {
    let server = Server::start(1, true).await;
    let case = Case::good("delivery");
    assert_eq!(
        send(server.addr, &case).await,
        (500, "handler failed".to_owned())
    );
    assert_eq!(send(server.addr, &case).await, (200, "ok".to_owned()));
    assert_eq!(
        send(server.addr, &case).await,
        (200, "duplicate".to_owned())
    );
    assert_eq!(server.calls(), 2);
    let other = case.body(r#"{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"error"}"#);
    assert_eq!(send(server.addr, &other).await, (200, "ok".to_owned()));
    assert_eq!(server.calls(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn keep_alive_connections_serve_several_deliveries() {
    let server = Server::start(0, false).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let one = Case::good("keep-alive").to_wire();
    let keep_alive = String::from_utf8(one)
        .expect("ascii")
        .replace("Connection: close\r\n", "");
    for _ in 0..3 {
        stream
            .write_all(keep_alive.as_bytes())
            .await
            .expect("write");
        let mut buf = [0_u8; 1024];
        let n = stream.read(&mut buf).await.expect("read");
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    assert_eq!(server.calls(), 3);
    drop(stream);
    server.shutdown().await;
}

/// Writes `case` on a connection that asks to be kept alive and reads until the server closes
/// it; the answer's head, lower-cased.
async fn head_of_refusal_on_kept_alive(addr: SocketAddr, case: &Case) -> String {
    let request = String::from_utf8_lossy(&case.to_wire()).replace("Connection: close\r\n", "");
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        let _ = writer.write_all(request.as_bytes()).await;
        // Kept open: only the server may end the connection.
        writer
    });
    let mut response = Vec::new();
    // A guard against a connection kept open, which the assertion below then reports.
    let _ = tokio::time::timeout(Duration::from_secs(30), reader.read_to_end(&mut response)).await;
    drop(write.await);
    let text = String::from_utf8_lossy(&response).to_ascii_lowercase();
    text.split_once("\r\n\r\n")
        .map_or(text.clone(), |(head, _)| head.to_owned())
}

/// A refused request cannot keep its connection (and one of the receiver's connection slots)
/// for another: the answer says `Connection: close` and the server closes it.
#[tokio::test]
async fn refused_requests_close_their_connections() {
    let server = Server::start(0, false).await;
    let mut refused = bad_requests()
        .into_iter()
        .filter(|case| case.wire_status.unwrap_or(case.status) != 200)
        .map(|case| (server.addr, case))
        .collect::<Vec<_>>();
    let handler = |_: ReceivedEvent| async { Ok::<(), std::convert::Infallible>(()) };
    let on_path = Receiver::bind(
        "127.0.0.1:0",
        WebhookService::new(Inbox::new(verifier()), handler),
    )
    .await
    .expect("bind")
    .path("/hooks/soniox")
    .spawn()
    .expect("addr");
    let mut elsewhere = Case::good("another path");
    elsewhere.target = "/elsewhere".to_owned();
    refused.push((on_path.local_addr(), elsewhere));
    assert!(refused.len() > 10, "the refusals cover many kinds");
    for (addr, case) in &refused {
        let head = head_of_refusal_on_kept_alive(*addr, case).await;
        assert!(
            head.starts_with("http/1.1 4") || head.starts_with("http/1.1 5"),
            "{}: {head}",
            case.name
        );
        assert!(
            head.contains("\r\nconnection: close"),
            "{}: {head}",
            case.name
        );
    }
    assert_eq!(server.calls(), 0);
    on_path.shutdown().await.expect("server result");
    server.shutdown().await;
}

#[tokio::test]
async fn tower_service_answers_with_oneshot() {
    use http_body_util::{BodyExt, Full};
    use tower::ServiceExt;

    let service = WebhookService::new(verifier(), |_: ReceivedEvent| async {
        Ok::<(), std::convert::Infallible>(())
    });
    for case in bad_requests().into_iter().chain(good_requests()) {
        let mut request = http::Request::new(Full::new(bytes::Bytes::from(case.body.clone())));
        *request.method_mut() = case.http_method();
        *request.uri_mut() = case.uri();
        *request.headers_mut() = case.header_map();
        let response = service.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status().as_u16(), case.status, "{}", case.name);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("infallible")
            .to_bytes();
        assert!(!body.is_empty(), "{}", case.name);
    }
}

#[tokio::test]
async fn shutdown_lets_in_flight_deliveries_finish() {
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let gate = Arc::clone(&release);
    let handler = move |event: ReceivedEvent| {
        let (started_tx, gate) = (started_tx.clone(), Arc::clone(&gate));
        async move {
            let _ = started_tx.send(event.id().clone());
            let _permit = gate.acquire().await.map_err(|_| "closed")?;
            Ok::<(), &'static str>(())
        }
    };
    let receiver = Receiver::bind("127.0.0.1:0", WebhookService::new(verifier(), handler))
        .await
        .expect("bind");
    let addr = receiver.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(receiver.run_until(async {
        let _ = stopped.await;
    }));

    let in_flight = tokio::spawn(async move { send(addr, &Case::good("in flight")).await });
    started.recv().await.expect("handler started");
    stop.send(()).expect("server running");
    // The listener closes promptly, while the accepted delivery is still being handled.
    while TcpStream::connect(addr).await.is_ok() {
        tokio::task::yield_now().await;
    }
    assert!(!server.is_finished());
    release.add_permits(1);
    assert_eq!(in_flight.await.expect("client"), (200, "ok".to_owned()));
    server.await.expect("server task").expect("server result");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_retry_is_handled() {
    panics_once(|first| async move {
        assert!(!first, "simulated handler bug");
        Ok(())
    })
    .await;
}

/// A handler that panics when called, before it returns its future, is caught as well.
#[tokio::test]
async fn a_handler_panicking_before_its_future_answers_500_and_the_retry_is_handled() {
    panics_once(|first| {
        assert!(!first, "simulated handler bug");
        async { Ok(()) }
    })
    .await;
}

/// Delivers one event three times to a service whose handler is `on_call(first)`, `first`
/// telling whether it is the first call, on which `on_call` panics.
async fn panics_once<F, Fut>(on_call: F)
where
    F: Fn(bool) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), std::convert::Infallible>> + Send + 'static,
{
    use http_body_util::Full;

    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let handler = move |_: ReceivedEvent| on_call(counter.fetch_add(1, Ordering::SeqCst) == 0);
    let service = WebhookService::new(verifier(), handler);
    let case = Case::good("panic");
    let request = || {
        let mut request = http::Request::new(Full::new(bytes::Bytes::from(case.body.clone())));
        *request.method_mut() = case.http_method();
        *request.headers_mut() = case.header_map();
        request
    };
    assert_eq!(service.handle(request()).await.status(), 500);
    assert_eq!(service.handle(request()).await.status(), 200);
    assert_eq!(service.handle(request()).await.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
