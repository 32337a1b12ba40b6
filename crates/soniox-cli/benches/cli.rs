//! The `soniox` binary's figures, each next to its yardstick in the same run:
//!
//! - cold start of `soniox --help` (target ≤ 20 ms);
//! - `webhook listen` with stdout to a file against a bare hyper server answering 200 (on
//!   Tokio's default runtime, a worker per core), both under `wrk -c64` in 5 alternating
//!   rounds of 5 s: the median of per-round ratios (target ≥ 70 %), with each server's CPU
//!   time per request, which moves less than its rate when neighbours load the machine;
//!   skipped when `wrk` is not installed;
//! - `transcribe --no-wait` of a 1 GiB file to an emulator against the client library's own
//!   upload of it and creation of its job, the two requests the command sends (this binary
//!   re-executed with `--child-upload`), in 12 rounds that alternate which goes first, with
//!   the file and the emulator's uploads in memory (`/dev/shm`): wall time and peak RSS, the
//!   median of per-round ratios (target within 10 %; single rounds range over 10 points, with
//!   where the load address puts each mapping), the peak of the private part of RSS
//!   (`RssAnon`) and the most threads seen. Both binaries are built with the same profile
//!   and upload through the same code, with the same buffers and the same allocator.
//!
//! Where the RSS difference comes from (`/proc/<pid>/smaps` and `pagemap` at the peak, the code
//! run traced with callgrind): the private memory of the two is within a few percent (the
//! relocated pointers of a larger binary: `soniox` links SQLite and every command); the rest is
//! the executable's pages, clean ones shared with the page cache. The kernel maps the 64 KiB
//! around each page where code runs, so the code's share of RSS is 64 KiB for each such window.
//! Fat LTO lays the text out module by module (the binary's own with every generic instance it
//! needs, then each crate's in order of name), so the few hundred functions an upload runs lie
//! among the code every other command needs: 45-51 windows of `soniox`'s text against 37-39 of
//! the yardstick's, and a peak 111 % of the yardstick's (median of 12 rounds; 106-114 %), even
//! with `soniox` built for size. Building without LTO, folding identical code, sorting sections
//! by name, moving cold code apart, and raising tracing's static level filter did not narrow
//! it. `soniox`'s build script now gives the linker `hot-text.ld`, which lists the functions
//! `transcribe` runs (written by `cargo xtask hot-text`, without the hashes that change between
//! builds) so that they come first, in one block: 93-98 % (medians of four runs), with
//! `soniox` built for speed again, as the rest of the workspace is. The yardstick is linked as
//! any program using the library is, without such a script.
//!
//! Build it on its own (`cargo bench -p soniox-cli`, as `cargo xtask bench` does): with the
//! whole workspace, features unify and link OpenSSL into both binaries, which is not the
//! `soniox` users install.
//!
//! Without `--bench` (under `cargo test --benches`) every part runs once, small. Under
//! `cargo xtask bench --quick`: 20 cold starts, 2 rounds of 2 s under `wrk`, one 256 MiB
//! upload each.

use std::{
    convert::Infallible,
    io::Write as _,
    path::Path,
    process::{Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use soniox_client::{Client, Upload};
use soniox_emulator::{Emulator, JobClock};
use soniox_types::{CreateTranscription, DEFAULT_ASYNC_MODEL};

const SONIOX: &str = env!("CARGO_BIN_EXE_soniox");
const CHILD_FLAG: &str = "--child-upload";
const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";
/// How often a child's `VmHWM` is sampled.
const POLL: Duration = Duration::from_millis(20);

#[path = "../../soniox-emulator/benches/support/proc_status.rs"]
mod proc_status;
use proc_status::status_kib;
#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;
use bench_report::{Figure, Ratios, full_or_quick, median};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().position(|arg| arg == CHILD_FLAG) {
        Some(at) => child_upload(&args[at + 1..]),
        None => parent(args.iter().any(|arg| arg == "--bench")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("cli bench failed: {error}"));
            ExitCode::FAILURE
        }
    }
}

