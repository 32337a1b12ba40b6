//! The admin API's guards: the credential when keys are set, JSON bodies, the `Host` and
//! `Origin` checks, and the caps on scripts and fault rules.

mod common;

use common::{Api, KEY, builder, send};
use http::StatusCode;
use serde_json::json;
use soniox_emulator::{Emulator, HostPolicy};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const ADVANCE: &str = "/_emulator/jobs/advance";

/// Sends one raw request and returns the answer's status line.
async fn status_line(api: &Api, request: &str) -> String {
    let mut stream = TcpStream::connect(api.emulator.local_addr())
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

fn advance_with(host: &str, extra: &str) -> String {
    format!(
        "POST {ADVANCE} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n{extra}\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn a_credential_is_required_when_keys_or_a_token_are_set() {
    let api = Api::start(builder().admin_token("admin-token")).await;
    let url = api.url(ADVANCE);
    for (request, expect) in [
        (api.http.post(&url), 401),
        (api.http.post(&url).bearer_auth("wrong"), 401),
        (api.http.post(&url).bearer_auth(KEY), 200),
        (api.http.post(&url).bearer_auth("admin-token"), 200),
    ] {
        let (status, json) = send(request).await;
        assert_eq!(status, expect, "{json}");
    }
    // Health stays open, for probes.
    let (status, _) = send(api.http.get(api.url("/_emulator/health"))).await;
    assert_eq!(status, 200);

    let open = Api::start(Emulator::builder()).await;
    let (status, _) = send(open.http.post(open.url(ADVANCE))).await;
    assert_eq!(status, 200, "no key and no token: no credential");
}

#[tokio::test]
async fn bodies_must_be_json() {
    let api = Api::start(builder()).await;
    let rule = json!({"action": {"type": "error", "status": 503}}).to_string();
    for (content_type, expect) in [
        ("text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("application/json; charset=utf-8", StatusCode::NO_CONTENT),
    ] {
        let (status, json) = send(
            api.post("/_emulator/faults")
                .header("content-type", content_type)
                .body(rule.clone()),
        )
        .await;
        assert_eq!(status, expect, "{content_type}: {json}");
    }
    let (status, _) = send(api.post("/_emulator/faults").body(rule)).await;
    assert_eq!(
        status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no Content-Type"
    );
}

#[tokio::test]
async fn other_hosts_and_cross_site_origins_are_refused() {
    let api = Api::start(builder()).await;
    for (host, extra, expect) in [
        ("127.0.0.1", "", "200"),
        ("localhost:8080", "", "200"),
        ("[::1]:8080", "", "200"),
        // DNS rebinding: a page on attacker.example whose name now points at 127.0.0.1.
        ("attacker.example:8080", "", "403"),
        ("localhost", "Origin: http://attacker.example\r\n", "403"),
        ("localhost", "Origin: null\r\n", "403"),
        ("localhost", "Origin: http://localhost:3000\r\n", "200"),
    ] {
        let line = status_line(&api, &advance_with(host, extra)).await;
        assert!(line.contains(expect), "{host} {extra:?}: {line}");
    }
    let allowed =
        Api::start(builder().admin_hosts(HostPolicy::AllowHosts(vec!["emulator".into()]))).await;
    let line = status_line(&allowed, &advance_with("emulator:8080", "")).await;
    assert!(line.contains("200"), "{line}");
}

#[tokio::test]
async fn fault_rules_and_scripts_are_capped() {
    let api = Api::start(builder()).await;
    let rule = json!({"path_prefix": "/v1/none", "action": {"type": "error", "status": 503}});
    for _ in 0..1_000 {
        let (status, _) = send(api.post("/_emulator/faults").json(&rule)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, json) = send(api.post("/_emulator/faults").json(&rule)).await;
    assert_eq!(
        (status, &json["error_type"]),
        (StatusCode::TOO_MANY_REQUESTS, &json!("limit_exceeded"))
    );

    let script = |n: usize| format!("/_emulator/scripts/{n:064x}");
    for n in 0..1_000 {
        let (status, _) = send(api.put(&script(n)).json(&json!({"text": "words"}))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _) = send(api.put(&script(1_000)).json(&json!({"text": "words"}))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Replacing a script is not a new one.
    let (status, _) = send(api.put(&script(0)).json(&json!({"text": "other words"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Sixteen scripts of 3.9 MiB fit in the 64 MiB of script text; a seventeenth does not.
    let fresh = Api::start(builder()).await;
    let text = json!({"text": "w".repeat(3_900 * 1024)});
    for n in 0..16 {
        let (status, _) = send(fresh.put(&script(n)).json(&text)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _) = send(fresh.put(&script(16)).json(&text)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
