//! Answers known before an upload's body is read (401, 429, file too large) reach a client
//! that is still sending: the emulator reads and discards the rest, up to a bound, instead of
//! resetting the connection under the answer.

mod common;

use common::{KEY, builder};
use soniox_emulator::{Emulator, EmulatorBuilder, Quotas};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Far more than the kernel buffers on both ends hold, so the client is still sending when
/// the answer is written.
const BODY: usize = 32 * 1024 * 1024;

/// Sends an upload of `BODY` bytes with `key`, all of it, then returns the status line.
async fn upload_all(emulator: &Emulator, key: &str) -> String {
    let mut stream = TcpStream::connect(emulator.local_addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=XBOUNDARY\r\nContent-Length: {BODY}\r\n\
         Connection: close\r\n\r\n"
    );
    let mut body = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
        filename=\"big.wav\"\r\n\r\n"
        .to_vec();
    body.resize(BODY, b'x');
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&body)
        .await
        .expect("the whole body is accepted, not reset");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("the answer is read, not reset");
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

async fn start(builder: EmulatorBuilder) -> Emulator {
    builder.start().await.expect("emulator starts")
}

#[tokio::test]
async fn a_401_reaches_a_client_still_sending() {
    let emulator = start(builder()).await;
    let line = upload_all(&emulator, "wrong-key").await;
    assert!(line.starts_with("HTTP/1.1 401"), "{line}");
}

#[tokio::test]
async fn a_429_reaches_a_client_still_sending() {
    let emulator = start(builder().quotas(Quotas::new(1, 1, 0))).await;
    let line = upload_all(&emulator, KEY).await;
    assert!(line.starts_with("HTTP/1.1 429"), "{line}");
}

#[tokio::test]
async fn file_too_large_reaches_a_client_still_sending() {
    let emulator = start(builder().max_file_size(1024)).await;
    let line = upload_all(&emulator, KEY).await;
    assert!(line.starts_with("HTTP/1.1 400"), "{line}");
}

#[tokio::test]
async fn an_endless_body_after_an_early_answer_is_cut_off() {
    let emulator = start(builder()).await;
    let mut stream = TcpStream::connect(emulator.local_addr())
        .await
        .expect("connect");
    let head = "POST /v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer wrong\r\n\
                Content-Length: 1073741824\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b'x'; 1024 * 1024];
    let mut sent = 0_usize;
    while stream.write_all(&chunk).await.is_ok() {
        sent += chunk.len();
        assert!(
            sent < 1024 * 1024 * 1024,
            "the emulator read the whole gigabyte"
        );
    }
    // 64 MiB are read and discarded, then the connection is closed.
    assert!(sent >= 64 * 1024 * 1024, "cut off after {sent} bytes");
}

#[tokio::test]
async fn an_upload_declared_too_large_is_answered_before_its_body() {
    let emulator = start(Emulator::builder()).await;
    let mut stream = TcpStream::connect(emulator.local_addr())
        .await
        .expect("connect");
    // Two gigabytes declared; only the head is ever sent.
    let head = "POST /v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer any\r\n\
                Content-Type: multipart/form-data; boundary=XBOUNDARY\r\n\
                Content-Length: 2147483648\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = vec![0_u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Exceeded maximum file size"), "{answer}");
}
