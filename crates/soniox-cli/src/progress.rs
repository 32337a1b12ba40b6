//! Progress on stderr: a bar while uploading, a spinner while waiting. Drawn only when stderr
//! is a terminal and `--quiet` is off, so pipes and logs never see control codes.

use std::{io::IsTerminal as _, path::Path, sync::Arc, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use soniox_client::Upload;
use tokio::sync::watch;

use crate::output::Output;

/// Whether progress is drawn at all.
fn visible(output: Output) -> bool {
    !output.quiet() && std::io::stderr().is_terminal()
}

fn target(output: Output) -> ProgressDrawTarget {
    if visible(output) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// An upload of the file at `path`, with a bar of bytes sent, rate and ETA when one is drawn.
pub(crate) struct TrackedUpload {
    /// The upload to send.
    pub(crate) upload: Upload,
    /// The bar, to finish with [`clear`] when the upload ends.
    pub(crate) bar: Option<ProgressBar>,
    /// Whether its body has gone out whole.
    pub(crate) sent: SentWhole,
}

/// Whether every byte of the current attempt's file has been handed to the HTTP client.
/// From then on the server may store the file even if the request is dropped (what is left
/// of the request is a few lines, perhaps already in the socket); before it, a dropped
/// request stores nothing. A retry, which the client sends only when the server did not
/// store the file, starts over from not sent.
#[derive(Clone, Debug)]
pub(crate) struct SentWhole(Arc<watch::Sender<bool>>);

impl SentWhole {
    fn new() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }

    /// Whether the body has gone out whole.
    pub(crate) fn get(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the body is not whole (at once if it is not now): a retry began.
    pub(crate) async fn cut(&self) {
        // The sender lives in `self`: the wait cannot fail.
        let _ = self.0.subscribe().wait_for(|whole| !whole).await;
    }

    /// Records progress; whether the body has just become whole.
    fn set(&self, whole: bool) -> bool {
        self.0
            .send_if_modified(|was| std::mem::replace(was, whole) != whole)
            && whole
    }
}

/// Tracks an upload of the file at `path`. Without a bar to draw, no bar is made at all: even
/// a hidden `ProgressBar` parses a style template, code on 18 pages of the executable that an
/// upload to a pipe otherwise never runs (each page run keeps up to 64 KiB of the executable
/// resident; see the CLI bench).
pub(crate) fn upload_with_bar(output: Output, path: &Path) -> TrackedUpload {
    let bar = visible(output).then(|| bar_for(output, path));
    let sent = SentWhole::new();
    let (progress, whole) = (bar.clone(), sent.clone());
    let upload = Upload::path(path).on_progress(move |bytes, total| {
        if let Some(progress) = &progress {
            progress.set_length(total);
            progress.set_position(bytes);
        }
        if whole.set(bytes >= total) {
            tracing::info!(bytes, "upload sent whole; waiting for its answer");
        }
    });
    TrackedUpload { upload, bar, sent }
}

/// A bar for uploading the file at `path`.
fn bar_for(output: Output, path: &Path) -> ProgressBar {
    // The size as far as is known now; the upload reports the real one (or the error).
    let size = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    let bar = ProgressBar::with_draw_target(Some(size), target(output));
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    bar.set_prefix(format!("uploading {name}"));
    bar
}

/// Clears `bar` from the terminal, if there is one.
pub(crate) fn clear(bar: Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// A spinner whose message is set to the job's status as it changes.
pub(crate) fn spinner(output: Output, message: String) -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, target(output));
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// A bar of inputs done out of `total`; its message says how many are in flight and failed.
pub(crate) fn count_bar(output: Output, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target(output));
    bar.set_style(
        ProgressStyle::with_template("[{wide_bar}] {pos}/{len} done, {msg}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}
