//! The [`Client`] and the one place requests are sent, retried and traced.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use soniox_types::{ApiError, Secret};
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use crate::call::{Acted, Call};
use crate::{
    ClientBuilder, Error,
    error::snippet,
    retry::{AttemptOutcome, Replay, RetryDecision, RetryPolicy, full_jitter, parse_retry_after},
    stall::StallLimits,
};

/// The most bytes of an error body read into memory.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An async client for the Soniox REST API.
///
/// Cheap to clone: clones share one connection pool and configuration. Reach the API through
/// the resource handles [`files`](Self::files), [`transcriptions`](Self::transcriptions),
/// [`models`](Self::models) and [`auth`](Self::auth).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Base URL without a trailing slash or `/v1`.
    base_url: String,
    api_key: Secret,
    retry: RetryPolicy,
    request_timeout: Duration,
    upload_timeout: Option<Duration>,
    max_response_bytes: usize,
    upload_stall: StallLimits,
    allow_insecure_http: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &"[redacted]")
            .field("retry", &self.inner.retry)
            .field("request_timeout", &self.inner.request_timeout)
            .field("upload_timeout", &self.inner.upload_timeout)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .field("upload_stall", &self.inner.upload_stall)
            .field("allow_insecure_http", &self.inner.allow_insecure_http)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `SONIOX_API_KEY` and `SONIOX_API_BASE_URL` (default
    /// `https://api.soniox.com`).
    ///
    /// # Errors
    /// [`Error::Config`] when `SONIOX_API_KEY` is not set.
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env().build()
    }

    pub(crate) fn from_builder(builder: ClientBuilder) -> Result<Self, Error> {
        let api_key = builder.api_key.ok_or_else(|| {
            Error::Config(format!(
                "no API key: call `api_key` or set {}",
                crate::config::API_KEY_ENV
            ))
        })?;
        let base_url = normalize_base_url(&builder.base_url, TLS)?;
        if !builder.allow_insecure_http {
            refuse_cleartext(&base_url, "the base URL", "the API key")?;
        }
        let http = reqwest::Client::builder()
            .connect_timeout(builder.connect_timeout)
            .user_agent(builder.user_agent)
            .build()
            .map_err(|error| Error::Config(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                api_key,
                retry: builder.retry,
                request_timeout: builder.request_timeout,
                upload_timeout: builder.upload_timeout,
                max_response_bytes: builder.max_response_bytes,
                upload_stall: builder.upload_stall,
                allow_insecure_http: builder.allow_insecure_http,
            }),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Sends `call`, retrying as the policy allows, and returns the successful response.
    ///
    /// `body` adds the request body to a fresh request for every attempt, because a streamed
    /// body cannot be replayed; it returns `None` when the body cannot be recreated (a reader
    /// that was already consumed), which ends the retries.
    pub(crate) async fn send(
        &self,
        call: Call<'_>,
        mut body: impl FnMut(RequestBuilder) -> Option<Result<RequestBuilder, Error>>,
    ) -> Result<Response, Error> {
        let span = tracing::info_span!(
            "soniox.request",
            method = %call.method,
            path = call.path,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        async {
            let url = format!("{}{}", self.inner.base_url, call.path);
            let started = Instant::now();
            let mut attempt = 0;
            // Whether an earlier attempt may have been carried out.
            let mut may_have_acted = false;
            loop {
                attempt += 1;
                tracing::Span::current().record("attempt", attempt);
                let request = self
                    .inner
                    .http
                    .request(call.method.clone(), &url)
                    .bearer_auth(self.inner.api_key.expose_secret())
                    .query(&call.query);
                let request = match self.timeout_for(&call) {
                    Some(timeout) => request.timeout(timeout),
                    None => request,
                };
                let Some(request) = body(request) else {
                    // Calls whose body cannot be replayed are marked `Replay::Never`, so this
                    // only guards the contract of `body`.
                    return Err(Error::Config(
                        "the upload source cannot be read twice".to_owned(),
                    ));
                };
                let request = request?;
                let sent = match call.progress {
                    Some(progress) => {
                        let limits = self.inner.upload_stall;
                        progress
                            .watch(limits, async { Ok(request.send().await) })
                            .await
                    }
                    None => Ok(request.send().await),
                };
                let (outcome, error) = match sent {
                    Err(stalled) => (AttemptOutcome::FailedAfterSend, stalled),
                    Ok(Ok(response)) if response.status().is_success() => {
                        record_response(&response);
                        return Ok(response);
                    }
                    Ok(Ok(response))
                        if may_have_acted
                            && call.method == Method::DELETE
                            && response.status() == http::StatusCode::NOT_FOUND =>
                    {
                        // An earlier attempt deleted it and its answer was lost.
                        record_response(&response);
                        tracing::debug!("already deleted by an earlier attempt");
                        return Ok(response);
                    }
                    Ok(Ok(response)) => {
                        record_response(&response);
                        let retry_after = response
                            .headers()
                            .get(http::header::RETRY_AFTER)
                            .and_then(|value| value.to_str().ok())
                            .and_then(|value| parse_retry_after(value, SystemTime::now()));
                        let outcome = AttemptOutcome::Status {
                            status: response.status().as_u16(),
                            retry_after,
                        };
                        // An upload has no overall timeout: its error body is bounded like
                        // its answer's head.
                        let limit = call.is_upload().then_some(self.inner.upload_stall.response);
                        (outcome, error_from_response(response, limit).await)
                    }
                    Ok(Err(error)) => {
                        let outcome = if error.is_connect() {
                            AttemptOutcome::ConnectFailed
                        } else {
                            AttemptOutcome::FailedAfterSend
                        };
                        let error = if error.is_timeout() {
                            Error::Timeout(error)
                        } else {
                            Error::Transport(error)
                        };
                        (outcome, error)
                    }
                };
                // An upload whose body did not all go out (cut off, stalled, answered early)
                // cannot have been stored.
                let body_unsent = call.progress.is_some_and(|progress| !progress.body_sent());
                let acted_maybe = outcome.may_have_acted() && !body_unsent;
                may_have_acted |= acted_maybe;
                let decision = self.inner.retry.decide(
                    attempt,
                    started.elapsed(),
                    call.replay,
                    outcome,
                    full_jitter,
                );
                let retry = match decision {
                    RetryDecision::RetryAfter(delay) => {
                        tracing::debug!(?delay, error = %error, "retrying");
                        tokio::time::sleep(delay).await;
                        true
                    }
                    RetryDecision::Stop => false,
                };
                let unknown =
                    |error| Error::unknown_outcome(call.reference.map(str::to_owned), error);
                if call.replay == Replay::Safe || !acted_maybe {
                    if retry {
                        continue;
                    }
                    // This attempt's failure does not undo an earlier one that may have been
                    // carried out.
                    if call.replay != Replay::Safe && may_have_acted {
                        return Err(unknown(error));
                    }
                    return Err(error);
                }
                // A request that may have been carried out is sent again only when a lookup
                // shows that it was not and the policy replays it (a 503); found, it is not
                // sent again; otherwise its outcome is unknown: not found may also mean not
                // done yet.
                let acted = match call.look_up {
                    Some(look_up) => look_up().await,
                    None => Acted::Unknown,
                };
                match acted {
                    Acted::No if retry => {}
                    Acted::Yes => {
                        tracing::debug!("the server already acted: not replaying");
                        return Err(error);
                    }
                    Acted::No | Acted::Unknown => return Err(unknown(error)),
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Sends a call without a body and decodes the JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, Error> {
        self.json_parsed(call, |bytes| serde_json::from_slice(bytes))
            .await
    }

    /// Sends a call without a body and decodes the JSON answer with `parse`, for types with a
    /// faster decoder than their serde implementation.
    pub(crate) async fn json_parsed<T>(&self, call: Call<'_>, parse: Parse<T>) -> Result<T, Error> {
        let (secret, unread) = (call.secret_response, call.unread_answer());
        let response = self.send(call, |request| Some(Ok(request))).await?;
        self.decode_with(response, parse, secret)
            .await
            .map_err(|error| unread.error(error))
    }

    /// Sends a call with a JSON body and decodes the JSON answer.
    pub(crate) async fn json_with_body<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        body: &B,
    ) -> Result<T, Error> {
        let (secret, unread) = (call.secret_response, call.unread_answer());
        let response = self
            .send(call, |request| Some(Ok(request.json(body))))
            .await?;
        self.decode_with(response, |bytes| serde_json::from_slice(bytes), secret)
            .await
            .map_err(|error| unread.error(error))
    }

    /// Sends a call whose success has no body (204).
    pub(crate) async fn no_content(&self, call: Call<'_>) -> Result<(), Error> {
        self.send(call, |request| Some(Ok(request))).await.map(drop)
    }

    /// Decodes a success body, keeping a snippet of it when it does not decode.
    pub(crate) async fn decode<T: DeserializeOwned>(&self, response: Response) -> Result<T, Error> {
        self.decode_with(response, |bytes| serde_json::from_slice(bytes), false)
            .await
    }

    /// Decodes a success body with `parse`; the error quotes none of it when it is `secret`.
    async fn decode_with<T>(
        &self,
        response: Response,
        parse: Parse<T>,
        secret: bool,
    ) -> Result<T, Error> {
        let bytes = read_capped(response, self.inner.max_response_bytes).await?;
        parse(&bytes).map_err(|source| {
            let (source, snippet) = if secret {
                // serde_json's message may quote a value, the secret included: keep only
                // where decoding failed.
                let source = <serde_json::Error as serde::de::Error>::custom(format_args!(
                    "{:?} error at line {} column {}",
                    source.classify(),
                    source.line(),
                    source.column()
                ));
                (source, Error::WITHHELD_SNIPPET.to_owned())
            } else {
                (source, snippet(&bytes))
            };
            Error::Decode { source, snippet }
        })
    }

    /// Refuses a job request that would make Soniox send its webhook secret in cleartext to
    /// another host, unless the client allows insecure HTTP.
    pub(crate) fn check_webhook_transport(
        &self,
        request: &soniox_types::CreateTranscription,
    ) -> Result<(), Error> {
        match &request.webhook_url {
            Some(url)
                if request.webhook_auth_header_value.is_some()
                    && !self.inner.allow_insecure_http =>
            {
                refuse_cleartext(url, "the webhook URL", "the webhook secret")
            }
            _ => Ok(()),
        }
    }

    /// The stall bounds of uploads.
    pub(crate) fn upload_stall(&self) -> StallLimits {
        self.inner.upload_stall
    }

    fn timeout_for(&self, call: &Call<'_>) -> Option<Duration> {
        if call.is_upload() {
            self.inner.upload_timeout
        } else {
            Some(self.inner.request_timeout)
        }
    }
}

fn record_response(response: &Response) {
    let span = tracing::Span::current();
    span.record("status", response.status().as_u16());
    if let Some(id) = request_id(response) {
        span.record("request_id", id);
    }
}

fn request_id(response: &Response) -> Option<&str> {
    response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
}

/// A JSON decoder for a success body.
pub(crate) type Parse<T> = fn(&[u8]) -> serde_json::Result<T>;

/// Reads a success body of at most `limit` bytes: a server (or something posing as one) cannot
/// make the client buffer without end. A declared length over the limit fails before reading.
async fn read_capped(mut response: Response, limit: usize) -> Result<Vec<u8>, Error> {
    let too_large = || Error::ResponseTooLarge { limit };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Error::Transport)? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Turns an error response into [`Error::Api`] or, when the body is not an API error body,
/// [`Error::UnexpectedResponse`]. Reads at most [`ERROR_BODY_LIMIT`] bytes, for at most
/// `time_limit` when one is given; what came by then is the body.
async fn error_from_response(mut response: Response, time_limit: Option<Duration>) -> Error {
    let status = response.status();
    let header_request_id = request_id(&response).map(str::to_owned);
    let mut body = Vec::new();
    let read = async {
        while body.len() < ERROR_BODY_LIMIT {
            match response.chunk().await? {
                Some(chunk) => body.extend_from_slice(&chunk),
                None => break,
            }
        }
        Ok(())
    };
    let read = match time_limit {
        Some(limit) => tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
            tracing::debug!(?limit, "the error body stalled");
            Ok(())
        }),
        None => read.await,
    };
    if let Err(error) = read {
        return Error::Transport(error);
    }
    match serde_json::from_slice::<ApiError>(&body) {
        Ok(mut api_error) => {
            if api_error.request_id.is_none() {
                api_error.request_id = header_request_id;
            }
            Error::Api {
                status,
                body: Box::new(api_error),
            }
        }
        Err(_) => Error::UnexpectedResponse {
            status,
            request_id: header_request_id,
            snippet: snippet(&body),
        },
    }
}

/// Whether this build speaks TLS: reqwest has none without one of these features, and would
/// fail only at the first request ("scheme is not http").
const TLS: bool = cfg!(any(feature = "rustls", feature = "native-tls"));

/// [`Error::Config`] when `url` is plain `http` to a host other than this machine: the secret
/// `secret_name` names would cross the network in cleartext. Loopback (`localhost`, `127.0.0.0/8`, `::1`) is
/// always allowed, for emulators and local receivers.
pub(crate) fn refuse_cleartext(url: &str, what: &str, secret_name: &str) -> Result<(), Error> {
    if !sends_in_cleartext(url) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{what} {url:?} is plain http to another host, which would send {secret_name} in cleartext: \
         use https, or allow it with `ClientBuilder::allow_insecure_http(true)`"
    )))
}

