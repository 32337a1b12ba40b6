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

/// More body than the emulator may read before answering a form it cannot accept, the 64 MiB
/// it discards after an early answer included, plus what the kernel buffers hold.
const ENDLESS_CAP: usize = 128 * 1024 * 1024;

/// Streams a chunked upload: `head`, then `filler` over and over, until the emulator answers
/// or `ENDLESS_CAP` bytes are sent (then the body is ended, so an emulator that waits for the
/// end answers too). Returns the answer and how many body bytes were sent before it came.
async fn stream_until_answered(emulator: &Emulator, head: &[u8], filler: &[u8]) -> (String, usize) {
    let mut stream = TcpStream::connect(emulator.local_addr())
        .await
        .expect("connect");
    let request_head = format!(
        "POST /v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: multipart/form-data; boundary=XBOUNDARY\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request_head.as_bytes())
        .await
        .expect("head");
    let chunk = |data: &[u8]| {
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(b"\r\n");
        chunk
    };
    if !head.is_empty() {
        // An empty chunk would end the body.
        stream.write_all(&chunk(head)).await.expect("form head");
    }
    let filler = chunk(&filler.repeat((64 * 1024 / filler.len()).max(1)));
    let mut sent = head.len();
    let mut answer = Vec::new();
    let mut buffer = vec![0_u8; 4096];
    while sent < ENDLESS_CAP {
        match stream.try_read(&mut buffer) {
            Ok(n) if n > 0 => {
                answer.extend_from_slice(&buffer[..n]);
                break;
            }
            Ok(_) => break,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("reading the answer: {error}"),
        }
        if stream.write_all(&filler).await.is_err() {
            // Closed after the answer and the bounded discarding: the answer is in the socket.
            break;
        }
        sent += filler.len();
    }
    if answer.is_empty() && sent >= ENDLESS_CAP {
        let _ = stream.write_all(b"0\r\n\r\n").await;
    } else {
        // Ends the emulator's discarding of the rest at once instead of at its time bound.
        let _ = stream.shutdown().await;
    }
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    answer.extend_from_slice(&rest);
    (String::from_utf8_lossy(&answer).into_owned(), sent)
}

#[track_caller]
fn check_endless(answer: &str, sent: usize, expect: &str) {
    assert!(
        sent < ENDLESS_CAP,
        "answered only after the body ended ({sent} bytes): {answer}"
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(expect), "{answer}");
}

/// A safety net for an emulator that waits for the end of a body it scans again and again;
/// a passing run takes a fraction of a second.
async fn within_a_minute<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(60), future)
        .await
        .expect("the emulator answered within a minute")
}

#[tokio::test]
async fn an_upload_without_a_boundary_is_refused_while_it_is_sent() {
    let emulator = start(builder()).await;
    let (answer, sent) = within_a_minute(stream_until_answered(&emulator, b"", b"x")).await;
    check_endless(&answer, sent, "malformed multipart body");
}

#[tokio::test]
async fn a_part_whose_headers_never_end_is_refused_while_it_is_sent() {
    let emulator = start(builder()).await;
    let head = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
        filename=\"a.wav\"\r\nX-Padding: ";
    let (answer, sent) = within_a_minute(stream_until_answered(&emulator, head, b"x")).await;
    check_endless(&answer, sent, "malformed multipart body");
}

#[tokio::test]
async fn an_endless_form_field_is_refused_while_it_is_sent() {
    let emulator = start(builder()).await;
    let head = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n";
    let (answer, sent) = within_a_minute(stream_until_answered(&emulator, head, b"x")).await;
    check_endless(&answer, sent, "longer than");
    let head =
        b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"client_reference_id\"\r\n\r\n";
    let (answer, sent) = within_a_minute(stream_until_answered(&emulator, head, b"x")).await;
    check_endless(&answer, sent, "string_too_long");
}

#[tokio::test]
async fn endless_small_fields_after_the_file_are_refused_while_they_are_sent() {
    let emulator = start(builder().max_file_size(1024)).await;
    let mut head = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
        filename=\"a.wav\"\r\n\r\n"
        .to_vec();
    head.extend_from_slice(&[b'x'; 512]);
    head.extend_from_slice(b"\r\n");
    let field = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n";
    let (answer, sent) = within_a_minute(stream_until_answered(&emulator, &head, field)).await;
    check_endless(
        &answer,
        sent,
        "Exceeded maximum file size (maximum is 1024 bytes)",
    );
}
