//! The error body every failing REST call returns.

use serde::{Deserialize, Serialize};

use crate::open_enum::open_enum;

open_enum! {
    /// The machine-readable kind of an API error. Branch on this, not on the message text.
    pub enum ApiErrorType {
        /// 400: the request body or parameters are invalid.
        InvalidRequest => "invalid_request",
        /// 400: the pagination cursor is not one the server issued.
        InvalidCursor => "invalid_cursor",
        /// 400: the model cannot be used.
        ModelNotAvailable => "model_not_available",
        /// 401: the API key is missing, wrong or revoked.
        Unauthenticated => "unauthenticated",
        /// 402: the organization has no balance left.
        OrganizationBalanceExhausted => "organization_balance_exhausted",
        /// 402: the organization's monthly budget is spent.
        OrganizationMonthlyBudgetExhausted => "organization_monthly_budget_exhausted",
        /// 402: the project's monthly budget is spent.
        ProjectMonthlyBudgetExhausted => "project_monthly_budget_exhausted",
        /// 403: the key is valid but lacks a permission.
        PermissionDenied => "permission_denied",
        /// 403: a temporary key's session cap is reached.
        TempApiKeySessionExpired => "temp_api_key_session_expired",
        /// 404: no such file.
        FileNotFound => "file_not_found",
        /// 404: no such transcription.
        TranscriptionNotFound => "transcription_not_found",
        /// 408: the request took too long.
        RequestTimeout => "request_timeout",
        /// 409: the transcription is not in a state that allows the operation.
        TranscriptionInvalidState => "transcription_invalid_state",
        /// 429: a rate limit or quota is exceeded.
        LimitExceeded => "limit_exceeded",
        /// 500: the server failed.
        InternalError => "internal_error",
        /// 503: the service is temporarily unavailable.
        ServiceUnavailable => "service_unavailable",
    }
}

/// The JSON body of a failed REST call.
///
/// Also decodes the shape the WebSocket and TTS endpoints use (`error_code`, `error_message`).
///
/// ```
/// use soniox_types::{ApiError, ApiErrorType};
///
/// let body = r#"{"status_code":401,"error_type":"unauthenticated","message":"Incorrect API key provided.",
///                "validation_errors":[],"request_id":"3d37a3bd-5078-47ee-a369-b204e3bbedda"}"#;
/// let error: ApiError = serde_json::from_str(body)?;
/// assert_eq!(error.error_type, ApiErrorType::Unauthenticated);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status code, mirrored in the body.
    #[serde(alias = "error_code")]
    pub status_code: u16,
    /// What kind of error this is.
    pub error_type: ApiErrorType,
    /// A human-readable description; its wording may change.
    #[serde(alias = "error_message")]
    pub message: String,
    /// Per-field problems, when the request failed validation.
    #[serde(default)]
    pub validation_errors: Vec<ValidationErrorDetail>,
    /// The id of the failed request, for support.
    #[serde(default)]
    pub request_id: Option<String>,
    /// A link to documentation about this error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_info: Option<String>,
}

impl ApiError {
    /// An error body; `more_info` is derived from the error type as the API does.
    pub fn new(status_code: u16, error_type: ApiErrorType, message: impl Into<String>) -> Self {
        let more_info = format!(
            "https://soniox.com/docs/api-reference/errors#{}",
            error_type.as_str().replace('_', "-")
        );
        Self {
            status_code,
            error_type,
            message: message.into(),
            validation_errors: Vec::new(),
            request_id: None,
            more_info: Some(more_info),
        }
    }

    /// Sets the per-field problems.
    #[must_use]
    pub fn validation_errors(mut self, details: Vec<ValidationErrorDetail>) -> Self {
        self.validation_errors = details;
        self
    }

    /// Sets the request id.
    #[must_use]
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status_code, self.error_type, self.message
        )?;
        for detail in &self.validation_errors {
            write!(f, "; {}: {}", detail.location, detail.message)?;
        }
        Ok(())
    }
}

/// One field-level problem inside [`ApiError::validation_errors`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ValidationErrorDetail {
    /// A pydantic-style problem name such as `missing`, `string_too_long` or `value_error`.
    pub error_type: String,
    /// Where the problem is, such as `body.payload.model` or `file.file`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl ValidationErrorDetail {
    /// A detail with the given parts.
    pub fn new(
        error_type: impl Into<String>,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            error_type: error_type.into(),
            location: location.into(),
            message: message.into(),
        }
    }
}
