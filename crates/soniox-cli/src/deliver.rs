//! Sending a webhook delivery exactly as Soniox does: `POST` of `{"id","status"}` as JSON,
//! the auth header, the URL (and its query) as given. The request is built by
//! `soniox_webhook::testing`, the same builder the receiving side is tested with, and sent
//! with reqwest, the HTTP client `soniox-client` already uses.

use std::time::Duration;

use bytes::Bytes;
use soniox_types::{Secret, TranscriptionId, WebhookEvent, WebhookStatus};
use soniox_webhook::testing::TestDelivery;

use crate::failure::{Failure, Kind};

const USER_AGENT: &str = concat!("soniox-cli/", env!("CARGO_PKG_VERSION"));

/// How long one delivery attempt may take, as Soniox allows.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the receiver answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: http::StatusCode,
    pub(crate) body: Bytes,
}

/// An HTTP client for deliveries.
///
/// # Errors
/// When the TLS backend cannot be set up.
pub(crate) fn http_client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| Failure::other(format!("cannot build the HTTP client: {error}")))
}

/// Checks, before anything is sent, that `url` is an absolute http(s) URL, that deliveries
/// to it with the `auth` header can be built, and that they would not carry its secret in
/// cleartext to another machine unless `allow_insecure_http` (the client refuses the same
/// for a job's webhook).
///
/// # Errors
/// A usage failure for either.
pub(crate) fn check(
    url: &str,
    auth: Option<&(String, Secret)>,
    allow_insecure_http: bool,
) -> Result<(), Failure> {
    let absolute = url.parse::<http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
    });
    if !absolute {
        return Err(Failure::usage(format!("{url} is not an http(s) URL")));
    }
    let event = WebhookEvent::new(TranscriptionId::new("check"), WebhookStatus::Completed);
    request(url, event, auth)?;
    if auth.is_some() && !allow_insecure_http && soniox_client::sends_in_cleartext(url) {
        return Err(Failure::usage(format!(
            "{url} is plain http to another machine, which would send the webhook secret in \
             cleartext: use https, or pass --allow-insecure-http"
        )));
    }
    Ok(())
}

/// POSTs `event` to `url` with the `auth` header, once.
///
/// # Errors
/// A usage failure for a URL, header name or secret that Soniox would not accept either; a
/// network failure when the receiver cannot be reached or does not answer in time.
pub(crate) async fn deliver(
    http: &reqwest::Client,
    url: &str,
    event: WebhookEvent,
    auth: Option<&(String, Secret)>,
) -> Result<Answer, Failure> {
    let request = request(url, event, auth)?;
    let response = http
        .execute(request)
        .await
        .map_err(|error| Failure::new(Kind::Network, network_error(url, &error)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|error| Failure::new(Kind::Network, network_error(url, &error)))?;
    Ok(Answer { status, body })
}

/// The request delivering `event` to `url` with the `auth` header.
fn request(
    url: &str,
    event: WebhookEvent,
    auth: Option<&(String, Secret)>,
) -> Result<reqwest::Request, Failure> {
    let mut delivery = TestDelivery::new(event).uri(url);
    if let Some((name, secret)) = auth {
        delivery = delivery.auth(name.clone(), secret.clone());
    }
    let request = delivery
        .into_request()
        .map_err(|error| Failure::usage(format!("cannot build the delivery to {url}: {error}")))?;
    reqwest::Request::try_from(request)
        .map_err(|error| Failure::usage(format!("cannot send to {url}: {error}")))
}

/// The error with its causes, without the URL repeated by reqwest's own line.
fn network_error(url: &str, error: &reqwest::Error) -> String {
    let causes = crate::failure::with_causes(error).replace(&format!(" for url ({url})"), "");
    format!("cannot deliver to {url}: {causes}")
}
