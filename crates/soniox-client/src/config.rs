//! Building a [`Client`]: from explicit values or the environment.

use std::{fmt, time::Duration};

use soniox_types::Secret;

use crate::{Client, Error, retry::RetryPolicy, stall::StallLimits};

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.soniox.com";
/// Environment variable holding the API key, as in the official SDKs.
pub const API_KEY_ENV: &str = "SONIOX_API_KEY";
/// Environment variable overriding the base URL, as in the official SDKs.
pub const BASE_URL_ENV: &str = "SONIOX_API_BASE_URL";

/// The default of [`ClientBuilder::max_response_bytes`]: 256 MiB, far above the largest
/// transcript of the longest audio the API accepts.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Configures a [`Client`]. Start from [`Client::builder`].
///
/// ```
/// use std::time::Duration;
/// use soniox_client::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .api_key("my-key")
///     .base_url("http://127.0.0.1:8080")
///     .request_timeout(Duration::from_secs(10))
///     .retry_policy(RetryPolicy::default().max_attempts(6))
///     .build()?;
/// assert!(!format!("{client:?}").contains("my-key"));
/// # Ok::<(), soniox_client::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    pub(crate) api_key: Option<Secret>,
    pub(crate) base_url: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) upload_timeout: Option<Duration>,
    pub(crate) upload_stall: StallLimits,
    pub(crate) max_response_bytes: usize,
    pub(crate) allow_insecure_http: bool,
    pub(crate) user_agent: String,
    pub(crate) retry: RetryPolicy,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            upload_timeout: None,
            upload_stall: StallLimits {
                idle: Duration::from_secs(60),
                response: Duration::from_secs(120),
            },
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_insecure_http: false,
            user_agent: concat!("soniox-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            retry: RetryPolicy::default(),
        }
    }
}

impl ClientBuilder {
    /// Starts from the defaults, then reads `SONIOX_API_KEY` and `SONIOX_API_BASE_URL` when
    /// they are set. Explicit setters called afterwards win.
    pub fn from_env() -> Self {
        let mut builder = Self::default();
        if let Some(key) = non_empty_env(API_KEY_ENV) {
            builder.api_key = Some(Secret::new(key));
        }
        if let Some(url) = non_empty_env(BASE_URL_ENV) {
            builder.base_url = url;
        }
        builder
    }

    /// The API key (required).
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The API's base URL, such as `https://api.eu.soniox.com` or an emulator's address. A
    /// trailing `/v1` is accepted and ignored.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// How long to wait for a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt of an ordinary call may take (default 30 s, as the official SDKs).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long one upload attempt may take; unlimited by default, since a 1 GiB file on a
    /// slow link can take a long time.
    pub fn upload_timeout(mut self, timeout: Duration) -> Self {
        self.upload_timeout = Some(timeout);
        self
    }

    /// How long an upload may go without sending any of its body (default 60 s): a server
    /// that stops reading fails the attempt with
    /// [`Error::UploadStalled`](crate::Error::UploadStalled) instead of hanging it. Unlike
    /// [`upload_timeout`](Self::upload_timeout), this never cuts a slow upload that is still
    /// moving.
    pub fn upload_idle_timeout(mut self, timeout: Duration) -> Self {
        self.upload_stall.idle = timeout;
        self
    }

    /// How long to wait for the answer to an upload once its whole body is sent, and for that
    /// answer's body (default 120 s); then the attempt fails with
    /// [`Error::UploadStalled`](crate::Error::UploadStalled).
    pub fn upload_response_timeout(mut self, timeout: Duration) -> Self {
        self.upload_stall.response = timeout;
        self
    }

    /// The largest success body read into memory (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]); a larger one fails with
    /// [`Error::ResponseTooLarge`](crate::Error::ResponseTooLarge).
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Allows plain `http` to hosts other than this machine (default: refused): for the base
    /// URL, which would send the API key in cleartext, and for the webhook URL of a job with a
    /// webhook secret, which Soniox would send in cleartext. Loopback is always allowed.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The `User-Agent` header (default `soniox-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// When to retry failed calls (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when no API key was given, the base URL is not an http(s) URL, it is
    /// plain `http` to another machine without [`allow_insecure_http`](Self::allow_insecure_http),
    /// or it is `https` in a build without the `rustls` or `native-tls` feature (the message
    /// names them).
    pub fn build(self) -> Result<Client, Error> {
        Client::from_builder(self)
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("upload_timeout", &self.upload_timeout)
            .field("upload_stall", &self.upload_stall)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .finish()
    }
}

pub(crate) fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}
