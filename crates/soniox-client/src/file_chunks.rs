//! A file read as a stream of chunks, on one blocking thread, into a fixed set of buffers.
//!
//! Unlike `tokio::fs::File`, the reader costs no hop to the blocking pool per chunk and no
//! second copy, which brings a 1 GiB upload's CPU time down to curl's. Each chunk is read into
//! one of [`BUFFERS`] buffers that comes back when the HTTP stack drops the chunk, so the
//! memory an upload holds is those buffers and no more, however far the reader gets ahead of
//! the socket and however the threads are scheduled; a fresh allocation per chunk let the
//! allocator's high-water mark drift a buffer or two higher on some runtimes than on others.

use std::{
    io::Read as _,
    sync::mpsc::{Receiver, SyncSender, sync_channel},
};

use bytes::Bytes;
use futures_util::Stream;

/// Read size: large enough for full-speed loopback transfers, small enough that memory stays
/// flat whatever the file size.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// Buffers per upload: the chunks queued ahead of the socket, the one being read and the ones
/// the HTTP stack is writing.
const BUFFERS: usize = 6;

/// Chunks of `file`, in order, ending after its last byte or at the first read error.
pub(crate) fn file_chunks(
    file: std::fs::File,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    // A queue shorter than the buffers, so that one is being read while the queue is full and
    // the HTTP stack holds the rest.
    let (chunks, received) = tokio::sync::mpsc::channel(BUFFERS - 2);
    let (give_back, free) = sync_channel(BUFFERS);
    for _ in 0..BUFFERS {
        // Allocated on first use: a small file needs one.
        let _ = give_back.send(Vec::new());
    }
    tokio::task::spawn_blocking(move || read_into(file, &free, &give_back, &chunks));
    futures_util::stream::unfold(received, |mut received| async {
        received.recv().await.map(|item| (item, received))
    })
}

/// The reading thread's loop. It stops at the end of the file, at a read error (sent on), or
/// when the stream is dropped: dropping the stream drops the queued chunks and the HTTP stack
/// drops the ones it holds, so a buffer comes back and the next send finds the queue closed.
fn read_into(
    mut file: std::fs::File,
    free: &Receiver<Vec<u8>>,
    give_back: &SyncSender<Vec<u8>>,
    chunks: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) {
    // `give_back` lives as long as this loop, so `recv` only ever waits for a buffer.
    while let Ok(mut buffer) = free.recv() {
        buffer.clear();
        buffer.reserve_exact(CHUNK_BYTES);
        let item = match (&mut file)
            .take(CHUNK_BYTES as u64)
            .read_to_end(&mut buffer)
        {
            Ok(0) => return,
            Ok(_) => Ok(Bytes::from_owner(Pooled {
                buffer,
                give_back: give_back.clone(),
            })),
            Err(error) => Err(error),
        };
        let failed = item.is_err();
        // A closed queue means the stream was dropped: stop reading.
        if chunks.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

/// A chunk's buffer, handed back to its reader when the last `Bytes` of it is dropped.
struct Pooled {
    buffer: Vec<u8>,
    give_back: SyncSender<Vec<u8>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // Never blocks: there are as many free places as buffers. A reader that has stopped
        // no longer takes them, and the buffer is freed with the channel.
        let _ = self.give_back.try_send(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use futures_util::StreamExt as _;

    use super::*;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let content: Vec<u8> = (0..len).map(|at| (at % 251) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&content).unwrap();
        (file, content)
    }

    #[tokio::test]
    async fn reads_every_byte_in_order_through_reused_buffers() {
        // More chunks than buffers, and a short last one.
        let len = CHUNK_BYTES * (BUFFERS * 3) + 1234;
        let (file, content) = file_of(len);
        // Copied out, so each buffer goes back: keeping them all would stop the reader.
        let chunks: Vec<Vec<u8>> = file_chunks(file.reopen().unwrap())
            .map(|chunk| chunk.unwrap().to_vec())
            .collect()
            .await;
        assert_eq!(chunks.len(), BUFFERS * 3 + 1);
        assert_eq!(chunks.concat(), content);
    }

    #[tokio::test]
    async fn holding_every_buffer_holds_the_reader_back() {
        let (file, content) = file_of(CHUNK_BYTES * (BUFFERS + 4));
        let mut stream = Box::pin(file_chunks(file.reopen().unwrap()));
        // Keep what arrives: once the reader has no buffer left, nothing more can come.
        let mut held = Vec::new();
        for _ in 0..BUFFERS {
            held.push(stream.next().await.unwrap().unwrap());
        }
        let more = tokio::time::timeout(std::time::Duration::from_millis(200), stream.next());
        assert!(
            more.await.is_err(),
            "a seventh chunk arrived while six were held"
        );
        // Handing one back lets the next chunk be read.
        let first = held.remove(0);
        assert_eq!(first[..], content[..CHUNK_BYTES]);
        drop(first);
        let next = stream.next().await.unwrap().unwrap();
        assert_eq!(
            next[..],
            content[BUFFERS * CHUNK_BYTES..(BUFFERS + 1) * CHUNK_BYTES]
        );
    }

    #[tokio::test]
    async fn an_empty_file_ends_at_once() {
        let (file, _) = file_of(0);
        let chunks: Vec<_> = file_chunks(file.reopen().unwrap()).collect().await;
        assert!(chunks.is_empty());
    }
}
