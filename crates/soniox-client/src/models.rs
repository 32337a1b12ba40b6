//! `client.models()`: the `/v1/models` endpoint.

use soniox_types::ModelList;

use crate::{Client, Error, call::Call};

/// The `/v1/models` endpoint. Get one from [`Client::models`].
#[derive(Clone, Copy, Debug)]
pub struct Models<'a> {
    client: &'a Client,
}

impl Client {
    /// Available models.
    pub fn models(&self) -> Models<'_> {
        Models { client: self }
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
