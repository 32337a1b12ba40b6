//! Request validation: every documented limit, reported the way the API reports it.
//!
//! Each violation names its field with the API's own location format (`body.payload.model`,
//! `file.file`, `query.limit`) and carries the API's error type (`string_too_long`, `missing`,
//! ...), so a validation error caught locally reads exactly like the `validation_errors` the
//! server would have returned — and the emulator can answer with the same words.

use std::fmt;

use crate::error::ValidationErrorDetail;

/// Documented limits of the API, in characters unless stated otherwise.
///
/// Those the API's specification states are generated from it by `cargo xtask codegen`; the
/// rest come from Soniox's prose documentation.
pub mod limits {
    pub use crate::generated::limits::*;

    /// Most characters of context, counted over every string the context holds (the API's
    /// "Context is too long (max length 10000)").
    pub const CONTEXT_MAX_CHARS: usize = 10_000;
    /// Longest audio an asynchronous transcription accepts, in milliseconds (300 minutes;
    /// the API's limit, which cannot be raised). Longer audio fails the job.
    pub const AUDIO_MAX_DURATION_MS: u64 = 300 * 60 * 1000;
    /// Largest uploaded file in bytes (1 GiB).
    pub const FILE_MAX_BYTES: u64 = 1_073_741_824;
}

/// What is wrong with one field of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A required field is absent.
    Missing,
    /// A string is longer than allowed (in characters).
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A list has more items than allowed.
    TooMany {
        /// The limit.
        max: usize,
    },
    /// A number is below its minimum.
    TooSmall {
        /// The smallest accepted value.
        min: u64,
    },
    /// A number is above its maximum.
    TooLarge {
        /// The largest accepted value.
        max: u64,
    },
    /// A URL is not `http://` or `https://` followed by non-whitespace characters.
    InvalidUrl,
    /// Not a valid HTTP header name.
    InvalidHeaderName,
    /// Not a valid HTTP header value.
    InvalidHeaderValue,
    /// A secret is the API's masked placeholder ([`Secret::MASKED`](crate::Secret::MASKED)),
    /// typically copied from a transcription the API returned, not a value anyone could send.
    MaskedSecret,
    /// A rule tying several fields together is broken; the text says which.
    Invalid(&'static str),
}

/// One field of a request that breaks a documented limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    location: String,
    kind: ViolationKind,
}

impl Violation {
    /// A violation at `location` (the API's dotted form, such as `body.payload.model`).
    pub fn new(location: impl Into<String>, kind: ViolationKind) -> Self {
        Self {
            location: location.into(),
            kind,
        }
    }

    /// Where the problem is, as the API writes it: `body.payload.webhook_url`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// What the problem is.
    pub fn kind(&self) -> &ViolationKind {
        &self.kind
    }

    /// The API's (pydantic-style) error type for this problem.
    pub fn error_type(&self) -> &'static str {
        match self.kind {
            ViolationKind::Missing => "missing",
            ViolationKind::TooLong { .. } => "string_too_long",
            ViolationKind::TooMany { .. } => "too_long",
            ViolationKind::TooSmall { .. } => "greater_than_equal",
            ViolationKind::TooLarge { .. } => "less_than_equal",
            ViolationKind::InvalidUrl => "string_pattern_mismatch",
            ViolationKind::InvalidHeaderName
            | ViolationKind::InvalidHeaderValue
            | ViolationKind::MaskedSecret
            | ViolationKind::Invalid(_) => "value_error",
        }
    }

    /// A human-readable message in the API's wording.
    pub fn message(&self) -> String {
        match &self.kind {
            ViolationKind::Missing => "Field required".to_owned(),
            ViolationKind::TooLong { max } => {
                format!("String should have at most {max} characters")
            }
            ViolationKind::TooMany { max } => {
                format!("List should have at most {max} items")
            }
            ViolationKind::TooSmall { min } => {
                format!("Input should be greater than or equal to {min}")
            }
            ViolationKind::TooLarge { max } => {
                format!("Input should be less than or equal to {max}")
            }
            ViolationKind::InvalidUrl => {
                "String should match pattern '^https?://[^\\s]+$'".to_owned()
            }
            ViolationKind::InvalidHeaderName => "Value error, Invalid HTTP header name".to_owned(),
            ViolationKind::InvalidHeaderValue => {
                "Value error, Invalid HTTP header value".to_owned()
            }
            ViolationKind::MaskedSecret => {
                "Value error, the masked placeholder is not a secret".to_owned()
            }
            ViolationKind::Invalid(rule) => format!("Value error, {rule}"),
        }
    }

    /// The wire form, as it appears in an error body's `validation_errors`.
    pub fn to_detail(&self) -> ValidationErrorDetail {
        ValidationErrorDetail {
            error_type: self.error_type().to_owned(),
            location: self.location.clone(),
            message: self.message(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message())
    }
}