fn parent(full: bool) -> BenchResult<()> {
    cold_start(if full { full_or_quick(50, 20) } else { 3 })?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(if full {
        listen(full_or_quick(5, 2), full_or_quick(5, 2))
    } else {
        listen(1, 1)
    })?;
    runtime.block_on(upload(
        if full {
            full_or_quick(1 << 30, 256 << 20)
        } else {
            4 << 20
        },
        if full { full_or_quick(12, 1) } else { 1 },
    ))
}

/// Median and slowest wall time of `soniox --help`.
fn cold_start(runs: usize) -> BenchResult<()> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let status = Command::new(SONIOX)
            .arg("--help")
            .stdout(Stdio::null())
            .status()?;
        times.push(started.elapsed());
        if !status.success() {
            return Err("soniox --help failed".into());
        }
    }
    times.sort_unstable();
    report(&format!(
        "cold start of `soniox --help`: median {:.1} ms, slowest {:.1} ms over {runs} runs (target <= 20 ms)",
        ms(times[runs / 2]),
        ms(times[runs - 1])
    ));
    Figure::new(
        "cold start of `soniox --help` (median)",
        ms(times[runs / 2]),
        "ms",
    )
    .at_most(20.0)
    .report();
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Requests per second of `soniox webhook listen` and of a bare hyper server under wrk, in
/// `rounds_of_each` alternating rounds of `seconds` each.
async fn listen(rounds_of_each: usize, seconds: u64) -> BenchResult<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        report("webhook listen: skipped: `wrk` is not installed");
        bench_report::skipped("webhook listen under wrk", "`wrk` is not installed");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("deliveries.lua");
    std::fs::write(
        &script,
        format!(
            r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Soniox-Webhook-Secret"] = "{SECRET}"
local threads = 0
-- A prefix new to each run, so that no run repeats an id an earlier one sent.
function init(args) prefix = args[1] end
counter = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function request()
  counter = counter + 1
  return wrk.format(nil, "/hook", nil, '{{"id":"' .. prefix .. '-' .. tid .. '-' .. counter .. '","status":"completed"}}')
end
"#
        ),
    )?;
    let bare = bare_hyper().await?;
    let events = dir.path().join("events.jsonl");
    let mut soniox = Command::new(SONIOX)
        .args([
            "webhook",
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--path",
            "/hook",
            "--secret",
            SECRET,
        ])
        .stdout(std::fs::File::create(&events)?)
        .stderr(Stdio::piped())
        .spawn()?;
    let mut first = String::new();
    {
        use std::io::BufRead as _;
        let stderr = soniox.stderr.take().ok_or("no stderr")?;
        std::io::BufReader::new(stderr).read_line(&mut first)?;
    }
    let listening = first
        .trim()
        .rsplit(' ')
        .next()
        .ok_or("no listening line")?
        .trim_end_matches("/hook")
        .to_owned();
    let mut rounds = Vec::new();
    // Alternate, so that the neighbours' load weighs on both alike.
    let rounds_of_each = rounds_of_each.max(1);
    for round in 0..rounds_of_each {
        let bare_round = measured("self", || {
            wrk(
                &format!("http://{bare}"),
                &script,
                seconds,
                &format!("b{round}"),
            )
        })?;
        let soniox_round = measured(&soniox.id().to_string(), || {
            wrk(&listening, &script, seconds, &format!("s{round}"))
        })?;
        report(&format!(
            "  round: webhook listen {:.0} req/s ({:.2} us CPU/req), bare hyper {:.0} req/s ({:.2} us CPU/req): {:.0} %",
            soniox_round.rate,
            soniox_round.cpu_per_request,
            bare_round.rate,
            bare_round.cpu_per_request,
            100.0 * soniox_round.rate / bare_round.rate
        ));
        rounds.push((bare_round, soniox_round));
    }
    let _ = Command::new("kill")
        .args(["-INT", &soniox.id().to_string()])
        .status();
    soniox.wait()?;
    let lines = std::fs::read_to_string(&events)?.lines().count();
    let ratios =
        Ratios::of(rounds.iter().map(|(b, s)| s.rate / b.rate).collect()).ok_or("no rounds")?;
    let median_of = |figure: fn(&(Round, Round)) -> f64| {
        median(rounds.iter().map(figure).collect()).unwrap_or(f64::NAN)
    };
    let bare_rps = median_of(|(b, _)| b.rate);
    let soniox_rps = median_of(|(_, s)| s.rate);
    let bare_cpu = median_of(|(b, _)| b.cpu_per_request);
    let soniox_cpu = median_of(|(_, s)| s.cpu_per_request);
    report(&format!(
        "webhook listen under wrk -c64 (medians of {rounds_of_each} rounds): {soniox_rps:.0} req/s ({soniox_cpu:.2} us CPU/req), bare hyper {bare_rps:.0} req/s ({bare_cpu:.2} us CPU/req): {ratios}; target >= 70 %; {lines} events printed",
    ));
    Figure::new(
        "`webhook listen` under wrk -c64 (median of rounds)",
        soniox_rps,
        "req/s",
    )
    .baseline("bare hyper", bare_rps)
    .ratio(ratios.median)
    .at_least(0.70)
    .report();
    Ok(())
}

