//! End to end: jobs created on the emulator, webhooks really delivered over loopback to the
//! hyper `Receiver` and to an axum router, and the emulator's attempt log checked against what
//! the handlers saw.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

mod common;

use axum::{Router, extract::FromRef, extract::State, routing::post};
use common::{
    HEADER,
    axum_server::AxumServer,
    emulated::{Api, GIVE_UP_AFTER, emulator},
};
use serde_json::json;
use soniox_emulator::{WebhookAttempt, WebhookFault, WebhookFaultRule};
use soniox_types::{Secret, WebhookStatus};
use soniox_webhook::{
    Inbox, Outcome, ReceivedEvent, Receiver, RunningReceiver, Verifier, WebhookService,
    axum::SonioxWebhook,
};
use tokio::sync::mpsc;

const SECRET: &str = "current-secret-7f3a";
const OLD_SECRET: &str = "previous-secret-c21e";

/// One call of a handler, reported to the test.
#[derive(Debug)]
struct Call {
    event: ReceivedEvent,
    failed: bool,
}

/// The hyper `Receiver` with the default in-memory store, on a free loopback port; its handler reports
/// every call and fails the first `failures` of them.
struct HookServer {
    addr: SocketAddr,
    calls: mpsc::UnboundedReceiver<Call>,
    running: RunningReceiver,
}

