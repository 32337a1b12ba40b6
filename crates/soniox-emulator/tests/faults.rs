//! Fault injection at start and at run time, REST and webhooks.

mod common;

use std::time::Duration;

use common::{Answer, Api, Receiver, assert_error, builder, send};
use reqwest::StatusCode;
use serde_json::{Value, json};
use soniox_emulator::{
    DeliveryOutcome, FaultAction, FaultRule, JobClock, WebhookFault, WebhookFaultRule,
};

#[tokio::test]
async fn every_nth_request_fails_with_503() {
    let api = Api::start(
        builder().fault(
            FaultRule::new(FaultAction::Error { status: 503 })
                .method("GET")
                .path_prefix("/v1/models")
                .every_nth(2),
        ),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, json) = send(api.get("/v1/models")).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_error(status, &json, 503, "service_unavailable");
        }
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses, [200, 503, 200, 503]);
    let (status, _) = send(api.get("/v1/files")).await;
    assert_eq!(status, StatusCode::OK, "other paths are untouched");
}

#[tokio::test]
async fn rate_limits_latency_and_dropped_connections_at_run_time() {
    let api = Api::start(builder()).await;
    api.emulator.add_fault(
        FaultRule::new(FaultAction::RateLimited {
            retry_after_seconds: 7,
        })
        .path_prefix("/v1/files"),
    );
    let response = api.get("/v1/files").send().await.expect("answered");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    let json: Value = response.json().await.expect("json");
    assert_error(StatusCode::TOO_MANY_REQUESTS, &json, 429, "limit_exceeded");

    api.emulator.clear_faults();
    let rule = json!({"path_prefix": "/v1/models", "action": {"type": "drop_connection"}});
    let (status, _) = send(api.post("/_emulator/faults").json(&rule)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let error = api
        .get("/v1/models")
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error}"
    );
    let (_, listed) = send(api.get("/_emulator/faults")).await;
    assert_eq!(listed["rules"][0]["action"]["type"], "drop_connection");

    let (status, _) = send(api.delete("/_emulator/faults")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    api.emulator
        .add_fault(FaultRule::new(FaultAction::Latency { millis: 1 }));
    let (status, _) = send(api.get("/v1/models")).await;
    assert_eq!(status, StatusCode::OK, "latency delays but answers");
}

