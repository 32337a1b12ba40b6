//! What commands print: results on stdout (plain lines, or one JSON object per line with
//! `--json`), notes on stderr unless `--quiet`.

use std::io::{self, Write as _};

use serde::Serialize;

use crate::failure::Failure;

/// Where a command's results and notes go.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Output {
    json: bool,
    quiet: bool,
}

impl Output {
    pub(crate) fn new(json: bool, quiet: bool) -> Self {
        Self { json, quiet }
    }

    /// Whether results are JSON lines.
    pub(crate) fn json(self) -> bool {
        self.json
    }

    /// Whether notes and progress are suppressed.
    pub(crate) fn quiet(self) -> bool {
        self.quiet
    }

    /// Prints `text` and a newline on stdout.
    pub(crate) fn line(self, text: &str) -> Result<(), Failure> {
        self.raw(format_args!("{text}\n"))
    }

    /// Prints `text` as it is on stdout.
    pub(crate) fn text(self, text: &str) -> Result<(), Failure> {
        self.raw(format_args!("{text}"))
    }

    /// Prints `value` as one compact JSON line on stdout.
    pub(crate) fn json_line(self, value: &impl Serialize) -> Result<(), Failure> {
        let line = json_bytes(value)?;
        // The whole line goes from the caller's buffer to stdout in one write, without a copy
        // into stdout's own buffer.
        self.write(|stdout| stdout.write_all(&line))
    }

    /// Prints `value` as a JSON line with `--json`, or `text` otherwise.
    pub(crate) fn record(
        self,
        value: &impl Serialize,
        text: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        if self.json {
            self.json_line(value)
        } else {
            self.line(&text())
        }
    }

    /// Prints a note on stderr (progress, what was cleaned up) unless quiet.
    pub(crate) fn note(self, text: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{text}");
        }
    }

    fn raw(self, text: std::fmt::Arguments<'_>) -> Result<(), Failure> {
        self.write(|stdout| stdout.write_fmt(text))
    }

    /// Runs `write` on the locked stdout, then flushes it.
    fn write(
        self,
        write: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
    ) -> Result<(), Failure> {
        let mut stdout = io::stdout().lock();
        write(&mut stdout)
            .and_then(|()| stdout.flush())
            .map_err(|error| {
                if error.kind() == io::ErrorKind::BrokenPipe {
                    Failure::reader_gone()
                } else {
                    Failure::io("stdout", &error)
                }
            })
    }
}

/// `value` as one compact JSON line, newline included.
pub(crate) fn json_bytes(value: &impl Serialize) -> Result<Vec<u8>, Failure> {
    let mut line = serde_json::to_vec(value)
        .map_err(|error| Failure::other(format!("cannot encode JSON: {error}")))?;
    line.push(b'\n');
    Ok(line)
}
