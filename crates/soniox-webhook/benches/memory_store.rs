//! The default `MemoryStore` in the receiver's steady state: full, so every completion also
//! forgets the oldest done event, with a claim and a completion of a new event per delivery
//! from as many threads as a multi-threaded runtime has workers here.
//!
//! Prints the CPU time per event (claim + complete, the threads' time on a core from
//! `/proc/thread-self/schedstat`, so that time spent waiting for a core on a shared machine
//! does not count) of each round and their median, and the wall time per event. Run
//! with `cargo bench -p soniox-webhook --bench memory_store`; `STORE_ROUNDS` sets the number
//! of rounds (default 7, 3 under `cargo xtask bench --quick`) and `STORE_THREADS` the threads
//! (default 2). The median is the figure `cargo xtask bench` reports.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;

use std::{
    sync::Barrier,
    time::{Duration, Instant},
};

use soniox_webhook::{
    TranscriptionId, WebhookEvent, WebhookStatus,
    store::{Claim, MemoryStore},
};

/// Events per thread and round.
const EVENTS: usize = 200_000;

/// As the receiver's claims: the default handler deadline plus the default lease margin.
const LEASE: Duration = Duration::from_secs(40);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&value| value > 0)
        .unwrap_or(default)
}

/// Ids shaped like Soniox's (UUIDs), distinct per round and thread.
fn events(round: usize, thread: usize) -> Vec<WebhookEvent> {
    (0..EVENTS)
        .map(|n| {
            let id = format!("{round:08x}-{thread:04x}-4dc2-a3ef-{n:012x}");
            WebhookEvent::new(TranscriptionId::new(id), WebhookStatus::Completed)
        })
        .collect()
}

/// This thread's time on a core so far; zero where `/proc` does not say (not Linux).
fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn main() {
    let rounds = env("STORE_ROUNDS", bench_report::full_or_quick(7, 3));
    let threads = env("STORE_THREADS", 2);
    let store = MemoryStore::default();
    let mut figures = Vec::new();
    // Round 0 fills the store to its capacity and is not counted.
    for round in 0..=rounds {
        let batches: Vec<_> = (0..threads).map(|thread| events(round, thread)).collect();
        let barrier = Barrier::new(threads);
        let elapsed: Vec<(Duration, Duration)> = std::thread::scope(|scope| {
            let workers: Vec<_> = batches
                .iter()
                .map(|batch| {
                    let (store, barrier) = (&store, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        let (start, cpu) = (Instant::now(), cpu_time());
                        for event in batch {
                            let Claim::Claimed(token) =
                                store.claim_at(event, LEASE, Instant::now())
                            else {
                                panic!("a new event is claimed");
                            };
                            store.complete_at(event, token, Instant::now());
                        }
                        (start.elapsed(), cpu_time().saturating_sub(cpu))
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("a worker"))
                .collect()
        });
        if round == 0 {
            continue;
        }
        let events = (EVENTS * threads) as f64;
        let slowest = elapsed
            .iter()
            .map(|(wall, _)| *wall)
            .max()
            .unwrap_or_default();
        let cpu: Duration = elapsed.iter().map(|(_, cpu)| *cpu).sum();
        let per_event = cpu.as_secs_f64() * 1e9 / events;
        println!(
            "round {round}: cpu {per_event:.0} ns/event, wall {:.0} ns/event ({threads} threads)",
            slowest.as_secs_f64() * 1e9 / events
        );
        figures.push(per_event);
    }
    figures.sort_by(f64::total_cmp);
    // `env` refuses 0 rounds, so there is a median.
    let median = figures[figures.len() / 2];
    println!(
        "median of {rounds} rounds: cpu {median:.0} ns/event; {} events remembered",
        store.len()
    );
    bench_report::Figure::new(
        "claim + complete of a new event in a full store, CPU (median)",
        median,
        "ns/event",
    )
    .report();
}
