//! Building deliveries exactly as Soniox sends them, to test your own handlers.
//!
//! ```
//! use soniox_webhook::{
//!     Secret, TranscriptionId, Verifier, WebhookEvent, WebhookStatus, testing::TestDelivery,
//! };
//!
//! let secret = Secret::new("s3cr3t");
//! let verifier = Verifier::new("X-Soniox-Webhook-Secret", secret.clone())?;
//! let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Error);
//! let request = TestDelivery::new(event.clone())
//!     .auth("X-Soniox-Webhook-Secret", secret.clone())
//!     .into_request()?;
//! assert_eq!(verifier.verify_request(&request)?.event(), &event);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use soniox_types::{Secret, WebhookEvent};

use crate::{
    ConfigError,
    verifier::{check_secret, parse_header_name},
};

/// A webhook delivery under construction: `POST`, `Content-Type: application/json`, the
/// event's JSON as body, and (once [`TestDelivery::auth`] is called) the auth header.
#[derive(Clone, Debug)]
pub struct TestDelivery {
    event: WebhookEvent,
    uri: String,
    auth: Option<(String, Secret)>,
}

impl TestDelivery {
    /// A delivery of `event` to `/`, without an auth header.
    pub fn new(event: WebhookEvent) -> Self {
        Self {
            event,
            uri: "/".to_owned(),
            auth: None,
        }
    }

    /// Sends it to `uri` (path and query, or an absolute URL), e.g. `/hook?order=42`.
    #[must_use]
    pub fn uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = uri.into();
        self
    }

    /// Adds the auth header `name: secret`.
    #[must_use]
    pub fn auth(mut self, name: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.auth = Some((name.into(), secret.into()));
        self
    }

    /// The body Soniox would send for the event.
    pub fn body(&self) -> Bytes {
        Bytes::from(delivery_body(&self.event))
    }

    /// Builds the request.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidUri`] if the URI does not parse, and the errors of
    /// [`crate::Verifier::new`] for a header name or secret that could not be configured on a
    /// real job.
    pub fn into_request(self) -> Result<Request<Bytes>, ConfigError> {
        let body = self.body();
        let uri = self
            .uri
            .parse::<http::Uri>()
            .map_err(|_| ConfigError::InvalidUri)?;
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some((name, secret)) = self.auth {
            let name = parse_header_name(&name)?;
            let secret = check_secret(secret)?;
            let value = HeaderValue::from_str(secret.expose_secret())
                .map_err(|_| ConfigError::InvalidSecret)?;
            headers.insert(name, value);
        }
        Ok(request)
    }
}

/// The JSON body Soniox sends for `event`: `{"id":"...","status":"..."}`.
pub fn delivery_body(event: &WebhookEvent) -> Vec<u8> {
    // Serializing two strings into a Vec cannot fail.
    serde_json::to_vec(event).unwrap_or_default()
}
