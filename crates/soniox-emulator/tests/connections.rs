//! Slow and idle peers: request heads that never finish, keep-alive connections left open,
//! and more connections than the emulator serves at once.

mod common;

use std::{net::SocketAddr, time::Duration};

use common::{Api, KEY, builder};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Far longer than any timeout configured below: reaching it means the connection was held.
const BOUND: Duration = Duration::from_secs(30);

/// A request head cut off before its end, as a slow-loris client sends it.
const HALF_HEAD: &[u8] = b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";

/// Sends a request head and the first byte of its two-byte body: the emulator is answering
/// it (reading its body) until [`SLOW_REQUEST_END`] follows.
async fn start_slow_request(stream: &mut TcpStream) {
    let head = format!(
        "POST /v1/transcriptions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
}

/// The rest of [`start_slow_request`]'s body; the whole is refused with 400.
const SLOW_REQUEST_END: &[u8] = b"}";

fn models_request() -> String {
    format!("GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n\r\n")
}

/// Reads until the emulator closes the connection; panics when it is still open after
/// [`BOUND`].
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(BOUND, async {
        let mut buf = [0_u8; 4096];
        // A reset counts as closed too.
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the emulator closed the connection");
    received
}

async fn stalled(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(HALF_HEAD).await.expect("write");
    stream
}

#[tokio::test]
async fn a_half_sent_head_and_an_idle_keep_alive_connection_are_closed() {
    let api = Api::start(builder().header_read_timeout(Duration::from_millis(100))).await;
    let addr = api.emulator.local_addr();

    let mut slow = stalled(addr).await;
    read_until_closed(&mut slow).await;

    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(models_request().as_bytes())
        .await
        .expect("write");
    let answer = String::from_utf8(read_until_closed(&mut idle).await).expect("utf-8");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Reads one whole answer (head and `Content-Length` body) and leaves the connection open.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before a whole answer");
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|n| n.trim().parse::<usize>().expect("a length"))
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text.into_owned();
            }
        }
    }
}

/// Connects and has one request answered, so the connection is known to hold a slot; it stays
/// open, idle.
async fn answered_once(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(models_request().as_bytes())
        .await
        .expect("write");
    let answer = read_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stream
}

#[tokio::test]
async fn a_connection_beyond_the_cap_takes_the_place_of_an_idle_one() {
    let api = Api::start(builder().max_connections(1)).await;
    let addr = api.emulator.local_addr();
    let mut idle = answered_once(addr).await;

    // Without room made, this would wait for the idle one's 30 s keep-alive to time out.
    let response = tokio::time::timeout(BOUND, api.get("/v1/models").send())
        .await
        .expect("served beyond the cap")
        .expect("response");
    assert_eq!(response.status(), 200);
    assert!(
        read_until_closed(&mut idle).await.is_empty(),
        "the idle connection closed without another answer"
    );
}

#[tokio::test(start_paused = true)]
async fn room_is_made_on_the_runtime_clock() {
    // Heads have all the time they need: the paused clock jumps to the next timer whenever
    // the runtime waits.
    let api = Api::start(
        builder()
            .max_connections(1)
            .header_read_timeout(Duration::from_secs(86_400)),
    )
    .await;
    let addr = api.emulator.local_addr();
    let _idle = answered_once(addr).await;
    let started = tokio::time::Instant::now();
    answered_once(addr).await;
    // One second of idleness is needed before the idle connection gives up its slot. Measured
    // on another clock than the wait, the wait went round a loop, each turn a second on the
    // paused clock, until that second had passed in real time.
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "{waited:?} on the runtime's clock"
    );
}

#[tokio::test]
async fn a_connection_answering_a_request_keeps_its_slot_until_it_has_answered() {
    let api = Api::start(builder().max_connections(1)).await;
    let addr = api.emulator.local_addr();
    // A request whose body is still arriving: the emulator is answering it.
    let mut busy = TcpStream::connect(addr).await.expect("connect");
    start_slow_request(&mut busy).await;

    let second = api.get("/v1/models").send();
    let mut second = std::pin::pin!(second);
    // Can only pass wrongly (a slow machine), never fail wrongly. hyper would finish this
    // request even if its connection were chosen to close; the next test checks the choice.
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), &mut second)
            .await
            .is_err(),
        "a connection beyond the cap was served while the only slot's request was in progress"
    );
    busy.write_all(SLOW_REQUEST_END).await.expect("write");
    let response = tokio::time::timeout(BOUND, second)
        .await
        .expect("served once the busy connection answered and idled")
        .expect("response");
    assert_eq!(response.status(), 200);
    let answer = String::from_utf8(read_until_closed(&mut busy).await).expect("utf-8");
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "the request in progress got its whole answer before its connection closed: {answer}"
    );
}

#[tokio::test]
async fn the_idle_connection_is_closed_to_make_room_not_the_busy_one() {
    let api = Api::start(builder().max_connections(2)).await;
    let addr = api.emulator.local_addr();
    // Idle the longest, but then answering a request whose body is still arriving.
    let mut busy = answered_once(addr).await;
    let mut idle = answered_once(addr).await;
    start_slow_request(&mut busy).await;

    // Served while the busy connection's body is incomplete: only closing the idle one can
    // have made room, since the busy one's slot frees only after its answer.
    let response = tokio::time::timeout(BOUND, api.get("/v1/models").send())
        .await
        .expect("served by closing the idle connection")
        .expect("response");
    assert_eq!(response.status(), 200);
    assert!(
        read_until_closed(&mut idle).await.is_empty(),
        "the idle connection closed without another answer"
    );
    busy.write_all(SLOW_REQUEST_END).await.expect("write");
    let answer = read_answer(&mut busy).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test]
async fn real_requests_are_served_while_hundreds_of_connections_stall() {
    // 300, not more, so that both ends fit in the 1,024 file descriptors many systems allow.
    let api = Api::start(builder()).await;
    let addr = api.emulator.local_addr();
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(stalled(addr).await);
    }
    for _ in 0..20 {
        let response = tokio::time::timeout(BOUND, api.get("/v1/models").send())
            .await
            .expect("served while connections stall")
            .expect("response");
        assert_eq!(response.status(), 200);
    }
    drop(held);
}
