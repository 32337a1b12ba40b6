//! Errors from building a [`crate::Verifier`] or a test delivery.

/// A verifier (or test delivery) could not be built from the given header name and secrets.
///
/// Messages name the problem and the environment variable involved, never the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret was given, or the environment variable holding it was unset or empty.
    #[error("no webhook secret configured (set {var})")]
    MissingSecret {
        /// The environment variable that should hold the secret.
        var: &'static str,
    },
    /// A secret was empty.
    #[error("webhook secret is empty")]
    EmptySecret,
    /// A secret contained bytes other than visible ASCII and inner spaces.
    ///
    /// Leading or trailing whitespace is refused too: HTTP strips it in transit, so such a
    /// secret could never match.
    #[error("webhook secret must be visible ASCII with no leading or trailing whitespace")]
    InvalidSecret,
    /// A secret was the API's masked placeholder (`******************`), which the API returns
    /// in place of a stored value: it is not the secret deliveries carry.
    #[error("webhook secret is the API's masked placeholder, not the real value")]
    MaskedSecret,
    /// A secret was longer than the API accepts for `webhook_auth_header_value`.
    #[error("webhook secret longer than {max} characters", max = soniox_types::validation::limits::WEBHOOK_HEADER_VALUE_MAX_CHARS)]
    SecretTooLong,
    /// The header name was not a valid HTTP header name or was too long for the API.
    ///
    /// The name itself is not kept: a secret given where the name goes (arguments swapped,
    /// or a whole `Name: value` line in the variable) would be in it.
    #[error(
        "invalid webhook header name{}: {}; it must be an HTTP token (letters, digits, `-`, no spaces) of at most {max} characters",
        var.map(|var| format!(" (from {var})")).unwrap_or_default(),
        header_name_problem(*len, *invalid_at),
        max = soniox_types::validation::limits::WEBHOOK_HEADER_NAME_MAX_CHARS
    )]
    InvalidHeaderName {
        /// The name's length, in bytes.
        len: usize,
        /// Where (in bytes from 0) the first byte a header name cannot hold is, if one is.
        invalid_at: Option<usize>,
        /// The environment variable it came from, if any.
        var: Option<&'static str>,
    },
    /// An environment variable held non-Unicode data.
    #[error("environment variable {var} is not valid Unicode")]
    NotUnicode {
        /// The variable.
        var: &'static str,
    },
    /// A test delivery's URI did not parse.
    #[error("invalid test delivery URI")]
    InvalidUri,
}

/// What is wrong with a header name of `len` bytes whose first bad byte is at `invalid_at`.
fn header_name_problem(len: usize, invalid_at: Option<usize>) -> String {
    match invalid_at {
        Some(at) => format!("the character at byte {at} of {len} is not allowed"),
        None if len == 0 => "it is empty".to_owned(),
        None => format!("it is {len} bytes long"),
    }
}
