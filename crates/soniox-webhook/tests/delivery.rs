//! The delivery guarantees over real sockets: a delivery is acknowledged only once its handler
//! succeeded and the event is recorded as done, whatever the sender does meanwhile.

mod common;

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, routing::post};
use common::{
    Case,
    axum_server::AxumServer,
    emulated::{Api, emulator},
    verifier,
};
use soniox_emulator::{DeliveryOutcome, WebhookAttempt};
use soniox_webhook::{
    Handler, Inbox, Outcome, ReceivedEvent, Receiver, RunningReceiver, Verifier, WebhookService,
    axum::SonioxWebhook,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::{Semaphore, mpsc},
};

/// A handler whose first call reports that it started and then waits for the test to open
/// the gate; it then fails if told to. Later calls succeed at once.
struct Gated {
    calls: AtomicUsize,
    finished: AtomicUsize,
    gate: Semaphore,
    started: mpsc::UnboundedSender<ReceivedEvent>,
    first_fails: bool,
}

impl Gated {
    fn new(first_fails: bool) -> (Arc<Self>, mpsc::UnboundedReceiver<ReceivedEvent>) {
        let (started, starts) = mpsc::unbounded_channel();
        let gated = Self {
            calls: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            started,
            first_fails,
        };
        (Arc::new(gated), starts)
    }

    async fn run(self: Arc<Self>, event: ReceivedEvent) -> Result<(), &'static str> {
        let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        let _ = self.started.send(event);
        if first {
            let _permit = self.gate.acquire().await.map_err(|_| "gate closed")?;
            if self.first_fails {
                return Err("the database is unavailable");
            }
        }
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn open(&self) {
        self.gate.add_permits(1);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Hyper,
    Axum,
}

/// A server of the given kind on a free loopback port, running `gated` through `inbox`.
struct Server {
    addr: SocketAddr,
    stop: Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send>,
}

#[derive(Clone)]
struct AxumApp {
    inbox: Inbox,
    gated: Arc<Gated>,
}

impl axum::extract::FromRef<AxumApp> for Inbox {
    fn from_ref(app: &AxumApp) -> Self {
        app.inbox.clone()
    }
}

async fn on_axum_webhook(State(app): State<AxumApp>, webhook: SonioxWebhook) -> Outcome {
    webhook.handle(move |event| app.gated.run(event)).await
}

impl Server {
    async fn start(adapter: Adapter, inbox: Inbox, gated: &Arc<Gated>) -> Self {
        match adapter {
            Adapter::Hyper => {
                let gated = Arc::clone(gated);
                let handler = move |event| Arc::clone(&gated).run(event);
                let running = Receiver::bind("127.0.0.1:0", WebhookService::new(inbox, handler))
                    .await
                    .expect("bind")
                    .spawn()
                    .expect("a bound address");
                Self {
                    addr: running.local_addr(),
                    stop: Box::new(move || {
                        tokio::spawn(async move { stop_running(running).await })
                    }),
                }
            }
            Adapter::Axum => {
                let app = Router::new()
                    .route("/hooks/soniox", post(on_axum_webhook))
                    .with_state(AxumApp {
                        inbox: inbox.clone(),
                        gated: Arc::clone(gated),
                    });
                let server = AxumServer::spawn(app).await;
                Self {
                    addr: server.addr,
                    stop: Box::new(move || {
                        tokio::spawn(async move {
                            server.stop().await;
                            inbox.drain(Duration::from_secs(5)).await;
                        })
                    }),
                }
            }
        }
    }

