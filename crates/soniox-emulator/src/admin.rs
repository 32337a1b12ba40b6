//! The admin API under `/_emulator/`: step jobs, script transcripts, read the webhook attempt
//! log, and change faults at run time. It needs no API key; the emulator is a local tool.

use std::sync::Arc;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    faults::{FaultRule, WebhookFaultRule},
    jobs,
    requests::RequestCounts,
    respond::{Failure, Reply, json, no_content},
    shared::Shared,
    webhooks::WebhookAttempt,
};

/// Largest admin request body (scripts are plain text).
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Serialize)]
struct Advanced {
    advanced: usize,
}

#[derive(Serialize)]
struct Attempts {
    attempts: Vec<WebhookAttempt>,
}

#[derive(Deserialize)]
struct Script {
    text: String,
}

#[derive(Serialize)]
struct FaultList {
    rules: Vec<FaultRule>,
    webhook_rules: Vec<WebhookFaultRule>,
}

#[derive(Serialize)]
struct Requests {
    requests: RequestCounts,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Routes a `/_emulator/...` request (`rest` is the path after the prefix).
pub(crate) async fn route(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
    rest: &str,
) -> Result<Reply, Failure> {
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let method = request.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(json(StatusCode::OK, &Health { status: "ok" })),
        (&Method::POST, ["jobs", "advance"]) => {
            let advanced = jobs::advance(shared).await;
            Ok(json(StatusCode::OK, &Advanced { advanced }))
        }
        (&Method::GET, ["webhooks"]) => {
            let wanted = query_value(&request, "transcription_id");
            let attempts = shared
                .store
                .lock()
                .attempts()
                .filter(|attempt| {
                    wanted
                        .as_deref()
                        .is_none_or(|id| attempt.transcription_id == id)
                })
                .cloned()
                .collect();
            Ok(json(StatusCode::OK, &Attempts { attempts }))
        }
        (&Method::PUT, ["scripts", sha256]) => {
            let sha256 = normalize_sha256(sha256)?;
            let script: Script = body(request).await?;
            shared
                .store
                .lock()
                .scripts
                .insert(sha256, script.text.into());
            Ok(no_content())
        }
        (&Method::DELETE, ["scripts", sha256]) => {
            let sha256 = normalize_sha256(sha256)?;
            shared.store.lock().scripts.remove(&sha256);
            Ok(no_content())
        }
        (&Method::GET, ["requests"]) => Ok(json(
            StatusCode::OK,
            &Requests {
                requests: shared.requests.snapshot(),
            },
        )),
        (&Method::GET, ["faults"]) => Ok(json(
            StatusCode::OK,
            &FaultList {
                rules: shared.faults.rules(),
                webhook_rules: shared.faults.webhook_rules(),
            },
        )),
        (&Method::POST, ["faults"]) => {
            shared.faults.add(body(request).await?);
            Ok(no_content())
        }
        (&Method::POST, ["webhook-faults"]) => {
            shared.faults.add_webhook(body(request).await?);
            Ok(no_content())
        }
        (&Method::DELETE, ["faults"]) => {
            shared.faults.clear();
            Ok(no_content())
        }
        _ => Err(Failure::no_route(StatusCode::NOT_FOUND)),
    }
}

fn query_value(request: &Request<Incoming>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A script key must be a SHA-256 in hex; it is stored lower-case.
pub(crate) fn normalize_sha256(value: &str) -> Result<String, Failure> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Failure::invalid(
            "value_error",
            "path.sha256",
            "Value error, expected the audio's SHA-256 as 64 hex digits",
        ))
    }
}

async fn body<T: DeserializeOwned>(request: Request<Incoming>) -> Result<T, Failure> {
    let value = crate::api::read_json(request, MAX_BODY).await?;
    serde_json::from_value(value)
        .map_err(|error| Failure::invalid("value_error", "body", &format!("Value error, {error}")))
}