#[tokio::test]
async fn a_dropped_response_hides_a_request_that_was_handled() {
    let api = Api::start(builder()).await;
    let rule = json!({
        "method": "POST",
        "path_prefix": "/v1/files",
        "action": {"type": "drop_response"}
    });
    let (status, _) = send(api.post("/_emulator/faults").json(&rule)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(soniox_emulator::wav(Duration::from_millis(100)))
            .file_name("a.wav"),
    );
    let error = api
        .post("/v1/files")
        .multipart(form)
        .send()
        .await
        .expect_err("the answer is dropped");
    assert!(error.is_request() || error.is_body(), "{error}");
    // Yet the upload happened.
    let (status, listed) = send(api.get("/v1/files")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed["files"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

fn webhook_api() -> soniox_emulator::EmulatorBuilder {
    builder()
        .job_clock(JobClock::Fixed(Duration::ZERO))
        .webhook_retry_schedule([Duration::ZERO])
}

#[tokio::test]
async fn duplicated_webhooks_arrive_twice() {
    let mut receiver = Receiver::start(vec![Answer::Status(200)]).await;
    let api =
        Api::start(webhook_api().webhook_fault(WebhookFaultRule::new(WebhookFault::Duplicate)))
            .await;
    let job = api
        .job_for_wav(100, json!({"webhook_url": receiver.url("/h")}))
        .await;
    for _ in 0..2 {
        let body: Value = serde_json::from_slice(&receiver.next().await.body).expect("json");
        assert_eq!(body["id"], job["id"]);
    }
    let attempts = common::wait_attempts(&api, 2).await;
    let mut deliveries: Vec<u32> = attempts.iter().map(|a| a.delivery).collect();
    deliveries.sort_unstable();
    assert_eq!(deliveries, [1, 2]);
}

#[tokio::test]
async fn withheld_and_delayed_webhooks() {
    let mut receiver = Receiver::start(vec![Answer::Status(200)]).await;
    let api = Api::start(webhook_api()).await;
    let rule = json!({"trigger": {"kind": "every_nth", "n": 2}, "fault": {"type": "withhold"}});
    let (status, _) = send(api.post("/_emulator/webhook-faults").json(&rule)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    api.emulator
        .add_webhook_fault(WebhookFaultRule::new(WebhookFault::Delay { millis: 5 }));
    let first = api
        .job_for_wav(100, json!({"webhook_url": receiver.url("/h")}))
        .await;
    common::wait_terminal(&api, first["id"].as_str().expect("id")).await;
    let delivered: Value = serde_json::from_slice(&receiver.next().await.body).expect("json");
    assert_eq!(delivered["id"], first["id"]);
    let second = api
        .job_for_wav(100, json!({"webhook_url": receiver.url("/h")}))
        .await;
    common::wait_terminal(&api, second["id"].as_str().expect("id")).await;
    let attempts = common::wait_attempts(&api, 2).await;
    let withheld = attempts
        .iter()
        .find(|a| a.transcription_id == second["id"].as_str().expect("id"))
        .expect("recorded");
    assert_eq!(withheld.outcome, DeliveryOutcome::Withheld);
    assert!(
        receiver.requests.try_recv().is_err(),
        "nothing was sent for the withheld job"
    );
}

#[tokio::test]
async fn requests_are_counted_per_route_faulted_ones_included() {
    let api = Api::start(
        builder().fault(
            FaultRule::new(FaultAction::Error { status: 503 })
                .method("GET")
                .path_prefix("/v1/transcriptions/")
                .every_nth(2),
        ),
    )
    .await;
    for id in ["a", "b", "c"] {
        send(api.get(&format!("/v1/transcriptions/{id}"))).await;
    }
    send(api.get("/v1/transcriptions/a/transcript")).await;
    send(api.get("/v1/models")).await;
    send(api.http.get(api.url("/_emulator/health"))).await;

    let counts = api.emulator.request_counts();
    assert_eq!(counts.get("GET", "/v1/transcriptions/{id}"), 3);
    assert_eq!(counts.get("GET", "/v1/transcriptions/{id}/transcript"), 1);
    assert_eq!(counts.get("GET", "/v1/models"), 1);
    assert_eq!(counts.total(), 5, "admin requests are not counted");

    let (status, json) = send(api.get("/_emulator/requests")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["requests"]["GET /v1/transcriptions/{id}"], 3);
    assert_eq!(json["requests"]["GET /v1/models"], 1);
}

#[tokio::test]
async fn requests_that_name_no_operation_count_under_one_key() {
    let api = Api::start(builder()).await;
    // Unauthenticated, each to a path of its own: none may add a key of its own.
    for n in 0..50 {
        let path = format!("/v1/{n}/{}", "x".repeat(1_000));
        send(api.http.get(api.url(&path))).await;
    }
    send(api.http.get(api.url("/elsewhere"))).await;
    send(api.delete("/v1/models")).await;
    send(api.http.request(
        reqwest::Method::from_bytes(b"BREW").expect("method"),
        api.url("/v1/files"),
    ))
    .await;
    // An operation still counts under its route, answered 401 or not.
    send(api.http.get(api.url("/v1/files/f1"))).await;

    let counts = api.emulator.request_counts();
    let keys: Vec<(&str, u64)> = counts.iter().collect();
    assert_eq!(keys, [("GET /v1/files/{id}", 1), ("other", 53)]);
    assert_eq!(counts.other(), 53);
    assert_eq!(counts.total(), 54);
}
