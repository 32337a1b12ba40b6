//! Verify + parse of one delivery, against the least a receiver could do: one header lookup,
//! a constant-time compare and a borrowed `serde_json` decode.
//!
//! After criterion's report, each variant's median sample is recorded for `cargo xtask
//! bench` against the bare baseline. Under `--quick` each is measured for 1 s instead of 5.

#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;

use std::{hint::black_box, time::Duration};

use bench_report::{Figure, Samples};
use criterion::Criterion;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use soniox_types::Secret;
use soniox_webhook::Verifier;
use subtle::ConstantTimeEq;

const HEADER: &str = "x-soniox-webhook-secret";
const SECRET: &str = "whsec_9fJ2kQ7xLmN4pR8sT1vW3yZ6bC0dE5gH";
const BODY: &[u8] = br#"{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"completed"}"#;

#[derive(serde::Deserialize)]
struct Bare<'a> {
    id: &'a str,
    status: &'a str,
}

fn headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("hooks.example.com"));
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static("python-httpx/0.28"),
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(BODY.len()));
    headers.insert(HEADER, HeaderValue::from_static(SECRET));
    headers
}

fn bare(headers: &HeaderMap, body: &[u8]) -> Option<(usize, usize)> {
    let value = headers.get(HEADER)?;
    if !bool::from(value.as_bytes().ct_eq(SECRET.as_bytes())) {
        return None;
    }
    let event: Bare<'_> = serde_json::from_slice(body).ok()?;
    Some((event.id.len(), event.status.len()))
}

/// The baseline with the crate's word-wise constant-time compare instead of `subtle`'s
/// byte-wise one, isolating the cost of everything else the verifier does.
fn bare_wordwise(headers: &HeaderMap, body: &[u8]) -> Option<(usize, usize)> {
    let value = headers.get(HEADER)?.as_bytes();
    if value.len() != SECRET.len() {
        return None;
    }
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or_default());
    let (a, b) = (value.chunks_exact(8), SECRET.as_bytes().chunks_exact(8));
    let tail = a.remainder().ct_eq(b.remainder());
    let equal = a
        .zip(b)
        .fold(tail, |acc, (x, y)| acc & word(x).ct_eq(&word(y)));
    if !bool::from(equal) {
        return None;
    }
    let event: Bare<'_> = serde_json::from_slice(body).ok()?;
    Some((event.id.len(), event.status.len()))
}

/// The variants, in the order they run; [`verify`] keeps each one's samples at its index.
const VARIANTS: [&str; 4] = [
    "bare_baseline",
    "bare_baseline_wordwise_compare",
    "verify_and_parse",
    "verify_and_parse_with_metadata",
];

fn verify(c: &mut Criterion, samples: &[Samples; 4]) {
    let headers = headers();
    let method = Method::POST;
    let uri: Uri = "/webhooks/soniox".parse().expect("static URI");
    let with_query: Uri = "/webhooks/soniox?order=42&customer=ada"
        .parse()
        .expect("static URI");
    let verifier = Verifier::new(HEADER, Secret::new(SECRET)).expect("valid configuration");
    assert!(bare(&headers, BODY).is_some());
    assert!(bare_wordwise(&headers, BODY).is_some());
    assert!(verifier.verify(&method, &uri, &headers, BODY).is_ok());

    let mut group = c.benchmark_group("delivery");
    group.bench_function(VARIANTS[0], |b| {
        b.iter_custom(|iters| {
            samples[0].time(iters, || bare(black_box(&headers), black_box(BODY)))
        });
    });
    group.bench_function(VARIANTS[1], |b| {
        b.iter_custom(|iters| {
            samples[1].time(iters, || {
                bare_wordwise(black_box(&headers), black_box(BODY))
            })
        });
    });
    for (index, uri) in [(2, &uri), (3, &with_query)] {
        group.bench_function(VARIANTS[index], |b| {
            b.iter_custom(|iters| {
                samples[index].time(iters, || {
                    verifier.verify(
                        &method,
                        black_box(uri),
                        black_box(&headers),
                        black_box(BODY),
                    )
                })
            });
        });
    }
    group.finish();
}

fn main() {
    let samples: [Samples; 4] = Default::default();
    let mut criterion = Criterion::default()
        .measurement_time(bench_report::full_or_quick(
            Duration::from_secs(5),
            Duration::from_secs(1),
        ))
        .warm_up_time(bench_report::full_or_quick(
            Duration::from_secs(3),
            Duration::from_millis(500),
        ))
        .configure_from_args();
    verify(&mut criterion, &samples);
    criterion.final_summary();
    let nanos = |index: usize| {
        let median = samples[index].median();
        median.map_or(f64::NAN, |time| time.as_secs_f64() * 1e9)
    };
    for (index, name) in VARIANTS.iter().enumerate() {
        let figure = Figure::new(format!("{name} (median sample)"), nanos(index), "ns");
        if index == 0 {
            figure.report();
        } else {
            figure.baseline(VARIANTS[0], nanos(0)).report();
        }
    }
}
