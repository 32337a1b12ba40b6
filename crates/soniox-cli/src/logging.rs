//! Logs on stderr: warnings by default, more with `-v`, errors only with `-q`.

use std::io::IsTerminal as _;

use tracing::Level;
use tracing_subscriber::{
    Layer as _, filter::Targets, layer::SubscriberExt as _, util::SubscriberInitExt as _,
};

/// Installs the logger. `extra` raises the level of some targets (a receiver's rejections,
/// which `soniox-webhook` logs at debug level) unless `quiet`.
pub(crate) fn init(level: Level, quiet: bool, extra: &[(&str, Level)]) {
    let mut targets = Targets::new().with_default(level);
    if !quiet {
        for (target, target_level) in extra {
            targets = targets.with_target(*target, (*target_level).max(level));
        }
    }
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(targets);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
