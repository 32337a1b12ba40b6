//! `soniox-emulator`: a local Soniox Speech-to-Text API that runs jobs and delivers webhooks.
//!
//! Prints `listening on http://ADDR` as its first line on stdout, logs to stderr, and stops
//! cleanly on Ctrl-C or SIGTERM.

use std::{io::Write as _, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use soniox_emulator::{
    Emulator, FaultRule, HostPolicy, JobClock, Quotas, WebhookConfig, WebhookFaultRule,
};

/// A local, stateful Soniox Speech-to-Text API: same paths, errors and limits as
/// api.soniox.com; jobs really run and webhooks are really delivered.
#[derive(Debug, Parser)]
#[command(name = "soniox-emulator", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,

    /// An accepted API key (repeat for several). Without any, every non-empty key is accepted.
    #[arg(
        long = "api-key",
        value_name = "KEY",
        env = "SONIOX_EMULATOR_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,

    /// Keep uploads in this directory instead of a temporary one removed on exit. State is in
    /// memory only and lost on exit, so files a previous run left here are removed at start
    /// (only the emulator's own: UUID-named files); other files are left alone.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// How long jobs take: `realistic` (a twentieth of the audio, at most 3 s), `manual`
    /// (only `POST /_emulator/jobs/advance` moves them), or a fixed duration such as `0`,
    /// `250ms` or `2s`.
    #[arg(long, value_name = "CLOCK", default_value = "realistic", value_parser = parse_clock)]
    processing: JobClock,

    /// Waits before each webhook attempt, comma-separated; its length is the number of attempts.
    #[arg(long, value_name = "DURATIONS", default_value = "0s,5s,30s,2m,5m", value_delimiter = ',', value_parser = parse_duration)]
    webhook_retry_schedule: Vec<Duration>,

    /// How long one webhook attempt may take.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    webhook_timeout: Duration,

    /// Most webhook attempts in flight at once to one receiver (host:port).
    #[arg(long, value_name = "N", default_value_t = 512)]
    webhook_concurrency: usize,

    /// A host that `audio_url` jobs may download from besides loopback (repeat for several).
    #[arg(long = "allow-audio-host", value_name = "HOST")]
    allow_audio_hosts: Vec<String>,

    /// Let `audio_url` jobs download from any host.
    #[arg(long, conflicts_with = "allow_audio_hosts")]
    allow_any_audio_url: bool,

    /// A host that webhooks may be delivered to besides loopback (repeat for several).
    #[arg(long = "allow-webhook-host", value_name = "HOST")]
    allow_webhook_hosts: Vec<String>,

    /// Let webhooks be delivered to any host.
    #[arg(long, conflicts_with = "allow_webhook_hosts")]
    allow_any_webhook_host: bool,

    /// A `Host` name the admin API answers besides loopback (repeat for several), such as the
    /// name other containers reach the emulator by.
    #[arg(long = "allow-admin-host", value_name = "HOST")]
    allow_admin_hosts: Vec<String>,

    /// A bearer token the admin API (/_emulator/) accepts besides the API keys.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SONIOX_EMULATOR_ADMIN_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,

    /// Most transcriptions queued or processing at once.
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_pending: usize,

    /// Most transcriptions held at once.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    max_transcriptions: usize,

    /// Most files held at once.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    max_files: usize,

    /// A REST fault as JSON (repeat for several), for example
    /// `{"path_prefix":"/v1/transcriptions","trigger":{"kind":"every_nth","n":3},"action":{"type":"error","status":503}}`.
    #[arg(long = "fault", value_name = "JSON", value_parser = parse_json::<FaultRule>)]
    faults: Vec<FaultRule>,

    /// A webhook fault as JSON (repeat for several), for example
    /// `{"trigger":{"kind":"probability","probability":0.5},"fault":{"type":"duplicate"}}`.
    #[arg(long = "webhook-fault", value_name = "JSON", value_parser = parse_json::<WebhookFaultRule>)]
    webhook_faults: Vec<WebhookFaultRule>,

    /// How long a client may take to send a request head (or, on a keep-alive connection, its
    /// next one) before the connection is closed.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    header_timeout: Duration,

    /// Most connections served at once; further ones wait in the listen backlog.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_connections: usize,

    /// Seed of the generator behind probabilistic faults.
    #[arg(long, default_value_t = 0x504E_4958)]
    seed: u64,

    /// Log level on stderr: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{value}` needs a unit: ms, s or m"))?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{value}` does not start with a whole number"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        _ => Err(format!("`{value}` has an unknown unit; use ms, s or m")),
    }
}

fn parse_clock(value: &str) -> Result<JobClock, String> {
    match value {
        "realistic" => Ok(JobClock::Realistic),
        "manual" => Ok(JobClock::Manual),
        other => parse_duration(other).map(JobClock::Fixed),
    }
}

fn host_policy(allow_any: bool, hosts: Vec<String>) -> HostPolicy {
    if allow_any {
        HostPolicy::AllowAll
    } else if hosts.is_empty() {
        HostPolicy::LoopbackOnly
    } else {
        HostPolicy::AllowHosts(hosts)
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(value: &str) -> Result<T, String> {
    serde_json::from_str(value).map_err(|error| error.to_string())
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
    let audio_urls = host_policy(args.allow_any_audio_url, args.allow_audio_hosts);
    let webhook_urls = host_policy(args.allow_any_webhook_host, args.allow_webhook_hosts);
    let mut webhooks = WebhookConfig::default();
    webhooks.retry_schedule = args.webhook_retry_schedule;
    webhooks.attempt_timeout = args.webhook_timeout;
    webhooks.concurrency = args.webhook_concurrency;
    let mut builder = Emulator::builder()
        .addr(args.addr)
        .quotas(Quotas::new(
            args.max_pending,
            args.max_transcriptions,
            args.max_files,
        ))
        .job_clock(args.processing)
        .webhooks(webhooks)
        .audio_urls(audio_urls)
        .webhook_urls(webhook_urls)
        .admin_hosts(host_policy(false, args.allow_admin_hosts))
        .header_read_timeout(args.header_timeout)
        .max_connections(args.max_connections)
        .seed(args.seed);
    for key in args.api_keys.into_iter().filter(|key| !key.is_empty()) {
        builder = builder.api_key(key);
    }
    if let Some(token) = args.admin_token.filter(|token| !token.is_empty()) {
        builder = builder.admin_token(token);
    }
    if let Some(dir) = args.data_dir {
        builder = builder.data_dir(dir);
    }
    for rule in args.faults {
        builder = builder.fault(rule);
    }
    for rule in args.webhook_faults {
        builder = builder.webhook_fault(rule);
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
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("ms").is_err());
        assert_eq!(parse_clock("manual"), Ok(JobClock::Manual));
        assert_eq!(parse_clock("0"), Ok(JobClock::Fixed(Duration::ZERO)));
    }

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
        assert_eq!(args.api_keys, ["a", "b"]);
        assert_eq!(
            args.webhook_retry_schedule,
            [Duration::ZERO, Duration::from_millis(10)]
        );
        assert_eq!(args.faults.len(), 1);
    }

    use clap::CommandFactory as _;
}
