//! Lines on stdout from many tasks at once, written together (group commit).
//!
//! `webhook listen` answers a delivery only once its line is written, so a line lost to a
//! crash is a delivery Soniox sends again. A write per line cost more than the rest of
//! handling a delivery (the `cli` bench); here every line queued while the last write ran goes
//! out in the next one, and each task learns when its own line is out.

use std::io::{self, Write};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::{failure::Failure, output};

/// The most lines one write takes, which bounds its buffer. Under load a write takes the
/// lines that queued during the last one, far fewer.
const MOST_LINES: usize = 1024;

/// A line and where to say whether it was written.
type Queued = (Vec<u8>, oneshot::Sender<Result<(), Failure>>);

/// A handle on the writer; cheap to clone. The writer ends when the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct GroupedLines {
    queue: mpsc::UnboundedSender<Queued>,
}

impl GroupedLines {
    /// Starts a writer to stdout, a task of the current runtime.
    pub(crate) fn stdout() -> Self {
        Self::start(io::stdout())
    }

    /// Starts a writer to `sink`; the blocking writes run on the runtime's thread, as any
    /// print to stdout does.
    fn start(sink: impl Write + Send + 'static) -> Self {
        // Unbounded: each queued line has a task waiting on it, so the queue holds at most
        // one line per delivery being handled.
        let (queue, lines) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(sink, lines));
        Self { queue }
    }

    /// Prints `value` as one compact JSON line; returns once the line is written, or why it
    /// was not.
    pub(crate) async fn json_line(&self, value: &impl Serialize) -> Result<(), Failure> {
        let line = output::json_bytes(value)?;
        let (written, outcome) = oneshot::channel();
        self.queue.send((line, written)).map_err(|_| stopped())?;
        outcome.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> Failure {
    Failure::other("the stdout writer stopped")
}

async fn write_batches(mut sink: impl Write, mut lines: mpsc::UnboundedReceiver<Queued>) {
    let mut batch = Vec::new();
    let mut bytes = Vec::new();
    while lines.recv_many(&mut batch, MOST_LINES).await != 0 {
        bytes.clear();
        for (line, _) in &batch {
            bytes.extend_from_slice(line);
        }
        let written = sink.write_all(&bytes).and_then(|()| sink.flush());
        // A failed write may have written some of the lines; every one of them is reported
        // failed, so its delivery is answered 500 and sent again: printed twice at worst,
        // never lost.
        for (_, waiter) in batch.drain(..) {
            // A waiter that gave up (its handling was cancelled) needs no answer.
            let _ = waiter.send(written.as_ref().map_err(output::stdout_failure).copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures_util::FutureExt as _;

    use super::*;

    /// Keeps each write apart; fails every write with `fail` when set.
    #[derive(Clone, Default)]
    struct Writes {
        seen: Arc<Mutex<Vec<Vec<u8>>>>,
        fail: Option<io::ErrorKind>,
    }

    impl Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if let Some(kind) = self.fail {
                return Err(kind.into());
            }
            self.seen.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    async fn print_from_tasks(lines: &GroupedLines, count: usize) -> Vec<Result<(), Failure>> {
        let tasks: Vec<_> = (0..count)
            .map(|n| {
                let lines = lines.clone();
                tokio::spawn(async move { lines.json_line(&serde_json::json!({ "n": n })).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }

    #[tokio::test]
    async fn lines_queued_together_go_out_in_one_write_in_order() {
        let writes = Writes::default();
        let lines = GroupedLines::start(writes.clone());
        let results = print_from_tasks(&lines, 5).await;
        assert!(results.iter().all(Result::is_ok));
        let seen = writes.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let text = String::from_utf8(seen[0].clone()).unwrap();
        let expected: String = (0..5).map(|n| format!("{{\"n\":{n}}}\n")).collect();
        assert_eq!(text, expected);
        // A line queued later gets a write of its own, after the first.
        lines
            .json_line(&serde_json::json!({ "n": 5 }))
            .await
            .unwrap();
        assert_eq!(writes.seen.lock().unwrap()[1], b"{\"n\":5}\n");
    }

    #[tokio::test]
    async fn a_failed_write_fails_every_line_in_it() {
        let writes = Writes {
            fail: Some(io::ErrorKind::BrokenPipe),
            ..Writes::default()
        };
        let results = print_from_tasks(&GroupedLines::start(writes.clone()), 3).await;
        assert_eq!(results.len(), 3);
        assert!(
            results
                .iter()
                .all(|result| result.as_ref().is_err_and(Failure::is_silent))
        );

        let writes = Writes {
            fail: Some(io::ErrorKind::StorageFull),
            ..Writes::default()
        };
        let results = print_from_tasks(&GroupedLines::start(writes), 2).await;
        for result in results {
            let failure = result.unwrap_err();
            assert!(failure.line().contains("stdout"), "{}", failure.line());
        }
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_hold_back_the_others() {
        let writes = Writes::default();
        let lines = GroupedLines::start(writes.clone());
        // Queued, then dropped before the writer runs.
        assert!(lines.json_line(&"gone").now_or_never().is_none());
        lines.json_line(&"kept").await.unwrap();
        let seen = writes.seen.lock().unwrap().concat();
        assert_eq!(seen, b"\"gone\"\n\"kept\"\n");
    }
}
