//! `client.models()` and `client.auth()`: models and temporary API keys.

use soniox_types::{CreateTemporaryApiKey, ModelList, TemporaryApiKey};

use crate::{Client, Error, client::Call};

/// The `/v1/models` endpoint. Get one from [`Client::models`].
#[derive(Clone, Copy, Debug)]
pub struct Models<'a> {
    client: &'a Client,
}

/// The `/v1/auth` endpoints. Get one from [`Client::auth`].
#[derive(Clone, Copy, Debug)]
pub struct Auth<'a> {
    client: &'a Client,
}

impl Client {
    /// Available models.
    pub fn models(&self) -> Models<'_> {
        Models { client: self }
    }

    /// Temporary API keys.
    pub fn auth(&self) -> Auth<'_> {
        Auth { client: self }
    }
}

impl Models<'_> {
    /// Lists every model, aliases included.
    ///
    /// # Errors
    /// API and transport errors.
    pub async fn list(&self) -> Result<ModelList, Error> {
        self.client.json(Call::get("/v1/models")).await
    }
}

impl Auth<'_> {
    /// Creates a short-lived key (`temp:...`) for a browser or other untrusted client.
    ///
    /// # Errors
    /// [`Error::Validation`] for out-of-range values, before sending; API and transport errors.
    pub async fn create_temporary_api_key(
        &self,
        request: &CreateTemporaryApiKey,
    ) -> Result<TemporaryApiKey, Error> {
        request.validate()?;
        self.client
            .json_with_body(Call::post("/v1/auth/temporary-api-key"), request)
            .await
    }
}
