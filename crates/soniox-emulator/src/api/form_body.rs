//! An upload's body as the multipart parser reads it, with a bound on what the parser holds
//! while it looks for a part.
//!
//! Until it has found a part's boundary and the end of its headers, the parser keeps every
//! byte it was given and searches all of them again with each new chunk. A body that never
//! brings either would be held in memory, and searched, without end; here it ends with
//! [`PartHeadTooLong`] once more than [`MAX_PART_HEAD`] bytes went unparsed.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::BodyDataStream;

use crate::request_body::RequestBody;

/// Most bytes given to the parser while it looks for a part: a preamble, the boundary line
/// and the part's headers (a little more: the chunk that passes the bound is given whole).
pub(super) const MAX_PART_HEAD: u64 = 64 * 1024;

/// More than [`MAX_PART_HEAD`] bytes without a part's boundary and headers.
#[derive(Debug, thiserror::Error)]
#[error("no part boundary or end of part headers within {MAX_PART_HEAD} bytes")]
pub(super) struct PartHeadTooLong;

/// How much more the parser may be given, shared by the body and the code driving the parser.
#[derive(Debug)]
pub(super) struct PartHead {
    /// Bytes that may still be given; `u64::MAX` while a part's data is read.
    left: AtomicU64,
    /// Whether, with nothing left, the parser has already been stopped once to look at what it
    /// holds.
    paused: AtomicBool,
}

impl PartHead {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            left: AtomicU64::new(u64::MAX),
            paused: AtomicBool::new(false),
        })
    }

    /// The parser starts looking for a part.
    pub(super) fn searching(&self) {
        self.paused.store(false, Ordering::Relaxed);
        self.left.store(MAX_PART_HEAD, Ordering::Relaxed);
    }

    /// The parser found a part; its data is bounded elsewhere.
    pub(super) fn found(&self) {
        self.left.store(u64::MAX, Ordering::Relaxed);
    }
}

/// The request body, giving the parser no more than [`PartHead`] allows.
pub(super) struct FormBody<S = BodyDataStream<RequestBody>> {
    inner: S,
    part_head: Arc<PartHead>,
}

impl FormBody {
    pub(super) fn new(body: RequestBody, part_head: Arc<PartHead>) -> Self {
        Self {
            inner: BodyDataStream::new(body),
            part_head,
        }
    }
}

impl<S, E> Stream for FormBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let part_head = Arc::clone(&self.part_head);
        let left = part_head.left.load(Ordering::Relaxed);
        if left == 0 {
            // The parser takes every chunk that is ready before it parses: stop it once, so it
            // looks at what it holds, and end the body only if it is still looking after that.
            if part_head.paused.swap(true, Ordering::Relaxed) {
                return Poll::Ready(Some(Err(PartHeadTooLong.into())));
            }
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let chunk = match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        let given = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        part_head
            .left
            .store(left.saturating_sub(given), Ordering::Relaxed);
        Poll::Ready(Some(Ok(chunk)))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;

    use super::*;

    /// Parses `chunks` (all ready at once) as a form, as the upload handler does; returns the
    /// parts' names and sizes, or the error.
    async fn parse(
        chunks: impl Stream<Item = Bytes> + Send + Unpin + 'static,
    ) -> Result<Vec<(String, usize)>, multer::Error> {
        let part_head = PartHead::new();
        let body = FormBody {
            inner: chunks.map(Ok::<_, std::convert::Infallible>),
            part_head: Arc::clone(&part_head),
        };
        let mut multipart = multer::Multipart::new(body, "B");
        let mut parts = Vec::new();
        loop {
            part_head.searching();
            let Some(mut field) = multipart.next_field().await? else {
                return Ok(parts);
            };
            part_head.found();
            let mut size = 0;
            while let Some(chunk) = field.next().await {
                size += chunk?.len();
            }
            parts.push((field.name().unwrap_or_default().to_owned(), size));
        }
    }

    #[tokio::test]
    async fn chunks_far_larger_than_the_bound_carry_a_part() {
        let big = 4 * MAX_PART_HEAD as usize;
        let mut first = b"--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".to_vec();
        first.resize(first.len() + big, b'x');
        let second = [
            vec![b'x'; big],
            b"\r\n--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n".to_vec(),
        ]
        .concat();
        let parts = parse(stream::iter([Bytes::from(first), Bytes::from(second)]))
            .await
            .expect("parsed");
        assert_eq!(parts, [("file".to_owned(), 2 * big), ("a".to_owned(), 1)]);
    }

    #[tokio::test]
    async fn a_body_without_a_part_ends_soon_after_the_bound() {
        let chunk = Bytes::from(vec![b'x'; 1000]);
        let given = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&given);
        let endless = stream::repeat(chunk).inspect(move |chunk| {
            counted.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        });
        let error = parse(endless).await.expect_err("no part");
        assert!(
            matches!(&error, multer::Error::StreamReadFailed(cause) if cause.is::<PartHeadTooLong>()),
            "{error}"
        );
        assert!(given.load(Ordering::Relaxed) <= MAX_PART_HEAD + 1000);
    }
}