/// One `wrk` run against one server.
struct Round {
    /// Requests per second.
    rate: f64,
    /// The server process's CPU time per request, in microseconds.
    cpu_per_request: f64,
}

/// Runs `load` (which returns wrk's rate and request count) and prices it in the CPU time of
/// the process `pid` (`self` for this one, which serves the bare hyper server and nothing
/// else meanwhile).
fn measured(pid: &str, load: impl FnOnce() -> BenchResult<(f64, u64)>) -> BenchResult<Round> {
    let before = cpu_seconds(pid)?;
    let (rate, requests) = load()?;
    let used = cpu_seconds(pid)? - before;
    Ok(Round {
        rate,
        cpu_per_request: used * 1e6 / requests.max(1) as f64,
    })
}

/// User and system CPU seconds of process `pid` so far, from `/proc/<pid>/stat` (Linux).
fn cpu_seconds(pid: &str) -> BenchResult<f64> {
    // Linux counts CPU time in ticks of 1/100 s on every architecture it runs on.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start with field 3; user and
    // system time are fields 14 and 15.
    let mut fields = stat
        .rsplit_once(')')
        .ok_or("no command name in /proc/<pid>/stat")?
        .1
        .split_whitespace()
        .skip(11);
    let mut ticks = || -> BenchResult<f64> {
        Ok(fields
            .next()
            .ok_or("short /proc/<pid>/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks()? + ticks()?) / TICKS_PER_SECOND)
}

/// A server answering every request with 200 `ok` after reading its body, on this process's
/// runtime.
async fn bare_hyper() -> BenchResult<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|request: Request<Incoming>| async move {
                    let _ = request.into_body().collect().await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Runs wrk, its event ids starting with `prefix`, and returns its requests per second and
/// how many requests it completed.
fn wrk(url: &str, script: &Path, seconds: u64, prefix: &str) -> BenchResult<(f64, u64)> {
    let output = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "-s"])
        .arg(script)
        .arg(format!("{url}/hook"))
        .args(["--", prefix])
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("wrk got errors from {url}: {text}").into());
    }
    let rate = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .ok_or_else(|| format!("wrk printed no rate: {text}"))?;
    // `  123456 requests in 5.00s, 11.2MB read`
    let requests = text
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .ok_or_else(|| format!("wrk printed no request count: {text}"))?
        .0;
    Ok((rate.trim().parse()?, requests.parse()?))
}

