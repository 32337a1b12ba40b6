//! Deliveries exactly as Soniox sends them, over a raw socket, and a receiver to take them.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use soniox_types::Secret;
use soniox_webhook::{
    Inbox, ReceivedEvent, Receiver, RunningReceiver, Verifier, WebhookService, store::EventStore,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

pub(crate) const HEADER: &str = "X-Soniox-Webhook-Secret";
pub(crate) const SECRET: &str = "store-tests-secret-5e1d";

pub(crate) fn verifier() -> Verifier {
    Verifier::new(HEADER, Secret::new(SECRET)).expect("a valid verifier")
}

/// POSTs `{"id": id, "status": "completed"}` and returns the status code and body.
pub(crate) async fn deliver(addr: SocketAddr, id: &str) -> (u16, String) {
    let body = format!(r#"{{"id":"{id}","status":"completed"}}"#);
    let request = format!(
        "POST /hooks/soniox HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\n{HEADER}: {SECRET}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The ids a receiver's handler was called with, in order.
pub(crate) type Calls = Arc<Mutex<Vec<String>>>;

/// A receiver on a free loopback port whose handler records each call and succeeds.
pub(crate) async fn receiver(store: Arc<dyn EventStore>) -> (RunningReceiver, Calls) {
    receiver_with(store, |inbox| inbox).await
}

/// [`receiver`], with `configure` applied to its inbox.
pub(crate) async fn receiver_with(
    store: Arc<dyn EventStore>,
    configure: impl FnOnce(Inbox) -> Inbox,
) -> (RunningReceiver, Calls) {
    let calls = Calls::default();
    let seen = Arc::clone(&calls);
    let handler = move |event: ReceivedEvent| {
        seen.lock()
            .expect("calls lock")
            .push(event.id().as_str().to_owned());
        async { Ok::<(), std::convert::Infallible>(()) }
    };
    let inbox = configure(Inbox::new(verifier()).shared_store(store));
    let running = Receiver::bind("127.0.0.1:0", WebhookService::new(inbox, handler))
        .await
        .expect("bind")
        .spawn()
        .expect("a bound address");
    (running, calls)
}
