//! Streaming a 1 GiB file to the emulator: the client's peak memory and its throughput next to
//! `curl -F` uploading the same file to the same emulator in the same run.
//!
//! Run normally, the binary starts an emulator in-process and re-executes itself with
//! `--child-upload` for every client run, so the peak RSS the child reports (its own `VmHWM`)
//! belongs to the client alone. Client and curl runs alternate, so page cache, disk write-back
//! and the load of other processes weigh on both alike. Without `--bench` (under `cargo test`)
//! it uploads a few MiB once each, which keeps the suite fast and still exercises every path.
//! Under `cargo xtask bench --quick`, two rounds of 256 MiB.
//!
//! Targets: the client's peak RSS at most 24 MiB, and its median throughput at least 85% of
//! curl's.

use std::{
    io::Write as _,
    path::Path,
    process::{Child, Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

use soniox_client::{Client, Upload};
use soniox_emulator::Emulator;
use soniox_types::FileId;

const CHILD_FLAG: &str = "--child-upload";
const KEY: &str = "bench-key";
/// Exactly the emulator's default `max_file_size`, as the API's limit.
const FULL_BYTES: u64 = 1 << 30;
const QUICK_BYTES: u64 = 256 << 20;
const TEST_BYTES: u64 = 4 << 20;
const BENCH_ROUNDS: usize = 3;
const QUICK_ROUNDS: usize = 2;
const RSS_TARGET_KIB: u64 = 24 * 1024;
const THROUGHPUT_TARGET: f64 = 0.85;
/// How often the parent samples a child's `VmHWM`; the peak is monotonic, so the last sample
/// before exit is the process's peak up to this interval.
const POLL: Duration = Duration::from_millis(20);
/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().position(|arg| arg == CHILD_FLAG) {
        Some(at) => child(&args[at + 1..]),
        None => parent(args.iter().any(|arg| arg == "--bench")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("upload bench failed: {error}"));
            ExitCode::FAILURE
        }
    }
}

#[path = "../../soniox-emulator/benches/support/proc_status.rs"]
mod proc_status;
use proc_status::status_kib;
#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;
use bench_report::Figure;

/// User plus system CPU seconds of all of process `pid`'s threads so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces, so fields are counted after its closing ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |at: usize| fields.get(at)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / USER_HZ)
}

