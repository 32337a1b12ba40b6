//! Webhook delivery to a real local receiver: body, headers, query string, retries, timeouts,
//! independence of receivers, and the attempt log.

mod common;

use std::time::Duration;

use common::{Answer, Api, Receiver, builder, send};
use serde_json::{Value, json};
use soniox_emulator::{DeliveryOutcome, HostPolicy, JobClock};

fn fast() -> soniox_emulator::EmulatorBuilder {
    builder()
        .job_clock(JobClock::Fixed(Duration::ZERO))
        .webhook_retry_schedule([
            Duration::ZERO,
            Duration::from_millis(20),
            Duration::from_millis(20),
        ])
}

#[tokio::test]
async fn delivers_body_header_and_query_verbatim() {
    let mut receiver = Receiver::start(vec![Answer::Status(200)]).await;
    let api = Api::start(fast()).await;
    let url = receiver.url("/hooks/soniox?customer=42&note=a%20b&x='q'&empty=");
    let job = api
        .job_for_wav(
            500,
            json!({
                "webhook_url": url,
                "webhook_auth_header_name": "X-Soniox-Webhook-Secret",
                "webhook_auth_header_value": "s3cr3t-value"
            }),
        )
        .await;
    let id = job["id"].as_str().expect("id");
    let request = receiver.next().await;
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path_and_query,
        "/hooks/soniox?customer=42&note=a%20b&x='q'&empty="
    );
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["x-soniox-webhook-secret"], "s3cr3t-value");
    let body: Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(body, json!({"id": id, "status": "completed"}));

    let attempts = common::wait_attempts(&api, 1).await;
    assert_eq!(
        attempts[0].outcome,
        DeliveryOutcome::Answered { status_code: 200 }
    );
    assert_eq!(
        attempts[0].headers["x-soniox-webhook-secret"],
        soniox_emulator::REDACTED
    );
    assert!(attempts[0].succeeded());
    let (_, job) = send(api.get(&format!("/v1/transcriptions/{id}"))).await;
    assert_eq!(job["webhook_status_code"], 200);

    let (_, log) = send(api.get(&format!("/_emulator/webhooks?transcription_id={id}"))).await;
    let logged = &log["attempts"][0];
    assert_eq!(logged["url"], url.as_str());
    assert_eq!(
        logged["outcome"],
        json!({"result": "answered", "status_code": 200})
    );
    assert_eq!(logged["headers"]["x-soniox-webhook-secret"], "[redacted]");
    assert!(
        !log.to_string().contains("s3cr3t-value"),
        "the secret never appears in the log"
    );
}

#[tokio::test]
async fn a_url_with_characters_a_request_line_cannot_carry_is_accepted_and_encoded() {
    let mut receiver = Receiver::start(vec![Answer::Status(200)]).await;
    let api = Api::start(fast()).await;
    // The API takes any URL without whitespace; these bytes cannot go on a request line as
    // they are. The rest, `'` and the backtick in the query included, goes as given.
    let url = receiver.url("/hooks/<a>`b`?q=\"1\"&r=<2>&s=`3`&t='4'");
    api.job_for_wav(500, json!({"webhook_url": url})).await;
    let request = receiver.next().await;
    assert_eq!(
        request.path_and_query,
        "/hooks/%3Ca%3E%60b%60?q=%221%22&r=%3C2%3E&s=`3`&t='4'"
    );
    let attempts = common::wait_attempts(&api, 1).await;
    assert_eq!(attempts[0].url, url, "the log keeps the URL the job gave");
}

#[tokio::test(start_paused = true)]
async fn attempt_durations_are_measured_on_the_runtime_clock() {
    let receiver = Receiver::start(vec![Answer::Hang]).await;
    let api = Api::start(
        builder()
            .job_clock(JobClock::Fixed(Duration::ZERO))
            .webhook_retry_schedule([Duration::ZERO])
            .webhook_attempt_timeout(Duration::from_secs(5))
            .header_read_timeout(Duration::from_secs(86_400)),
    )
    .await;
    api.job_for_wav(500, json!({"webhook_url": receiver.url("/hook")}))
        .await;
    let attempts = api.emulator.wait_for_attempts(1).await;
    assert_eq!(attempts[0].outcome, DeliveryOutcome::TimedOut);
    // The timeout ran on the paused clock; so must the measure of how long the attempt took.
    assert!(attempts[0].duration_ms >= 5_000, "{:?}", attempts[0]);
}

#[tokio::test]
async fn wait_for_attempts_returns_once_that_many_were_made() {
    let receiver = Receiver::start(vec![Answer::Status(500), Answer::Status(200)]).await;
    let api = Api::start(fast()).await;
    assert!(api.emulator.wait_for_attempts(0).await.is_empty());
    api.job_for_wav(200, json!({"webhook_url": receiver.url("/h")}))
        .await;
    let attempts = tokio::time::timeout(Duration::from_secs(10), api.emulator.wait_for_attempts(2))
        .await
        .expect("two attempts are made");
    let codes: Vec<Option<u16>> = attempts.iter().map(|a| a.status_code()).collect();
    assert_eq!(codes, [Some(500), Some(200)]);
    // Already reached: answers at once, with the same log.
    assert_eq!(api.emulator.wait_for_attempts(1).await.len(), 2);
}

