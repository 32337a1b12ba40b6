//! Logs on stderr: warnings by default, more with `-v`, errors only with `-q`.
//!
//! One line per event: the time since start, the level, the spans it happened in with their
//! fields, its message and its fields, as in
//! `  0.412s DEBUG soniox.request{method=POST path="/v1/files" attempt=2}: retrying`.
//!
//! The subscriber is this module's own rather than `tracing-subscriber`'s: a command logs a few
//! lines at most, and every command paid for that crate's registry and formatter at start-up
//! whether it logged or not (a 1 GiB `transcribe --no-wait` peaked 50-320 KiB higher with it:
//! code and data mapped for nothing). Filtering is decided once per call site, from its level and
//! target, so a disabled event costs a load and a compare, as with no subscriber at all.

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt::{self, Write as _},
    io::{IsTerminal as _, Write as _},
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use tracing::{
    Event, Id, Level, Metadata, Subscriber,
    field::{Field, Visit},
    level_filters::LevelFilter,
    span::{Attributes, Record},
    subscriber::Interest,
};
use tracing_core::span::Current;

/// Installs the logger. `extra` raises the level of some targets (a receiver's rejections,
/// which `soniox-webhook` logs at debug level) unless `quiet`.
pub(crate) fn init(level: Level, quiet: bool, extra: &[(&'static str, Level)]) {
    let targets = if quiet {
        Vec::new()
    } else {
        extra
            .iter()
            .map(|&(target, target_level)| (target, target_level.max(level)))
            .collect()
    };
    let logger = Logger::new(
        Filter {
            default: level,
            targets,
        },
        std::io::stderr().is_terminal(),
        // One write a line, so that lines from several threads do not interleave.
        Box::new(|line| {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }),
    );
    // Fails only when a subscriber is already set, which only a test harness would do.
    let _ = tracing::subscriber::set_global_default(logger);
}

/// Which levels are shown, by target.
#[derive(Debug)]
struct Filter {
    /// The most verbose level shown of targets not listed.
    default: Level,
    /// Targets (a module path and everything under it) with a level of their own.
    targets: Vec<(&'static str, Level)>,
}

impl Filter {
    /// The most verbose level shown for `target`: that of the longest listed target it is in.
    fn level_for(&self, target: &str) -> Level {
        self.targets
            .iter()
            .filter(|(listed, _)| {
                target
                    .strip_prefix(listed)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            })
            .max_by_key(|(listed, _)| listed.len())
            .map_or(self.default, |&(_, level)| level)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // More verbose levels compare greater.
        *metadata.level() <= self.level_for(metadata.target())
    }

    /// The most verbose level any target shows.
    fn max_level(&self) -> Level {
        self.targets
            .iter()
            .map(|&(_, level)| level)
            .fold(self.default, Level::max)
    }
}

/// Writes each enabled event as one line.
struct Logger {
    filter: Filter,
    /// Whether levels are coloured (stderr is a terminal).
    ansi: bool,
    started: Instant,
    next_id: AtomicU64,
    /// The spans alive, by id.
    spans: Mutex<HashMap<u64, SpanEntry>>,
    /// Where each line goes, with its newline.
    sink: Box<dyn Fn(&str) + Send + Sync>,
}

/// A span's fields as text, its parent, and how many handles to it (its own, and its
/// children's, which keep their parent alive) are alive.
#[derive(Debug)]
struct SpanEntry {
    metadata: &'static Metadata<'static>,
    fields: String,
    parent: Option<u64>,
    handles: usize,
}

thread_local! {
    /// The spans this thread is in, innermost last.
    static CURRENT: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The span this thread is in, if any. None while the thread's locals are being torn down,
/// when a future dropped then may still enter its span.
fn current_id() -> Option<u64> {
    CURRENT
        .try_with(|current| current.borrow().last().copied())
        .ok()
        .flatten()
}

impl Logger {
    fn new(filter: Filter, ansi: bool, sink: Box<dyn Fn(&str) + Send + Sync>) -> Self {
        Self {
            filter,
            ansi,
            started: Instant::now(),
            next_id: AtomicU64::new(1),
            spans: Mutex::new(HashMap::new()),
            sink,
        }
    }

    fn spans(&self) -> std::sync::MutexGuard<'_, HashMap<u64, SpanEntry>> {
        // A panic while the map was held leaves it usable: each entry is whole.
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The span a new span or an event belongs to: none for a root, the given one for an
    /// explicit parent, else the one this thread is in.
    fn parent_of(is_root: bool, is_contextual: bool, explicit: Option<&Id>) -> Option<u64> {
        if is_root {
            None
        } else if is_contextual {
            current_id()
        } else {
            explicit.map(Id::into_u64)
        }
    }

    /// The line for `event`.
    fn line(&self, event: &Event<'_>) -> String {
        let mut line = String::with_capacity(128);
        let elapsed = self.started.elapsed().as_secs_f64();
        let level = *event.metadata().level();
        let _ = write!(line, "{elapsed:7.3}s ");
        if self.ansi {
            let _ = write!(line, "\x1b[{}m{level:>5}\x1b[0m ", colour(level));
        } else {
            let _ = write!(line, "{level:>5} ");
        }
        if let Some(leaf) = Self::parent_of(event.is_root(), event.is_contextual(), event.parent())
        {
            let spans = self.spans();
            // From the leaf up, then written from the root down.
            let scope: Vec<&SpanEntry> = std::iter::successors(spans.get(&leaf), |entry| {
                entry.parent.and_then(|id| spans.get(&id))
            })
            .collect();
            for entry in scope.iter().rev() {
                line.push_str(entry.metadata.name());
                if !entry.fields.is_empty() {
                    let _ = write!(line, "{{{}}}", entry.fields);
                }
                line.push_str(": ");
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        line.push_str(&fields.joined());
        line.push('\n');
        line
    }
}

/// The ANSI colour of `level`'s name.
fn colour(level: Level) -> u8 {
    match level {
        Level::ERROR => 31,
        Level::WARN => 33,
        Level::INFO => 32,
        Level::DEBUG => 34,
        Level::TRACE => 35,
    }
}

impl Subscriber for Logger {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.filter.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.filter.max_level()))
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut spans = self.spans();
        let parent =
            Self::parent_of(span.is_root(), span.is_contextual(), span.parent()).filter(|parent| {
                match spans.get_mut(parent) {
                    // A child keeps its parent alive, to show it in its events.
                    Some(entry) => {
                        entry.handles += 1;
                        true
                    }
                    None => false,
                }
            });
        spans.insert(
            id,
            SpanEntry {
                metadata: span.metadata(),
                fields: fields.joined(),
                parent,
                handles: 1,
            },
        );
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(entry) = self.spans().get_mut(&span.into_u64()) {
            let added = fields.joined();
            if !entry.fields.is_empty() && !added.is_empty() {
                entry.fields.push(' ');
            }
            entry.fields.push_str(&added);
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        (self.sink)(&self.line(event));
    }

    fn enter(&self, span: &Id) {
        let _ = CURRENT.try_with(|current| current.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        let id = span.into_u64();
        let _ = CURRENT.try_with(|current| {
            let mut current = current.borrow_mut();
            if let Some(at) = current.iter().rposition(|&entered| entered == id) {
                current.remove(at);
            }
        });
    }

    fn current_span(&self) -> Current {
        current_id()
            .and_then(|id| {
                let spans = self.spans();
                let metadata = spans.get(&id)?.metadata;
                Some(Current::new(Id::from_u64(id), metadata))
            })
            .unwrap_or_else(Current::none)
    }

    fn clone_span(&self, span: &Id) -> Id {
        if let Some(entry) = self.spans().get_mut(&span.into_u64()) {
            entry.handles += 1;
        }
        span.clone()
    }

    fn try_close(&self, span: Id) -> bool {
        let mut spans = self.spans();
        let closing = span.into_u64();
        // The span, then each parent it held the last handle of.
        let mut next = Some(closing);
        let mut closed = false;
        while let Some(id) = next.take() {
            let Some(entry) = spans.get_mut(&id) else {
                break;
            };
            entry.handles -= 1;
            if entry.handles > 0 {
                break;
            }
            next = entry.parent;
            spans.remove(&id);
            closed |= id == closing;
        }
        closed
    }
}

/// An event's or a span's fields as text: the message apart, the others as `name=value`.
#[derive(Debug, Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Fields {
    /// All of them, the message first.
    fn joined(self) -> String {
        match (self.message.is_empty(), self.rest.is_empty()) {
            (true, _) => self.rest,
            (false, true) => self.message,
            (false, false) => format!("{} {}", self.message, self.rest),
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = if field.name() == "message" {
            &mut self.message
        } else {
            if !self.rest.is_empty() {
                self.rest.push(' ');
            }
            let _ = write!(self.rest, "{}=", field.name());
            &mut self.rest
        };
        let _ = write!(Escaped(text), "{value:?}");
    }
}

/// Writes text with its control characters escaped (`\n`, `\u{1b}`), so that a value from
/// the network (an error's message, a rejected body's field) cannot move the cursor, recolour
/// or rewrite the terminal, or pass for a line of its own.
struct Escaped<'a>(&'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for character in text.chars() {
            if character.is_control() {
                let _ = write!(self.0, "{}", character.escape_default());
            } else {
                self.0.push(character);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tracing::dispatcher::{self, Dispatch};

    use super::*;

    fn filter(default: Level, targets: &[(&'static str, Level)]) -> Filter {
        Filter {
            default,
            targets: targets.to_vec(),
        }
    }

    #[test]
    fn a_target_takes_the_level_of_the_longest_listed_target_it_is_in() {
        let filter = filter(
            Level::WARN,
            &[
                ("soniox_webhook", Level::INFO),
                ("soniox_webhook::service", Level::DEBUG),
            ],
        );
        assert_eq!(filter.level_for("soniox_webhook::service"), Level::DEBUG);
        assert_eq!(
            filter.level_for("soniox_webhook::service::inner"),
            Level::DEBUG
        );
        assert_eq!(filter.level_for("soniox_webhook::verify"), Level::INFO);
        // A name that merely starts the same is another target.
        assert_eq!(filter.level_for("soniox_webhooks"), Level::WARN);
        assert_eq!(filter.level_for("hyper"), Level::WARN);
        assert_eq!(filter.max_level(), Level::DEBUG);
    }

    /// Runs `work` under a logger with `filter`, and returns the lines it writes.
    fn lines_of(filter: Filter, work: impl FnOnce()) -> Vec<String> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&lines);
        let logger = Logger::new(
            filter,
            false,
            Box::new(move |line| collected.lock().unwrap().push(line.to_owned())),
        );
        dispatcher::with_default(&Dispatch::new(logger), work);
        let lines = lines.lock().unwrap().clone();
        lines
            .into_iter()
            // The time since start varies; the rest is what is checked.
            .map(|line: String| line.split_once("s ").unwrap().1.to_owned())
            .collect()
    }

    #[test]
    fn an_event_shows_its_level_spans_message_and_fields() {
        let lines = lines_of(filter(Level::DEBUG, &[]), || {
            let span = tracing::info_span!(
                "soniox.request",
                method = "POST",
                attempt = tracing::field::Empty
            );
            span.record("attempt", 2);
            span.in_scope(|| tracing::debug!(status = 503, "retrying in {}s", 1));
            tracing::warn!(id = %"abc", "outside");
            tracing::trace!("too verbose");
        });
        assert_eq!(
            lines,
            [
                "DEBUG soniox.request{method=\"POST\" attempt=2}: retrying in 1s status=503\n",
                " WARN outside id=abc\n",
            ]
        );
    }

    #[test]
    fn fields_recorded_through_the_current_span_show() {
        let lines = lines_of(filter(Level::DEBUG, &[]), || {
            let span = tracing::info_span!("soniox.request", attempt = tracing::field::Empty);
            span.in_scope(|| {
                tracing::Span::current().record("attempt", 3);
                tracing::debug!("sent");
            });
        });
        assert_eq!(lines, ["DEBUG soniox.request{attempt=3}: sent\n"]);
    }

    #[test]
    fn an_event_shows_the_spans_it_belongs_to_from_the_root() {
        let lines = lines_of(filter(Level::DEBUG, &[]), || {
            let outer = tracing::info_span!("outer", n = 1);
            let inner = outer.in_scope(|| tracing::info_span!("inner"));
            // The parent's own handle gone, the child keeps it.
            drop(outer);
            // Entered on another thread, where the parent was never entered.
            let logger = dispatcher::get_default(Dispatch::clone);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    dispatcher::with_default(&logger, || {
                        inner.in_scope(|| tracing::debug!("deep"));
                    });
                });
            });
            // An explicit parent, outside any span; and a root event inside one.
            tracing::debug!(parent: &inner, "explicit");
            inner.in_scope(|| tracing::debug!(parent: None, "root"));
        });
        assert_eq!(
            lines,
            [
                "DEBUG outer{n=1}: inner: deep\n",
                "DEBUG outer{n=1}: inner: explicit\n",
                "DEBUG root\n",
            ]
        );
    }

    #[test]
    fn control_characters_in_values_are_escaped() {
        let lines = lines_of(filter(Level::WARN, &[]), || {
            let sent = "\x1b[2J\nERROR forged";
            tracing::warn!(reason = %sent, "refused: {sent}");
        });
        assert_eq!(
            lines,
            [" WARN refused: \\u{1b}[2J\\nERROR forged reason=\\u{1b}[2J\\nERROR forged\n"]
        );
    }

    #[test]
    fn a_closed_span_is_forgotten() {
        let logger = Logger::new(filter(Level::INFO, &[]), false, Box::new(|_| {}));
        let dispatch = Dispatch::new(logger);
        dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("outer");
            let copy = span.clone();
            let child = span.in_scope(|| tracing::info_span!("child"));
            drop(span);
            drop(copy);
            assert_eq!(
                dispatch.downcast_ref::<Logger>().unwrap().spans().len(),
                2,
                "the child keeps its parent"
            );
            drop(child);
        });
        assert!(
            dispatch
                .downcast_ref::<Logger>()
                .unwrap()
                .spans()
                .is_empty()
        );
    }
}
