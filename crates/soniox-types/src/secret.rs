//! A string that must never be printed: API keys and webhook auth header values.

use std::fmt;

/// A secret string whose `Debug` and `Display` never show its value.
///
/// Serializing a `Secret` writes the real value, because requests must carry it; everything else
/// (logging, error messages, panics with `{:?}`) sees `[redacted]`. There is deliberately no
/// `PartialEq`: comparing secrets belongs to code that does it in constant time.
///
/// The API returns `webhook_auth_header_value` masked as [`Secret::MASKED`]; that form decodes
/// like any other and [`Secret::is_masked`] tells it apart.
///
/// ```
/// use soniox_types::Secret;
///
/// let secret = Secret::new("Bearer s3cr3t");
/// assert_eq!(format!("{secret:?}"), "Secret([redacted])");
/// assert_eq!(secret.to_string(), "[redacted]");
/// assert_eq!(secret.expose_secret(), "Bearer s3cr3t");
/// ```
#[derive(Clone, Default)]
pub struct Secret(Box<str>);

impl Secret {
    /// How the API returns a stored webhook auth header value: always 18 asterisks, whatever the
    /// length of the original.
    pub const MASKED: &'static str = "******************";

    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The masked form the API returns in place of a stored value.
    pub fn masked() -> Self {
        Self::new(Self::MASKED)
    }

    /// The secret itself. Call this only where the value must leave the process (a request
    /// header or body) or be compared in constant time.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether this is the API's masked placeholder rather than a usable secret.
    pub fn is_masked(&self) -> bool {
        &*self.0 == Self::MASKED
    }

    /// Length in characters, for limit checks that must not read the value out.
    pub fn char_len(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "writeOnly": true })
    }
}
