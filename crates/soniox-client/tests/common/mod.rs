//! Helpers shared by the client's integration tests: an emulator, a client pointed at it, test
//! audio, and a small real HTTP server for audio downloads and webhook deliveries.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use soniox_client::{Client, ClientBuilder, RetryPolicy, Upload, WaitOptions};
use soniox_emulator::{Emulator, EmulatorBuilder, FaultAction, FaultRule, JobClock};
use soniox_types::{CreateTranscription, Transcription};
use tokio::{net::TcpListener, sync::mpsc};

/// The message of `error`, then of each of its causes in turn.
pub fn messages(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    std::iter::successors(Some(error), |&error| error.source())
        .map(ToString::to_string)
        .collect()
}

/// The key every test emulator accepts.
pub const KEY: &str = "client-test-key";

/// An emulator accepting [`KEY`] whose jobs move only when the test says so.
pub fn emulator() -> EmulatorBuilder {
    Emulator::builder().api_key(KEY).job_clock(JobClock::Manual)
}

/// Starts `builder`.
pub async fn start(builder: EmulatorBuilder) -> Emulator {
    builder.start().await.expect("the emulator starts")
}

/// Retries that wait at most a few milliseconds, so fault tests stay fast.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
}

/// Polls every few milliseconds: the emulator finishes jobs at once.
pub fn quick_wait() -> WaitOptions {
    WaitOptions::new()
        .initial_interval(Duration::from_millis(2))
        .max_interval(Duration::from_millis(10))
        .timeout(Some(Duration::from_secs(20)))
}

/// A client builder pointed at `emulator` with [`KEY`] and [`fast_retries`].
pub fn client_builder(emulator: &Emulator) -> ClientBuilder {
    Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .retry_policy(fast_retries())
}

/// A transcription id of the emulator's form that names nothing.
pub const MISSING: &str = "00000000-0000-4000-8000-000000000000";

/// A fault rule applying `action` to `method` requests whose path starts with `prefix`.
pub fn on(method: &str, prefix: &str, action: FaultAction) -> FaultRule {
    FaultRule::new(action).method(method).path_prefix(prefix)
}

/// How many `method` requests the emulator has answered on `route` (a path with `{id}`).
pub fn requests(emulator: &Emulator, method: &str, route: &str) -> u64 {
    emulator.request_counts().get(method, route)
}

/// [`on`] job creations.
pub fn on_create(action: FaultAction) -> FaultRule {
    on("POST", "/v1/transcriptions", action)
}

/// A client pointed at `emulator`.
pub fn client(emulator: &Emulator) -> Client {
    client_builder(emulator).build().expect("the client builds")
}

/// A job request for `model` whose audio URL nothing listens on: a job made from it stays
/// unfinished under the manual clock, and fails its download if it is ever run.
pub fn url_request(model: &str) -> CreateTranscription {
    CreateTranscription::new(model).audio_url("http://127.0.0.1:9/a.wav")
}

/// Uploads `audio` and creates a job for the uploaded file.
pub async fn job_for(client: &Client, audio: Vec<u8>) -> Transcription {
    let file = client
        .files()
        .upload(Upload::bytes(audio, "speech.wav"))
        .await
        .expect("upload");
    let request = CreateTranscription::new("stt-async-v5").file_id(file.id);
    client
        .transcriptions()
        .create(&request)
        .await
        .expect("create")
}

/// How many jobs and files the account holds.
pub async fn counts(client: &Client) -> (u64, u64) {
    let jobs = client.transcriptions().count().await.expect("count jobs");
    let files = client.files().count().await.expect("count files");
    (jobs.total, files.total)
}

/// A WAV of `ms` milliseconds (see [`soniox_emulator::wav`]).
pub fn wav(ms: u32) -> Vec<u8> {
    soniox_emulator::wav(Duration::from_millis(ms.into()))
}

/// A loopback HTTP server that answers from a script (the last answer repeats forever) and
/// reports the request target of every request it gets.
pub struct Server {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<String>,
}

impl Server {
    /// Starts a server answering each request with the next `(status, body)` of `answers`.
    pub async fn start(answers: Vec<(u16, Bytes)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (sender, requests) = mpsc::unbounded_channel();
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                let answers = Arc::clone(&answers);
                let service = service_fn(move |request: Request<Incoming>| {
                    let sender = sender.clone();
                    let answers = Arc::clone(&answers);
                    async move {
                        let target = request
                            .uri()
                            .path_and_query()
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        // Read the whole body first, so the peer never sees a half-read request.
                        let _ = request.into_body().collect().await;
                        let (status, body) = {
                            let mut answers = answers.lock().expect("lock");
                            let next = if answers.len() > 1 {
                                answers.pop_front()
                            } else {
                                answers.front().cloned()
                            };
                            next.unwrap_or((200, Bytes::new()))
                        };
                        let _ = sender.send(target);
                        let mut response = Response::new(Full::new(body));
                        *response.status_mut() = StatusCode::from_u16(status).expect("status");
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Self { addr, requests }
    }

    /// A server answering every request with 200 and `body`.
    pub async fn serving(body: Vec<u8>) -> Self {
        Self::start(vec![(200, Bytes::from(body))]).await
    }

    /// The absolute URL of `path_and_query` on this server.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// The target of a request already received, if any is left unread.
    pub fn try_next_request(&mut self) -> Option<String> {
        self.requests.try_recv().ok()
    }

    /// The request target (path and query, as sent) of the next request.
    ///
    /// The timeout is a safety net against a hung test, not a timing assertion.
    pub async fn next_request(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("a request arrives")
            .expect("the server is running")
    }
}