/// Child mode: uploads `path` with `soniox_client` and prints `id seconds vmhwm_kib`.
fn child(args: &[String]) -> BenchResult<()> {
    let [base_url, path] = args else {
        return Err(format!("usage: {CHILD_FLAG} BASE_URL PATH").into());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = Client::builder().api_key(KEY).base_url(base_url).build()?;
    let started = Instant::now();
    let file = runtime.block_on(client.files().upload(Upload::path(path)))?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kib("/proc/self/status", "VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
    writeln!(
        std::io::stdout(),
        "{} {} {seconds} {peak}",
        file.id.as_str(),
        file.size
    )?;
    Ok(())
}

/// One measured upload.
#[derive(Clone, Copy)]
struct Run {
    mb_per_s: f64,
    /// CPU seconds the uploading process used per GB sent (sampled by the parent).
    cpu_s_per_gb: f64,
    /// Peak RSS in KiB.
    peak_kib: u64,
}

fn parent(bench: bool) -> BenchResult<()> {
    let (bytes, rounds) = if bench {
        bench_report::full_or_quick((FULL_BYTES, BENCH_ROUNDS), (QUICK_BYTES, QUICK_ROUNDS))
    } else {
        (TEST_BYTES, 1)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let emulator = runtime.block_on(Emulator::builder().api_key(KEY).start())?;
    let base_url = emulator.base_url().to_owned();
    let cleanup = Client::builder().api_key(KEY).base_url(&base_url).build()?;
    let dir = tempfile::Builder::new()
        .prefix("soniox-upload-bench-")
        .tempdir()?;
    let path = dir.path().join("audio.raw");
    write_file(&path, bytes)?;
    let curl = curl_available();
    if !curl {
        report("upload: curl not found, measuring the client alone (apt-get install -y curl)");
    }
    let (mut client_runs, mut curl_runs) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        if curl {
            let (run, id) = curl_upload(&base_url, &path, bytes)?;
            runtime.block_on(cleanup.files().delete(&id))?;
            report(&format!(
                "upload round {round}: curl -F  {:>7.1} MB/s, {:.2} CPU s/GB, peak RSS {:>6.1} MiB (sampled)",
                run.mb_per_s,
                run.cpu_s_per_gb,
                mib(run.peak_kib)
            ));
            curl_runs.push(run);
        }
        let (run, id, sampled_kib) = client_upload(&base_url, &path, bytes)?;
        runtime.block_on(cleanup.files().delete(&id))?;
        report(&format!(
            "upload round {round}: client   {:>7.1} MB/s, {:.2} CPU s/GB, peak RSS {:>6.1} MiB (self-reported; sampled {:.1} MiB)",
            run.mb_per_s,
            run.cpu_s_per_gb,
            mib(run.peak_kib),
            mib(sampled_kib)
        ));
        client_runs.push(run);
    }
    runtime.block_on(emulator.shutdown());
    summary(bytes, &client_runs, &curl_runs);
    Ok(())
}

/// Writes `bytes` of varied (not sparse, not all-zero) data, so reading it back costs what a
/// real audio file costs.
fn write_file(path: &Path, bytes: u64) -> BenchResult<()> {
    let mut rng = fastrand::Rng::with_seed(7);
    let block: Vec<u8> = (0..1 << 20).map(|_| rng.u8(..)).collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut left = bytes;
    while left > 0 {
        let take = usize::try_from(left.min(block.len() as u64))?;
        file.write_all(&block[..take])?;
        left -= take as u64;
    }
    file.into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    Ok(())
}

fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// What the parent saw of a child: the last peak RSS (KiB) and CPU seconds sampled before it
/// exited.
struct Sampled {
    peak_kib: u64,
    cpu_s: f64,
}

/// Waits for `child`, sampling its peak RSS and CPU time, and returns its stdout and the last
/// samples.
fn wait_sampling(mut child: Child) -> BenchResult<(String, Sampled)> {
    let status_path = format!("/proc/{}/status", child.id());
    let mut sampled = Sampled {
        peak_kib: 0,
        cpu_s: 0.0,
    };
    while child.try_wait()?.is_none() {
        if let Some(kib) = status_kib(&status_path, "VmHWM:") {
            sampled.peak_kib = kib;
        }
        if let Some(cpu_s) = cpu_seconds(child.id()) {
            sampled.cpu_s = cpu_s;
        }
        std::thread::sleep(POLL);
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok((String::from_utf8(output.stdout)?, sampled))
}

fn curl_upload(base_url: &str, path: &Path, bytes: u64) -> BenchResult<(Run, FileId)> {
    let child = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-H"])
        .arg(format!("Authorization: Bearer {KEY}"))
        .arg("-F")
        .arg(format!("file=@{}", path.display()))
        .args(["-w", "\n%{time_total}"])
        .arg(format!("{base_url}/v1/files"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (stdout, sampled) = wait_sampling(child)?;
    let (body, seconds) = stdout
        .rsplit_once('\n')
        .ok_or("curl printed no timing line")?;
    let file: soniox_types::File = serde_json::from_str(body)?;
    check_size(file.size, bytes)?;
    let run = Run {
        mb_per_s: mb_per_s(bytes, seconds.trim().parse()?),
        cpu_s_per_gb: sampled.cpu_s / (bytes as f64 / 1e9),
        peak_kib: sampled.peak_kib,
    };
    Ok((run, file.id))
}

fn client_upload(base_url: &str, path: &Path, bytes: u64) -> BenchResult<(Run, FileId, u64)> {
    let child = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .arg(base_url)
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (stdout, sampled) = wait_sampling(child)?;
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    let [id, size, seconds, peak] = fields[..] else {
        return Err(format!("unexpected child output {stdout:?}").into());
    };
    check_size(size.parse()?, bytes)?;
    let run = Run {
        mb_per_s: mb_per_s(bytes, seconds.parse()?),
        cpu_s_per_gb: sampled.cpu_s / (bytes as f64 / 1e9),
        peak_kib: peak.parse()?,
    };
    Ok((run, FileId::new(id), sampled.peak_kib))
}

fn check_size(stored: u64, sent: u64) -> BenchResult<()> {
    if stored == sent {
        Ok(())
    } else {
        Err(format!("the emulator stored {stored} bytes of {sent}").into())
    }
}

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds.max(f64::MIN_POSITIVE)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Best and median of `values` (the upper median for an even count).
fn best_median(mut values: Vec<f64>, higher_is_better: bool) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    if higher_is_better {
        values.reverse();
    }
    (
        values.first().copied().unwrap_or(f64::NAN),
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN),
    )
}

/// Prints `runs`' figures; their median throughput (MB/s), worst peak RSS (MiB) and median
/// CPU time (s/GB).
fn describe(name: &str, runs: &[Run]) -> (f64, f64, f64) {
    let (best_mbs, median_mbs) = best_median(runs.iter().map(|run| run.mb_per_s).collect(), true);
    let (best_rss, median_rss) =
        best_median(runs.iter().map(|run| mib(run.peak_kib)).collect(), false);
    let worst_rss = runs.iter().map(|run| mib(run.peak_kib)).fold(0.0, f64::max);
    let (best_cpu, median_cpu) =
        best_median(runs.iter().map(|run| run.cpu_s_per_gb).collect(), false);
    report(&format!(
        "  {name:<8} throughput best {best_mbs:>7.1} MB/s, median {median_mbs:>7.1} MB/s | \
         CPU best {best_cpu:.2} s/GB, median {median_cpu:.2} s/GB | \
         peak RSS best {best_rss:.1} MiB, median {median_rss:.1} MiB, worst {worst_rss:.1} MiB"
    ));
    (median_mbs, worst_rss, median_cpu)
}

fn summary(bytes: u64, client_runs: &[Run], curl_runs: &[Run]) {
    report(&format!(
        "upload summary: {bytes} bytes, {} client and {} curl runs, interleaved",
        client_runs.len(),
        curl_runs.len()
    ));
    let (client_median, client_worst_rss, client_cpu) = describe("client", client_runs);
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    report(&format!(
        "  client peak RSS (worst run) {client_worst_rss:.1} MiB, target <= {} MiB: {}",
        RSS_TARGET_KIB / 1024,
        verdict(client_worst_rss <= mib(RSS_TARGET_KIB))
    ));
    let size = format!("{} MiB", bytes >> 20);
    Figure::new(
        format!("client peak RSS, {size} (worst run)"),
        client_worst_rss,
        "MiB",
    )
    .at_most(mib(RSS_TARGET_KIB))
    .report();
    let throughput = Figure::new(
        format!("client throughput, {size} (median)"),
        client_median,
        "MB/s",
    );
    let cpu = Figure::new(
        format!("client CPU per GB, {size} (median)"),
        client_cpu,
        "s/GB",
    );
    if curl_runs.is_empty() {
        throughput.report();
        cpu.report();
        bench_report::skipped("curl -F baseline", "curl not found");
        return;
    }
    let (curl_median, _, curl_cpu) = describe("curl -F", curl_runs);
    let ratio = client_median / curl_median;
    report(&format!(
        "  client/curl median throughput {:.0}%, target >= {:.0}%: {}",
        ratio * 100.0,
        THROUGHPUT_TARGET * 100.0,
        verdict(ratio >= THROUGHPUT_TARGET)
    ));
    throughput
        .baseline("curl -F", curl_median)
        .at_least(THROUGHPUT_TARGET)
        .report();
    cpu.baseline("curl -F", curl_cpu).report();
}
