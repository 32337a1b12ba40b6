//! `soniox emulator`: run the local Soniox API until Ctrl-C, with the options of the
//! `soniox-emulator` binary.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;
use soniox_emulator::{
    Emulator, EmulatorBuilder, FaultRule, HostPolicy, JobClock, Quotas, WebhookConfig,
    WebhookFaultRule,
};

use crate::{duration::parse_duration, failure::Failure, interrupt::Interrupt, output::Output};

/// The options of the `soniox-emulator` binary, flag for flag (that crate keeps its own
/// struct private to its `main.rs`).
#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port (printed on the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,

    /// An accepted API key (repeat for several). Without any, every non-empty key is accepted.
    #[arg(
        long = "accept-api-key",
        value_name = "KEY",
        env = "SONIOX_EMULATOR_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,

    /// Keep uploads in this directory instead of a temporary one removed on exit.
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

    /// Seed of the generator behind probabilistic faults.
    #[arg(long, default_value_t = 0x504E_4958)]
    seed: u64,
}

impl EmulatorArgs {
    fn builder(self) -> EmulatorBuilder {
        let policy = if self.allow_any_audio_url {
            HostPolicy::AllowAll
        } else if self.allow_audio_hosts.is_empty() {
            HostPolicy::LoopbackOnly
        } else {
            HostPolicy::AllowHosts(self.allow_audio_hosts)
        };
        let mut webhooks = WebhookConfig::default();
        webhooks.retry_schedule = self.webhook_retry_schedule;
        webhooks.attempt_timeout = self.webhook_timeout;
        webhooks.concurrency = self.webhook_concurrency;
        let mut builder = Emulator::builder()
            .addr(self.addr)
            .quotas(Quotas::new(
                self.max_pending,
                self.max_transcriptions,
                self.max_files,
            ))
            .job_clock(self.processing)
            .webhooks(webhooks)
            .audio_urls(policy)
            .seed(self.seed);
        for key in self.api_keys.into_iter().filter(|key| !key.is_empty()) {
            builder = builder.api_key(key);
        }
        if let Some(dir) = self.data_dir {
            builder = builder.data_dir(dir);
        }
        for rule in self.faults {
            builder = builder.fault(rule);
        }
        for rule in self.webhook_faults {
            builder = builder.webhook_fault(rule);
        }
        builder
    }
}

fn parse_clock(value: &str) -> Result<JobClock, String> {
    match value {
        "realistic" => Ok(JobClock::Realistic),
        "manual" => Ok(JobClock::Manual),
        other => parse_duration(other).map(JobClock::Fixed),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(value: &str) -> Result<T, String> {
    serde_json::from_str(value).map_err(|error| error.to_string())
}

/// Runs the emulator until interrupted; prints `listening on URL` first, like
/// `soniox-emulator`, so scripts can wait for it.
pub(crate) async fn run(
    args: EmulatorArgs,
    output: &Output,
    interrupt: &Interrupt,
) -> Result<(), Failure> {
    let emulator = args
        .builder()
        .start()
        .await
        .map_err(|error| Failure::other(format!("cannot start the emulator: {error}")))?;
    output.line(&format!("listening on {}", emulator.base_url()))?;
    interrupt.wait().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(parse_clock("manual"), Ok(JobClock::Manual));
        assert_eq!(parse_clock("realistic"), Ok(JobClock::Realistic));
        assert_eq!(parse_clock("0"), Ok(JobClock::Fixed(Duration::ZERO)));
        assert!(parse_clock("soon").is_err());
    }
}
