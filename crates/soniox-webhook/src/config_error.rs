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
    #[error(
        "invalid webhook header name {name:?}{}: it must be an HTTP token (letters, digits, `-`, no spaces) of at most {max} characters",
        var.map(|var| format!(" (from {var})")).unwrap_or_default(),
        max = soniox_types::validation::limits::WEBHOOK_HEADER_NAME_MAX_CHARS
    )]
    InvalidHeaderName {
        /// The name as given (a header name is not a secret).
        name: String,
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
