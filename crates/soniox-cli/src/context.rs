//! The global options turned into what commands use: a client (for the API, a given base URL,
//! or a fresh embedded emulator), the output, and the interrupt.

use std::time::Duration;

use clap::Args;
use soniox_client::{API_KEY_ENV, BASE_URL_ENV, Client};
use soniox_emulator::{Emulator, JobClock};
use soniox_types::Secret;

use crate::{failure::Failure, interrupt::Interrupt, output::Output};

/// The key sent to an embedded emulator, which accepts any non-empty key.
const EMULATOR_KEY: &str = "soniox-cli-emulator";

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// Your Soniox API key.
    #[arg(long, global = true, env = API_KEY_ENV, hide_env_values = true, value_name = "KEY")]
    api_key: Option<Secret>,

    /// The API's base URL, for a proxy or an emulator running elsewhere.
    #[arg(long, global = true, env = BASE_URL_ENV, value_name = "URL")]
    base_url: Option<String>,

    /// Allow a plain-http base URL (or a webhook secret over plain http) to another machine,
    /// which sends the key (or the secret) in cleartext; loopback is always allowed.
    #[arg(long, global = true)]
    allow_insecure_http: bool,

    /// Run this command against a fresh embedded emulator (no key, no network needed); it
    /// stops when the command ends.
    #[arg(long, global = true)]
    emulator: bool,

    /// Print results as JSON, one object per line.
    #[arg(long, global = true)]
    json: bool,

    /// Print no progress and no notes on stderr; errors are still printed.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// Log more on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

impl GlobalArgs {
    /// The level of the logs on stderr.
    pub(crate) fn log_level(&self) -> tracing::Level {
        match (self.quiet, self.verbose) {
            (true, _) => tracing::Level::ERROR,
            (false, 0) => tracing::Level::WARN,
            (false, 1) => tracing::Level::INFO,
            (false, 2) => tracing::Level::DEBUG,
            (false, _) => tracing::Level::TRACE,
        }
    }

    /// Whether `--emulator` was given.
    pub(crate) fn emulator(&self) -> bool {
        self.emulator
    }

    /// Whether `--quiet` was given.
    pub(crate) fn quiet(&self) -> bool {
        self.quiet
    }

    pub(crate) fn output(&self) -> Output {
        Output::new(self.json, self.quiet)
    }
}

/// What a command runs with.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) output: Output,
    pub(crate) interrupt: Interrupt,
    api_key: Option<Secret>,
    base_url: Option<String>,
    allow_insecure_http: bool,
    use_emulator: bool,
    emulator: Option<Emulator>,
}

impl Context {
    pub(crate) fn new(global: GlobalArgs, interrupt: Interrupt) -> Self {
        Self {
            output: global.output(),
            interrupt,
            api_key: global
                .api_key
                .filter(|key| !key.expose_secret().trim().is_empty()),
            base_url: global.base_url.filter(|url| !url.trim().is_empty()),
            allow_insecure_http: global.allow_insecure_http,
            use_emulator: global.emulator,
            emulator: None,
        }
    }

    /// A client for the API the options name; starts the embedded emulator on first use.
    ///
    /// # Errors
    /// A usage failure without an API key; the emulator failing to start.
    pub(crate) async fn client(&mut self) -> Result<Client, Failure> {
        let (base_url, api_key) = if self.use_emulator {
            let emulator = match self.emulator.take() {
                Some(emulator) => emulator,
                None => Emulator::builder()
                    .job_clock(JobClock::Realistic)
                    .start()
                    .await
                    .map_err(|error| {
                        Failure::other(format!("cannot start the embedded emulator: {error}"))
                    })?,
            };
            let base_url = emulator.base_url().to_owned();
            self.emulator = Some(emulator);
            (Some(base_url), Secret::new(EMULATOR_KEY))
        } else {
            let key = self.api_key.clone().ok_or_else(|| {
                Failure::usage(format!(
                    "no API key: pass --api-key or set {API_KEY_ENV} (or use --emulator)"
                ))
            })?;
            (self.base_url.clone(), key)
        };
        let mut builder = Client::builder()
            .api_key(api_key)
            .allow_insecure_http(self.allow_insecure_http);
        if let Some(url) = base_url {
            builder = builder.base_url(url);
        }
        Ok(builder.build()?)
    }

    /// Whether `--allow-insecure-http` was given.
    pub(crate) fn allow_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }

    /// The first polling interval of waits: short against an embedded emulator, whose jobs
    /// take a fraction of a second.
    pub(crate) fn default_poll_interval(&self) -> Duration {
        if self.use_emulator {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        }
    }

    /// Stops the embedded emulator, if one was started.
    pub(crate) async fn finish(self) {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }
}
