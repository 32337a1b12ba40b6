//! End-to-end throughput of the emulator against the ceiling of a bare hyper server.
//!
//! - `bare_hyper_200`: 10,000 requests to a hyper server that only answers 200 — the ceiling.
//! - `jobs_end_to_end`: 10,000 jobs created concurrently with zero processing delay, each
//!   webhook delivered to a local receiver; an iteration ends when every webhook has arrived.
//!
//! Besides criterion's timings, the run prints jobs/s, requests/s, the resident memory added
//! per finished job, and the peak RSS while a 1 GiB file is uploaded (measured first, before
//! anything else has grown the process), and records their medians for `cargo xtask bench`.
//! Under `--quick`, 2,000 requests and jobs per iteration, ten iterations of each, and a
//! 256 MiB upload.

mod support;

use std::{
    cell::Cell,
    convert::Infallible,
    io::Write as _,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode};
use futures_util::{StreamExt, stream};
use http_body_util::Full;
use hyper::{Response, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use soniox_emulator::{Emulator, JobClock, Quotas};
use support::{
    bench_report::{self, Figure, Samples},
    status_kib,
};
use tokio::{net::TcpListener, runtime::Runtime, sync::Notify};

const IN_FLIGHT: usize = 64;

/// Requests of `bare_hyper_200` and jobs of `jobs_end_to_end` per iteration.
fn jobs() -> usize {
    bench_report::full_or_quick(10_000, 2_000)
}

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A hyper server answering 200 to everything, counting requests and waking `done` at
/// `target`. It stops, closing its connections, when the returned guard is dropped, so runs
/// do not pile up servers, nor the client's idle keep-alive connections to them (64 file
/// descriptors on each side per run, which used up the process's limit after some 150 runs).
async fn counting_server(target: usize) -> (SocketAddr, Arc<Notify>, AbortOnDrop) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let (server_count, server_done) = (Arc::clone(&count), Arc::clone(&done));
    let server = tokio::spawn(async move {
        // Dropped with this task, which aborts every connection.
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let (count, done) = (Arc::clone(&server_count), Arc::clone(&server_done));
            let service = service_fn(move |_request| {
                if count.fetch_add(1, Ordering::SeqCst) + 1 == target {
                    done.notify_one();
                }
                async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
            });
            connections
                .spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (addr, done, AbortOnDrop(server))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn wav_bytes() -> Vec<u8> {
    soniox_emulator::wav(Duration::from_secs(1))
}

/// Runs [`jobs`] jobs end to end once; returns the elapsed time and the KiB of RSS the finished
/// jobs hold (every job, its attempt log and the client's side, so an upper bound).
async fn run_jobs(client: &reqwest::Client) -> (Duration, u64) {
    let (receiver, delivered, _server) = counting_server(jobs()).await;
    let emulator = Emulator::builder()
        .api_key("bench")
        .job_clock(JobClock::Fixed(Duration::ZERO))
        .quotas(Quotas::unlimited())
        .webhook_retry_schedule([Duration::ZERO])
        .start()
        .await
        .expect("emulator");
    let base = emulator.base_url().to_owned();
    let part = reqwest::multipart::Part::bytes(wav_bytes()).file_name("bench.wav");
    let file: serde_json::Value = client
        .post(format!("{base}/v1/files"))
        .bearer_auth("bench")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("file");
    let body = serde_json::json!({
        "model": "stt-async-v5",
        "file_id": file["id"],
        "webhook_url": format!("http://{receiver}/hook?bench=1"),
        "webhook_auth_header_name": "X-Soniox-Webhook-Secret",
        "webhook_auth_header_value": "bench-secret",
    });
    let rss_before = status_kib("VmRSS:");
    let wait = delivered.notified();
    let started = Instant::now();
    stream::iter(0..jobs())
        .map(|_| {
            client
                .post(format!("{base}/v1/transcriptions"))
                .bearer_auth("bench")
                .json(&body)
                .send()
        })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|response| async move {
            assert_eq!(
                response.expect("created").status(),
                reqwest::StatusCode::CREATED
            );
        })
        .await;
    wait.await;
    let elapsed = started.elapsed();
    let added = status_kib("VmRSS:").saturating_sub(rss_before);
    emulator.shutdown().await;
    (elapsed, added)
}

async fn run_bare(client: &reqwest::Client) -> Duration {
    let (addr, _, _server) = counting_server(usize::MAX).await;
    let url = format!("http://{addr}/");
    let started = Instant::now();
    stream::iter(0..jobs())
        .map(|_| client.get(&url).send())
        .buffer_unordered(IN_FLIGHT)
        .for_each(|response| async move {
            assert!(response.expect("answered").status().is_success());
        })
        .await;
    started.elapsed()
}

/// Streams 1 GiB (minus a little, to stay under the limit; 256 MiB under `--quick`) to the
/// emulator and reports the process's peak RSS.
fn upload_memory(runtime: &Runtime) {
    runtime.block_on(async {
        let emulator = Emulator::builder()
            .api_key("bench")
            .start()
            .await
            .expect("emulator");
        let chunk = Bytes::from(vec![0_u8; 1024 * 1024]);
        let chunks = bench_report::full_or_quick(1023_usize, 255);
        let body = stream::iter((0..chunks).map(move |_| Ok::<_, Infallible>(chunk.clone())));
        let part = reqwest::multipart::Part::stream_with_length(
            reqwest::Body::wrap_stream(body),
            (chunks * 1024 * 1024) as u64,
        )
        .file_name("big.raw");
        let before = status_kib("VmHWM:");
        let started = Instant::now();
        let response = reqwest::Client::new()
            .post(format!("{}/v1/files", emulator.base_url()))
            .bearer_auth("bench")
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), reqwest::StatusCode::CREATED);
        let peak = status_kib("VmHWM:");
        report(&format!(
            "upload of {chunks} MiB: {:.1} s, peak RSS of the whole process {} MiB (before: {} MiB)",
            started.elapsed().as_secs_f64(),
            peak / 1024,
            before / 1024
        ));
        Figure::new(
            format!("peak RSS added while {chunks} MiB upload streams in"),
            peak.saturating_sub(before) as f64 / 1024.0,
            "MiB",
        )
        .report();
        emulator.shutdown().await;
    });
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn benches(c: &mut Criterion) {
    let runtime = runtime();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .expect("client");
    let jobs = jobs();
    let (bare, end_to_end) = (Samples::default(), Samples::default());
    let kib_per_job = Cell::new(None);
    let mut group = c.benchmark_group("emulator");
    group.sample_size(10);
    if bench_report::quick() {
        // One iteration per sample: ten in all, where linear sampling takes at least 55.
        group.sampling_mode(SamplingMode::Flat);
    }
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(bench_report::full_or_quick(
        Duration::from_secs(20),
        Duration::from_secs(3),
    ));
    group.throughput(criterion::Throughput::Elements(jobs as u64));
    group.bench_function("bare_hyper_200", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let elapsed = runtime.block_on(run_bare(&client));
                report(&format!(
                    "bare_hyper_200: {:.0} requests/s",
                    jobs as f64 / elapsed.as_secs_f64()
                ));
                bare.push(elapsed);
                total += elapsed;
            }
            total
        });
    });
    group.bench_function("jobs_end_to_end", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let (elapsed, added_kib) = runtime.block_on(run_jobs(&client));
                report(&format!(
                    "jobs_end_to_end: {:.0} jobs/s",
                    jobs as f64 / elapsed.as_secs_f64()
                ));
                // Later runs reuse memory the allocator kept from earlier ones, so only the
                // first run's growth says what a finished job costs.
                if kib_per_job.get().is_none() {
                    let kib = added_kib as f64 / jobs as f64;
                    report(&format!(
                        "jobs_end_to_end: RSS held {kib:.1} KiB per finished job (first run)"
                    ));
                    kib_per_job.set(Some(kib));
                }
                end_to_end.push(elapsed);
                total += elapsed;
            }
            total
        });
    });
    group.finish();
    let per_second = |samples: &Samples| {
        let median = samples.median();
        median.map_or(f64::NAN, |time| jobs as f64 / time.as_secs_f64())
    };
    // A job against a request: the bare server is the ceiling, not the same work.
    Figure::new(
        "jobs end to end, created to webhook delivered (median)",
        per_second(&end_to_end),
        "/s",
    )
    .baseline("requests to bare hyper answering 200", per_second(&bare))
    .report();
    if let Some(kib) = kib_per_job.get() {
        Figure::new("RSS held per finished job (first run)", kib, "KiB").report();
    }
}

fn main() {
    upload_memory(&runtime());
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
