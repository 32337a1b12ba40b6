//! `client.auth()`: the `/v1/auth` endpoints, which mint temporary API keys.

use soniox_types::{CreateTemporaryApiKey, TemporaryApiKey};

use crate::{Client, Error, call::Call};

/// The `/v1/auth` endpoints. Get one from [`Client::auth`].
#[derive(Clone, Copy, Debug)]
pub struct Auth<'a> {
    client: &'a Client,
}

impl Client {
    /// Temporary API keys.
    pub fn auth(&self) -> Auth<'_> {
        Auth { client: self }
    }
}

impl Auth<'_> {
    /// Creates a short-lived key (`temp:...`) for a browser or other untrusted client.
    ///
    /// Retried only where the key was certainly not minted (see
    /// [`Files::upload`](crate::Files::upload) for the rule).
    ///
    /// # Errors
    /// [`Error::Validation`] for out-of-range values, before sending; API and transport errors;
    /// [`Error::OutcomeUnknown`] when a key may have been minted (it then expires unused),
    /// also when its answer does not decode: that [`Error::Decode`], its source, quotes
    /// nothing of the answer, which would carry the key.
    pub async fn create_temporary_api_key(
        &self,
        request: &CreateTemporaryApiKey,
    ) -> Result<TemporaryApiKey, Error> {
        request.validate()?;
        self.client
            .json_with_body(
                Call::post("/v1/auth/temporary-api-key")
                    .reference(request.client_reference_id.as_deref())
                    .secret_response(),
                request,
            )
            .await
    }
}
