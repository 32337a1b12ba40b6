//! Lines on stdout from many tasks at once, written together (group commit).
//!
//! `webhook listen` answers a delivery only once its line is written, so a line lost to a
//! crash is a delivery Soniox sends again. A write per line cost more than the rest of
//! handling a delivery (the `cli` bench). Here the writer is a task of its own: the lines
//! queued by the tasks that ran before its turn go out in one write, and each task learns when
//! its own line is out.

use std::io::{self, Write};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::{failure::Failure, output::json_bytes};

/// The most lines one write takes, which caps its buffer. Under load a write takes the lines
/// queued since the last one, far fewer.
const MAX_LINES_PER_WRITE: usize = 1024;

/// The buffer a write leaves allocated: a batch of `--fetch` lines, which carry whole
/// transcripts, does not keep its size for good.
const KEPT_BUFFER: usize = 64 * 1024;

/// A line and where to say whether it was written.
type Queued = (Vec<u8>, oneshot::Sender<Result<(), Failure>>);

/// The handle on the writer, which ends when the handle is dropped.
#[derive(Debug)]
pub(crate) struct GroupedLines {
    queue: mpsc::UnboundedSender<Queued>,
    reader_gone: watch::Receiver<bool>,
}

impl GroupedLines {
    /// Starts a writer to stdout, a task of the current runtime.
    pub(crate) fn stdout() -> Self {
        Self::start(io::stdout())
    }

    /// Starts a writer to `sink`; the blocking writes run on the runtime's thread, as any
    /// print to stdout does.
    fn start(sink: impl Write + Send + 'static) -> Self {
        // Unbounded: each queued line was queued by a handler, which waits for it unless it
        // was cancelled, so the queue holds about one line per delivery being handled.
        let (queue, lines) = mpsc::unbounded_channel();
        let (gone, reader_gone) = watch::channel(false);
        tokio::spawn(write_batches(sink, lines, gone));
        Self { queue, reader_gone }
    }

    /// Prints `value` as one compact JSON line; returns once the line is written, or why it
    /// was not.
    pub(crate) async fn json_line(&self, value: &impl Serialize) -> Result<(), Failure> {
        let line = json_bytes(value)?;
        let (written, outcome) = oneshot::channel();
        self.queue.send((line, written)).map_err(|_| stopped())?;
        outcome.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Completes once a write found stdout's reader gone: no line can be printed again.
    pub(crate) async fn reader_gone(&self) {
        let mut gone = self.reader_gone.clone();
        // Fails only once the writer has ended, and then no line is printed either.
        let _ = gone.wait_for(|gone| *gone).await;
    }
}

fn stopped() -> Failure {
    Failure::other("cannot print the delivery: the stdout writer stopped")
}

async fn write_batches(
    mut sink: impl Write,
    mut lines: mpsc::UnboundedReceiver<Queued>,
    reader_gone: watch::Sender<bool>,
) {
    let mut batch = Vec::new();
    let mut bytes = Vec::new();
    // Whether a failed write ended inside a line: the next write starts a new line, so that
    // the lines after it are whole.
    let mut broken_line = false;
    while lines.recv_many(&mut batch, MAX_LINES_PER_WRITE).await != 0 {
        // The line of a handling cancelled meanwhile (its deadline, a drain) is not printed:
        // its delivery was not acknowledged, and the next one prints it.
        batch.retain(|(_, waiter)| !waiter.is_closed());
        if batch.is_empty() {
            continue;
        }
        bytes.clear();
        if broken_line {
            bytes.push(b'\n');
        }
        for (line, _) in &batch {
            bytes.extend_from_slice(line);
        }
        let written = write_whole(&mut sink, &bytes);
        broken_line = match &written {
            Ok(()) => false,
            // Nothing taken: the line is as broken as it was.
            Err((0, _)) => broken_line,
            Err((taken, _)) => bytes.get(taken - 1) != Some(&b'\n'),
        };
        if let Err((_, error)) = &written
            && error.kind() == io::ErrorKind::BrokenPipe
        {
            reader_gone.send_replace(true);
        }
        // A failed write may have printed some of the lines: every one of them is reported
        // failed, so its delivery is answered 500 and sent again, and printed twice at worst.
        for (_, waiter) in batch.drain(..) {
            // A waiter that gave up (its handling was cancelled) needs no answer.
            let _ = waiter.send(
                written
                    .as_ref()
                    .map_err(|(_, error)| not_printed(error))
                    .copied(),
            );
        }
        bytes.shrink_to(KEPT_BUFFER);
    }
}

/// Why a delivery's line was not printed, for the handler's log line.
fn not_printed(error: &io::Error) -> Failure {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Failure::other("cannot print the delivery: stdout's reader is gone")
    } else {
        Failure::io("cannot print the delivery: stdout", error)
    }
}