    async fn stop(self) {
        (self.stop)().await.expect("the server stops");
    }
}

async fn stop_running(running: RunningReceiver) {
    running
        .shutdown()
        .await
        .expect("the receiver stops cleanly");
}

fn statuses(attempts: &[WebhookAttempt]) -> Vec<Option<u16>> {
    attempts.iter().map(WebhookAttempt::status_code).collect()
}

/// Soniox's side of scenario 1 and 2: the sender gives up on the first attempt while the
/// handler is still running, and retries while it still runs. The retries are told to come
/// back (503) until the handler has finished; then a success is acknowledged as a duplicate
/// and a failure is handled again.
async fn sender_gives_up_while_handling(adapter: Adapter, first_fails: bool) {
    let (gated, mut starts) = Gated::new(first_fails);
    let server = Server::start(adapter, Inbox::new(verifier()), &gated).await;
    let api = Api::start(
        emulator()
            // Long enough for every retry to be answered on a loaded machine; the first
            // attempt times out all the same, as its handler waits for the gate.
            .webhook_attempt_timeout(Duration::from_secs(2))
            .webhook_retry_schedule([0, 10, 10, 300, 300, 1000, 2000].map(Duration::from_millis)),
    )
    .await;
    let url = format!("http://{}/hooks/soniox", server.addr);
    api.job_for_wav(&url, Some(common::NEW_SECRET)).await;
    api.emulator.finish_jobs().await;

    starts.recv().await.expect("the handler starts");
    // The first attempt timed out and the retry found the event in progress.
    let seen = api.attempts(2).await;
    assert_eq!(seen[0].outcome, DeliveryOutcome::TimedOut, "{seen:?}");
    assert_eq!(seen[1].status_code(), Some(503), "{seen:?}");
    gated.open();

    let attempts = api
        .attempts_until(|attempts| attempts.iter().any(WebhookAttempt::succeeded))
        .await;
    let codes = statuses(&attempts);
    assert_eq!(codes.last(), Some(&Some(200)), "{attempts:?}");
    assert!(
        codes[1..codes.len() - 1]
            .iter()
            .all(|code| *code == Some(503)),
        "every retry before the end is told to come back: {attempts:?}"
    );
    assert_eq!(gated.finished(), 1, "the handler succeeded exactly once");
    assert_eq!(gated.calls(), 1 + usize::from(first_fails));
    api.shutdown().await;
    server.stop().await;
}

#[tokio::test]
async fn hyper_a_handler_outlives_a_sender_that_gave_up_and_its_retry_is_a_duplicate() {
    sender_gives_up_while_handling(Adapter::Hyper, false).await;
}

#[tokio::test]
async fn hyper_a_failure_after_the_sender_gave_up_is_handled_on_a_retry() {
    sender_gives_up_while_handling(Adapter::Hyper, true).await;
}

#[tokio::test]
async fn axum_a_handler_outlives_a_sender_that_gave_up_and_its_retry_is_a_duplicate() {
    sender_gives_up_while_handling(Adapter::Axum, false).await;
}

#[tokio::test]
async fn axum_a_failure_after_the_sender_gave_up_is_handled_on_a_retry() {
    sender_gives_up_while_handling(Adapter::Axum, true).await;
}

/// A [`Receiver`] with `handler`, set up by `configure`, running in the background.
async fn running_receiver<H: Handler>(
    handler: H,
    configure: impl FnOnce(Receiver<H>) -> Receiver<H>,
) -> RunningReceiver {
    let receiver = Receiver::bind("127.0.0.1:0", WebhookService::new(verifier(), handler))
        .await
        .expect("bind");
    configure(receiver).spawn().expect("a bound address")
}

async fn succeed(_: ReceivedEvent) -> Result<(), Infallible> {
    Ok(())
}

/// Sends raw bytes and reads the whole answer (the server closes after it).
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn deliver(addr: SocketAddr) -> String {
    exchange(addr, &Case::good("delivery").to_wire()).await
}

#[tokio::test]
async fn a_hung_up_delivery_is_answered_in_progress_then_duplicate() {
    for adapter in [Adapter::Hyper, Adapter::Axum] {
        let (gated, mut starts) = Gated::new(false);
        let inbox = Inbox::new(verifier());
        let server = Server::start(adapter, inbox.clone(), &gated).await;
        // The sender writes the delivery and hangs up without waiting for the answer.
        let mut hung_up = TcpStream::connect(server.addr).await.expect("connect");
        hung_up
            .write_all(&Case::good("first").to_wire())
            .await
            .expect("write");
        starts.recv().await.expect("the handler starts");
        drop(hung_up);

        let retry = deliver(server.addr).await;
        assert!(retry.starts_with("HTTP/1.1 503"), "{adapter:?}: {retry}");
        assert!(
            retry.to_ascii_lowercase().contains("retry-after: "),
            "{retry}"
        );
        assert!(retry.ends_with("in progress"), "{retry}");

        gated.open();
        // The detached handler finishes, then its event is done: the retry is a duplicate.
        let answer = loop {
            let answer = deliver(server.addr).await;
            if !answer.ends_with("in progress") {
                break answer;
            }
            tokio::task::yield_now().await;
        };
        assert!(answer.starts_with("HTTP/1.1 200"), "{adapter:?}: {answer}");
        assert!(answer.ends_with("duplicate"), "{answer}");
        assert_eq!((gated.calls(), gated.finished()), (1, 1), "{adapter:?}");
        let counts = inbox.counts();
        assert_eq!((counts.handled, counts.duplicates), (1, 1), "{counts:?}");
        assert!(counts.in_progress >= 1, "{counts:?}");
        assert_eq!(
            counts.rejected + counts.failed + counts.deadline_exceeded,
            0
        );
        server.stop().await;
    }
}

/// A delivery whose body was still arriving when the shutdown began starts its handling after
/// the shutdown began. With no drain time, the shutdown cancels it, answers 503 and releases
/// its event, whether the drain sees it running (the body comes at once) or it starts after
/// the drain (the body comes later; the connection is then left after its grace and the inbox
/// stopped): its retry is handled at once rather than told "in progress" until the lease runs
/// out. (A drain that ran when the shutdown began, found nothing and returned, left it claimed.)
#[tokio::test]
async fn a_handling_that_starts_after_the_shutdown_began_is_released() {
    for body_after in [Duration::ZERO, Duration::from_millis(100)] {
        handling_started_late(body_after).await;
    }
}

async fn handling_started_late(body_after: Duration) {
    let (started, mut starts) = mpsc::unbounded_channel();
    let handler = move |_: ReceivedEvent| {
        let _ = started.send(());
        std::future::pending::<Result<(), Infallible>>()
    };
    let inbox = Inbox::new(verifier());
    let running = Receiver::bind("127.0.0.1:0", WebhookService::new(inbox.clone(), handler))
        .await
        .expect("bind")
        .drain_deadline(Duration::ZERO)
        .spawn()
        .expect("a bound address");
    let addr = running.local_addr();

    // The head, asking to be told to go on: the answer says the server reads the body.
    let wire = Case::good("late").add("Expect", "100-continue").to_wire();
    let (head, body) = wire.split_at(wire.len() - common::GOOD_BODY.len());
    let mut late = TcpStream::connect(addr).await.expect("connect");
    late.write_all(head).await.expect("write");
    let mut go_on = [0; 25];
    late.read_exact(&mut go_on).await.expect("read");
    assert_eq!(&go_on, b"HTTP/1.1 100 Continue\r\n\r\n");

    let stopping = tokio::spawn(stop_running(running));
    // Refused once the listener is closed: the rest of the body comes after the shutdown began.
    while TcpStream::connect(addr).await.is_ok() {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(body_after).await;
    late.write_all(body).await.expect("write");
    starts.recv().await.expect("the handler starts");
    stopping.await.expect("the receiver stops");

    let event = soniox_types::WebhookEvent::new(
        soniox_types::TranscriptionId::new(common::ID),
        soniox_types::WebhookStatus::Completed,
    );
    let claim = inbox
        .get_store()
        .claim(&event, Duration::from_secs(60))
        .await;
    assert!(
        matches!(claim, Ok(soniox_webhook::store::Claim::Claimed(_))),
        "{body_after:?}: released for its retry: {claim:?}"
    );
    let mut answer = Vec::new();
    late.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "{body_after:?}: {answer}"
    );
    assert!(answer.ends_with("shutting down"), "{answer}");
}

#[tokio::test]
async fn a_handler_past_its_deadline_is_cancelled_answered_503_and_retried() {
    let (gated, mut starts) = Gated::new(false);
    let inbox = Inbox::new(verifier()).handler_deadline(Duration::from_millis(50));
    let server = Server::start(Adapter::Hyper, inbox.clone(), &gated).await;
    // The first call waits for a gate that never opens, so it always outlives the deadline.
    let first = deliver(server.addr).await;
    starts.recv().await.expect("the handler started");
    assert!(first.starts_with("HTTP/1.1 503"), "{first}");
    assert!(first.ends_with("handler deadline exceeded"), "{first}");
    let retry = deliver(server.addr).await;
    assert!(retry.starts_with("HTTP/1.1 200"), "{retry}");
    assert!(retry.ends_with("ok"), "{retry}");
    assert_eq!((gated.calls(), gated.finished()), (2, 1));
    // A delivery with the wrong secret, to an inbox derived with another verifier: counted
    // with the rest.
    let other = inbox.clone().verifier(
        Verifier::new("X-Other", soniox_types::Secret::new("other")).expect("a verifier"),
    );
    let event = soniox_types::WebhookEvent::new(
        soniox_types::TranscriptionId::new("rejected"),
        soniox_types::WebhookStatus::Completed,
    );
    let request = soniox_webhook::testing::TestDelivery::new(event)
        .into_request()
        .expect("a request")
        .map(http_body_util::Full::new);
    assert!(other.receive(request).await.is_err());
    let counts = inbox.counts();
    assert_eq!(
        (counts.deadline_exceeded, counts.handled, counts.rejected),
        (1, 1, 1),
        "{counts:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_path_other_than_the_configured_one_gets_404() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let handler = move |_: ReceivedEvent| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<(), Infallible>(()) }
    };
    let running = running_receiver(handler, |receiver| receiver.path("/hooks/soniox")).await;
    let elsewhere = Case::good("elsewhere").target("/hooks/other?x=1");
    let answer = exchange(running.local_addr(), &elsewhere.to_wire()).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let with_query = Case::good("with query").target("/hooks/soniox?order=1");
    let answer = exchange(running.local_addr(), &with_query.to_wire()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    stop_running(running).await;
}

#[tokio::test]
async fn a_trickled_body_gets_408_and_an_oversized_head_431() {
    let (gated, _starts) = Gated::new(false);
    let inbox = Inbox::new(verifier()).body_timeout(Duration::from_millis(50));
    let server = Server::start(Adapter::Hyper, inbox, &gated).await;
    // The head promises a body that never finishes arriving.
    let wire = Case::good("trickle").to_wire();
    let answer = {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream
            .write_all(&wire[..wire.len() - 5])
            .await
            .expect("write");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // A head larger than the 8 KiB buffer: no delivery looks like this.
    let big = Case::good("big head").set("X-Padding", "p".repeat(9000));
    let answer = exchange(server.addr, &big.to_wire()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    assert_eq!(gated.calls(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_head_of_more_than_64_headers_gets_431() {
    let running = running_receiver(succeed, |receiver| receiver).await;
    // Host, Connection, Content-Length, Content-Type and the secret, plus 59: 64 in all.
    let mut many = Case::good("many headers");
    for n in 0..59 {
        many = many.add(&format!("X-Extra-{n}"), "1");
    }
    let answer = exchange(running.local_addr(), &many.to_wire()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let too_many = many.add("X-Extra-59", "1");
    let answer = exchange(running.local_addr(), &too_many.to_wire()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    stop_running(running).await;
}

#[tokio::test]
async fn a_request_head_late_or_never_sent_closes_the_connection() {
    let running = running_receiver(succeed, |receiver| {
        receiver.header_read_timeout(Some(Duration::from_millis(200)))
    })
    .await;
    let addr = running.local_addr();
    // Each exchange reads until the server closes; without the timeout it would wait for
    // ever, so it is bounded to fail instead.
    let bound = Duration::from_secs(10);
    // Half a head, then nothing: closed without an answer.
    let partial = exchange(addr, b"POST /hooks/soniox HTTP/1.1\r\nHost: x\r\n");
    let answer = tokio::time::timeout(bound, partial).await.expect("closed");
    assert_eq!(answer, "");
    // A kept-alive connection is answered, then closed when no next head comes.
    let wire = String::from_utf8(Case::good("kept alive").to_wire()).expect("ASCII");
    let kept_alive = wire.replace("Connection: close", "Connection: keep-alive");
    let answer = exchange(addr, kept_alive.as_bytes());
    let answer = tokio::time::timeout(bound, answer).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    stop_running(running).await;
}

/// `Duration::MAX` says "no limit": a deadline that far away must not overflow the clock
/// (which panicked every connection's task, so no delivery was ever answered).
#[tokio::test]
async fn the_longest_header_read_timeout_is_no_limit() {
    let running = running_receiver(succeed, |receiver| {
        receiver.header_read_timeout(Some(Duration::MAX))
    })
    .await;
    let wire = Case::good("no limit").to_wire();
    let answer = exchange(running.local_addr(), &wire);
    let answer = tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .expect("answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop_running(running).await;
}

/// The same for the drain deadline: the shutdown's deadline must not overflow the clock
/// (which panicked the receiver's task when it was asked to stop).
#[tokio::test]
async fn the_longest_drain_deadline_is_no_limit() {
    let running =
        running_receiver(succeed, |receiver| receiver.drain_deadline(Duration::MAX)).await;
    let answer = deliver(running.local_addr()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop_running(running).await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let running = running_receiver(succeed, |receiver| receiver.max_connections(1)).await;
    let addr = running.local_addr();
    // An idle connection holds the only slot.
    let idle = TcpStream::connect(addr).await.expect("connect");
    let waiting = tokio::spawn(async move { deliver(addr).await });
    // Without the cap the delivery would be answered well within this; with it, never.
    let early = tokio::time::timeout(Duration::from_millis(200), async {
        while !waiting.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(early.is_err(), "answered while the only slot was taken");
    drop(idle);
    let answer = waiting.await.expect("client");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop_running(running).await;
}

#[tokio::test]
async fn a_body_trickled_without_pause_still_gets_408_at_the_deadline() {
    // Each byte comes well within the timeout of the last: only a deadline on the whole body,
    // not one on each read, ends this.
    let inbox = Inbox::new(verifier()).body_timeout(Duration::from_millis(100));
    let service = WebhookService::new(inbox, succeed);
    let running = Receiver::bind("127.0.0.1:0", service)
        .await
        .expect("bind")
        .spawn()
        .expect("spawn");
    let wire = Case::good("trickle").to_wire();
    let head_end = wire
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let mut stream = TcpStream::connect(running.local_addr())
        .await
        .expect("connect");
    stream.write_all(&wire[..head_end]).await.expect("head");
    let (mut reader, mut writer) = stream.into_split();
    let trickle = async {
        // At this pace the body's 66 bytes take at least a third of a second: three times the
        // deadline.
        for _ in 0..10_000 {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        std::future::pending::<()>().await;
    };
    let mut answer = vec![0_u8; 1024];
    let n = tokio::select! {
        () = trickle => unreachable!(),
        read = reader.read(&mut answer) => read.expect("read"),
    };
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    stop_running(running).await;
}

#[tokio::test]
async fn a_head_of_many_ordinary_lines_over_8_kib_gets_431() {
    let running = running_receiver(succeed, |receiver| receiver).await;
    // Thirty lines of 300 bytes: no line is long, the head is.
    let mut padded = Case::good("padded head");
    for n in 0..30 {
        padded = padded.add(&format!("X-Pad-{n}"), "p".repeat(300));
    }
    let answer = exchange(running.local_addr(), &padded.to_wire()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    stop_running(running).await;
}