/// A request that breaks one or more documented limits. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    violations: Vec<Violation>,
}

impl ValidationErrors {
    /// Errors made of `violations`, for checks done outside this crate (a webhook URL once
    /// its metadata is added, say); `None` when there are none.
    pub fn from_violations(violations: Vec<Violation>) -> Option<Self> {
        (!violations.is_empty()).then_some(Self { violations })
    }

    /// Every violation found, in field order.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Whether some violation is at `location`.
    pub fn has(&self, location: &str) -> bool {
        self.violations.iter().any(|v| v.location == location)
    }

    /// The wire form of every violation, for an error body.
    pub fn to_details(&self) -> Vec<ValidationErrorDetail> {
        self.violations.iter().map(Violation::to_detail).collect()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid request: ")?;
        for (i, violation) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

/// Collects violations while a request is checked field by field.
#[derive(Debug)]
pub(crate) struct Checker {
    prefix: &'static str,
    violations: Vec<Violation>,
}

impl Checker {
    /// A checker whose locations start with `prefix` (`body.payload`, `query`, ...).
    pub(crate) fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            violations: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, field: &str, kind: ViolationKind) {
        self.violations
            .push(Violation::new(format!("{}.{field}", self.prefix), kind));
    }

    /// A violation of a rule about the whole object, located at the prefix itself.
    pub(crate) fn push_root(&mut self, kind: ViolationKind) {
        self.violations.push(Violation::new(self.prefix, kind));
    }

    pub(crate) fn max_chars(&mut self, field: &str, value: &str, max: usize) {
        // Counting stops just past the limit, so a hostile multi-megabyte string costs no more
        // than a legal one.
        if value.chars().take(max + 1).count() > max {
            self.push(field, ViolationKind::TooLong { max });
        }
    }

    pub(crate) fn http_url(&mut self, field: &str, value: &str, max: usize) {
        self.max_chars(field, value, max);
        if !is_http_url(value) {
            self.push(field, ViolationKind::InvalidUrl);
        }
    }

    pub(crate) fn webhook_url(&mut self, url: &str) {
        self.http_url("webhook_url", url, limits::WEBHOOK_URL_MAX_CHARS);
    }

    pub(crate) fn range(&mut self, field: &str, value: u64, range: std::ops::RangeInclusive<u32>) {
        if value < u64::from(*range.start()) {
            self.push(
                field,
                ViolationKind::TooSmall {
                    min: (*range.start()).into(),
                },
            );
        } else if value > u64::from(*range.end()) {
            self.push(
                field,
                ViolationKind::TooLarge {
                    max: (*range.end()).into(),
                },
            );
        }
    }

    pub(crate) fn finish(self) -> Result<(), ValidationErrors> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                violations: self.violations,
            })
        }
    }
}

/// Checks a `webhook_url` exactly as [`CreateTranscription::validate`] does: `http`/`https`
/// and at most 256 characters, query included. For code that builds the URL separately, such
/// as a client appending metadata to it.
///
/// ```
/// use soniox_types::validation::check_webhook_url;
///
/// assert!(check_webhook_url("https://example.com/hook?order=1").is_ok());
/// let error = check_webhook_url("ftp://example.com/hook").unwrap_err();
/// assert_eq!(error.violations()[0].location(), "body.payload.webhook_url");
/// ```
///
/// # Errors
/// A [`ValidationErrors`] at `body.payload.webhook_url` for each broken rule.
///
/// [`CreateTranscription::validate`]: crate::CreateTranscription::validate
pub fn check_webhook_url(url: &str) -> Result<(), ValidationErrors> {
    let mut check = Checker::new("body.payload");
    check.webhook_url(url);
    check.finish()
}

/// The API's URL pattern, `^https?://[^\s]+$`, without a regex engine.
pub(crate) fn is_http_url(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.chars().any(char::is_whitespace))
}
