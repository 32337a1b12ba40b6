//! Webhook delivery: `POST {"id","status"}` to the job's URL with its auth header, retried on
//! the configured schedule, every attempt recorded.

use std::{borrow::Cow, collections::BTreeMap, fmt::Write as _, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::Full;
use soniox_types::{OffsetDateTime, Secret, TranscriptionStatus, WebhookEvent, WebhookStatus};

use crate::{
    attempts::{DeliveryOutcome, REDACTED, WebhookAttempt},
    config::HostPolicy,
    faults::{Faults, WebhookFault},
    shared::Shared,
};

/// Where a finished job's webhook goes.
#[derive(Clone, Debug)]
pub(crate) struct WebhookTarget {
    pub(crate) url: String,
    pub(crate) auth: Option<(String, Secret)>,
    pub(crate) event: WebhookEvent,
}

impl WebhookTarget {
    /// The target of a job that has just finished, if it has a webhook.
    pub(crate) fn of(job: &crate::store::JobEntry) -> Option<Self> {
        let transcription = &job.transcription;
        let status = match transcription.status {
            TranscriptionStatus::Completed => WebhookStatus::Completed,
            _ => WebhookStatus::Error,
        };
        Some(Self {
            url: transcription.webhook_url.clone()?,
            auth: transcription
                .webhook_auth_header_name
                .clone()
                .zip(job.webhook_secret.clone()),
            event: WebhookEvent::new(transcription.id.clone(), status),
        })
    }
}

/// Starts delivering `target` in the background, applying any webhook faults.
pub(crate) fn dispatch(shared: &Arc<Shared>, target: &WebhookTarget) {
    let faults = shared.faults.decide_webhook();
    if faults.contains(&WebhookFault::Withhold) {
        record(
            shared,
            target,
            1,
            0,
            (crate::issued::now(), Duration::ZERO),
            DeliveryOutcome::Withheld,
        );
        return;
    }
    let delay = Faults::webhook_delay(&faults);
    let copies = if faults.contains(&WebhookFault::Duplicate) {
        2
    } else {
        1
    };
    for delivery in 1..=copies {
        let shared_task = Arc::clone(shared);
        let target = target.clone();
        shared.spawn(async move {
            tokio::time::sleep(delay).await;
            deliver(&shared_task, &target, delivery).await;
        });
    }
}

async fn deliver(shared: &Arc<Shared>, target: &WebhookTarget, delivery: u32) {
    let body = Bytes::from(serde_json::to_vec(&target.event).unwrap_or_default());
    let authority = request_target_safe(&target.url)
        .parse::<Uri>()
        .ok()
        .and_then(|uri| {
            uri.authority()
                .map(|authority| authority.as_str().to_owned())
        })
        .unwrap_or_default();
    for (index, wait) in shared.config.webhooks.retry_schedule.iter().enumerate() {
        tokio::time::sleep(*wait).await;
        let outcome = {
            let permits = shared.webhook_permits(&authority);
            let Some(_permit) = permits.acquire().await else {
                return;
            };
            let started_at = crate::issued::now();
            // The clock the attempt's timeout runs on.
            let started = tokio::time::Instant::now();
            let outcome = attempt(shared, target, body.clone()).await;
            (started_at, started.elapsed(), outcome)
        };
        let (started_at, elapsed, outcome) = outcome;
        let delivered = outcome.succeeded();
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        record(
            shared,
            target,
            delivery,
            number,
            (started_at, elapsed),
            outcome,
        );
        if delivered {
            return;
        }
    }
    tracing::warn!(transcription_id = %target.event.id, url = %target.url, "webhook delivery failed permanently");
}

async fn attempt(shared: &Shared, target: &WebhookTarget, body: Bytes) -> DeliveryOutcome {
    let request = match build_request(&shared.config.webhook_urls, target, body) {
        Ok(request) => request,
        Err(error) => return DeliveryOutcome::Failed { error },
    };
    let timeout = shared.config.webhooks.attempt_timeout;
    match tokio::time::timeout(timeout, shared.http.request(request)).await {
        Err(_) => DeliveryOutcome::TimedOut,
        Ok(Err(error)) => DeliveryOutcome::Failed {
            error: error_chain(&error),
        },
        Ok(Ok(response)) => DeliveryOutcome::Answered {
            status_code: response.status().as_u16(),
        },
    }
}

/// The URI a webhook is sent to, when `policy` allows its host. Parsed as the HTTP client
/// parses it, so the host checked is the host connected to.
///
/// # Errors
/// A message for the job's creator or the attempt log.
pub(crate) fn destination(policy: &HostPolicy, url: &str) -> Result<Uri, String> {
    let uri: Uri = request_target_safe(url)
        .parse()
        .map_err(|error| format!("invalid webhook URL: {error}"))?;
    let host = uri.host().unwrap_or_default();
    if !policy.allows(host) {
        return Err(format!(
            "the emulator's webhook URL policy does not allow host {host} \
             (start it with --allow-webhook-host {host})"
        ));
    }
    Ok(uri)
}

/// `url` with the bytes that a request line cannot carry as they are percent-encoded: in the
/// path `<`, `>` and the backtick, in the query `"`, `<` and `>`, and control bytes in both.
/// The API takes any URL without whitespace, so a job may give them; every other byte, the
/// query's included, is sent as the job gave it. The scheme and authority are left alone.
fn request_target_safe(url: &str) -> Cow<'_, str> {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let Some(target) = url[after_scheme..]
        .find(['/', '?', '#'])
        .map(|at| after_scheme + at)
    else {
        return Cow::Borrowed(url);
    };
    // The fragment is not sent.
    let end = url[target..].find('#').map_or(url.len(), |at| target + at);
    let refused = |c: char, in_query: bool| {
        c.is_ascii_control()
            || if in_query {
                matches!(c, '"' | '<' | '>')
            } else {
                matches!(c, '<' | '>' | '`')
            }
    };
    let mut safe: Option<String> = None;
    let mut in_query = false;
    for (at, c) in url[target..end].char_indices() {
        in_query |= c == '?';
        if refused(c, in_query) {
            let safe = safe.get_or_insert_with(|| url[..target + at].to_owned());
            // ASCII, so one byte.
            let _ = write!(safe, "%{:02X}", u32::from(c));
        } else if let Some(safe) = &mut safe {
            safe.push(c);
        }
    }
    match safe {
        Some(mut safe) => {
            safe.push_str(&url[end..]);
            Cow::Owned(safe)
        }
        None => Cow::Borrowed(url),
    }
}