/// Whether a request to `url` crosses the network unencrypted: plain `http` to a host that
/// is not loopback (`127.0.0.0/8`, `::1`, `localhost`). A header it carries, an API key or a
/// webhook secret, can then be read on the way. `false` for a URL that does not parse, which
/// is for its own validation to refuse.
///
/// ```
/// assert!(soniox_client::sends_in_cleartext("http://example.com/hook"));
/// assert!(!soniox_client::sends_in_cleartext("https://example.com/hook"));
/// assert!(!soniox_client::sends_in_cleartext("http://localhost:8080/hook"));
/// ```
pub fn sends_in_cleartext(url: &str) -> bool {
    Url::parse(url).is_ok_and(|url| url.scheme() == "http" && !is_loopback(&url))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

fn normalize_base_url(raw: &str, tls: bool) -> Result<String, Error> {
    let url = Url::parse(raw.trim())
        .map_err(|error| Error::Config(format!("invalid base URL {raw:?}: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::Config(format!(
            "the base URL must be http(s)://host, got {raw:?}"
        )));
    }
    if url.scheme() == "https" && !tls {
        return Err(Error::Config(format!(
            "the base URL {raw:?} is https, but soniox-client was built without TLS: enable \
             its `rustls` feature (the default) or `native-tls`"
        )));
    }
    let trimmed = url.as_str().trim_end_matches('/');
    Ok(trimmed.strip_suffix("/v1").unwrap_or(trimmed).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalized() {
        for (raw, expected) in [
            ("https://api.soniox.com", "https://api.soniox.com"),
            ("https://api.soniox.com/", "https://api.soniox.com"),
            ("https://api.soniox.com/v1", "https://api.soniox.com"),
            ("https://api.soniox.com/v1/", "https://api.soniox.com"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            (" http://localhost:1/prefix ", "http://localhost:1/prefix"),
        ] {
            assert_eq!(normalize_base_url(raw, true).unwrap(), expected, "{raw}");
        }
        for bad in ["", "api.soniox.com", "ftp://api.soniox.com", "http://"] {
            assert!(
                matches!(normalize_base_url(bad, true), Err(Error::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn cleartext_is_refused_beyond_loopback() {
        for allowed in [
            "https://api.soniox.com",
            "http://127.0.0.1:8080",
            "http://127.9.9.9/x",
            "http://[::1]:1/",
            "http://localhost:1",
            "http://LOCALHOST./",
            "http://emulator.localhost/",
        ] {
            assert!(refuse_cleartext(allowed, "u", "s").is_ok(), "{allowed}");
        }
        for refused in [
            "http://api.soniox.com",
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost.example.com/",
            "http://127.0.0.1.nip.io/",
        ] {
            let error = refuse_cleartext(refused, "u", "s").unwrap_err();
            assert!(matches!(error, Error::Config(_)), "{refused}");
            assert!(error.to_string().contains("allow_insecure_http"), "{error}");
        }
    }

    #[test]
    fn https_needs_a_tls_feature() {
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080", false).unwrap(),
            "http://127.0.0.1:8080"
        );
        let error = normalize_base_url("https://api.soniox.com", false).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("`rustls`") && message.contains("`native-tls`"),
            "{message}"
        );
    }

    /// Runs with `cargo test -p soniox-client --no-default-features --lib`.
    #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
    #[test]
    fn a_build_without_tls_refuses_the_default_base_url() {
        let error = Client::builder().api_key("key").build().unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        assert!(error.to_string().contains("`rustls`"), "{error}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        // http, so that this also runs in a build without TLS.
        let client = Client::builder()
            .api_key("super-secret-key")
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap();
        let builder = Client::builder().api_key("super-secret-key");
        for shown in [
            format!("{client:?}"),
            format!("{builder:?}"),
            format!("{client:#?}"),
        ] {
            assert!(!shown.contains("super-secret-key"), "{shown}");
        }
    }

    #[test]
    fn a_key_is_required() {
        let error = Client::builder().build().unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error}");
    }
}