/// Wall time and peak RSS of `soniox transcribe --no-wait` and of the client library's
/// upload and create, for one file of `size` bytes, in `rounds` rounds of one each.
async fn upload(size: u64, rounds: usize) -> BenchResult<()> {
    // In memory where there is a tmpfs: the emulator writes each upload to its data
    // directory, and the disk's writeback, not either side's upload, set the pace of some
    // rounds (their throughput ratios ranged from 83 to 118 % on disk).
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)?
    } else {
        tempfile::tempdir()?
    };
    let path = dir.path().join("big.wav");
    {
        let file = std::fs::File::create(&path)?;
        file.set_len(size)?;
    }
    let emulator = Emulator::builder()
        .api_key(KEY)
        .data_dir(dir.path().join("emulator"))
        // Jobs that never start: the uploads are what is measured, and no job's work in the
        // emulator runs beside the next one.
        .job_clock(JobClock::Manual)
        .start()
        .await?;
    let path_text = path.to_str().ok_or("path")?;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .build()?;
    let mut runs = Vec::with_capacity(rounds);
    for round in 0..rounds.max(1) {
        let mut cli = Command::new(SONIOX);
        cli
            // Quiet: a progress bar drawn when the bench runs in a terminal is not the upload.
            .args(["transcribe", path_text, "--no-wait", "--quiet"])
            .env("SONIOX_API_KEY", KEY)
            .env("SONIOX_API_BASE_URL", emulator.base_url());
        let mut library = Command::new(std::env::current_exe()?);
        library.args([CHILD_FLAG, emulator.base_url(), path_text]);
        // Alternate which goes first, so that neither always runs on a machine the other
        // just loaded.
        let (cli, library) = if round % 2 == 0 {
            let cli = upload_once(cli, &client).await?;
            (cli, upload_once(library, &client).await?)
        } else {
            let library = upload_once(library, &client).await?;
            (upload_once(cli, &client).await?, library)
        };
        report(&format!(
            "  round: soniox {:.0} MiB/s, peak RSS {} KiB; client library {:.0} MiB/s, peak RSS {} KiB",
            mib_per_second(size, cli.time),
            cli.rss,
            mib_per_second(size, library.time),
            library.rss,
        ));
        runs.push((cli, library));
    }
    emulator.shutdown().await;
    let ratios = |of: fn(&(Measured, Measured)) -> f64| Ratios::of(runs.iter().map(of).collect());
    let speed = ratios(|(cli, library)| library.time.as_secs_f64() / cli.time.as_secs_f64())
        .ok_or("no rounds")?;
    let rss = ratios(|(cli, library)| cli.rss as f64 / library.rss as f64).ok_or("no rounds")?;
    let anonymous = ratios(|(cli, library)| cli.anonymous as f64 / library.anonymous as f64)
        .ok_or("no rounds")?;
    let median_of = |figure: fn(&(Measured, Measured)) -> f64| {
        median(runs.iter().map(figure).collect()).unwrap_or(f64::NAN)
    };
    let (cli_time, lib_time) = (
        median_of(|(cli, _)| cli.time.as_secs_f64()),
        median_of(|(_, library)| library.time.as_secs_f64()),
    );
    let (cli_rss, lib_rss) = (
        median_of(|(cli, _)| cli.rss as f64),
        median_of(|(_, library)| library.rss as f64),
    );
    let (cli_anon, lib_anon) = (
        median_of(|(cli, _)| cli.anonymous as f64),
        median_of(|(_, library)| library.anonymous as f64),
    );
    let most_threads = |threads: fn(&(Measured, Measured)) -> u64| {
        runs.iter().map(threads).max().unwrap_or_default()
    };
    let mib = size as f64 / f64::from(1 << 20);
    report(&format!(
        "upload of {mib:.0} MiB (medians of {} rounds): soniox transcribe --no-wait {:.0} MiB/s, peak RSS {cli_rss:.0} KiB; client library {:.0} MiB/s, peak RSS {lib_rss:.0} KiB: throughput {speed}, RSS {rss} (target within 10 %)",
        runs.len(),
        mib / cli_time,
        mib / lib_time,
    ));
    report(&format!(
        "upload of {mib:.0} MiB: peak private RSS (RssAnon) soniox {cli_anon:.0} KiB, client library {lib_anon:.0} KiB: {anonymous}; most threads seen: soniox {}, client library {}",
        most_threads(|(cli, _)| cli.threads),
        most_threads(|(_, library)| library.threads),
    ));
    let library = "client library";
    Figure::new(
        format!("`transcribe --no-wait` of {mib:.0} MiB (median of rounds)"),
        mib / cli_time,
        "MiB/s",
    )
    .baseline(library, mib / lib_time)
    .ratio(speed.median)
    .at_least(0.90)
    .report();
    let mib_of = |kib: f64| kib / 1024.0;
    Figure::new(
        format!("`transcribe --no-wait` of {mib:.0} MiB: peak RSS (median of rounds)"),
        mib_of(cli_rss),
        "MiB",
    )
    .baseline(library, mib_of(lib_rss))
    .ratio(rss.median)
    .at_most(1.10)
    .report();
    Figure::new(
        format!("`transcribe --no-wait` of {mib:.0} MiB: peak RssAnon (median of rounds)"),
        mib_of(cli_anon),
        "MiB",
    )
    .baseline(library, mib_of(lib_anon))
    .ratio(anonymous.median)
    .report();
    Ok(())
}

