//! The emulator's command-line options as a [`clap::Args`] struct, shared by the
//! `soniox-emulator` binary and `soniox emulator` of the `soniox` CLI so that the two offer
//! the same flags, spelled and defaulted the same way.
//!
//! Behind the `cli` feature (on by default), so a test suite using the library builds no clap.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;

use crate::{
    Emulator, EmulatorBuilder, FaultRule, HostPolicy, JobClock, Quotas, WebhookConfig,
    WebhookFaultRule, types::Secret,
};

/// Every option of the emulator but its API keys, which each binary names its own way (the
/// `soniox` CLI's global `--api-key` is the key it sends, not one the emulator accepts).
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct EmulatorOptions {
    /// Address to listen on; port 0 picks a free port (printed on the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,

    /// Keep uploads in this directory instead of a temporary one removed on exit. State is in
    /// memory only and lost on exit, so files a previous run left here are removed at start
    /// (only the emulator's own: UUID-named files); other files are left alone.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// How long jobs take: `realistic` (a twentieth of the audio, at most 3 s), `manual`
    /// (only `POST /_emulator/jobs/advance` moves them), or a fixed duration such as `0`,
    /// `250ms` or `2s`.
    #[arg(long, value_name = "CLOCK", default_value = "realistic", value_parser = parse_clock)]
    pub processing: JobClock,

    /// Waits before each webhook attempt, comma-separated; its length is the number of attempts.
    #[arg(long, value_name = "DURATIONS", default_value = "0s,5s,30s,2m,5m", value_delimiter = ',', value_parser = parse_duration)]
    pub webhook_retry_schedule: Vec<Duration>,

    /// How long one webhook attempt may take.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub webhook_timeout: Duration,

    /// Most webhook attempts in flight at once to one receiver (host:port).
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub webhook_concurrency: usize,

    /// A host that `audio_url` jobs may download from besides loopback (repeat for several).
    #[arg(long = "allow-audio-host", value_name = "HOST")]
    pub allow_audio_hosts: Vec<String>,

    /// Let `audio_url` jobs download from any host.
    #[arg(long, conflicts_with = "allow_audio_hosts")]
    pub allow_any_audio_url: bool,

    /// A host that webhooks may be delivered to besides loopback (repeat for several).
    #[arg(long = "allow-webhook-host", value_name = "HOST")]
    pub allow_webhook_hosts: Vec<String>,

    /// Let webhooks be delivered to any host.
    #[arg(long, conflicts_with = "allow_webhook_hosts")]
    pub allow_any_webhook_host: bool,

    /// A `Host` name the admin API answers besides loopback (repeat for several), such as the
    /// name other containers reach the emulator by.
    #[arg(long = "allow-admin-host", value_name = "HOST")]
    pub allow_admin_hosts: Vec<String>,

    /// A bearer token the admin API (/_emulator/) accepts besides the API keys.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SONIOX_EMULATOR_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<Secret>,

    /// Most transcriptions queued or processing at once.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_pending: usize,

    /// Most transcriptions held at once.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    pub max_transcriptions: usize,

    /// Most files held at once.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub max_files: usize,

    /// A REST fault as JSON (repeat for several), for example
    /// `{"path_prefix":"/v1/transcriptions","trigger":{"kind":"every_nth","n":3},"action":{"type":"error","status":503}}`.
    #[arg(long = "fault", value_name = "JSON", value_parser = parse_json::<FaultRule>)]
    pub faults: Vec<FaultRule>,

    /// A webhook fault as JSON (repeat for several), for example
    /// `{"trigger":{"kind":"probability","probability":0.5},"fault":{"type":"duplicate"}}`.
    #[arg(long = "webhook-fault", value_name = "JSON", value_parser = parse_json::<WebhookFaultRule>)]
    pub webhook_faults: Vec<WebhookFaultRule>,

    /// How long a client may take to send a request head (or, on a keep-alive connection, its
    /// next one) before the connection is closed.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Most connections served at once; beyond it a new connection replaces the keep-alive
    /// connection idle the longest, or waits in the listen backlog while none is idle.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,

    /// Seed of the generator behind probabilistic faults.
    #[arg(long, default_value_t = 0x504E_4958)]
    pub seed: u64,
}

impl EmulatorOptions {
    /// A builder configured from these options; add API keys (and anything else) to it, then
    /// [`start`](EmulatorBuilder::start) it.
    pub fn builder(self) -> EmulatorBuilder {
        let webhooks = WebhookConfig {
            retry_schedule: self.webhook_retry_schedule,
            attempt_timeout: self.webhook_timeout,
            concurrency: self.webhook_concurrency,
        };
        let mut builder = Emulator::builder()
            .addr(self.addr)
            .quotas(Quotas::new(
                self.max_pending,
                self.max_transcriptions,
                self.max_files,
            ))
            .job_clock(self.processing)
            .webhooks(webhooks)
            .audio_urls(host_policy(
                self.allow_any_audio_url,
                self.allow_audio_hosts,
            ))
            .webhook_urls(host_policy(
                self.allow_any_webhook_host,
                self.allow_webhook_hosts,
            ))
            .admin_hosts(host_policy(false, self.allow_admin_hosts))
            .header_read_timeout(self.header_timeout)
            .max_connections(self.max_connections)
            .seed(self.seed);
        if let Some(token) = self
            .admin_token
            .filter(|token| !token.expose_secret().is_empty())
        {
            builder = builder.admin_token(token);
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

/// Parses a duration as the emulator's options spell them: `0`, or a whole number with a unit
/// (`ms`, `s` or `m`), such as `250ms` or `2m`.
///
/// # Errors
///
/// A message naming the value when it has no unit, an unknown unit or no whole number.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
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
        assert!(parse_duration("99999999999999999999s").is_err());
        assert_eq!(parse_clock("manual"), Ok(JobClock::Manual));
        assert_eq!(parse_clock("realistic"), Ok(JobClock::Realistic));
        assert_eq!(parse_clock("0"), Ok(JobClock::Fixed(Duration::ZERO)));
        assert!(parse_clock("soon").is_err());
    }
}
