//! RFC 3339 timestamps as [`time::OffsetDateTime`].
//!
//! The API writes both `2024-11-26T00:00:00Z` and `2025-02-22T22:47:37.150Z`; both parse.
//! Serialization writes RFC 3339 with fractional seconds only when they are not zero.

pub use time::OffsetDateTime;

pub(crate) mod rfc3339 {
    pub(crate) use time::serde::rfc3339::{deserialize, serialize};
}
