//! Measuring helpers shared by the emulator's benches and, through a `#[path]` module, by
//! soniox-webhook's receiver bench: resident memory from `/proc`, connections that stall in
//! the middle of a request head, a keep-alive load of real requests, and (`bench_report.rs`) the
//! figures recorded for `cargo xtask bench`.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[path = "bench_report.rs"]
pub(crate) mod bench_report;
#[path = "proc_status.rs"]
mod proc_status;

/// A field of `/proc/self/status` in KiB (`VmRSS:`, `VmHWM:`); 0 off Linux.
pub(crate) fn status_kib(field: &str) -> u64 {
    proc_status::status_kib("/proc/self/status", field).unwrap_or(0)
}

/// Opens `n` connections to `addr`, each sending the start of a request head and no more,
/// as a slow-loris client does. They stay open while the returned streams are held.
pub(crate) async fn stall(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .await
            .expect("write");
        held.push(stream);
    }
    held
}

/// How many connections of `held` the server has not closed.
pub(crate) async fn still_open(held: &mut [TcpStream]) -> usize {
    let mut open = 0;
    for stream in held {
        let mut byte = [0_u8; 1];
        // Nothing to read and no end of stream: still open.
        if tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte))
            .await
            .is_err()
        {
            open += 1;
        }
    }
    open
}

/// Sends requests for `duration` over `clients` keep-alive connections, the `n`-th request
/// being `request(n)`, and returns the requests answered per second. Panics on an answer
/// other than 200.
pub(crate) async fn requests_per_second(
    addr: SocketAddr,
    clients: usize,
    duration: Duration,
    request: impl Fn(u64) -> Vec<u8> + Send + Sync + 'static,
) -> f64 {
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let request = Arc::clone(&request);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut buf = Vec::with_capacity(4096);
            let mut answered = 0_u64;
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                stream.write_all(&request(n)).await.expect("write");
                read_answer(&mut stream, &mut buf).await;
                answered += 1;
            }
            answered
        }));
    }
    let mut answered = 0;
    for task in tasks {
        answered += task.await.expect("client task");
    }
    answered as f64 / start.elapsed().as_secs_f64()
}

/// Reads one answer with a `Content-Length` body, asserting 200.
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    buf.clear();
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        read_more(stream, buf).await;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    while buf.len() < head_end + length {
        read_more(stream, buf).await;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0_u8; 4096];
    let n = stream.read(&mut chunk).await.expect("read");
    assert!(n > 0, "the server closed a keep-alive connection");
    buf.extend_from_slice(&chunk[..n]);
}

/// Measures requests/s of `request` without stalled connections, then opens `stalled` of
/// them, waits for the server to accept them, and measures the process's RSS and the
/// requests/s again while they are held, and prints and records the figures. Each round of
/// requests lasts 3 s, or 1 s under `--quick`.
pub(crate) async fn held_connections(
    name: &str,
    addr: SocketAddr,
    stalled: usize,
    request: impl Fn(u64) -> Vec<u8> + Clone + Send + Sync + 'static,
) {
    const CLIENTS: usize = 8;
    let round = bench_report::full_or_quick(Duration::from_secs(3), Duration::from_secs(1));
    let baseline_rps = requests_per_second(addr, CLIENTS, round, request.clone()).await;
    let rss_before_kib = status_kib("VmRSS:");
    let mut held = stall(addr, stalled).await;
    // Let the server accept and start reading every one of them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after_kib = status_kib("VmRSS:");
    let held_rps = requests_per_second(addr, CLIENTS, round, request).await;
    let still_open = still_open(&mut held).await;
    let added_kib = rss_after_kib.saturating_sub(rss_before_kib);
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "{name}: RSS {} KiB before, {} KiB with {stalled} stalled connections \
             (+{} KiB, {:.1} KiB each; {still_open} still open after the second round); \
             {:.0} requests/s without them, {:.0} requests/s while held ({CLIENTS} keep-alive \
             clients, {} s each)\n",
            rss_before_kib,
            rss_after_kib,
            added_kib,
            added_kib as f64 / stalled as f64,
            baseline_rps,
            held_rps,
            round.as_secs(),
        )
        .as_bytes(),
    );
    bench_report::Figure::new(
        "RSS per stalled connection",
        added_kib as f64 / stalled as f64,
        "KiB",
    )
    .report();
    bench_report::Figure::new(
        format!("requests/s with {stalled} stalled connections held"),
        held_rps,
        "req/s",
    )
    .baseline("without them", baseline_rps)
    .report();
    bench_report::Figure::new(
        "stalled connections still open after the second round",
        still_open as f64,
        &format!("of {stalled}"),
    )
    .report();
}
