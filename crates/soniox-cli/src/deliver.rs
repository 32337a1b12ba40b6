//! Sending a webhook delivery exactly as Soniox does: `POST` of `{"id","status"}` as JSON,
//! the auth header, the URL (and its query) as given. The request is built by
//! `soniox_webhook::testing`, the same builder the receiving side is tested with, and sent
//! with reqwest, the HTTP client `soniox-client` already uses.

use std::time::Duration;

use bytes::Bytes;
use soniox_types::{Secret, WebhookEvent};
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
    let mut delivery = TestDelivery::new(event).uri(url);
    if let Some((name, secret)) = auth {
        delivery = delivery.auth(name.clone(), secret.clone());
    }
    let request = delivery
        .into_request()
        .map_err(|error| Failure::usage(format!("cannot build the delivery to {url}: {error}")))?;
    let request = reqwest::Request::try_from(request)
        .map_err(|error| Failure::usage(format!("cannot send to {url}: {error}")))?;
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

/// The error with its causes, without the URL repeated by reqwest's own line.
fn network_error(url: &str, error: &reqwest::Error) -> String {
    let causes = crate::failure::with_causes(error).replace(&format!(" for url ({url})"), "");
    format!("cannot deliver to {url}: {causes}")
}
