//! The verifier: authentication, limits and parsing of one delivery.

use std::{fmt, sync::Arc};

use http::{HeaderMap, HeaderName, Method, Request, Uri, header};
use soniox_types::{
    DEFAULT_WEBHOOK_HEADER, Secret, WEBHOOK_HEADER_ENV, WEBHOOK_SECRET_ENV, validation::limits,
};
use subtle::{Choice, ConstantTimeEq};

use crate::{ConfigError, Metadata, ReceivedEvent, Rejection, parse::parse_event};

/// The body limit used unless [`Verifier::body_limit`] says otherwise: 64 KiB, far above
/// the ~80 bytes Soniox sends.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Verifies and parses Soniox webhook deliveries.
///
/// Built once (it is cheap to clone and shareable across threads), then used for every
/// request. Checks run in this order, and the first failure decides the answer:
///
/// | Check | Rejected with |
/// |---|---|
/// | method is `POST` | 405 |
/// | auth header present once, visible ASCII, equal (in constant time) to an accepted secret | 401 |
/// | body within the limit (and, in [`Verifier::verify_head`], the declared `Content-Length`) | 413 |
/// | `Content-Type`, when present, is JSON | 415 |
/// | body is a JSON object with a non-empty string `id` and a string `status` | 400 |
///
/// A verifier cannot be built without a secret; see
/// [`Verifier::dangerous_accept_unauthenticated`] for the explicit opt-out.
///
/// ```
/// use soniox_webhook::{Rejection, Secret, Verifier, http};
///
/// let verifier = Verifier::new("X-Soniox-Webhook-Secret", Secret::new("s3cr3t"))?;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-soniox-webhook-secret", "s3cr3t".parse()?);
/// let body = br#"{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"completed"}"#;
/// let event = verifier.verify(&http::Method::POST, &"/hook".parse()?, &headers, body)?;
/// assert_eq!(event.id(), "548d023b-2b3d-4dc2-a3ef-cca26d05fd9a");
///
/// headers.insert("x-soniox-webhook-secret", "guess".parse()?);
/// let refused = verifier.verify(&http::Method::POST, &"/hook".parse()?, &headers, body);
/// assert_eq!(refused, Err(Rejection::WrongSecret));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    auth: Auth,
    body_limit: usize,
}

#[derive(Clone)]
enum Auth {
    Required {
        header: HeaderName,
        secrets: Arc<[Secret]>,
    },
    Disabled,
}

impl Verifier {
    /// A verifier that accepts deliveries carrying `header_name: secret`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if the header name is not a valid HTTP header name (or is longer than
    /// the API's 256-character limit), or the secret is empty, too long, not visible ASCII, or
    /// the API's masked placeholder.
    pub fn new(header_name: &str, secret: impl Into<Secret>) -> Result<Self, ConfigError> {
        Self::with_secrets(header_name, [secret])
    }

    /// A verifier that accepts any of `secrets`, for rotation: jobs created before the change
    /// still carry the old value, so accept both until they have all been delivered.
    ///
    /// # Errors
    ///
    /// As [`Verifier::new`]; [`ConfigError::MissingSecret`] when `secrets` is empty.
    pub fn with_secrets(
        header_name: &str,
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, ConfigError> {
        let header = parse_header_name(header_name)?;
        let secrets: Arc<[Secret]> = secrets
            .into_iter()
            .map(|secret| check_secret(secret.into()))
            .collect::<Result<_, _>>()?;
        if secrets.is_empty() {
            return Err(ConfigError::MissingSecret {
                var: WEBHOOK_SECRET_ENV,
            });
        }
        Ok(Self {
            auth: Auth::Required { header, secrets },
            body_limit: DEFAULT_BODY_LIMIT,
        })
    }

    /// Reads the configuration the official SDKs use: the header name from
    /// `SONIOX_API_WEBHOOK_HEADER` (default `X-Soniox-Webhook-Secret`) and the secret from
    /// `SONIOX_API_WEBHOOK_SECRET`.
    ///
    /// Unlike the official Node SDK, a missing secret is an error, not a verifier that accepts
    /// everything.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingSecret`] when the secret variable is unset or empty, and the errors
    /// of [`Verifier::new`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var_os(var))
    }

