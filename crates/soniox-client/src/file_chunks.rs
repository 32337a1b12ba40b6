//! A file read as a stream of chunks, on one blocking thread, into a fixed set of buffers.
//!
//! Unlike `tokio::fs::File`, the reader costs no hop to the blocking pool per chunk and no
//! second copy, which brings a 1 GiB upload's CPU time down to curl's. Each chunk is read into
//! one of [`BUFFERS`] buffers that comes back when the HTTP stack drops the chunk, so the
//! memory an upload holds is those buffers and no more, however far the reader gets ahead of
//! the socket and however the threads are scheduled; a fresh allocation per chunk let the
//! allocator's high-water mark drift a buffer or two higher on some runtimes than on others.

use std::{
    io::{ErrorKind, Read},
    sync::mpsc::{Receiver, SyncSender, sync_channel},
};

use bytes::Bytes;
use futures_util::Stream;

/// Read size: large enough for full-speed loopback transfers, small enough that memory stays
/// flat whatever the file size.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// Buffers per upload: the chunks queued ahead of the socket, the one being read, and the
/// one or two the HTTP stack is writing (hyper's HTTP/1 queue takes a second chunk while it
/// holds less than about 400 KiB).
const BUFFERS: usize = 6;

/// Chunks of `file`, in order, ending after its last byte or at the first read error.
pub(crate) fn file_chunks(
    file: std::fs::File,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    // Room for every buffer: the pool alone holds the reader back.
    let (chunks, received) = tokio::sync::mpsc::channel(BUFFERS);
    let (give_back, free) = sync_channel(BUFFERS);
    for _ in 0..BUFFERS {
        // Allocated on first use: a file of one chunk allocates one.
        let _ = give_back.send(Vec::new());
    }
    tokio::task::spawn_blocking(move || read_ahead(file, &free, &give_back, &chunks));
    futures_util::stream::unfold(received, |mut received| async {
        received.recv().await.map(|item| (item, received))
    })
}

/// The reading thread's loop. It stops after the last chunk (the first short one), at a read
/// error (sent on), or when the stream is dropped: dropping the stream drops the queued chunks
/// and the HTTP stack drops the ones it holds, so a buffer comes back and the next send finds
/// the queue closed.
fn read_ahead(
    mut file: impl Read,
    free: &Receiver<Vec<u8>>,
    give_back: &SyncSender<Vec<u8>>,
    chunks: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) {
    // `give_back` lives as long as this loop, so `recv` only ever waits for a buffer.
    while let Ok(mut buffer) = free.recv() {
        // Zeroed once, on first use; a reused buffer is already full length.
        buffer.resize(CHUNK_BYTES, 0);
        let (item, last) = match fill(&mut file, &mut buffer) {
            Ok(0) => return,
            Ok(read) => {
                buffer.truncate(read);
                let chunk = Bytes::from_owner(Pooled {
                    buffer,
                    give_back: give_back.clone(),
                });
                (Ok(chunk), read < CHUNK_BYTES)
            }
            Err(error) => (Err(error), true),
        };
        // A closed queue means the stream was dropped: stop reading.
        if chunks.blocking_send(item).is_err() || last {
            return;
        }
    }
}

