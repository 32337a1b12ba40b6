//! `soniox`: the Soniox Speech-to-Text async API from the command line.
//!
//! ```text
//! soniox --emulator transcribe call.wav            # no key, no network: an embedded emulator
//! soniox transcribe call.wav --format srt -o call.srt
//! soniox transcriptions list --json
//! soniox webhook listen --addr 127.0.0.1:8080 --secret s3cr3t
//! soniox emulator --addr 127.0.0.1:8000
//! ```
//!
//! # Global options
//!
//! `--api-key` (or `SONIOX_API_KEY`), `--base-url` (or `SONIOX_API_BASE_URL`; plain `http` to
//! another machine, which would send the key in cleartext, needs `--allow-insecure-http`),
//! `--emulator` (run the command against a fresh embedded emulator), `--json` (results as one JSON object
//! per line), `-q` (no progress or notes), `-v` (more logs). Results go to stdout; progress,
//! notes and logs go to stderr, and progress is drawn only when stderr is a terminal.
//!
//! # Exit codes
//!
//! | Code | Meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure (a local file, a wait that timed out) |
//! | 2 | usage: bad arguments, no API key, a request that breaks a documented limit |
//! | 3 | the API answered with an error |
//! | 4 | network: the API could not be reached |
//! | 5 | a transcription ended with status `error` |
//! | 130 | interrupted by Ctrl-C or SIGTERM (a second one stops at once, without finishing cleanup) |
//!
//! A failure prints one line on stderr: `error: ...`, with the API's error type, message,
//! validation locations and request id when the API answered.

mod commands;
mod context;
mod deliver;
mod failure;
mod grouped_lines;
mod interrupt;
mod job;
mod listing;
mod logging;
mod output;
mod progress;
mod render;
mod request;

