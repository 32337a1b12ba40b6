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
    let termination = termination();
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", emulator.base_url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!("could not write the listening line to stdout");
    }
    drop(stdout);
    termination.await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// Registers the Ctrl-C and SIGTERM handlers at once and returns the wait for the first of
/// them. Registered before the listening line is printed: a supervisor that sends SIGTERM as
/// soon as it reads the line must get a clean shutdown, not the default action's kill.
fn termination() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                (Ok(mut one), Err(error)) | (Err(error), Ok(mut one)) => {
                    tracing::warn!(%error, "cannot listen for both Ctrl-C and SIGTERM");
                    one.recv().await;
                }
                (Err(error), Err(_)) => {
                    tracing::warn!(%error, "cannot listen for Ctrl-C or SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
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
