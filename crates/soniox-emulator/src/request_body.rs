//! A request body that, when a handler answers without reading all of it, is read and
//! discarded in the background for a bounded amount: a staged close, as HTTP/1.1 advises.
//!
//! A 401, a 429 or a "file too large" is known before (or while) an upload is read. Closing the
//! connection with the rest unread makes the kernel reset it, and a client still sending then
//! sees the reset instead of the answer. Reading on gives the client time to finish sending and
//! read the answer; past the bound the connection is closed anyway, so an endless body cannot
//! hold it.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// Most bytes read and discarded after an early answer.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;

/// Longest time spent reading and discarding after an early answer.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// A request's body; see the module docs.
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: Option<Incoming>,
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming) -> Self {
        Self { inner: Some(inner) }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.inner {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if inner.is_end_stream() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(inner));
        }
    }
}

/// Reads and discards `body` up to the bounds; dropping it then closes the connection if any
/// is left.
async fn drain(mut body: Incoming) {
    let mut read = 0_u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while read <= DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, |data| data.len() as u64);
                }
                Some(Err(_)) | None => break,
            }
        }
    })
    .await;
}