use std::{io::Write as _, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{
    commands::{account, batch, emulator, files, transcribe, transcriptions, webhook},
    context::{Context, GlobalArgs},
    failure::Failure,
    interrupt::Interrupt,
};

/// How long the runtime's shutdown waits for work that nothing awaits any more.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 other failure, 2 usage, 3 API error, 4 network error,
5 transcription failed, 130 interrupted.";

/// The Soniox Speech-to-Text async API from the command line.
#[derive(Debug, Parser)]
#[command(name = "soniox", version, after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

// The subcommands. Each is built only when it is the one run (`defer`): building all of them
// ran clap over every command's arguments at each start. A variant's doc is its subcommand's
// help text until the subcommand is built (it is what `soniox --help` lists); building it then
// applies its arguments' struct's doc, or, without one, the doc of a struct it flattens
// (`RequestArgs`, the emulator's options). Each struct's doc therefore reads as its variant's;
// `subcommand_help_is_the_same_built_or_not` checks it. (Plain comments: a doc comment here
// would be compiled in as the parent's help text, which `Cli`'s doc then replaces.)
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Transcribe audio files or URLs and print the transcripts.
    Transcribe(transcribe::TranscribeArgs),
    /// Manage uploaded files.
    Files(files::FilesArgs),
    /// Manage transcription jobs.
    Transcriptions(transcriptions::TranscriptionsArgs),
    /// List the available models.
    Models,
    /// Mint a temporary API key for a browser or another untrusted client.
    TempKey(account::TempKeyArgs),
    /// Transcribe a directory (or a list) of files within Soniox's quotas; resumable.
    Batch(batch::BatchArgs),
    /// Receive, send and relay webhook deliveries.
    Webhook(webhook::WebhookArgs),
    /// Run a local Soniox API (the same as the `soniox-emulator` binary).
    Emulator(emulator::EmulatorArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are "errors" that print to stdout and exit 0.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(failure::code::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let receives = matches!(&cli.command, Command::Webhook(args) if args.receives());
    let extra: &[(&str, tracing::Level)] = if receives {
        &[(webhook::REJECTIONS_TARGET, tracing::Level::DEBUG)]
    } else {
        &[]
    };
    logging::init(cli.global.log_level(), cli.global.quiet(), extra);
    let runtime = match runtime(&cli) {
        Ok(runtime) => runtime,
        Err(error) => {
            return report(&Failure::other(format!(
                "cannot start the runtime: {error}"
            )));
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(&failure),
    };
    // Dropping the runtime would wait for blocking work nothing awaits any more (a name
    // lookup of an abandoned request) for as long as it takes, with the signal handlers
    // still catching Ctrl-C and no task left to act on it. Tasks still hold what they drop
    // on the way out (an embedded emulator's temporary directory), hence a short wait.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    code
}

/// The runtime for the command: worker threads for the emulator (its own, or an embedded one
/// with `--emulator`) and for `batch`, which keeps many jobs going; the caller's thread alone
/// for the others. Most wait on one request at a time, where each worker thread would add its
/// stack and, through the allocator, an arena of its own (an upload's private memory is
/// within a few percent of the client library's only so). `webhook listen` serves many connections, yet answers more of
/// them on one thread: a delivery takes a few microseconds, less than handing its connection
/// between workers and waking them costs, and every accepted one writes to the one stdout
/// (the `cli` bench measured 121–126k against 105–109k requests/s on two workers).
fn runtime(cli: &Cli) -> std::io::Result<tokio::runtime::Runtime> {
    let serves =
        cli.global.emulator() || matches!(cli.command, Command::Batch(_) | Command::Emulator(_));
    let mut builder = if serves {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build()
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let interrupt = Interrupt::install();
    let mut context = Context::new(cli.global, interrupt);
    // Commands without cleanup of their own stop at once on Ctrl-C.
    let interrupt = context.interrupt.clone();
    // Each command's future is boxed on its own: held inline, `run` would be as large as the
    // largest of them (18 KB, `transcriptions`), copied onto the stack for every command, and
    // its poll would inline every command's.
    let work: Work<'_> = match cli.command {
        Command::Transcribe(args) => Box::pin(transcribe::run(&mut context, args)),
        Command::Files(args) => Box::pin(stoppable(&interrupt, files::run(&mut context, args))),
        Command::Transcriptions(args) => Box::pin(stoppable(
            &interrupt,
            transcriptions::run(&mut context, args),
        )),
        Command::Models => Box::pin(stoppable(&interrupt, account::models(&mut context))),
        Command::TempKey(args) => {
            Box::pin(stoppable(&interrupt, account::temp_key(&mut context, args)))
        }
        Command::Batch(args) => Box::pin(batch::run(&mut context, args)),
        Command::Webhook(args) => Box::pin(webhook::run(&mut context, args)),
        Command::Emulator(args) => {
            Box::pin(emulator::run(args, &context.output, &context.interrupt))
        }
    };
    let result = work.await;
    context.finish().await;
    result
}

/// A command's work, on the heap.
type Work<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), Failure>> + 'a>>;

async fn stoppable(
    interrupt: &Interrupt,
    work: impl Future<Output = Result<(), Failure>>,
) -> Result<(), Failure> {
    interrupt
        .guard(work)
        .await
        .unwrap_or_else(|| Err(Failure::interrupted()))
}

fn report(failure: &Failure) -> ExitCode {
    if !failure.is_silent() {
        let _ = writeln!(std::io::stderr().lock(), "{}", failure.line());
    }
    failure.exit_code()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// With `defer`, a subcommand's help text is its variant's doc until it is built, then its
    /// arguments' struct's doc: the two must read the same.
    #[test]
    fn subcommand_help_is_the_same_built_or_not() {
        let listed = Cli::command();
        for subcommand in listed.get_subcommands() {
            let mut built = subcommand.clone();
            built.build();
            let name = subcommand.get_name();
            assert_eq!(
                built.get_about().map(ToString::to_string),
                subcommand.get_about().map(ToString::to_string),
                "about of {name}"
            );
            assert_eq!(
                built.get_long_about().map(ToString::to_string),
                subcommand.get_long_about().map(ToString::to_string),
                "long about of {name}"
            );
        }
    }
}