#[tokio::test]
async fn retries_until_a_2xx_and_keeps_the_last_status() {
    let mut receiver = Receiver::start(vec![
        Answer::Status(500),
        Answer::Status(302),
        Answer::Status(204),
    ])
    .await;
    let api = Api::start(fast()).await;
    let job = api
        .job_for_wav(200, json!({"webhook_url": receiver.url("/h")}))
        .await;
    for _ in 0..3 {
        receiver.next().await;
    }
    let attempts = common::wait_attempts(&api, 3).await;
    let codes: Vec<Option<u16>> = attempts.iter().map(|a| a.status_code()).collect();
    assert_eq!(codes, [Some(500), Some(302), Some(204)]);
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let (_, job) = send(api.get(&format!(
        "/v1/transcriptions/{}",
        job["id"].as_str().expect("id")
    )))
    .await;
    assert_eq!(job["webhook_status_code"], 204);
}

#[tokio::test]
async fn gives_up_after_the_schedule_and_records_timeouts() {
    let mut receiver = Receiver::start(vec![Answer::Hang]).await;
    let api = Api::start(fast().webhook_attempt_timeout(Duration::from_millis(200))).await;
    let job = api
        .job_for_wav(200, json!({"webhook_url": receiver.url("/slow")}))
        .await;
    let attempts = common::wait_attempts(&api, 3).await;
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome == DeliveryOutcome::TimedOut),
        "{attempts:?}"
    );
    for _ in 0..3 {
        receiver.next().await;
    }
    let (_, job) = send(api.get(&format!(
        "/v1/transcriptions/{}",
        job["id"].as_str().expect("id")
    )))
    .await;
    assert_eq!(job["webhook_status_code"], Value::Null, "never answered");
}

#[tokio::test]
async fn a_dead_or_slow_receiver_does_not_hold_up_others() {
    let slow = Receiver::start(vec![Answer::Hang]).await;
    let mut healthy = Receiver::start(vec![Answer::Status(200)]).await;
    let api = Api::start(
        builder()
            .job_clock(JobClock::Manual)
            .webhook_retry_schedule([Duration::ZERO])
            .webhook_attempt_timeout(Duration::from_secs(3_600))
            .webhook_concurrency(4),
    )
    .await;
    for _ in 0..8 {
        api.job_for_wav(100, json!({"webhook_url": slow.url("/stuck")}))
            .await;
    }
    api.job_for_wav(100, json!({"webhook_url": "http://127.0.0.1:1/refused"}))
        .await;
    let good = api
        .job_for_wav(100, json!({"webhook_url": healthy.url("/ok")}))
        .await;
    api.emulator.finish_jobs().await;
    let request = healthy.next().await;
    let body: Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!(body["id"], good["id"]);
}

#[tokio::test]
async fn failed_jobs_send_error_webhooks() {
    let mut receiver = Receiver::start(vec![Answer::Status(200)]).await;
    let api = Api::start(fast()).await;
    let job = api
        .create(json!({"model": "stt-async-v5", "audio_url": "http://example.com/a.mp3", "webhook_url": receiver.url("/h")}))
        .await;
    let request = receiver.next().await;
    let body: Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!(body, json!({"id": job["id"], "status": "error"}));
}

#[tokio::test]
async fn webhook_urls_to_other_hosts_are_refused_unless_allowed() {
    let create = |url: &str| {
        json!({"model": "stt-async-v5", "audio_url": "http://127.0.0.1:9/a.wav",
            "webhook_url": url, "webhook_auth_header_name": "X-Probe",
            "webhook_auth_header_value": "forged"})
    };
    let api = Api::start(builder()).await;
    for url in [
        "http://example.com/hook",
        "http://10.0.0.1:6379/",
        "http://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/",
    ] {
        let (status, json) = send(api.post("/v1/transcriptions").json(&create(url))).await;
        assert_eq!(status, 400, "{url}: {json}");
        assert_eq!(
            json["validation_errors"][0]["location"], "body.payload.webhook_url",
            "{json}"
        );
    }
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/",
    ] {
        api.create(create(url)).await;
    }
    assert!(api.emulator.webhook_attempts().is_empty());

    let allowed = Api::start(
        builder().webhook_urls(HostPolicy::AllowHosts(vec!["hooks.example.com".into()])),
    )
    .await;
    allowed
        .create(create("https://Hooks.Example.com/soniox"))
        .await;
    let (status, _) = send(
        allowed
            .post("/v1/transcriptions")
            .json(&create("https://example.com/")),
    )
    .await;
    assert_eq!(status, 400);
    let anywhere = Api::start(builder().webhook_urls(HostPolicy::AllowAll)).await;
    anywhere.create(create("http://example.com/hook")).await;
}