    /// As [`Verifier::from_env`], reading variables through `lookup` instead of the process
    /// environment (for tests and for configuration systems of your own).
    ///
    /// # Errors
    ///
    /// As [`Verifier::from_env`].
    pub fn from_lookup(
        mut lookup: impl FnMut(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, ConfigError> {
        let mut read = |var: &'static str| -> Result<Option<String>, ConfigError> {
            match lookup(var) {
                None => Ok(None),
                Some(value) => value
                    .into_string()
                    .map(|s| Some(s).filter(|s| !s.is_empty()))
                    .map_err(|_| ConfigError::NotUnicode { var }),
            }
        };
        let header = read(WEBHOOK_HEADER_ENV)?;
        let secret = read(WEBHOOK_SECRET_ENV)?.ok_or(ConfigError::MissingSecret {
            var: WEBHOOK_SECRET_ENV,
        })?;
        let Some(header) = header else {
            return Self::new(DEFAULT_WEBHOOK_HEADER, Secret::new(secret));
        };
        // Say where a bad name came from: the variable is what the user has to fix.
        Self::new(&header, Secret::new(secret)).map_err(|error| match error {
            ConfigError::InvalidHeaderName {
                len, invalid_at, ..
            } => ConfigError::InvalidHeaderName {
                len,
                invalid_at,
                var: Some(WEBHOOK_HEADER_ENV),
            },
            other => other,
        })
    }

    /// **Dangerous:** a verifier that skips authentication and accepts a delivery from anyone
    /// who can reach the URL.
    ///
    /// Anyone could then make your service fetch (and act on) arbitrary transcription ids.
    /// Use it only where the network already authenticates callers, or in local experiments.
    /// Method, size, content-type and body checks still apply, and each use logs a warning.
    pub fn dangerous_accept_unauthenticated() -> Self {
        Self {
            auth: Auth::Disabled,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Sets the largest accepted body, in bytes.
    #[must_use]
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// The largest accepted body, in bytes.
    pub fn get_body_limit(&self) -> usize {
        self.body_limit
    }

    /// The auth header this verifier reads, or `None` when authentication is disabled.
    pub fn header_name(&self) -> Option<&HeaderName> {
        match &self.auth {
            Auth::Required { header, .. } => Some(header),
            Auth::Disabled => None,
        }
    }

    /// Verifies a delivery and returns its event.
    ///
    /// # Errors
    ///
    /// The first failed check, as a [`Rejection`] carrying its HTTP status.
    pub fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ReceivedEvent, Rejection> {
        // The declared length is not consulted: the body is already here to be measured.
        self.check_method_and_auth(method, headers)?;
        self.verify_rest(uri, headers, body)
    }

    /// [`Verifier::verify`] for a whole `http::Request`.
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`].
    pub fn verify_request<B: AsRef<[u8]>>(
        &self,
        request: &Request<B>,
    ) -> Result<ReceivedEvent, Rejection> {
        self.verify(
            request.method(),
            request.uri(),
            request.headers(),
            request.body().as_ref(),
        )
    }

    /// The checks that need no body: method, authentication and the declared
    /// `Content-Length`. Adapters call this before reading the body, so an unauthenticated
    /// caller cannot make the server buffer anything.
    ///
    /// # Errors
    ///
    /// [`Rejection::MethodNotAllowed`], the authentication rejections, or
    /// [`Rejection::BodyTooLarge`].
    pub fn verify_head(&self, method: &Method, headers: &HeaderMap) -> Result<(), Rejection> {
        self.check_method_and_auth(method, headers)?;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.body_limit as u64) {
            return Err(self.too_large());
        }
        Ok(())
    }

    /// The checks after [`Verifier::verify_head`]: size, content type and body.
    pub(crate) fn verify_rest(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ReceivedEvent, Rejection> {
        if body.len() > self.body_limit {
            return Err(self.too_large());
        }
        if !headers.get_all(header::CONTENT_TYPE).iter().all(is_json) {
            return Err(Rejection::UnsupportedContentType);
        }
        let event = parse_event(body)?;
        let metadata = uri.query().map(Metadata::from_query).unwrap_or_default();
        Ok(ReceivedEvent::new(event, metadata))
    }

    fn check_method_and_auth(&self, method: &Method, headers: &HeaderMap) -> Result<(), Rejection> {
        if method != Method::POST {
            return Err(Rejection::MethodNotAllowed);
        }
        self.authenticate(headers)
    }

    fn too_large(&self) -> Rejection {
        Rejection::BodyTooLarge {
            limit: self.body_limit,
        }
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        let (header, secrets) = match &self.auth {
            Auth::Required { header, secrets } => (header, secrets),
            Auth::Disabled => {
                tracing::warn!("webhook accepted without authentication (dangerous verifier)");
                return Ok(());
            }
        };
        let mut values = headers.get_all(header).iter();
        let value = values.next().ok_or(Rejection::MissingAuthHeader)?;
        if values.next().is_some() {
            return Err(Rejection::DuplicateAuthHeader);
        }
        let value = value.as_bytes();
        // Every secret is compared, so timing does not reveal which one (if any) matched.
        let matched = secrets.iter().fold(Choice::from(0), |acc, secret| {
            acc | ct_eq_words(secret.expose_secret().as_bytes(), value)
        });
        if bool::from(matched) {
            // Secrets are visible ASCII, so a match needs no separate check of the value.
            Ok(())
        } else if value.iter().all(|b| matches!(b, b' '..=b'~')) {
            Err(Rejection::WrongSecret)
        } else {
            Err(Rejection::MalformedAuthHeader)
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Verifier");
        match &self.auth {
            Auth::Required { header, secrets } => s
                .field("header", header)
                .field("secrets", &format_args!("[{} redacted]", secrets.len())),
            Auth::Disabled => s.field("auth", &"disabled"),
        };
        s.field("body_limit", &self.body_limit).finish()
    }
}

pub(crate) fn parse_header_name(name: &str) -> Result<HeaderName, ConfigError> {
    let invalid = |invalid_at| ConfigError::InvalidHeaderName {
        len: name.len(),
        invalid_at,
        var: None,
    };
    // Names and secrets are ASCII once accepted, so bytes count the API's characters.
    if name.len() > limits::WEBHOOK_HEADER_NAME_MAX_CHARS {
        return Err(invalid(None));
    }
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| invalid(name.bytes().position(|byte| !is_token_byte(byte))))
}

/// Whether a header name (an HTTP token) may hold `byte`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

pub(crate) fn check_secret(secret: Secret) -> Result<Secret, ConfigError> {
    let value = secret.expose_secret();
    if value.is_empty() {
        return Err(ConfigError::EmptySecret);
    }
    if value.len() > limits::WEBHOOK_HEADER_VALUE_MAX_CHARS {
        return Err(ConfigError::SecretTooLong);
    }
    if secret.is_masked() {
        return Err(ConfigError::MaskedSecret);
    }
    let visible = value.bytes().all(|b| matches!(b, b' '..=b'~'));
    if !visible || value.starts_with(' ') || value.ends_with(' ') {
        return Err(ConfigError::InvalidSecret);
    }
    Ok(secret)
}

/// Constant-time equality of two byte strings (only their lengths may leak), comparing eight
/// bytes per step: `subtle`'s slice comparison puts an optimisation barrier on every byte,
/// which made it the most expensive part of verifying a delivery.
fn ct_eq_words(a: &[u8], b: &[u8]) -> Choice {
    if a.len() != b.len() {
        return Choice::from(0);
    }
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = a_words.remainder().ct_eq(b_words.remainder());
    a_words.zip(b_words).fold(tail, |acc, (x, y)| {
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or_default());
        acc & word(x).ct_eq(&word(y))
    })
}

/// `application/json` or any `+json` type, parameters allowed, case-insensitive.
fn is_json(value: &http::HeaderValue) -> bool {
    if value.as_bytes() == b"application/json" {
        return true;
    }
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .rsplit_once('+')
                .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json")))
}

#[cfg(test)]
mod tests {
    use super::ct_eq_words;

    #[test]
    fn word_compare_matches_plain_equality() {
        let samples: [&[u8]; 7] = [
            b"",
            b"a",
            b"abcdefgh",
            b"abcdefgi",
            b"abcdefghi",
            b"bbcdefghi",
            b"abcdefghj",
        ];
        for a in samples {
            for b in samples {
                assert_eq!(bool::from(ct_eq_words(a, b)), a == b, "{a:?} {b:?}");
            }
        }
    }
}
