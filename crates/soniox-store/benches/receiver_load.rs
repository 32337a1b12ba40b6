//! The hyper `Receiver` under load from `wrk`, with each store, against a bare baseline
//! measured in the same run:
//!
//! | Variant | Baseline | Target |
//! |---|---|---|
//! | `Receiver`, default `MemoryStore` | bare hyper answering 200 after reading the body | ≥ 85% |
//! | `Receiver`, `SqliteStore` (`Durability::Full`, `Normal`) | one `INSERT` committed per event, same `synchronous` | ≥ 70% |
//! | `Receiver`, `PostgresStore` (pool of 8) | one `INSERT` committed per event, pool of 8 | ≥ 70% |
//!
//! `wrk` keeps 64 connections open on loopback; a Lua `request()` gives every request a
//! distinct event id (`<prefix>-<thread>-<counter>`, the prefix new for each round and
//! variant), so each delivery is a new event: claimed, handled by a handler that does
//! nothing, completed. The bare database loops run [`support::TASKS`] (64) tasks inserting
//! distinct keys for as long as a `wrk` round. Rounds alternate between the variants so that
//! drift on a shared machine affects them alike. The summary gives each variant's median
//! figures and, against its baseline, the median of the per-round ratios (each round's
//! figure over the baseline's in the same round, a few seconds apart) with their range: on
//! a virtual machine the speed drifts by a third between rounds even with nothing else
//! running, and pairing rounds keeps most of that out of the ratio.
//! A round fails on any answer `wrk` counts as an error (status 400 and up: neither server
//! sends 1xx or 3xx, so that is every non-2xx) and on any socket error or timeout. After each
//! round on a durable store the bench checks that there are at least as many new done events
//! as `wrk` counted answers, i.e. that no request was a duplicate.
//!
//! Beside each figure, `cpu` is this process's CPU time per event: the server, the store's
//! client side and SQLite's writer thread, but neither `wrk` nor the PostgreSQL server. It
//! moves less than the throughput when other work shares the machine. `other` is how many of
//! the machine's cores were busy with anything but this process and `wrk` (the PostgreSQL
//! server included) during the round: on a shared machine, a round with a high `other`
//! measured the neighbours as much as the variant. Both come from `/proc` (Linux only).
//!
//! Run with
//! `SONIOX_TEST_POSTGRES_URL=postgres://… cargo bench -p soniox-store --all-features --bench receiver_load`.
//! `LOAD_SECONDS` sets the length of a round (default 10; 2 under `cargo xtask bench
//! --quick`), `LOAD_ROUNDS` their number (default 3, 2 under `--quick`; more make the medians
//! steadier on a drifting machine). `LOAD_VARIANTS`
//! picks the stores to measure, comma-separated among `memory`, `sqlite` and `postgres`
//! (default all), each with its baseline: `LOAD_VARIANTS=memory` runs bare hyper and the two
//! `MemoryStore` receivers only. PostgreSQL is measured when it is picked and
//! `SONIOX_TEST_POSTGRES_URL` is set, in a database of its own dropped at the end. Without
//! `wrk` on the `PATH` the bench says so and exits.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod support;

#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;
use bench_report::Ratios;

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use soniox_store::{SqliteStore, deadpool_postgres::Pool};
use soniox_webhook::{
    DEFAULT_HEADER_READ_TIMEOUT, Inbox, ReceivedEvent, Receiver, RunningReceiver, WebhookService,
};
use tokio::{net::TcpListener, process::Command};

use crate::support::{
    Budget, TASKS,
    common::http::{HEADER, SECRET, verifier},
    sqlite::{Bare, DURABILITIES},
};

/// Rounds of every variant unless `LOAD_ROUNDS` says otherwise; the summary is their median.
const ROUNDS: usize = 3;

/// `wrk`'s threads. `wrk` shares the machine with the server; on two cores, one thread
/// limits the rate itself (20–30% fewer requests/s against either server).
const WRK_THREADS: usize = 2;

/// Builds each request's body from the prefix given after `--`, the thread's number and a
/// counter; reports the figures in one line `done()` prints.
const SCRIPT: &str = r#"
local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local prefix, counter
local headers = { ["Content-Type"] = "application/json", ["@HEADER@"] = "@SECRET@" }
function init(args)
  prefix = args[1]
  counter = 0
