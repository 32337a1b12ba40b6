//! Progress on stderr: a bar while uploading, a spinner while waiting. Drawn only when stderr
//! is a terminal and `--quiet` is off, so pipes and logs never see control codes.

use std::{io::IsTerminal as _, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// A bar of bytes sent, with rate and ETA, for an upload of `name`.
pub(crate) fn upload_bar(output: Output, name: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), target(output));
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("uploading {name}"));
    bar
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
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} done, {msg}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}
