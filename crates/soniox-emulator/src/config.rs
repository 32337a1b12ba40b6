//! What an emulator is started with: keys, quotas, the job clock, webhook delivery and the
//! audio URL policy.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use soniox_types::Secret;

use crate::faults::{FaultRule, WebhookFaultRule};

/// How many transcriptions and files the emulated account may hold, as the real API's quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quotas {
    /// Most transcriptions queued or processing at once (the API's default is 100).
    pub pending_transcriptions: usize,
    /// Most transcriptions held at once, whatever their status (the API's default is 2,000).
    pub total_transcriptions: usize,
    /// Most files held at once (the API's default is 1,000).
    pub files: usize,
}

impl Quotas {
    /// Quotas with the given limits.
    pub fn new(pending_transcriptions: usize, total_transcriptions: usize, files: usize) -> Self {
        Self {
            pending_transcriptions,
            total_transcriptions,
            files,
        }
    }

    /// No practical limit, for benchmarks and soak tests.
    pub fn unlimited() -> Self {
        Self::new(usize::MAX, usize::MAX, usize::MAX)
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Self::new(100, 2_000, 1_000)
    }
}

/// When jobs move from `queued` to `processing` to `completed` or `error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum JobClock {
    /// Processing takes a twentieth of the audio's duration, capped at three seconds, like a
    /// fast real service.
    #[default]
    Realistic,
    /// Each job spends exactly this long in `processing`; [`Duration::ZERO`] finishes jobs as
    /// fast as the machine allows.
    Fixed(Duration),
    /// Jobs move only when told to, through [`Emulator::advance_jobs`](crate::Emulator::advance_jobs)
    /// or `POST /_emulator/jobs/advance`: each step moves every unfinished job one status on.
    Manual,
}

impl JobClock {
    /// How long a job with `audio_duration_ms` of audio stays in `processing`; `None` when the
    /// clock is manual.
    pub(crate) fn processing_time(self, audio_duration_ms: u64) -> Option<Duration> {
        match self {
            Self::Realistic => {
                Some(Duration::from_millis(audio_duration_ms / 20).min(Duration::from_secs(3)))
            }
            Self::Fixed(delay) => Some(delay),
            Self::Manual => None,
        }
    }
}

/// Which hosts the emulator may reach: where `audio_url` jobs download from, and where
/// webhooks are delivered (each has its own policy).
///
/// The default allows loopback only, so a test suite can never reach out to the internet by
/// accident, and an emulator reachable from a network cannot be made to send requests (with a
/// header of the caller's choosing, reporting back the answer) to other hosts.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HostPolicy {
    /// `localhost`, `127.0.0.0/8` and `::1` only.
    #[default]
    LoopbackOnly,
    /// Loopback and these host names (compared case-insensitively, without the port).
    AllowHosts(Vec<String>),
    /// Any host.
    AllowAll,
}

impl HostPolicy {
    /// Whether `host` (as it appears in a URL, IPv6 in brackets) may be reached.
    pub(crate) fn allows(&self, host: &str) -> bool {
        match self {
            Self::AllowAll => true,
            Self::LoopbackOnly => is_loopback(host),
            Self::AllowHosts(hosts) => {
                is_loopback(host)
                    || hosts
                        .iter()
                        .any(|allowed| allowed.eq_ignore_ascii_case(host))
            }
        }
    }
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// How completion webhooks are delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// The wait before each attempt: the first entry before the first attempt, each later one
    /// after the previous attempt failed. Its length is the number of attempts.
    pub retry_schedule: Vec<Duration>,
    /// How long one attempt may take before it counts as failed.
    pub attempt_timeout: Duration,
    /// Most attempts in flight at once to one receiver (`host:port`); receivers never share
    /// a limit, so a slow one cannot hold up the others.
    pub concurrency: usize,
}

impl WebhookConfig {
    /// The default schedule: attempts after 0 s, 5 s, 30 s, 2 min and 5 min.
    pub fn default_retry_schedule() -> Vec<Duration> {
        [0, 5, 30, 120, 300]
            .into_iter()
            .map(Duration::from_secs)
            .collect()
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            retry_schedule: Self::default_retry_schedule(),
            attempt_timeout: Duration::from_secs(10),
            concurrency: 512,
        }
    }
}

/// Everything an emulator is started with. Build it through
/// [`Emulator::builder`](crate::Emulator::builder).
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) addr: SocketAddr,
    pub(crate) api_keys: Vec<Secret>,
    pub(crate) quotas: Quotas,
    pub(crate) job_clock: JobClock,
    pub(crate) webhooks: WebhookConfig,
    pub(crate) audio_urls: HostPolicy,
    pub(crate) webhook_urls: HostPolicy,
    pub(crate) audio_download_timeout: Duration,
    pub(crate) admin_hosts: HostPolicy,
    pub(crate) admin_token: Option<Secret>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) max_file_bytes: u64,
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) webhook_faults: Vec<WebhookFaultRule>,
    pub(crate) seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_keys: Vec::new(),
            quotas: Quotas::default(),
            job_clock: JobClock::default(),
            webhooks: WebhookConfig::default(),
            audio_urls: HostPolicy::default(),
            webhook_urls: HostPolicy::default(),
            audio_download_timeout: Duration::from_secs(60),
            admin_hosts: HostPolicy::default(),
            admin_token: None,
            data_dir: None,
            max_file_bytes: soniox_types::validation::limits::FILE_MAX_BYTES,
            header_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            faults: Vec::new(),
            webhook_faults: Vec::new(),
            seed: 0x50_4E_49_58,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(policy: &HostPolicy, host: &str, expect: bool) {
        assert_eq!(policy.allows(host), expect, "{policy:?} {host}");
    }

    #[test]
    fn host_policy() {
        let loopback = HostPolicy::LoopbackOnly;
        check(&loopback, "localhost", true);
        check(&loopback, "127.0.0.1", true);
        check(&loopback, "127.8.9.1", true);
        check(&loopback, "[::1]", true);
        check(&loopback, "example.com", false);
        check(&loopback, "10.0.0.1", false);
        let hosts = HostPolicy::AllowHosts(vec!["Media.Example.com".into()]);
        check(&hosts, "media.example.com", true);
        check(&hosts, "localhost", true);
        check(&hosts, "example.com", false);
        check(&HostPolicy::AllowAll, "example.com", true);
    }

    #[test]
    fn realistic_clock_is_capped() {
        let clock = JobClock::Realistic;
        assert_eq!(clock.processing_time(20_000), Some(Duration::from_secs(1)));
        assert_eq!(
            clock.processing_time(3_600_000),
            Some(Duration::from_secs(3))
        );
        assert_eq!(JobClock::Manual.processing_time(1), None);
    }
}
