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

/// Connects and has one request answered, so the connection is known to hold a slot; it stays
/// open, idle.
async fn answered_once(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(models_request().as_bytes())
        .await
        .expect("write");
    let mut buf = [0_u8; 4096];
    let n = stream.read(&mut buf).await.expect("answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
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
    // The rest of its one answer at most, then the end.
    read_until_closed(&mut idle).await;
}

#[tokio::test]
async fn a_connection_answering_a_request_keeps_its_slot_until_it_has_answered() {
    let api = Api::start(builder().max_connections(1)).await;
    let addr = api.emulator.local_addr();
    // A request whose body is still arriving: the emulator is answering it.
    let mut busy = TcpStream::connect(addr).await.expect("connect");
    busy.write_all(
        format!(
            "POST /v1/transcriptions HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .expect("write");

    let second = api.get("/v1/models").send();
    let mut second = std::pin::pin!(second);
    // Can only pass wrongly (a slow machine), never fail wrongly.
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), &mut second)
            .await
            .is_err(),
        "a connection beyond the cap was served while the only slot's request was in progress"
    );
    busy.write_all(b"}").await.expect("write");
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
