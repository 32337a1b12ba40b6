//! `GET /v1/files/count` and `GET /v1/transcriptions/count`.

use serde::{Deserialize, Serialize};

/// How many files or transcriptions the account holds, by origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Count {
    /// All of them.
    pub total: u64,
    /// Created through the API.
    pub public_api: u64,
    /// Created in the Soniox Playground.
    pub playground: u64,
}

impl Count {
    /// A count with the given parts.
    pub fn new(total: u64, public_api: u64, playground: u64) -> Self {
        Self {
            total,
            public_api,
            playground,
        }
    }
}