end

function request()
  counter = counter + 1
  local body = string.format('{"id":"%s-%d-%d","status":"completed"}', prefix, thread_id, counter)
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("soniox-load %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#;

#[tokio::main]
async fn main() {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("receiver_load: `wrk` not found on PATH; skipping");
        bench_report::skipped("every variant", "`wrk` not found on PATH");
        return;
    }
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(bench_report::full_or_quick(10, 2));
    let rounds: usize = std::env::var("LOAD_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .filter(|&rounds| rounds > 0)
        .unwrap_or(bench_report::full_or_quick(ROUNDS, 2));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("load.lua");
    std::fs::write(
        &script,
        SCRIPT
            .replace("@HEADER@", HEADER)
            .replace("@SECRET@", SECRET),
    )
    .expect("write the wrk script");
    let load = Load {
        script,
        duration: Duration::from_secs(seconds),
        run: format!("{:x}", fastrand::u32(..)),
    };

    let picked = Picked::from_env();
    let mut variants = Vec::new();
    if picked.memory {
        variants.push(Variant::new(
            "bare hyper",
            Kind::Wrk(start_bare().await),
            None,
        ));
        variants.push(Variant::new(
            "Receiver + MemoryStore",
            Kind::receiver(Inbox::new(verifier()), Store::Memory).await,
            Some((0, 0.85)),
        ));
        variants.push(Variant::new(
            "  … no header-read timeout",
            Kind::receiver_with(Inbox::new(verifier()), Store::Memory, None).await,
            Some((0, 0.85)),
        ));
    }
    let durabilities = if picked.sqlite {
        &DURABILITIES[..]
    } else {
        &[]
    };
    for &(name, durability, synchronous) in durabilities {
        let bare = Bare::open(
            &dir.path().join(format!("bare-{synchronous}.db")),
            synchronous,
        );
        let path = dir.path().join(format!("store-{synchronous}.db"));
        let store = SqliteStore::builder(&path)
            .durability(durability)
            .open()
            .await
            .expect("open");
        let baseline = variants.len();
        variants.push(Variant::new(
            &format!("bare SQLite, synchronous={synchronous}"),
            Kind::BareSqlite(bare),
            None,
        ));
        variants.push(Variant::new(
            &format!("Receiver + SqliteStore, {name}"),
            Kind::receiver(Inbox::new(verifier()).store(store), Store::Sqlite(path)).await,
            Some((baseline, 0.70)),
        ));
    }
    let postgres = if picked.postgres {
        postgres::variants(&mut variants).await
    } else {
        None
    };

    println!(
        "{rounds} rounds of {seconds} s per variant, alternating; {TASKS} connections \
         (wrk -t{WRK_THREADS}) or tasks"
    );
    for round in 1..=rounds {
        for (index, variant) in variants.iter_mut().enumerate() {
            let prefix = format!("{}-{round}-{index}", load.run);
            let result = variant.kind.run(&load, &prefix).await;
            match &result {
                Ok(figures) => println!("round {round} {:<44} {figures}", variant.name),
                Err(error) => println!("round {round} {:<44} FAILED: {error}", variant.name),
            }
            variant.rounds.push(result);
        }
    }

    println!("median of {rounds} rounds:");
    let mut failed = false;
    for variant in &variants {
        record(variant, &variants);
        let Some(figures) = variant.median() else {
            println!("{:<52} a round failed", variant.name);
            failed = true;
            continue;
        };
        let ratio = variant.baseline.map(|(baseline, target)| {
            let base = &variants[baseline];
            match variant.ratios(base) {
                Some(ratios) => {
                    let verdict = if ratios.median >= target {
                        "met"
                    } else {
                        "MISSED"
                    };
                    format!(
                        "  {:.1}% of {} (rounds {:.0}–{:.0}%; target {:.0}%: {verdict})",
                        100.0 * ratios.median,
                        base.name,
                        100.0 * ratios.lowest,
                        100.0 * ratios.highest,
                        100.0 * target
                    )
                }
                None => format!("  {} failed", base.name),
            }
        });
        println!(
            "{:<52} {figures}{}",
            variant.name,
            ratio.unwrap_or_default()
        );
    }
    for variant in variants {
        variant.kind.stop().await;
    }
    postgres::finish(postgres).await;
    if failed {
        std::process::exit(1);
    }
}

/// Records `variant`'s median for `cargo xtask bench`, against its baseline's median with the
/// median of the per-round ratios. Every request delivers one new event, so a receiver's
/// requests/s and a bare loop's inserts/s are both events/s.
fn record(variant: &Variant, variants: &[Variant]) {
    let name = variant.name.trim_start();
    let Some(figures) = variant.median() else {
        bench_report::failed(name, "a round failed");
        return;
    };
    let figure =
        bench_report::Figure::new(format!("{name} (median)"), figures.per_second, "events/s");
    let Some((baseline, target)) = variant.baseline else {
        figure.report();
        return;
    };
    let base = &variants[baseline];
    match base.median().zip(variant.ratios(base)) {
        Some((base_figures, ratios)) => figure
            .baseline(base.name.trim_start(), base_figures.per_second)
            .ratio(ratios.median)
            .at_least(target)
            .report(),
        None => bench_report::failed(name, &format!("its baseline, {}, failed", base.name)),
    }
}

/// The stores `LOAD_VARIANTS` picks, each measured with its baseline.
struct Picked {
    memory: bool,
    sqlite: bool,
    postgres: bool,
}

impl Picked {
    /// Every store when `LOAD_VARIANTS` is unset; exits on a name it does not know, so a
    /// typo does not silently measure nothing.
    fn from_env() -> Self {
        let Ok(list) = std::env::var("LOAD_VARIANTS") else {
            return Self {
                memory: true,
                sqlite: true,
                postgres: true,
            };
        };
        let mut picked = Self {
            memory: false,
            sqlite: false,
            postgres: false,
        };
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match name {
                "memory" => picked.memory = true,
                "sqlite" => picked.sqlite = true,
                "postgres" => picked.postgres = true,
                other => {
                    println!("LOAD_VARIANTS: unknown {other:?}; use memory, sqlite, postgres");
                    std::process::exit(2);
                }
            }
        }
        picked
    }
}

