//! Reading a request body without ever buffering more than the verifier's limit.

use bytes::Bytes;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::Rejection;

/// Collects `body`, stopping with [`Rejection::BodyTooLarge`] as soon as it exceeds `limit`
/// bytes, whether or not a `Content-Length` was declared (chunked bodies included).
pub(crate) async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(Rejection::BodyTooLarge { limit }),
        Err(error) => {
            tracing::debug!(%error, "webhook body could not be read");
            Err(Rejection::BodyRead)
        }
    }
}
