//! `soniox emulator`: run the local Soniox API until Ctrl-C, with the options of the
//! `soniox-emulator` binary (the same struct, so the two cannot drift apart).

use clap::Args;
use soniox_emulator::{EmulatorBuilder, options::EmulatorOptions, types::Secret};

use crate::{failure::Failure, interrupt::Interrupt, output::Output};

/// Run a local Soniox API (the same as the `soniox-emulator` binary).
// Reads as `Command`'s doc in main.rs, which this replaces once the subcommand is built.
#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// An accepted API key (repeat for several). Without any, every non-empty key is accepted.
    /// (`--api-key` is the key this CLI sends, hence the other name.)
    #[arg(
        long = "accept-api-key",
        value_name = "KEY",
        env = "SONIOX_EMULATOR_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<Secret>,

    #[command(flatten)]
    options: EmulatorOptions,
}

impl EmulatorArgs {
    fn builder(self) -> EmulatorBuilder {
        let mut builder = self.options.builder();
        for key in self
            .api_keys
            .into_iter()
            .filter(|key| !key.expose_secret().is_empty())
        {
            builder = builder.api_key(key);
        }
        builder
    }
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
