//! Responses: JSON bodies and the API's error body, with the messages the real API uses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;
use soniox_types::{ApiError, ApiErrorType, ValidationErrorDetail};

/// Every response the emulator sends.
pub(crate) type Reply = Response<Full<Bytes>>;

pub(crate) const UNAUTHENTICATED: &str =
    "Incorrect API key provided. You can get an API key at https://console.soniox.com";
pub(crate) const INVALID_REQUEST: &str = "Invalid request.";
pub(crate) const INVALID_CURSOR: &str =
    "The `cursor` parameter is invalid. Omit `cursor` to start pagination from the beginning.";
pub(crate) const FILE_NOT_FOUND: &str = "File could not be found.";
pub(crate) const TRANSCRIPTION_NOT_FOUND: &str = "Transcription could not be found.";
pub(crate) const TRANSCRIPT_NOT_READY: &str = "Can only get transcript with completed status.";
pub(crate) const TRANSCRIPTION_FAILED: &str = "File transcription has failed.";
pub(crate) const INTERNAL_ERROR: &str = "The server encountered an error. Please try again. If the issue persists contact support@soniox.com.";

/// A JSON response.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => json_body(status, body),
        Err(error) => {
            tracing::error!(%error, "a response failed to serialize");
            Failure::internal().into_reply("")
        }
    }
}

/// An answer whose JSON body is already serialized.
pub(crate) fn json_body(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut reply = Response::new(Full::new(body.into()));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

/// `204 No Content`.
pub(crate) fn no_content() -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = StatusCode::NO_CONTENT;
    reply
}

/// A failed request, turned into the API's error body once the request id is known.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    error_type: ApiErrorType,
    message: String,
    details: Vec<ValidationErrorDetail>,
    retry_after: Option<u64>,
}

impl Failure {
    pub(crate) fn new(
        status: StatusCode,
        error_type: ApiErrorType,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// 400 `invalid_request` with located problems.
    pub(crate) fn validation(details: Vec<ValidationErrorDetail>) -> Self {
        let mut failure = Self::new(
            StatusCode::BAD_REQUEST,
            ApiErrorType::InvalidRequest,
            INVALID_REQUEST,
        );
        failure.details = details;
        failure
    }

    /// 400 `invalid_request` with one located problem.
    pub(crate) fn invalid(error_type: &str, location: &str, message: &str) -> Self {
        Self::validation(vec![ValidationErrorDetail::new(
            error_type, location, message,
        )])
    }

    pub(crate) fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ApiErrorType::Unauthenticated,
            UNAUTHENTICATED,
        )
    }

    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ApiErrorType::InternalError,
            INTERNAL_ERROR,
        )
    }

    pub(crate) fn file_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ApiErrorType::FileNotFound,
            FILE_NOT_FOUND,
        )
    }

    pub(crate) fn transcription_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ApiErrorType::TranscriptionNotFound,
            TRANSCRIPTION_NOT_FOUND,
        )
    }

    pub(crate) fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            ApiErrorType::TranscriptionInvalidState,
            message,
        )
    }

    pub(crate) fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ApiErrorType::LimitExceeded,
            message,
        )
    }

    /// A route the API does not have.
    pub(crate) fn no_route(status: StatusCode) -> Self {
        let kind = if status == StatusCode::METHOD_NOT_ALLOWED {
            "method_not_allowed"
        } else {
            "not_found"
        };
        let message = status.canonical_reason().unwrap_or("Not Found");
        Self::new(
            status,
            ApiErrorType::Unknown(kind.to_owned()),
            format!("{message}."),
        )
    }

    /// The failure an injected fault answers with.
    pub(crate) fn injected(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match status {
            StatusCode::SERVICE_UNAVAILABLE => Self::new(
                status,
                ApiErrorType::ServiceUnavailable,
                "The service is temporarily unavailable. Please try again.",
            ),
            StatusCode::TOO_MANY_REQUESTS => Self::limit_exceeded(RATE_LIMITED),
            s if s.is_server_error() => Self {
                status,
                ..Self::internal()
            },
            s => Self::new(s, ApiErrorType::InvalidRequest, INVALID_REQUEST),
        }
    }

    /// 429 with a `Retry-After` header.
    pub(crate) fn rate_limited(retry_after_seconds: u64) -> Self {
        Self {
            retry_after: Some(retry_after_seconds),
            ..Self::limit_exceeded(RATE_LIMITED)
        }
    }

    /// Replaces the top-level message.
    pub(crate) fn set_message(&mut self, message: impl Into<String>) {
        self.message = message.into();
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The error body, carrying `request_id` as the API does.
    pub(crate) fn into_reply(self, request_id: &str) -> Reply {
        let body = ApiError::new(self.status.as_u16(), self.error_type, self.message)
            .validation_errors(self.details)
            .request_id(request_id);
        let mut reply = json(self.status, &body);
        if let Some(seconds) = self.retry_after {
            reply
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        reply
    }
}

const RATE_LIMITED: &str = "Requests per minute limit has been exceeded for your organization.";
