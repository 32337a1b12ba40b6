//! 1,000 concurrent create-and-wait flows through one `soniox_client::Client` against the
//! emulator with zero processing delay: flows per second, and how many TCP connections the
//! client opened to do them.
//!
//! Connections are counted by a small TCP proxy in front of the emulator that counts the
//! connections it accepts and pipes each one to the emulator. Every connection the client
//! opens is one accept, whatever happens to it later, so the count is exact, unlike sampling
//! `/proc/net/tcp`, which misses sockets that opened and closed between two samples. The
//! proxy costs a hop, so rounds alternate between going straight to the emulator (the flows/s
//! figure) and going through the proxy (the connection count; its flows/s is shown too). Each
//! round uses a fresh client, so its pool starts empty.
//!
//! Requests are counted by a `tracing` layer that sees each `soniox.request` span the client
//! opens (one per call; a retried call would count once, and none are retried here), so the
//! summary can set connections against requests.
//!
//! Without `--bench` (under `cargo test`) one small round of each kind runs; under
//! `cargo xtask bench --quick`, one full-size round of each.

use std::{
    io::Write as _,
    net::SocketAddr,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use soniox_client::{Client, Upload, WaitOptions};
use soniox_emulator::{Emulator, JobClock, Quotas};
use soniox_types::{CreateTranscription, TranscriptionStatus};
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinSet,
};
use tracing::{
    Metadata, Subscriber,
    span::{Attributes, Id},
    subscriber::Interest,
};
use tracing_subscriber::{Layer, layer::Context, layer::SubscriberExt as _};

#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;
use bench_report::Figure;

const KEY: &str = "bench-key";
const BENCH_FLOWS: usize = 1_000;
const TEST_FLOWS: usize = 50;
const BENCH_ROUNDS: usize = 3;
/// Polling starts fast because jobs finish at once; the growth and cap are the client's own.
const FIRST_POLL: Duration = Duration::from_millis(10);
const MAX_POLL: Duration = Duration::from_millis(100);

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Counts the client's `soniox.request` spans and ignores everything else, so tracing costs
/// the emulator nothing.
struct CountRequests(Arc<AtomicUsize>);

impl<S: Subscriber> Layer<S> for CountRequests {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.is_span() && metadata.name() == "soniox.request" {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() -> ExitCode {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let requests = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(CountRequests(Arc::clone(&requests)));
    let result = tracing::subscriber::set_global_default(subscriber)
        .map_err(Into::into)
        .and_then(|()| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(Into::into)
        })
        .and_then(|runtime| runtime.block_on(run(bench, &requests)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("flows bench failed: {error}"));
            ExitCode::FAILURE
        }
    }
}

/// One round's figures.
struct Round {
    flows_per_s: f64,
    requests: usize,
    connections: Option<usize>,
}

async fn run(bench: bool, requests: &AtomicUsize) -> BenchResult<()> {
    let (flows, rounds) = if bench {
        (BENCH_FLOWS, bench_report::full_or_quick(BENCH_ROUNDS, 1))
    } else {
        (TEST_FLOWS, 1)
    };
    let emulator = Emulator::builder()
        .api_key(KEY)
        .job_clock(JobClock::Fixed(Duration::ZERO))
        .quotas(Quotas::unlimited())
        .start()
        .await?;
    let direct: SocketAddr = emulator.local_addr();
    let file = client(direct)?
        .files()
        .upload(Upload::bytes(wav(), "flows.wav"))
        .await?;
    let request = Arc::new(CreateTranscription::new("stt-async-v5").file_id(file.id));
    let (mut straight, mut proxied) = (Vec::new(), Vec::new());
    for number in 1..=rounds {
        let round = run_round(direct, flows, &request, requests, None).await?;
        report(&format!(
            "flows round {number}: direct  {:>6.0} flows/s, {} requests",
            round.flows_per_s, round.requests
        ));
        straight.push(round);
        let counter = Arc::new(AtomicUsize::new(0));
        let (proxy, accept) = counting_proxy(direct, Arc::clone(&counter)).await?;
        let round = run_round(proxy, flows, &request, requests, Some(&counter)).await?;
        accept.abort();
        report(&format!(
            "flows round {number}: proxied {:>6.0} flows/s, {} requests over {} connections",
            round.flows_per_s,
            round.requests,
            round.connections.unwrap_or_default()
        ));
        proxied.push(round);
    }
    emulator.shutdown().await;
    summary(flows, &straight, &proxied);
    Ok(())
}