/// What every `wrk` round shares.
struct Load {
    script: PathBuf,
    duration: Duration,
    /// Starts every event id of this run.
    run: String,
}

struct Variant {
    name: String,
    kind: Kind,
    /// The variant it is compared with, and the share of that one's throughput it aims at.
    baseline: Option<(usize, f64)>,
    rounds: Vec<Result<Figures, String>>,
}

impl Variant {
    fn new(name: &str, kind: Kind, baseline: Option<(usize, f64)>) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            baseline,
            rounds: Vec::new(),
        }
    }

    /// Each round's throughput as a share of `base`'s in the same round, their median and
    /// range; `None` when a round failed.
    fn ratios(&self, base: &Self) -> Option<Ratios> {
        let ratios = self
            .rounds
            .iter()
            .zip(&base.rounds)
            .map(|(round, base)| {
                Some(round.as_ref().ok()?.per_second / base.as_ref().ok()?.per_second)
            })
            .collect::<Option<Vec<_>>>()?;
        Ratios::of(ratios)
    }

    /// Each figure's median over the rounds; `None` when a round failed.
    fn median(&self) -> Option<Figures> {
        let rounds = self
            .rounds
            .iter()
            .map(|round| round.as_ref().ok().copied())
            .collect::<Option<Vec<_>>>()?;
        let median = |figure: fn(&Figures) -> Option<f64>| {
            bench_report::median(rounds.iter().filter_map(figure).collect())
        };
        Some(Figures {
            per_second: median(|figures| Some(figures.per_second))?,
            latency: median(|figures| figures.latency.map(|(p50, _)| p50))
                .zip(median(|figures| figures.latency.map(|(_, p99)| p99))),
            cpu: median(|figures| figures.cpu),
            other: median(|figures| figures.other),
        })
    }
}

/// One round's throughput, for HTTP variants the p50 and p99 latencies, this process's CPU
/// time per event (all in microseconds), and the cores busy with other work.
#[derive(Clone, Copy)]
struct Figures {
    per_second: f64,
    latency: Option<(f64, f64)>,
    cpu: Option<f64>,
    other: Option<f64>,
}

