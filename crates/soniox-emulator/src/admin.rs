//! The admin API under `/_emulator/`: step jobs, script transcripts, read the webhook attempt
//! log, and change faults at run time.
//!
//! It changes what every client of the emulator sees, so it is guarded even though the
//! emulator is a local tool: the `Host` must be an allowed (by default loopback) name, which
//! defeats DNS rebinding; a browser's cross-site request is refused by its `Origin`; bodies must
//! be `application/json`, which a cross-site form cannot send; and when API keys or an admin
//! token are configured, one of them is required. Only `GET /_emulator/health` is open.

use std::sync::Arc;

use http::{HeaderMap, Method, Request, StatusCode, header};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    api::{bearer_key, is_one_of},
    attempts::WebhookAttempt,
    faults::{FaultRule, WebhookFaultRule},
    jobs,
    request_body::RequestBody,
    requests::RequestCounts,
    respond::{Failure, Reply, json, no_content},
    shared::Shared,
};

/// Largest admin request body (scripts are plain text).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Most scripted transcripts held at once.
const MAX_SCRIPTS: usize = 1_000;

/// Most bytes of scripted text held at once.
const MAX_SCRIPT_BYTES: usize = 64 * 1024 * 1024;

/// Most REST fault rules, and separately most webhook fault rules, in force at once.
const MAX_FAULT_RULES: usize = 1_000;

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
    request: Request<RequestBody>,
    rest: &str,
) -> Result<Reply, Failure> {
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let method = request.method().clone();
    if !(method == Method::GET && segments == ["health"]) {
        guard(shared, &method, request.headers())?;
    }
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
            let mut state = shared.store.lock();
            let scripts = &mut state.scripts;
            let others: usize = scripts
                .iter()
                .filter(|(key, _)| **key != sha256)
                .map(|(_, text)| text.len())
                .sum();
            let is_new = !scripts.contains_key(&sha256);
            if (is_new && scripts.len() >= MAX_SCRIPTS)
                || others.saturating_add(script.text.len()) > MAX_SCRIPT_BYTES
            {
                return Err(Failure::limit_exceeded(format!(
                    "At most {MAX_SCRIPTS} scripts of {MAX_SCRIPT_BYTES} bytes in all are kept; \
                     delete some first."
                )));
            }
            scripts.insert(sha256, script.text.into());
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
        (&Method::POST, ["faults"]) => rule_added(
            shared
                .faults
                .add_within(body(request).await?, MAX_FAULT_RULES),
        ),
        (&Method::POST, ["webhook-faults"]) => rule_added(
            shared
                .faults
                .add_webhook_within(body(request).await?, MAX_FAULT_RULES),
        ),
        (&Method::DELETE, ["faults"]) => {
            shared.faults.clear();
            Ok(no_content())
        }
        _ => Err(Failure::no_route(StatusCode::NOT_FOUND)),
    }
}

fn rule_added(added: bool) -> Result<Reply, Failure> {
    if added {
        Ok(no_content())
    } else {
        Err(Failure::limit_exceeded(format!(
            "At most {MAX_FAULT_RULES} rules of each kind are kept; DELETE /_emulator/faults first."
        )))
    }
}

/// Refuses an admin request from an unexpected host or origin, or without the credential.
fn guard(shared: &Shared, method: &Method, headers: &HeaderMap) -> Result<(), Failure> {
    let config = &shared.config;
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<http::uri::Authority>().ok());
    if !host.is_some_and(|host| config.admin_hosts.allows(host.host())) {
        return Err(forbidden(
            "The admin API answers only requests whose Host is loopback or allowed with \
             --allow-admin-host.",
        ));
    }
    // Browsers send `Origin` with cross-site requests; tools such as curl do not.
    if *method != Method::GET
        && let Some(origin) = headers.get(header::ORIGIN)
    {
        let allowed = origin
            .to_str()
            .ok()
            .and_then(|origin| origin.parse::<http::Uri>().ok())
            .is_some_and(|origin| {
                origin
                    .host()
                    .is_some_and(|host| config.admin_hosts.allows(host))
            });
        if !allowed {
            return Err(forbidden(
                "The admin API refuses requests from web pages of other origins.",
            ));
        }
    }
    let credentials_required = !config.api_keys.is_empty() || config.admin_token.is_some();
    if credentials_required {
        let accepted = bearer_key(headers).is_some_and(|presented| {
            is_one_of(
                config.api_keys.iter().chain(config.admin_token.as_ref()),
                presented,
            )
        });
        if !accepted {
            return Err(Failure::unauthenticated());
        }
    }
    Ok(())
}

fn forbidden(message: &str) -> Failure {
    Failure::new(
        StatusCode::FORBIDDEN,
        soniox_types::ApiErrorType::PermissionDenied,
        message,
    )
}

fn query_value(request: &Request<RequestBody>, name: &str) -> Option<String> {
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

async fn body<T: DeserializeOwned>(request: Request<RequestBody>) -> Result<T, Failure> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            soniox_types::ApiErrorType::InvalidRequest,
            "Admin request bodies must be sent as Content-Type: application/json.",
        ));
    }
    let value = crate::api::read_json(request, MAX_BODY).await?;
    serde_json::from_value(value)
        .map_err(|error| Failure::invalid("value_error", "body", &format!("Value error, {error}")))
}