impl HookServer {
    async fn start(verifier: Verifier, failures: usize) -> Self {
        let (sender, calls) = mpsc::unbounded_channel();
        let seen = Arc::new(AtomicUsize::new(0));
        let handler = move |event: ReceivedEvent| {
            let failed = seen.fetch_add(1, Ordering::SeqCst) < failures;
            let reported = sender.send(Call { event, failed });
            async move {
                reported.map_err(|_| "the test stopped listening".to_owned())?;
                if failed {
                    return Err("the database is unavailable".to_owned());
                }
                Ok(())
            }
        };
        let service = WebhookService::new(verifier, handler);
        let running = Receiver::bind("127.0.0.1:0", service)
            .await
            .expect("the receiver binds")
            .spawn()
            .expect("a bound address");
        Self {
            addr: running.local_addr(),
            calls,
            running,
        }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    async fn next_call(&mut self) -> Call {
        tokio::time::timeout(GIVE_UP_AFTER, self.calls.recv())
            .await
            .expect("the handler is called in time")
            .expect("the handler is alive")
    }

    /// Every call not taken yet; only meaningful once the attempt log shows that all
    /// deliveries were answered, since the handler reports before answering.
    fn remaining_calls(&mut self) -> Vec<Call> {
        std::iter::from_fn(|| self.calls.try_recv().ok()).collect()
    }

    async fn stop(self) {
        self.running
            .shutdown()
            .await
            .expect("the receiver stops cleanly");
    }
}

fn verifier() -> Verifier {
    Verifier::new(HEADER, Secret::new(SECRET)).expect("a valid verifier")
}

fn codes(attempts: &[WebhookAttempt]) -> Vec<Option<u16>> {
    attempts.iter().map(WebhookAttempt::status_code).collect()
}

#[tokio::test]
async fn hyper_receiver_verifies_every_delivery_with_its_metadata() {
    let mut server = HookServer::start(verifier(), 0).await;
    let api = Api::start(emulator()).await;
    let mut jobs = Vec::new();
    for order in 1..=3 {
        // `%C3%BC` and `%E2%9C%93` are UTF-8 for "ü" and "✓"; `+` is a space in a query.
        let query = format!("order={order}&city=Z%C3%BCrich%20%E2%9C%93&note=a+b&tag=x&tag=y");
        let url = server.url(&format!("/hooks/soniox?{query}"));
        jobs.push((api.job_for_wav(&url, Some(SECRET)).await, order, query));
    }
    api.emulator.finish_jobs().await;

    let mut calls = Vec::new();
    for _ in &jobs {
        calls.push(server.next_call().await);
    }
    for (id, order, query) in &jobs {
        let call = calls
            .iter()
            .find(|call| call.event.id().as_str() == id)
            .unwrap_or_else(|| panic!("no delivery for {id}: {calls:?}"));
        let metadata = call.event.metadata();
        assert_eq!(call.event.status(), &WebhookStatus::Completed);
        assert_eq!(
            metadata.raw_query(),
            query,
            "the query arrives byte for byte"
        );
        assert_eq!(metadata.get("order"), Some(order.to_string().as_str()));
        assert_eq!(metadata.get("city"), Some("Zürich ✓"));
        assert_eq!(metadata.get("note"), Some("a b"));
        assert_eq!(metadata.get_all("tag").collect::<Vec<_>>(), ["x", "y"]);
    }

    let attempts = api.attempts(jobs.len()).await;
    assert_eq!(codes(&attempts), [Some(200); 3]);
    assert!(attempts.iter().all(|a| a.attempt == 1), "{attempts:?}");
    for (id, _, _) in &jobs {
        assert_eq!(api.transcription(id).await["webhook_status_code"], 200);
    }
    assert!(server.remaining_calls().is_empty(), "one call per job");
    api.shutdown().await;
    server.stop().await;
}

#[derive(Clone)]
struct AxumState {
    inbox: Inbox,
    events: mpsc::UnboundedSender<ReceivedEvent>,
}

impl FromRef<AxumState> for Inbox {
    fn from_ref(state: &AxumState) -> Self {
        state.inbox.clone()
    }
}

async fn on_axum_webhook(State(state): State<AxumState>, webhook: SonioxWebhook) -> Outcome {
    webhook
        .handle(move |event| async move { state.events.send(event) })
        .await
}

#[tokio::test]
async fn axum_extractor_on_a_real_socket_receives_the_emulators_deliveries() {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let state = AxumState {
        inbox: Inbox::new(verifier()),
        events: events_tx,
    };
    let app = Router::new()
        .route("/webhooks/soniox", post(on_axum_webhook))
        .with_state(state);
    let server = AxumServer::spawn(app).await;
    let addr = server.addr;

    let api = Api::start(emulator()).await;
    let good_url = format!("http://{addr}/webhooks/soniox?user=%E5%B1%B1%E7%94%B0&id=7");
    let good = api.job_for_wav(&good_url, Some(SECRET)).await;
    let forged = api.job_for_wav(&good_url, Some("not-the-secret")).await;
    api.emulator.finish_jobs().await;

    let event = tokio::time::timeout(GIVE_UP_AFTER, events.recv())
        .await
        .expect("the handler is called in time")
        .expect("the handler is alive");
    assert_eq!(event.id().as_str(), good);
    assert_eq!(event.status(), &WebhookStatus::Completed);
    assert_eq!(event.metadata().get("user"), Some("山田"));
    assert_eq!(event.metadata().get("id"), Some("7"));

    // One 200 for the good job, three 401s (the whole schedule) for the forged one.
    let attempts = api.attempts(4).await;
    let of = |id: &str| -> Vec<Option<u16>> {
        codes(
            &attempts
                .iter()
                .filter(|a| a.transcription_id.as_str() == id)
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(of(&good), [Some(200)]);
    assert_eq!(of(&forged), [Some(401); 3]);
    assert!(
        events.try_recv().is_err(),
        "the forged job never reached the handler"
    );
    api.shutdown().await;
    server.stop().await;
}

#[tokio::test]
async fn duplicate_deliveries_reach_the_handler_once_per_job() {
    let mut server = HookServer::start(verifier(), 0).await;
    let api =
        Api::start(emulator().webhook_fault(WebhookFaultRule::new(WebhookFault::Duplicate))).await;
    let url = server.url("/hooks/soniox");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(api.job_for_wav(&url, Some(SECRET)).await);
    }
    api.emulator.finish_jobs().await;

    // Both copies of each job's webhook are answered 200: one handled, one dropped.
    let attempts = api.attempts(2 * ids.len()).await;
    assert_eq!(codes(&attempts), [Some(200); 6]);
    for id in &ids {
        let mut deliveries: Vec<u32> = attempts
            .iter()
            .filter(|a| a.transcription_id.as_str() == id)
            .map(|a| a.delivery)
            .collect();
        deliveries.sort_unstable();
        assert_eq!(deliveries, [1, 2], "{id} was delivered twice");
    }
    let mut handled: Vec<String> = server
        .remaining_calls()
        .into_iter()
        .map(|call| call.event.id().as_str().to_owned())
        .collect();
    handled.sort_unstable();
    ids.sort_unstable();
    assert_eq!(handled, ids, "the handler ran once per job");
    api.shutdown().await;
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_or_missing_secret_is_refused_on_every_attempt() {
    let mut server = HookServer::start(verifier(), 0).await;
    let api = Api::start(emulator()).await;
    let url = server.url("/hooks/soniox");
    let wrong = api.job_for_wav(&url, Some("guessed-secret")).await;
    let missing = api.job_for_wav(&url, None).await;
    api.emulator.finish_jobs().await;

    let attempts = api.attempts(6).await;
    for id in [&wrong, &missing] {
        let mine: Vec<&WebhookAttempt> = attempts
            .iter()
            .filter(|a| a.transcription_id.as_str() == id)
            .collect();
        assert_eq!(
            mine.iter()
                .map(|a| (a.attempt, a.status_code()))
                .collect::<Vec<_>>(),
            [(1, Some(401)), (2, Some(401)), (3, Some(401))],
            "{id}: the whole retry schedule is refused"
        );
        assert_eq!(api.transcription(id).await["webhook_status_code"], 401);
    }
    assert!(server.remaining_calls().is_empty(), "the handler never ran");
    api.shutdown().await;
    server.stop().await;
}

#[tokio::test]
async fn jobs_created_before_and_after_a_rotation_are_both_accepted() {
    let rotating = Verifier::with_secrets(HEADER, [Secret::new(SECRET), Secret::new(OLD_SECRET)])
        .expect("a valid verifier");
    let mut server = HookServer::start(rotating, 0).await;
    let api = Api::start(emulator()).await;
    let before = api
        .job_for_wav(
            &server.url("/hooks/soniox?created=before"),
            Some(OLD_SECRET),
        )
        .await;
    let after = api
        .job_for_wav(&server.url("/hooks/soniox?created=after"), Some(SECRET))
        .await;
    api.emulator.finish_jobs().await;

    let mut seen = Vec::new();
    for _ in 0..2 {
        let call = server.next_call().await;
        let created = call.event.metadata().get("created").map(str::to_owned);
        seen.push((call.event.id().as_str().to_owned(), created));
    }
    seen.sort_unstable();
    let mut expected = vec![
        (before, Some("before".to_owned())),
        (after, Some("after".to_owned())),
    ];
    expected.sort_unstable();
    assert_eq!(seen, expected);
    assert_eq!(codes(&api.attempts(2).await), [Some(200); 2]);
    api.shutdown().await;
    server.stop().await;
}

#[tokio::test]
async fn a_failing_handler_answers_500_and_the_retry_is_handled() {
    let mut server = HookServer::start(verifier(), 1).await;
    let api = Api::start(emulator()).await;
    let id = api
        .job_for_wav(&server.url("/hooks/soniox"), Some(SECRET))
        .await;
    api.emulator.finish_jobs().await;

    let first = server.next_call().await;
    assert!(first.failed);
    assert_eq!(first.event.id().as_str(), id);
    // The failure released the event, so the retry is handled rather than dropped.
    let retry = server.next_call().await;
    assert!(!retry.failed);
    assert_eq!(retry.event, first.event);

    let attempts = api.attempts(2).await;
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.attempt, a.status_code()))
            .collect::<Vec<_>>(),
        [(1, Some(500)), (2, Some(200))]
    );
    assert_eq!(api.transcription(&id).await["webhook_status_code"], 200);
    assert!(server.remaining_calls().is_empty());
    api.shutdown().await;
    server.stop().await;
}