impl Figures {
    fn new(per_second: f64, latency: Option<(f64, f64)>) -> Self {
        Self {
            per_second,
            latency,
            cpu: None,
            other: None,
        }
    }

    /// Runs `round`, adding this process's CPU time per event and the other work's cores
    /// to its figures.
    async fn with_cpu<T>(
        round: impl Future<Output = Result<(Self, T), String>>,
    ) -> Result<(Self, T), String> {
        let (before, start) = (support::cpu::CpuTimes::now(), Instant::now());
        let (mut figures, rest) = round.await?;
        if let Some((after, before)) = support::cpu::CpuTimes::now().zip(before) {
            let seconds = start.elapsed().as_secs_f64();
            let (own, others) = after.since(before, seconds);
            figures.cpu = Some(1e6 * own / seconds / figures.per_second);
            figures.other = Some(others);
        }
        Ok((figures, rest))
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.latency {
            Some((p50, p99)) => write!(
                f,
                "{:>8.0} req/s     p50 {:>8}  p99 {:>8}",
                self.per_second,
                micros(p50),
                micros(p99)
            )?,
            None => write!(f, "{:>8.0} events/s {:30}", self.per_second, "")?,
        }
        if let Some(cpu) = self.cpu {
            write!(f, "  cpu {:>7}/event", micros(cpu))?;
        }
        if let Some(other) = self.other {
            write!(f, "  other {other:.2} cores")?;
        }
        Ok(())
    }
}

fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else if us >= 100.0 {
        format!("{us:.0}µs")
    } else {
        // CPU per event is a few microseconds: a tenth tells variants apart.
        format!("{us:.1}µs")
    }
}

/// Where a receiver records its events, to check after a round that none was a duplicate.
enum Store {
    /// Not checked: the same script feeds the durable stores, which are.
    Memory,
    Sqlite(PathBuf),
    Postgres(Pool),
}

impl Store {
    /// How many events are done.
    async fn done(&self) -> Option<u64> {
        let sql = "SELECT count(*) FROM soniox_webhook_events WHERE state = 'done'";
        match self {
            Self::Memory => None,
            Self::Sqlite(path) => {
                let connection = rusqlite::Connection::open(path).expect("open");
                let count: i64 = connection
                    .query_row(sql, [], |row| row.get(0))
                    .expect("count");
                u64::try_from(count).ok()
            }
            Self::Postgres(pool) => {
                let client = pool.get().await.expect("a connection");
                let count: i64 = client.query_one(sql, &[]).await.expect("count").get(0);
                u64::try_from(count).ok()
            }
        }
    }
}

enum Kind {
    /// A server driven by `wrk`.
    Wrk(SocketAddr),
    Receiver(RunningReceiver, Store),
    BareSqlite(Bare),
    BarePostgres(Pool),
}

impl Kind {
    /// A `Receiver` with `inbox` and a handler that does nothing.
    async fn receiver(inbox: Inbox, store: Store) -> Self {
        Self::receiver_with(inbox, store, Some(DEFAULT_HEADER_READ_TIMEOUT)).await
    }

    async fn receiver_with(inbox: Inbox, store: Store, timeout: Option<Duration>) -> Self {
        let handler = |_: ReceivedEvent| async { Ok::<(), Infallible>(()) };
        let receiver = Receiver::bind("127.0.0.1:0", WebhookService::new(inbox, handler))
            .await
            .expect("bind")
            .header_read_timeout(timeout)
            .spawn()
            .expect("spawn");
        Self::Receiver(receiver, store)
    }

