//! Why a command failed, the one line that says so on stderr, and the exit code.

use std::{fmt, process::ExitCode};

use soniox_client::Error as ClientError;

/// The exit codes, documented in the crate guide and in `soniox --help`.
pub(crate) mod code {
    /// Anything else: a local file that cannot be read or written, a wait that timed out.
    pub(crate) const FAILURE: u8 = 1;
    /// Bad arguments, a missing API key, a request that breaks a documented limit.
    pub(crate) const USAGE: u8 = 2;
    /// The API answered with an error.
    pub(crate) const API: u8 = 3;
    /// The API could not be reached, or stopped answering.
    pub(crate) const NETWORK: u8 = 4;
    /// A transcription ended with status `error`.
    pub(crate) const JOB_FAILED: u8 = 5;
    /// Ctrl-C (or SIGTERM) stopped the command.
    pub(crate) const INTERRUPTED: u8 = 130;
}

/// What kind of failure, which decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Other,
    Usage,
    Api,
    Network,
    JobFailed,
    Interrupted,
    /// Whoever read stdout stopped (`soniox files list | head`): stop quietly.
    ReaderGone,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Other => code::FAILURE,
            Kind::Usage => code::USAGE,
            Kind::Api => code::API,
            Kind::Network => code::NETWORK,
            Kind::JobFailed => code::JOB_FAILED,
            Kind::Interrupted => code::INTERRUPTED,
            Kind::ReaderGone => 0,
        }
    }
}

/// A failed command: its kind and one line for stderr (never a secret: every message is
/// built from errors that redact them).
#[derive(Debug)]
pub(crate) struct Failure {
    kind: Kind,
    message: String,
}

impl Failure {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self::new(Kind::Other, message)
    }

    pub(crate) fn interrupted() -> Self {
        Self::new(Kind::Interrupted, "interrupted")
    }

    /// Stdout was closed by its reader: not an error worth a line, as for `head`.
    pub(crate) fn reader_gone() -> Self {
        Self::new(Kind::ReaderGone, "")
    }

    /// Whether nothing should be printed about it.
    pub(crate) fn is_silent(&self) -> bool {
        self.kind == Kind::ReaderGone
    }

    /// Whether Ctrl-C (or SIGTERM) caused it.
    pub(crate) fn is_interrupted(&self) -> bool {
        self.kind == Kind::Interrupted
    }

    /// A local I/O failure about `what` (a path, "stdout").
    pub(crate) fn io(what: impl fmt::Display, error: &std::io::Error) -> Self {
        Self::other(format!("{what}: {error}"))
    }

    #[cfg(test)]
    fn kind(&self) -> Kind {
        self.kind
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.code())
    }

    /// The line printed on stderr: one line whatever the message held.
    pub(crate) fn line(&self) -> String {
        let message = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        format!("error: {message}")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        Failure::new(kind_of(&error), describe(&error))
    }
}

fn kind_of(error: &ClientError) -> Kind {
    match error {
        ClientError::Api { .. } | ClientError::UnexpectedResponse { .. } => Kind::Api,
        ClientError::Decode { .. } => Kind::Api,
        ClientError::ResponseTooLarge { .. } | ClientError::RepeatedCursor { .. } => Kind::Api,
        ClientError::Transport(_) | ClientError::Timeout(_) | ClientError::UploadStalled { .. } => {
            Kind::Network
        }
        ClientError::Validation(_)
        | ClientError::FileTooLarge { .. }
        | ClientError::InvalidId { .. }
        | ClientError::Config(_) => Kind::Usage,
        ClientError::TranscriptionFailed { .. } => Kind::JobFailed,
        // Whether the request was carried out is unknown; how it failed is the source.
        ClientError::OutcomeUnknown { source, .. } => kind_of(source),
        _ => Kind::Other,
    }
}

/// The client error with what the API said (type, message, validation locations, request
/// id) and, for network errors, the underlying cause (reqwest's own line names only the URL).
fn describe(error: &ClientError) -> String {
    match error {
        ClientError::Api { body, .. } => {
            let mut line = format!("API error {body}");
            if let Some(request_id) = &body.request_id {
                line.push_str(&format!(" (request id {request_id})"));
            }
            line
        }
        ClientError::UnexpectedResponse {
            request_id: Some(request_id),
            ..
        } => format!("{error} (request id {request_id})"),
        // Its cause described as it would be alone, request id included.
        ClientError::OutcomeUnknown { source, .. } => format!("{error}: {}", describe(source)),
        // The client's errors name their cause only as their source (an `Io` error its path,
        // a `Transport` error reqwest's error): the line is the whole chain.
        _ => with_causes(error),
    }
}

/// `error`'s message and each of its causes', joined by `: `.
pub(crate) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |&error| error.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use soniox_types::{ApiError, ApiErrorType, ValidationErrorDetail};

    #[test]
    fn api_errors_name_type_locations_and_request_id() {
        let body = ApiError::new(
            400,
            ApiErrorType::InvalidRequest,
            "Invalid request.\nTry again.",
        )
        .validation_errors(vec![ValidationErrorDetail::new(
            "string_too_long",
            "body.payload.model",
            "too long",
        )])
        .request_id("req-1");
        let failure = Failure::from(ClientError::Api {
            status: http::StatusCode::BAD_REQUEST,
            body: Box::new(body),
        });
        assert_eq!(failure.kind(), Kind::Api);
        assert_eq!(
            failure.line(),
            "error: API error 400 invalid_request: Invalid request. Try again.; \
             body.payload.model: too long (request id req-1)"
        );
    }

    #[test]
    fn an_unknown_outcome_fails_as_its_cause() {
        let failure = Failure::from(ClientError::OutcomeUnknown {
            client_reference_id: Some("order-1".to_owned()),
            kept_file: None,
            source: Box::new(ClientError::UnexpectedResponse {
                status: http::StatusCode::SERVICE_UNAVAILABLE,
                request_id: None,
                snippet: "busy".to_owned(),
            }),
        });
        assert_eq!(failure.kind(), Kind::Api);
        assert_eq!(
            failure.line(),
            "error: the request may or may not have been carried out (client_reference_id \
             \"order-1\"): HTTP 503 Service Unavailable with an unexpected body: busy"
        );
    }

    #[test]
    fn an_unknown_outcome_keeps_its_causes_request_id() {
        let body = ApiError::new(
            504,
            ApiErrorType::Unknown("gateway_timeout".into()),
            "Late.",
        )
        .request_id("req-2");
        let failure = Failure::from(ClientError::OutcomeUnknown {
            client_reference_id: None,
            kept_file: None,
            source: Box::new(ClientError::Api {
                status: http::StatusCode::GATEWAY_TIMEOUT,
                body: Box::new(body),
            }),
        });
        assert!(
            failure.line().ends_with("(request id req-2)"),
            "{}",
            failure.line()
        );
    }

    #[test]
    fn exit_codes_are_distinct() {
        let kinds = [
            Kind::Other,
            Kind::Usage,
            Kind::Api,
            Kind::Network,
            Kind::JobFailed,
            Kind::Interrupted,
        ];
        assert_eq!(Kind::ReaderGone.code(), 0);
        let mut codes: Vec<u8> = kinds.iter().map(|kind| kind.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0));
    }
}