fn client(addr: SocketAddr) -> BenchResult<Client> {
    Ok(Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .build()?)
}

/// Runs `flows` create-and-wait flows at once through a fresh client; when `counter` is given
/// (the proxy's), reads how many connections it accepted once every flow is done.
async fn run_round(
    addr: SocketAddr,
    flows: usize,
    request: &Arc<CreateTranscription>,
    requests: &AtomicUsize,
    counter: Option<&AtomicUsize>,
) -> BenchResult<Round> {
    let client = client(addr)?;
    let requests_before = requests.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut tasks: JoinSet<BenchResult<()>> = JoinSet::new();
    for _ in 0..flows {
        let (client, request) = (client.clone(), Arc::clone(request));
        tasks.spawn(async move {
            let transcriptions = client.transcriptions();
            let job = transcriptions.create(&request).await?;
            let options = WaitOptions::new()
                .initial_interval(FIRST_POLL)
                .max_interval(MAX_POLL);
            let done = transcriptions.wait(&job.id, options).await?;
            if done.status == TranscriptionStatus::Completed {
                Ok(())
            } else {
                Err(format!("job {} ended {:?}", job.id.as_str(), done.status).into())
            }
        });
    }
    while let Some(flow) = tasks.join_next().await {
        flow??;
    }
    let elapsed = started.elapsed();
    Ok(Round {
        flows_per_s: flows as f64 / elapsed.as_secs_f64(),
        requests: requests.load(Ordering::Relaxed) - requests_before,
        connections: counter.map(|counter| counter.load(Ordering::SeqCst)),
    })
}

/// Listens on a free port and pipes every accepted connection to `upstream`, counting
/// accepts in `counter`. Abort the returned task to stop accepting.
async fn counting_proxy(
    upstream: SocketAddr,
    counter: Arc<AtomicUsize>,
) -> BenchResult<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accept = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                // Either side closing ends the pipe; how it ended does not matter here.
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    Ok((addr, accept))
}

/// Half a second of audio.
fn wav() -> Vec<u8> {
    soniox_emulator::wav(Duration::from_millis(500))
}

/// Best and median of `values` (the upper median for an even count).
fn best_median(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(|a, b| b.total_cmp(a));
    (
        values.first().copied().unwrap_or(f64::NAN),
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN),
    )
}

fn summary(flows: usize, straight: &[Round], proxied: &[Round]) {
    let (best, median) = best_median(straight.iter().map(|round| round.flows_per_s).collect());
    let (proxied_best, proxied_median) =
        best_median(proxied.iter().map(|round| round.flows_per_s).collect());
    report(&format!(
        "flows summary: {flows} concurrent create+wait flows per round, {} rounds of each kind",
        straight.len()
    ));
    report(&format!(
        "  direct:  best {best:.0} flows/s, median {median:.0} flows/s"
    ));
    report(&format!(
        "  proxied: best {proxied_best:.0} flows/s, median {proxied_median:.0} flows/s"
    ));
    let mut per_flow = Vec::with_capacity(proxied.len());
    for round in proxied {
        let connections = round.connections.unwrap_or_default();
        per_flow.push(connections as f64 / flows as f64);
        report(&format!(
            "  proxied round: {} requests over {connections} TCP connections (counted at the \
             proxy): {:.2} connections per flow, {:.1} requests per connection",
            round.requests,
            connections as f64 / flows as f64,
            round.requests as f64 / connections.max(1) as f64
        ));
    }
    Figure::new(
        format!("{flows} concurrent create+wait flows (median)"),
        median,
        "flows/s",
    )
    .report();
    Figure::new(
        "the same through a counting proxy (median)",
        proxied_median,
        "flows/s",
    )
    .baseline("direct", median)
    .report();
    let (_, connections) = best_median(per_flow);
    Figure::new("TCP connections per flow (median round)", connections, "").report();
}
