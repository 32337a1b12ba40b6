//! Why a delivery was refused, and the HTTP status that says so.

use http::StatusCode;

/// A delivery that failed verification.
///
/// Each variant maps to one HTTP status ([`Rejection::status`]) and its `Display` is a short
/// message that is safe to send back to the caller or to log: it never contains the configured
/// secret, the received header value, or any part of the body.
///
/// ```
/// use soniox_webhook::{Rejection, http};
///
/// assert_eq!(Rejection::WrongSecret.status(), http::StatusCode::UNAUTHORIZED);
/// assert_eq!(Rejection::WrongSecret.to_string(), "webhook authentication failed");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The request was not a `POST`.
    #[error("webhook deliveries must use POST")]
    MethodNotAllowed,
    /// The auth header was absent.
    #[error("webhook authentication header missing")]
    MissingAuthHeader,
    /// The auth header appeared more than once, so it is ambiguous which one to trust.
    #[error("webhook authentication header repeated")]
    DuplicateAuthHeader,
    /// The auth header held bytes outside visible ASCII and space.
    #[error("webhook authentication header malformed")]
    MalformedAuthHeader,
    /// The auth header did not match any accepted secret.
    #[error("webhook authentication failed")]
    WrongSecret,
    /// The body (declared or received) exceeded the configured limit.
    #[error("webhook body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A `Content-Type` was present and was not JSON.
    #[error("webhook body must be application/json")]
    UnsupportedContentType,
    /// The body could not be read from the connection.
    #[error("webhook body could not be read")]
    BodyRead,
    /// The body did not arrive within the receiver's body timeout.
    #[error("webhook body not received in time")]
    BodyTimeout,
    /// The body was not valid JSON (including invalid UTF-8).
    #[error("webhook body is not valid JSON")]
    InvalidJson,
    /// The body was JSON but not an object.
    #[error("webhook body must be a JSON object")]
    NotAnObject,
    /// A field appeared twice in the object.
    #[error("webhook body repeats the field `{field}`")]
    DuplicateField {
        /// The repeated field.
        field: &'static str,
    },
    /// The `id` field was absent.
    #[error("webhook body has no `id`")]
    MissingId,
    /// The `id` field was an empty string.
    #[error("webhook body has an empty `id`")]
    EmptyId,
    /// The `id` field was longer than [`crate::MAX_ID_LEN`] bytes.
    #[error("webhook body has an `id` longer than {max} bytes", max = crate::MAX_ID_LEN)]
    IdTooLong,
    /// The `status` field was longer than [`crate::MAX_STATUS_LEN`] bytes.
    #[error("webhook body has a `status` longer than {max} bytes", max = crate::MAX_STATUS_LEN)]
    StatusTooLong,
    /// The `status` field was absent.
    #[error("webhook body has no `status`")]
    MissingStatus,
    /// A field had the wrong JSON type, or `status` was empty.
    #[error("webhook body field `{field}` must be a non-empty string")]
    InvalidField {
        /// The offending field.
        field: &'static str,
    },
}

impl Rejection {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::MissingAuthHeader
            | Self::DuplicateAuthHeader
            | Self::MalformedAuthHeader
            | Self::WrongSecret => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BodyRead
            | Self::InvalidJson
            | Self::NotAnObject
            | Self::DuplicateField { .. }
            | Self::MissingId
            | Self::EmptyId
            | Self::IdTooLong
            | Self::StatusTooLong
            | Self::MissingStatus
            | Self::InvalidField { .. } => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether the delivery failed authentication (status 401).
    pub fn is_auth_failure(&self) -> bool {
        self.status() == StatusCode::UNAUTHORIZED
    }

    /// The response to send: the status, `text/plain` and the safe message, plus `Allow: POST`
    /// for [`Rejection::MethodNotAllowed`].
    pub fn to_response(&self) -> http::Response<bytes::Bytes> {
        let mut response = http::Response::new(bytes::Bytes::from(self.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if *self == Self::MethodNotAllowed {
            headers.insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
        }
        response
    }
}