/// Writes all of `bytes` and flushes; on failure, also says how many bytes `sink` took.
fn write_whole(sink: &mut impl Write, bytes: &[u8]) -> Result<(), (usize, io::Error)> {
    let mut taken = 0;
    while taken < bytes.len() {
        match sink.write(&bytes[taken..]) {
            Ok(0) => return Err((taken, io::ErrorKind::WriteZero.into())),
            Ok(count) => taken += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err((taken, error)),
        }
    }
    sink.flush().map_err(|error| (taken, error))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures_util::{FutureExt as _, future::join_all};

    use super::*;

    /// Records each write; the first `failures` writes take `taken` bytes (none when 0) and
    /// then fail with `error`.
    #[derive(Clone)]
    struct Writes {
        seen: Arc<Mutex<Vec<Vec<u8>>>>,
        failures: Arc<Mutex<usize>>,
        taken: usize,
        error: io::ErrorKind,
    }

    impl Writes {
        fn failing(failures: usize, taken: usize, error: io::ErrorKind) -> Self {
            Self {
                seen: Arc::default(),
                failures: Arc::new(Mutex::new(failures)),
                taken,
                error,
            }
        }

        fn ok() -> Self {
            Self::failing(0, 0, io::ErrorKind::Other)
        }

        fn seen(&self) -> Vec<Vec<u8>> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut failures = self.failures.lock().unwrap();
            let mut seen = self.seen.lock().unwrap();
            if *failures == 0 {
                seen.push(bytes.to_vec());
                return Ok(bytes.len());
            }
            // A failing write that took some bytes reports them, as `write` does; the next
            // call then fails.
            let taken = std::mem::take(&mut self.taken);
            if taken > 0 && bytes.len() > taken {
                seen.push(bytes[..taken].to_vec());
                return Ok(taken);
            }
            *failures -= 1;
            Err(self.error.into())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Prints `count` lines from futures all queued before the writer's turn (the test runtime
    /// has one thread, and `join_all` polls every future before it waits).
    async fn print_together(
        lines: &GroupedLines,
        first: usize,
        count: usize,
    ) -> Vec<Result<(), Failure>> {
        let values: Vec<_> = (first..first + count)
            .map(|n| serde_json::json!({ "n": n }))
            .collect();
        join_all(values.iter().map(|value| lines.json_line(value))).await
    }

    fn numbered(range: std::ops::Range<usize>) -> Vec<u8> {
        range
            .map(|n| format!("{{\"n\":{n}}}\n"))
            .collect::<String>()
            .into_bytes()
    }

    #[tokio::test]
    async fn lines_queued_together_go_out_in_one_write_in_order() {
        let writes = Writes::ok();
        let lines = GroupedLines::start(writes.clone());
        let results = print_together(&lines, 0, 5).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(writes.seen(), [numbered(0..5)]);
        // A line queued later gets a write of its own.
        lines
            .json_line(&serde_json::json!({ "n": 5 }))
            .await
            .unwrap();
        assert_eq!(writes.seen(), [numbered(0..5), numbered(5..6)]);
    }

    #[tokio::test]
    async fn a_failed_write_fails_every_line_in_it_and_the_next_write_goes_on() {
        let writes = Writes::failing(1, 0, io::ErrorKind::StorageFull);
        let lines = GroupedLines::start(writes.clone());
        for result in print_together(&lines, 0, 3).await {
            let failure = result.unwrap_err();
            assert!(
                failure.line().contains("cannot print the delivery: stdout"),
                "{}",
                failure.line()
            );
        }
        assert!(writes.seen().is_empty());
        assert!(print_together(&lines, 3, 2).await.iter().all(Result::is_ok));
        assert_eq!(writes.seen(), [numbered(3..5)]);
        assert!(
            lines.reader_gone().now_or_never().is_none(),
            "only a broken pipe means the reader is gone"
        );
    }

    #[tokio::test]
    async fn a_write_that_failed_inside_a_line_is_followed_by_a_new_line() {
        // The first write takes 10 bytes, then fails; the second fails taking nothing.
        let writes = Writes::failing(2, 10, io::ErrorKind::StorageFull);
        let lines = GroupedLines::start(writes.clone());
        assert!(
            print_together(&lines, 0, 2)
                .await
                .iter()
                .all(Result::is_err)
        );
        assert!(
            lines
                .json_line(&serde_json::json!({ "n": 2 }))
                .await
                .is_err()
        );
        lines
            .json_line(&serde_json::json!({ "n": 3 }))
            .await
            .unwrap();
        let printed = writes.seen().concat();
        assert_eq!(
            printed,
            [&numbered(0..2)[..10], b"\n", &numbered(3..4)].concat()
        );
    }

    #[tokio::test]
    async fn a_broken_pipe_says_the_reader_is_gone() {
        let lines = GroupedLines::start(Writes::failing(usize::MAX, 0, io::ErrorKind::BrokenPipe));
        let failure = lines.json_line(&"lost").await.unwrap_err();
        assert_eq!(
            failure.line(),
            "error: cannot print the delivery: stdout's reader is gone"
        );
        assert!(lines.reader_gone().now_or_never().is_some());
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_hold_back_the_others() {
        let writes = Writes::ok();
        let lines = GroupedLines::start(writes.clone());
        // Queued, then dropped before the writer's turn: not printed, as its delivery was not
        // acknowledged.
        assert!(lines.json_line(&"gone").now_or_never().is_none());
        lines.json_line(&"kept").await.unwrap();
        assert_eq!(writes.seen(), [b"\"kept\"\n"]);
    }
}
