//! `soniox-emulator`: a local Soniox Speech-to-Text API that runs jobs and delivers webhooks.
//!
//! Prints `listening on http://ADDR` as its first line on stdout, logs to stderr, and stops
//! cleanly on Ctrl-C or SIGTERM.

use std::{io::Write as _, process::ExitCode};

use clap::Parser;
use soniox_emulator::{options::EmulatorOptions, types::Secret};

/// A local, stateful Soniox Speech-to-Text API: same paths, errors and limits as
/// api.soniox.com; jobs really run and webhooks are really delivered.
#[derive(Debug, Parser)]
#[command(name = "soniox-emulator", version)]
struct Args {
    /// An accepted API key (repeat for several). Without any, every non-empty key is accepted.
    #[arg(
        long = "api-key",
        value_name = "KEY",
        env = "SONIOX_EMULATOR_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<Secret>,

    #[command(flatten)]
    options: EmulatorOptions,

    /// Log level on stderr: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_max_level(args.log_level)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: a redirected log is read by tools.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut builder = args.options.builder();
    for key in args
        .api_keys
        .into_iter()
        .filter(|key| !key.expose_secret().is_empty())
    {
        builder = builder.api_key(key);
    }
    let emulator = match builder.start().await {
        Ok(emulator) => emulator,
        Err(error) => {
            tracing::error!(%error, "could not start");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", emulator.base_url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!("could not write the listening line to stdout");
    }
    drop(stdout);
    wait_for_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the emulator");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn arguments_parse() {
        Args::command().debug_assert();
        let args = Args::try_parse_from([
            "soniox-emulator",
            "--api-key",
            "a",
            "--api-key",
            "b",
            "--webhook-retry-schedule",
            "0s,10ms",
            "--fault",
            r#"{"action":{"type":"drop_connection"}}"#,
        ])
        .expect("parses");
        assert_eq!(
            args.api_keys
                .iter()
                .map(Secret::expose_secret)
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            args.options.webhook_retry_schedule,
            [Duration::ZERO, Duration::from_millis(10)]
        );
        assert_eq!(args.options.faults.len(), 1);
    }
}
