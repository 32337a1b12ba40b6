//! Reading a request body without ever buffering more than the verifier's limit.

use std::pin::pin;

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::Rejection;

/// Collects `body`, stopping with [`Rejection::BodyTooLarge`] as soon as it exceeds `limit`
/// bytes, whether or not a `Content-Length` was declared (chunked bodies included).
///
/// A body that arrives in one frame, as deliveries do, is returned as that frame, without a
/// copy or a list to collect it in.
pub(crate) async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = pin!(Limited::new(body, limit));
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) if error.is::<LengthLimitError>() => {
                return Err(Rejection::BodyTooLarge { limit });
            }
            Err(error) => {
                tracing::debug!(%error, "webhook body could not be read");
                return Err(Rejection::BodyRead);
            }
        };
        // Trailers carry nothing a delivery needs.
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        let data = data.copy_to_bytes(data.remaining());
        if let Some(joined) = &mut joined {
            joined.extend_from_slice(&data);
        } else if first.is_empty() {
            first = data;
        } else {
            let mut both = BytesMut::with_capacity(first.len() + data.len());
            both.extend_from_slice(&first);
            both.extend_from_slice(&data);
            joined = Some(both);
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::stream;
    use http_body::Frame;
    use http_body_util::StreamBody;

    use super::*;

    /// A body of these frames: data for `Ok(text)`, trailers for `Err(())`.
    fn frames(parts: &[Result<&'static str, ()>]) -> impl Body<Data = Bytes, Error = Infallible> {
        let frames = parts.iter().map(|part| {
            Ok(match part {
                Ok(text) => Frame::data(Bytes::from_static(text.as_bytes())),
                Err(()) => Frame::trailers(http::HeaderMap::new()),
            })
        });
        StreamBody::new(stream::iter(frames.collect::<Vec<_>>()))
    }

    #[tokio::test]
    async fn frames_are_joined_and_trailers_skipped() {
        let one = read_limited(frames(&[Ok("{\"id\":1}")]), 64).await;
        assert_eq!(one, Ok(Bytes::from_static(b"{\"id\":1}")));
        let three = frames(&[Ok("{\"id\""), Ok(""), Ok(":1"), Ok("}"), Err(())]);
        assert_eq!(
            read_limited(three, 64).await,
            Ok(Bytes::from_static(b"{\"id\":1}"))
        );
        assert_eq!(read_limited(frames(&[]), 64).await, Ok(Bytes::new()));
    }

    #[tokio::test]
    async fn the_limit_counts_every_frame() {
        let body = frames(&[Ok("12345"), Ok("67890"), Ok("x")]);
        assert_eq!(
            read_limited(body, 10).await,
            Err(Rejection::BodyTooLarge { limit: 10 })
        );
    }
}
