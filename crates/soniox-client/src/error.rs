//! The client's one error type.

use std::{path::PathBuf, time::Duration};

use soniox_types::{
    ApiError, ApiErrorType, FileId, Transcription, TranscriptionId, TranscriptionStatus,
    ValidationErrors,
};

/// The longest piece of an unexpected response body kept in an error.
pub(crate) const SNIPPET_CHARS: usize = 512;

/// Everything that can go wrong in a client call.
///
/// Match on the variant, or ask the predicates ([`status`](Self::status),
/// [`is_retryable`](Self::is_retryable), [`is_not_found`](Self::is_not_found),
/// [`request_id`](Self::request_id)). Nothing in it ever contains the API key or a webhook
/// secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error body.
    #[error("Soniox API error: {body}")]
    Api {
        /// The HTTP status.
        status: http::StatusCode,
        /// The parsed error body.
        body: Box<ApiError>,
    },
    /// The API (or a proxy in front of it) answered with an error that is not a JSON error
    /// body, such as an HTML 502 page.
    #[error("HTTP {status} with an unexpected body: {snippet}")]
    UnexpectedResponse {
        /// The HTTP status.
        status: http::StatusCode,
        /// The `x-request-id` header, if any.
        request_id: Option<String>,
        /// The start of the body, at most 512 characters.
        snippet: String,
    },
    /// A success response whose body did not decode.
    // The decoding error is the source, not part of this message, so that a report of the
    // error chain (`{:#}` in anyhow, say) names it once.
    #[error("cannot decode the response (its body starts with: {snippet})")]
    Decode {
        /// The decoding error.
        #[source]
        source: serde_json::Error,
        /// The start of the body, at most 512 characters; [`Error::WITHHELD_SNIPPET`] instead
        /// for a response that carries a secret (a temporary API key), whose decoding error
        /// (the source) then names only where decoding failed.
        snippet: String,
    },
    /// A success body longer than the client's
    /// [`max_response_bytes`](crate::ClientBuilder::max_response_bytes); it was not read
    /// further.
    #[error("the response body is over the {limit}-byte limit")]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A list's server returned a `next_page_cursor` it had already returned: following it
    /// would loop forever, so the list ends with this error.
    #[error("the server repeated the page cursor {cursor:?}")]
    RepeatedCursor {
        /// The repeated cursor.
        cursor: String,
    },
    /// The request never got an answer: connection refused or reset, TLS failure, ...
    ///
    /// What happened is the source (`std::error::Error::source`), not part of this message.
    #[error("transport error")]
    Transport(#[source] reqwest::Error),
    /// An attempt took longer than the configured request timeout.
    #[error("the request timed out")]
    Timeout(#[source] reqwest::Error),
    /// An upload attempt got stuck: the server stopped taking the body for
    /// [`upload_idle_timeout`](crate::ClientBuilder::upload_idle_timeout), or took the whole
    /// body and did not answer within
    /// [`upload_response_timeout`](crate::ClientBuilder::upload_response_timeout).
    #[error("the upload stalled: {}", if *body_sent { "no answer after the whole body was sent" } else { "the server stopped taking the body" })]
    UploadStalled {
        /// Whether the whole body had been sent.
        body_sent: bool,
        /// The limit that passed.
        after: Duration,
    },
    /// A request that creates something (a job, a file, a temporary key) failed in a way that
    /// leaves open whether the server carried it out: it was sent and no answer came, or the
    /// answer was a 500, 502, 503 or 504, which may come after the request was forwarded and
    /// acted on (or an earlier attempt failed so). Also when the server answered that it
    /// did (2xx) but the answer could not be read or decoded: what it created is unknown. The client did not send it again, which
    /// could create a second one; no lookup could tell (the request had no reference of the
    /// client's own, the lookup failed, or found nothing while the request may still be
    /// running).
    ///
    /// Look for what it may have created under its `client_reference_id` (jobs and files list
    /// it) before trying again. The failure is the source; [`status`](Self::status),
    /// [`request_id`](Self::request_id) and [`api_error_type`](Self::api_error_type) answer
    /// for it, and [`is_retryable`](Self::is_retryable) is false, since a blind retry may
    /// create a duplicate.
    #[error(
        "the request may or may not have been carried out{}{}",
        client_reference_id.as_ref().map(|id| format!(" (client_reference_id {id:?})")).unwrap_or_default(),
        kept_file.as_ref().map(|id| format!("; the uploaded file {id} is kept, as the job may read it")).unwrap_or_default()
    )]
    OutcomeUnknown {
        /// The request's `client_reference_id`, if it had one.
        client_reference_id: Option<String>,
        /// The file [`Client::transcribe`](crate::Client::transcribe) uploaded and, although
        /// asked to clean up, kept: the job that may exist reads it. Delete it once that job
        /// is found finished, or found not to exist.
        kept_file: Option<FileId>,
        /// The failure.
        #[source]
        source: Box<Error>,
    },
    /// The request breaks a documented limit; it was not sent.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// Reading a local file to upload failed (it does not exist, say); nothing was sent.
    ///
    /// The operating system's reason is the source, not part of this message.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The file is over the 1 GiB upload limit; it was not sent.
    #[error("the file is {size} bytes, over the 1 GiB upload limit")]
    FileTooLarge {
        /// The file's size in bytes.
        size: u64,
    },
    /// An id that cannot name a file or job in a URL path (empty, `.` or `..`, which URL
    /// parsing would resolve into another route); nothing was sent. Ids from outside, such as
    /// a webhook's, can be anything.
    #[error("{id:?} is not a valid id")]
    InvalidId {
        /// The id as given.
        id: String,
    },
    /// The client is misconfigured (for example, no API key).
    #[error("configuration error: {0}")]
    Config(String),
    /// [`wait`](crate::Transcriptions::wait) gave up before the job finished.
    #[error("transcription {id} did not finish within {waited:?} (last status: {last_status})")]
    WaitTimeout {
        /// The job.
        id: TranscriptionId,
        /// How long it waited.
        waited: Duration,
        /// The last status seen.
        last_status: TranscriptionStatus,
    },
    /// The job ended in `error`. Every call that waits for a job or fetches its result
    /// ([`Transcriptions::wait`](crate::Transcriptions::wait), [`Client::transcribe`](crate::Client::transcribe),
    /// [`FetchOnDelivery::fetch`](crate::FetchOnDelivery::fetch)) reports a failed job this way.
    #[error("transcription {id} failed: {error_type}: {error_message}")]
    TranscriptionFailed {
        /// The job.
        id: TranscriptionId,
        /// The job's `error_type`.
        error_type: String,
        /// The job's `error_message`.
        error_message: String,
    },
}