fn build_request(
    policy: &HostPolicy,
    target: &WebhookTarget,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, String> {
    let uri = destination(policy, &target.url)?;
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    if let Some((name, value)) = &target.auth {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| "invalid webhook auth header name".to_owned())?;
        let mut value = HeaderValue::from_str(value.expose_secret())
            .map_err(|_| "invalid webhook auth header value".to_owned())?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(request)
}

const USER_AGENT: &str = concat!("soniox-emulator/", env!("CARGO_PKG_VERSION"));

/// The error and its causes on one line; hyper's top-level message alone says little.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn record(
    shared: &Shared,
    target: &WebhookTarget,
    delivery: u32,
    attempt: u32,
    (started_at, elapsed): (OffsetDateTime, Duration),
    outcome: DeliveryOutcome,
) {
    let mut headers = BTreeMap::from([
        (
            header::CONTENT_TYPE.to_string(),
            "application/json".to_owned(),
        ),
        (header::USER_AGENT.to_string(), USER_AGENT.to_owned()),
    ]);
    if let Some((name, _)) = &target.auth {
        headers.insert(name.to_ascii_lowercase(), REDACTED.to_owned());
    }
    let status_code = outcome.status_code();
    tracing::debug!(transcription_id = %target.event.id, attempt, ?outcome, "webhook attempt");
    let entry = WebhookAttempt {
        transcription_id: target.event.id.clone(),
        status: target.event.status.clone(),
        delivery,
        attempt,
        url: target.url.clone(),
        headers,
        started_at,
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        outcome,
    };
    let mut state = shared.store.lock();
    if let Some(code) = status_code
        && let Some(job) = state.jobs.get_mut(target.event.id.as_str())
    {
        job.transcription.webhook_status_code = Some(code);
    }
    state.record_attempt(entry);
    drop(state);
    shared.attempts_recorded.send_modify(|count| *count += 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(policy: &HostPolicy, url: &str, allowed: bool) {
        assert_eq!(destination(policy, url).is_ok(), allowed, "{url}");
    }

    #[test]
    fn the_host_checked_is_the_host_connected_to() {
        let loopback = HostPolicy::LoopbackOnly;
        check(&loopback, "http://127.0.0.1:9/hook?x=1", true);
        check(&loopback, "http://[::1]/", true);
        // User info before the host: the connection goes to the host after the `@`.
        check(&loopback, "http://127.0.0.1@example.com/", false);
        check(&loopback, "http://localhost.example.com/", false);
        check(&loopback, "http://0x7f.example/", false);
        check(&loopback, "not a url", false);
        let hosts = HostPolicy::AllowHosts(vec!["hooks.example.com".into()]);
        check(&hosts, "https://hooks.example.com:8443/soniox", true);
        check(&hosts, "https://evil.hooks.example.com/", false);
    }

    #[test]
    fn only_bytes_a_request_line_cannot_carry_are_encoded() {
        #[track_caller]
        fn check(url: &str, expect: &str) {
            let uri = destination(&HostPolicy::LoopbackOnly, url).expect(url);
            assert_eq!(
                uri.path_and_query().map(|p| p.as_str()),
                Some(expect),
                "{url}"
            );
        }
        check(
            "http://127.0.0.1:9/hook?a=1&b=%2F&c='x'&d={}|^",
            "/hook?a=1&b=%2F&c='x'&d={}|^",
        );
        check(
            "http://127.0.0.1:9/a<b>`c\"{}?q=\"x\"<y>&z=`#<frag>",
            "/a%3Cb%3E%60c\"{}?q=%22x%22%3Cy%3E&z=`",
        );
        check("http://127.0.0.1:9?<", "?%3C");
        check("http://127.0.0.1:9/\u{1}é?\u{7f}é", "/%01é?%7Fé");
        // The authority is not touched, so the host checked is still the one connected to.
        assert!(destination(&HostPolicy::LoopbackOnly, "http://127.0.0.1@example.com/<").is_err());
    }
}
