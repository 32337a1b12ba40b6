//! The axum extractor, driven through a `Router` with `oneshot`.

mod common;

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Router,
    body::Body,
    extract::{FromRef, State},
    response::{IntoResponse, Response},
    routing::any,
};
use common::{Case, ID, bad_requests, good_requests, verifier};
use http_body_util::BodyExt;
use soniox_webhook::{DEFAULT_BODY_LIMIT, Inbox, Outcome, axum::SonioxWebhook, store::MemoryStore};
use tower::ServiceExt;

#[derive(Clone)]
struct AppState {
    inbox: Inbox,
    calls: Arc<AtomicUsize>,
}

impl FromRef<AppState> for Inbox {
    fn from_ref(state: &AppState) -> Self {
        state.inbox.clone()
    }
}

async fn on_webhook(State(state): State<AppState>, webhook: SonioxWebhook) -> Response {
    let event = webhook.event().clone();
    let outcome = webhook
        .handle(move |_| async move {
            state.calls.fetch_add(1, Ordering::SeqCst);
            Ok::<(), Infallible>(())
        })
        .await;
    if outcome != Outcome::Handled {
        return outcome.into_response();
    }
    let metadata = event.metadata().len();
    format!("{} {} {metadata}", event.id(), event.status()).into_response()
}

fn app() -> (Router, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let state = AppState {
        // A store that remembers no done event hands every delivery to the handler.
        inbox: Inbox::new(verifier()).store(MemoryStore::new(0, std::time::Duration::ZERO)),
        calls: Arc::clone(&calls),
    };
    // `any` so that the extractor, not the router, answers wrong methods.
    (
        Router::new()
            .route("/hooks/soniox", any(on_webhook))
            .with_state(state),
        calls,
    )
}

fn request(case: &Case, body: Body) -> http::Request<Body> {
    let mut request = http::Request::new(body);
    *request.method_mut() = case.http_method();
    *request.uri_mut() = case.uri();
    *request.headers_mut() = case.header_map();
    request
}

async fn answer(app: &Router, request: http::Request<Body>) -> (u16, String) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn bad_requests_are_rejected_before_the_handler() {
    let (app, calls) = app();
    for case in bad_requests() {
        let (status, body) = answer(&app, request(&case, Body::from(case.body.clone()))).await;
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{}", case.name);
    }
}

#[tokio::test]
async fn good_requests_reach_the_handler() {
    let (app, calls) = app();
    for (n, case) in good_requests().iter().enumerate() {
        let (status, _) = answer(&app, request(case, Body::from(case.body.clone()))).await;
        assert_eq!(status, 200, "{}", case.name);
        assert_eq!(calls.load(Ordering::SeqCst), n + 1, "{}", case.name);
    }
    let case = Case::good("metadata").target("/hooks/soniox?order=42&tag=a");
    let (_, body) = answer(&app, request(&case, Body::from(case.body.clone()))).await;
    assert_eq!(body, format!("{ID} completed 2"));
}

#[tokio::test]
async fn streamed_bodies_without_length_are_limited() {
    let (app, calls) = app();
    let chunk = bytes::Bytes::from(vec![b' '; 1024]);
    let chunks =
        (0..DEFAULT_BODY_LIMIT / 1024 + 1).map(move |_| Ok::<_, Infallible>(chunk.clone()));
    let case = Case::good("stream").chunked();
    let (status, _) = answer(
        &app,
        request(&case, Body::from_stream(futures_util::stream::iter(chunks))),
    )
    .await;
    assert_eq!(status, 413);

    let parts = [
        &common::GOOD_BODY.as_bytes()[..10],
        &common::GOOD_BODY.as_bytes()[10..],
    ];
    let chunks = parts.map(|p| Ok::<_, Infallible>(bytes::Bytes::copy_from_slice(p)));
    let (status, _) = answer(
        &app,
        request(&case, Body::from_stream(futures_util::stream::iter(chunks))),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rejection_renders_its_status_and_allow_header() {
    let (app, _) = app();
    let case = Case::good("get").method("GET").body("");
    let response = app
        .oneshot(request(&case, Body::empty()))
        .await
        .expect("infallible");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}