impl Error {
    /// The [`Error::Decode`] snippet of a response that carries a secret, in place of its
    /// text.
    pub const WITHHELD_SNIPPET: &'static str = "[withheld: the response carries a secret]";

    /// The HTTP status, for errors the server answered.
    pub fn status(&self) -> Option<http::StatusCode> {
        match self {
            Error::Api { status, .. } | Error::UnexpectedResponse { status, .. } => Some(*status),
            Error::Transport(error) | Error::Timeout(error) => error.status(),
            Error::OutcomeUnknown { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The API's error type, for errors with a JSON body.
    pub fn api_error_type(&self) -> Option<&ApiErrorType> {
        match self {
            Error::Api { body, .. } => Some(&body.error_type),
            Error::OutcomeUnknown { source, .. } => source.api_error_type(),
            _ => None,
        }
    }

    /// The server's id of the failed request, for support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { body, .. } => body.request_id.as_deref(),
            Error::UnexpectedResponse { request_id, .. } => request_id.as_deref(),
            Error::OutcomeUnknown { source, .. } => source.request_id(),
            _ => None,
        }
    }

    /// [`Error::OutcomeUnknown`] of a request with `client_reference_id`, failed with `source`.
    pub(crate) fn unknown_outcome(client_reference_id: Option<String>, source: Error) -> Self {
        Error::OutcomeUnknown {
            client_reference_id,
            kept_file: None,
            source: Box::new(source),
        }
    }

    /// Whether the same call might succeed later: rate limits, server errors, timeouts and
    /// transport failures. The statuses are the ones the client's own [`RetryPolicy`]
    /// retries a GET on (408, 429, 500, 502, 503, 504). Not [`Error::OutcomeUnknown`]: look
    /// first for what the request may have created.
    ///
    /// [`RetryPolicy`]: crate::RetryPolicy
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(_) | Error::Timeout(_) | Error::UploadStalled { .. } => true,
            Error::OutcomeUnknown { .. } => false,
            _ => self
                .status()
                .is_some_and(|status| crate::retry::is_transient_status(status.as_u16())),
        }
    }

    /// Whether the file or transcription does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(http::StatusCode::NOT_FOUND)
    }

    /// Whether the transcription is in a state that does not allow the call (409), such as
    /// fetching the transcript of an unfinished job.
    pub fn is_invalid_state(&self) -> bool {
        self.status() == Some(http::StatusCode::CONFLICT)
    }
}

impl Error {
    /// `transcription` when it did not end in `error`, else [`Error::TranscriptionFailed`]:
    /// the one rule for every call that waits for a job or fetches its result.
    pub(crate) fn unless_failed(transcription: Transcription) -> Result<Transcription, Error> {
        if transcription.status != TranscriptionStatus::Error {
            return Ok(transcription);
        }
        Err(Error::TranscriptionFailed {
            error_type: transcription.error_type.unwrap_or_default(),
            error_message: transcription.error_message.unwrap_or_default(),
            id: transcription.id,
        })
    }

    /// Turns an I/O error on the upload at `path` into [`Error::Io`], for `map_err`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The first [`SNIPPET_CHARS`] characters of a body, lossily decoded.
pub(crate) fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(SNIPPET_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::retry::{AttemptOutcome, Replay, RetryDecision, RetryPolicy};

    /// `Error::is_retryable` and the retry policy answer from one list of statuses: for every
    /// status, an error the caller is told to retry is one the client itself retries (a GET).
    #[test]
    fn is_retryable_agrees_with_the_retry_policy() {
        for code in 100..=599 {
            let status = http::StatusCode::from_u16(code).expect("a valid status code");
            let error = Error::UnexpectedResponse {
                status,
                request_id: None,
                snippet: String::new(),
            };
            let outcome = AttemptOutcome::Status {
                status: code,
                retry_after: None,
            };
            let retried =
                RetryPolicy::default().decide(1, Duration::ZERO, Replay::Safe, outcome, |max| max)
                    != RetryDecision::Stop;
            assert_eq!(error.is_retryable(), retried, "status {code}");
        }
        let timeout = Error::UnexpectedResponse {
            status: http::StatusCode::REQUEST_TIMEOUT,
            request_id: None,
            snippet: String::new(),
        };
        assert!(timeout.is_retryable(), "408: the server did not act");
    }
}
