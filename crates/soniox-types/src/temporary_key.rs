//! `POST /v1/auth/temporary-api-key`: short-lived keys for browsers and other untrusted clients.

use serde::{Deserialize, Serialize};

use crate::{
    open_enum::open_enum,
    secret::Secret,
    timestamp::{OffsetDateTime, rfc3339},
    validation::{Checker, ValidationErrors, limits},
};

open_enum! {
    /// What a temporary key may be used for.
    pub enum TemporaryKeyUsage in crate::generated::enum_values::TEMPORARY_KEY_USAGE {
        /// Real-time transcription over the WebSocket API.
        TranscribeWebsocket => "transcribe_websocket",
        /// Real-time text-to-speech.
        TtsRt => "tts_rt",
    }
}

/// The request body of `POST /v1/auth/temporary-api-key`.
///
/// ```
/// use soniox_types::{CreateTemporaryApiKey, TemporaryKeyUsage};
///
/// let request = CreateTemporaryApiKey::new(TemporaryKeyUsage::TranscribeWebsocket, 300).single_use(true);
/// assert!(request.validate().is_ok());
/// assert!(CreateTemporaryApiKey::new(TemporaryKeyUsage::TranscribeWebsocket, 3601).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct CreateTemporaryApiKey {
    /// What the key is for.
    pub usage_type: TemporaryKeyUsage,
    /// Lifetime in seconds, 1..=3600.
    pub expires_in_seconds: u32,
    /// A reference of the caller's own (≤ 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_reference_id: Option<String>,
    /// Whether the key works for one session only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_use: Option<bool>,
    /// Longest session the key may open, in seconds (1..=18000); unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration_seconds: Option<u32>,
}

impl CreateTemporaryApiKey {
    /// A key for `usage_type` that expires after `expires_in_seconds`.
    pub fn new(usage_type: TemporaryKeyUsage, expires_in_seconds: u32) -> Self {
        Self {
            usage_type,
            expires_in_seconds,
            client_reference_id: None,
            single_use: None,
            max_session_duration_seconds: None,
        }
    }

    /// Sets the client reference id.
    #[must_use]
    pub fn client_reference_id(mut self, id: impl Into<String>) -> Self {
        self.client_reference_id = Some(id.into());
        self
    }

    /// Allows one session only.
    #[must_use]
    pub fn single_use(mut self, single_use: bool) -> Self {
        self.single_use = Some(single_use);
        self
    }

    /// Caps each session's length.
    #[must_use]
    pub fn max_session_duration_seconds(mut self, seconds: u32) -> Self {
        self.max_session_duration_seconds = Some(seconds);
        self
    }

    /// Checks the request against the documented ranges.
    ///
    /// # Errors
    /// A [`ValidationErrors`] naming each out-of-range field (`body.payload.expires_in_seconds`).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut check = Checker::new("body.payload");
        check.range(
            "expires_in_seconds",
            self.expires_in_seconds.into(),
            limits::TEMPORARY_KEY_EXPIRES_RANGE,
        );
        if let Some(id) = &self.client_reference_id {
            check.max_chars(
                "client_reference_id",
                id,
                limits::CLIENT_REFERENCE_ID_MAX_CHARS,
            );
        }
        if let Some(seconds) = self.max_session_duration_seconds {
            check.range(
                "max_session_duration_seconds",
                seconds.into(),
                limits::TEMPORARY_KEY_SESSION_RANGE,
            );
        }
        check.finish()
    }
}

/// A temporary API key (`temp:...`) and when it expires.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct TemporaryApiKey {
    /// The key; never printed by `Debug`.
    pub api_key: Secret,
    /// When it stops working.
    #[serde(with = "rfc3339")]
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub expires_at: OffsetDateTime,
}

impl TemporaryApiKey {
    /// A key with its expiry.
    pub fn new(api_key: impl Into<Secret>, expires_at: OffsetDateTime) -> Self {
        Self {
            api_key: api_key.into(),
            expires_at,
        }
    }
}