#[tokio::test]
async fn failed_jobs_deliver_status_error() {
    let mut server = HookServer::start(verifier(), 0).await;
    let api = Api::start(emulator()).await;
    let url = server.url("/hooks/soniox");
    let text_file = api.upload(b"plain text, not audio at all".to_vec()).await;
    let undecodable = api
        .create(json!({"file_id": text_file}), &url, Some(SECRET))
        .await;
    // The emulator answers 404 outside `/v1/`, so this download fails.
    let missing_audio = format!("{}/missing.wav", api.emulator.base_url());
    let undownloadable = api
        .create(json!({"audio_url": missing_audio}), &url, Some(SECRET))
        .await;
    api.emulator.finish_jobs().await;

    let mut failed = Vec::new();
    for _ in 0..2 {
        let call = server.next_call().await;
        assert_eq!(call.event.status(), &WebhookStatus::Error, "{call:?}");
        failed.push(call.event.id().as_str().to_owned());
    }
    failed.sort_unstable();
    let mut expected = vec![undecodable.clone(), undownloadable.clone()];
    expected.sort_unstable();
    assert_eq!(failed, expected);

    assert_eq!(codes(&api.attempts(2).await), [Some(200); 2]);
    for (id, error_type) in [
        (undecodable, "audio_decode_error"),
        (undownloadable, "audio_download_error"),
    ] {
        let job = api.transcription(&id).await;
        assert_eq!(job["status"], "error");
        assert_eq!(job["error_type"], error_type);
        assert_eq!(job["webhook_status_code"], 200);
    }
    api.shutdown().await;
    server.stop().await;
}