/// Reads into all of `buffer` unless the file ends first: the bytes read. (Not
/// `take(..).read_to_end`, which grows its buffer in steps: six read calls a chunk.)
fn fill(file: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut read = 0;
    while read < buffer.len() {
        match file.read(&mut buffer[read..]) {
            Ok(0) => break,
            Ok(more) => read += more,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(read)
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
        // Never full: it has a place for every buffer. Once the reader has stopped, the send
        // fails and the buffer is freed here.
        let _ = self.give_back.try_send(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use std::{io::Write as _, time::Duration};

    use futures_util::StreamExt as _;

    use super::*;

    /// Far longer than any read here takes: a stream that waits this long is stuck.
    const STUCK: Duration = Duration::from_secs(10);

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let content: Vec<u8> = (0..len).map(|at| (at % 251) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&content).unwrap();
        (file, content)
    }

    async fn next(stream: &mut (impl Stream<Item = std::io::Result<Bytes>> + Unpin)) -> Bytes {
        let next = tokio::time::timeout(STUCK, stream.next()).await;
        next.expect("stuck").expect("ended").expect("read")
    }

    async fn all(len: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
        let (file, content) = file_of(len);
        // Copied out, so each buffer goes back: keeping them all would stop the reader.
        let chunks = file_chunks(file.reopen().unwrap())
            .map(|chunk| chunk.unwrap().to_vec())
            .collect();
        (
            tokio::time::timeout(STUCK, chunks).await.expect("stuck"),
            content,
        )
    }

    #[tokio::test]
    async fn reads_every_byte_in_order() {
        // More chunks than buffers, and a short last one.
        let (chunks, content) = all(CHUNK_BYTES * (BUFFERS * 3) + 1234).await;
        assert_eq!(chunks.len(), BUFFERS * 3 + 1);
        assert_eq!(chunks.concat(), content);
        // A file of whole chunks ends after its last one.
        let (chunks, content) = all(CHUNK_BYTES * 2).await;
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks.concat(), content);
        let (chunks, _) = all(0).await;
        assert!(chunks.is_empty());
    }

    #[tokio::test]
    async fn holding_every_buffer_holds_the_reader_back() {
        let (file, content) = file_of(CHUNK_BYTES * (BUFFERS + 4));
        let mut stream = Box::pin(file_chunks(file.reopen().unwrap()));
        // Keep what arrives: once the reader has no buffer left, nothing more can come.
        let mut held = Vec::new();
        for _ in 0..BUFFERS {
            held.push(next(&mut stream).await);
        }
        let more = tokio::time::timeout(Duration::from_millis(200), stream.next());
        assert!(
            more.await.is_err(),
            "a seventh chunk arrived while six were held"
        );
        // Handing one back lets the next chunk be read, into that same buffer.
        let first = held.remove(0);
        assert_eq!(first[..], content[..CHUNK_BYTES]);
        let first_buffer = first.as_ptr();
        drop(first);
        let seventh = next(&mut stream).await;
        assert_eq!(seventh.as_ptr(), first_buffer);
        assert_eq!(
            seventh[..],
            content[BUFFERS * CHUNK_BYTES..(BUFFERS + 1) * CHUNK_BYTES]
        );
    }

    #[test]
    fn dropping_the_chunks_stops_the_reader() {
        struct Endless;
        impl Read for Endless {
            fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
                Ok(buffer.len())
            }
        }
        let (chunks, mut received) = tokio::sync::mpsc::channel(BUFFERS);
        let (give_back, free) = sync_channel(BUFFERS);
        for _ in 0..BUFFERS {
            give_back.send(Vec::new()).unwrap();
        }
        let (stopped, reader_stopped) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            read_ahead(Endless, &free, &give_back, &chunks);
            let _ = stopped.send(());
        });
        let first = received.blocking_recv().unwrap().unwrap();
        assert_eq!(first.len(), CHUNK_BYTES);
        // The queued chunks go with the stream, handing their buffers back; the reader's
        // next send finds the queue closed.
        drop(received);
        drop(first);
        reader_stopped
            .recv_timeout(STUCK)
            .expect("the reader stops once the stream is dropped");
    }

    #[test]
    fn a_read_error_is_passed_on_and_ends_the_chunks() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk gone"))
            }
        }
        let (chunks, mut received) = tokio::sync::mpsc::channel(BUFFERS);
        let (give_back, free) = sync_channel(BUFFERS);
        give_back.send(Vec::new()).unwrap();
        give_back.send(Vec::new()).unwrap();
        read_ahead(Failing, &free, &give_back, &chunks);
        drop(chunks);
        let error = received.try_recv().unwrap().unwrap_err();
        assert_eq!(error.to_string(), "disk gone");
        // Nothing after it, though a buffer was free.
        assert!(received.try_recv().is_err());
    }
}