/// Measures one upload by `command`, then deletes what the emulator holds. Each upload
/// so writes into memory the last one freed: on this kind of virtual machine, memory the
/// guest has not touched before is slow to fill, and an upload that followed another
/// undeleted one ran up to 40 % slower than the one before it.
async fn upload_once(command: Command, client: &Client) -> BenchResult<Measured> {
    let measured = measure(command).await?;
    let files = client.files().list_page(&Default::default()).await?;
    for file in files.files {
        client.files().delete(&file.id).await?;
    }
    Ok(measured)
}

/// `size` bytes in `time`, in MiB/s.
fn mib_per_second(size: u64, time: Duration) -> f64 {
    size as f64 / f64::from(1 << 20) / time.as_secs_f64()
}

/// One process's figures.
struct Measured {
    time: Duration,
    /// Peak RSS (`VmHWM`), KiB.
    rss: u64,
    /// The largest `RssAnon` sampled, KiB.
    anonymous: u64,
    /// The most threads sampled.
    threads: u64,
}

/// Runs `command` to the end; its wall time, peak RSS and sampled peak private RSS.
async fn measure(mut command: Command) -> BenchResult<Measured> {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::null()).spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let (mut rss, mut anonymous, mut threads) = (0, 0, 0);
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                return Err(format!("{command:?} failed").into());
            }
            let time = started.elapsed();
            return Ok(Measured {
                time,
                rss,
                anonymous,
                threads,
            });
        }
        rss = status_kib(&status_path, "VmHWM:").unwrap_or(rss);
        anonymous = anonymous.max(status_kib(&status_path, "RssAnon:").unwrap_or(0));
        // A count, not KiB: the reader takes any numeric field.
        threads = threads.max(status_kib(&status_path, "Threads:").unwrap_or(0));
        tokio::time::sleep(POLL).await;
    }
}

/// The library's side: what `transcribe --no-wait` asks of the API, with `soniox-client`:
/// upload the file, then create its job with the default model.
fn child_upload(args: &[String]) -> BenchResult<()> {
    let [base_url, path] = args else {
        return Err("usage: --child-upload BASE_URL PATH".into());
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let client = Client::builder().api_key(KEY).base_url(base_url).build()?;
        let file = client.files().upload(Upload::path(path)).await?;
        let request = CreateTranscription::new(DEFAULT_ASYNC_MODEL).file_id(file.id);
        client.transcriptions().create(&request).await?;
        Ok(())
    })
}
