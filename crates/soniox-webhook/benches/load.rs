//! The hyper adapter under load, against a bare hyper server answering 200 to the same
//! requests, in the same run: 64 keep-alive connections on loopback driven by `wrk`.
//!
//! Run with `cargo bench -p soniox-webhook --features hyper --bench load`; set
//! `LOAD_SECONDS` to change the duration of each round (default 10). Without `wrk` on the
//! `PATH` it says so and exits.

use std::{
    convert::Infallible,
    io::Write as _,
    net::SocketAddr,
    process::{Command, Stdio},
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use soniox_types::Secret;
use soniox_webhook::{
    DEFAULT_HEADER_READ_TIMEOUT, ReceivedEvent, Receiver, Verifier, WebhookService,
};
use tokio::net::TcpListener;

const HEADER: &str = "X-Soniox-Webhook-Secret";
const SECRET: &str = "whsec_9fJ2kQ7xLmN4pR8sT1vW3yZ6bC0dE5gH";
const BODY: &str = r#"{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"completed"}"#;

async fn bare(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body like the adapter does, so both servers do the same I/O.
    let _ = request.into_body().collect().await;
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

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

async fn start_adapter(header_read_timeout: Option<Duration>) -> SocketAddr {
    let verifier = Verifier::new(HEADER, Secret::new(SECRET)).expect("valid configuration");
    let handler = |_: ReceivedEvent| async { Ok::<(), Infallible>(()) };
    let receiver = Receiver::bind("127.0.0.1:0", WebhookService::new(verifier, handler))
        .await
        .expect("bind")
        .header_read_timeout(header_read_timeout);
    let addr = receiver.local_addr().expect("addr");
    tokio::spawn(receiver.run_until(std::future::pending()));
    addr
}

struct Round {
    requests_per_sec: f64,
    p50: String,
    p99: String,
}

fn wrk(addr: SocketAddr, script: &std::path::Path, seconds: &str) -> Option<Round> {
    let output = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(format!("http://{addr}/hooks/soniox"))
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines().find_map(|line| {
            line.trim()
                .strip_prefix(prefix)
                .map(|v| v.trim().to_owned())
        })
    };
    if text.contains("Non-2xx") {
        return None;
    }
    Some(Round {
        requests_per_sec: field("Requests/sec:")?.parse().ok()?,
        p50: field("50%")?,
        p99: field("99%")?,
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    #[allow(clippy::print_stdout, reason = "a benchmark reports its figures")]
    let report = |line: String| println!("{line}");
    if Command::new("wrk").arg("--version").output().is_err() {
        report("load: `wrk` not found on PATH; skipping".to_owned());
        return;
    }
    let seconds = std::env::var("LOAD_SECONDS").unwrap_or_else(|_| "10".to_owned());
    let mut script = std::env::temp_dir();
    script.push(format!("soniox-webhook-load-{}.lua", std::process::id()));
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = '{BODY}'\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"{HEADER}\"] = \"{SECRET}\"\n"
    );
    std::fs::File::create(&script)
        .and_then(|mut f| f.write_all(lua.as_bytes()))
        .expect("write the wrk script");

    let bare_addr = start_bare().await;
    let adapter_addr = start_adapter(Some(DEFAULT_HEADER_READ_TIMEOUT)).await;
    // The bare server arms no header-read timer; this variant shows what that timer costs.
    let untimed_addr = start_adapter(None).await;
    let servers = [
        ("bare hyper", bare_addr),
        ("soniox-webhook", adapter_addr),
        ("soniox-webhook, no header timeout", untimed_addr),
    ];
    // Alternate rounds so drift on a shared machine affects every server alike.
    let mut totals = [0.0_f64; 3];
    let mut complete = true;
    for round in 1..=2 {
        for (i, (name, addr)) in servers.iter().enumerate() {
            let (script, seconds, addr) = (script.clone(), seconds.clone(), *addr);
            let result = tokio::task::spawn_blocking(move || wrk(addr, &script, &seconds))
                .await
                .ok()
                .flatten();
            match result {
                Some(r) => {
                    report(format!(
                        "round {round} {name:>34}: {:>8.0} req/s  p50 {:>9}  p99 {:>9}",
                        r.requests_per_sec, r.p50, r.p99
                    ));
                    totals[i] += r.requests_per_sec;
                }
                None => {
                    complete = false;
                    report(format!("round {round} {name}: wrk failed or saw non-2xx"));
                }
            }
        }
    }
    let _ = std::fs::remove_file(&script);
    if complete && totals[0] > 0.0 {
        for (i, (name, _)) in servers.iter().enumerate().skip(1) {
            report(format!(
                "{name} / bare hyper: {:.1}%",
                100.0 * totals[i] / totals[0]
            ));
        }
    }
}