    async fn run(&self, load: &Load, prefix: &str) -> Result<Figures, String> {
        match self {
            Self::Wrk(addr) => Figures::with_cpu(wrk(*addr, load, prefix))
                .await
                .map(|(figures, _)| figures),
            Self::Receiver(receiver, store) => {
                let before = store.done().await;
                let (figures, answered) =
                    Figures::with_cpu(wrk(receiver.local_addr(), load, prefix)).await?;
                let after = store.done().await;
                if let (Some(before), Some(after)) = (before, after)
                    && after - before < answered
                {
                    return Err(format!(
                        "{answered} answers but {} new done events: some requests were duplicates",
                        after - before
                    ));
                }
                Ok(figures)
            }
            Self::BareSqlite(bare) => Figures::with_cpu(async {
                let per_second = bare.measure(prefix, Budget::Time(load.duration)).await;
                Ok((Figures::new(per_second, None), ()))
            })
            .await
            .map(|(figures, ())| figures),
            Self::BarePostgres(pool) => Figures::with_cpu(async {
                let budget = Budget::Time(load.duration);
                let per_second = support::postgres::measure_bare(pool, prefix, budget).await;
                Ok((Figures::new(per_second, None), ()))
            })
            .await
            .map(|(figures, ())| figures),
        }
    }

    async fn stop(self) {
        if let Self::Receiver(receiver, _) = self {
            receiver.shutdown().await.expect("the receiver stops");
        }
    }
}

/// One `wrk` round against `addr`; its figures and how many answers it counted.
async fn wrk(addr: SocketAddr, load: &Load, prefix: &str) -> Result<(Figures, u64), String> {
    let output = Command::new("wrk")
        .arg(format!("-t{WRK_THREADS}"))
        .arg(format!("-c{TASKS}"))
        .arg(format!("-d{}s", load.duration.as_secs()))
        .arg("-s")
        .arg(&load.script)
        .arg(format!("http://{addr}/hooks/soniox"))
        .args(["--", prefix])
        .output()
        .await
        .map_err(|error| format!("cannot run wrk: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("soniox-load "))
        .filter(|_| output.status.success())
        .ok_or_else(|| {
            format!(
                "wrk failed ({}): {}{}",
                output.status,
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })?;
    let numbers = line
        .split_whitespace()
        .map(str::parse::<f64>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("unreadable wrk figures {line:?}: {error}"))?;
    let &[
        requests,
        duration_us,
        status,
        connect,
        read,
        write,
        timeout,
        p50,
        p99,
    ] = &numbers[..]
    else {
        return Err(format!("unreadable wrk figures {line:?}"));
    };
    if status > 0.0 {
        return Err(format!("{status} non-2xx answers of {requests}"));
    }
    if connect + read + write + timeout > 0.0 {
        return Err(format!(
            "socket errors: connect {connect}, read {read}, write {write}, timeout {timeout}"
        ));
    }
    let figures = Figures::new(requests / (duration_us / 1e6), Some((p50, p99)));
    Ok((figures, requests as u64))
}

async fn bare(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Reads the body as the receiver does, so both servers do the same I/O.
    let _ = request.into_body().collect().await;
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// A bare hyper server answering 200 to every request once it has read the body.
async fn start_bare() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(
                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(bare)),
            );
        }
    });
    addr
}

mod postgres {
    use soniox_store::PostgresStore;

    use super::*;
    use crate::support::{
        common::{TestDb, URL_VARIABLE},
        postgres::{POOL, bare_pool},
    };

    /// Adds the PostgreSQL variants when a server is configured; the database to drop.
    pub(super) async fn variants(variants: &mut Vec<Variant>) -> Option<TestDb> {
        if std::env::var_os(URL_VARIABLE).is_none() {
            println!("PostgreSQL: skipped (set {URL_VARIABLE} to measure it)");
            bench_report::skipped("PostgreSQL variants", &format!("{URL_VARIABLE} is not set"));
            return None;
        }
        let db = TestDb::create().await.expect("a database");
        let store = PostgresStore::builder(&db.url)
            .pool_size(POOL)
            .connect()
            .await
            .expect("connect");
        let done = Store::Postgres(store.pool().clone());
        let baseline = variants.len();
        variants.push(Variant::new(
            &format!("bare PostgreSQL, pool of {POOL}"),
            Kind::BarePostgres(bare_pool(&db).await),
            None,
        ));
        variants.push(Variant::new(
            &format!("Receiver + PostgresStore, pool of {POOL}"),
            Kind::receiver(Inbox::new(verifier()).store(store), done).await,
            Some((baseline, 0.70)),
        ));
        Some(db)
    }

    pub(super) async fn finish(db: Option<TestDb>) {
        if let Some(db) = db {
            db.drop_now().await;
        }
    }
}
