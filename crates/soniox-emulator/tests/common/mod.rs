//! Helpers shared by the integration tests: a started emulator, an HTTP client, test audio,
//! and a real webhook receiver.

#![allow(dead_code, unreachable_pub)]

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use soniox_emulator::{Emulator, EmulatorBuilder, JobClock};
use tokio::{net::TcpListener, sync::mpsc};

pub const KEY: &str = "test-key";

/// An emulator with the test key and a manual clock, unless the caller changes them.
pub fn builder() -> EmulatorBuilder {
    Emulator::builder().api_key(KEY).job_clock(JobClock::Manual)
}

pub struct Api {
    pub emulator: Emulator,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn start(builder: EmulatorBuilder) -> Self {
        let emulator = builder.start().await.expect("emulator starts");
        Self {
            emulator,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(KEY)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(KEY)
    }

    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.put(self.url(path)).bearer_auth(KEY)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(KEY)
    }

    /// Uploads `bytes` as `name` and returns the file's JSON.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Value {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
        let form = reqwest::multipart::Form::new().part("file", part);
        let response = self
            .post("/v1/files")
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let status = response.status();
        let json: Value = response.json().await.expect("file json");
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json
    }

    /// Creates a transcription from `body` and returns its JSON, asserting 201.
    pub async fn create(&self, body: Value) -> Value {
        let (status, json) = send(self.post("/v1/transcriptions").json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json
    }

    /// Uploads a WAV of `ms` milliseconds and creates a job for it with `extra` fields.
    pub async fn job_for_wav(&self, ms: u32, extra: Value) -> Value {
        let file = self.upload("speech.wav", wav(ms)).await;
        let mut body = serde_json::json!({"model": "stt-async-v5", "file_id": file["id"]});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.create(body).await
    }
}

/// Sends and returns the status and JSON body (`null` when empty).
pub async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request is answered");
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (status, json)
}

/// Asserts an error body's shape and returns it.
#[track_caller]
pub fn assert_error(status: StatusCode, json: &Value, expect_status: u16, expect_type: &str) {
    assert_eq!(status.as_u16(), expect_status, "{json}");
    assert_eq!(json["status_code"], expect_status, "{json}");
    assert_eq!(json["error_type"], expect_type, "{json}");
    assert!(json["message"].is_string(), "{json}");
    assert!(json["validation_errors"].is_array(), "{json}");
    assert!(json["request_id"].is_string(), "{json}");
    assert!(json["more_info"].is_string(), "{json}");
}

/// `(error_type, location)` of each validation error.
pub fn locations(json: &Value) -> Vec<(String, String)> {
    json["validation_errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["error_type"].as_str().unwrap_or_default().to_owned(),
                        e["location"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A WAV of `ms` milliseconds (see [`soniox_emulator::wav`]).
pub fn wav(ms: u32) -> Vec<u8> {
    soniox_emulator::wav(Duration::from_millis(ms.into()))
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the receiver does with a request.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// Never answers (until the test ends).
    Hang,
    /// Serves these bytes with 200.
    Body(Bytes),
}

/// A real HTTP server on loopback that records requests and answers from a script (then with
/// the last answer forever).
pub struct Receiver {
    pub addr: SocketAddr,
    pub requests: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    pub async fn start(answers: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (sender, requests) = mpsc::unbounded_channel();
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let sender = sender.clone();
                let answers = Arc::clone(&answers);
                let service = service_fn(move |request: Request<Incoming>| {
                    let sender = sender.clone();
                    let answers = Arc::clone(&answers);
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let _ = sender.send(Received {
                            method: parts.method.to_string(),
                            path_and_query: parts
                                .uri
                                .path_and_query()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            headers: parts.headers,
                            body,
                        });
                        let answer = {
                            let mut answers = answers.lock().expect("lock");
                            if answers.len() > 1 {
                                answers.pop_front()
                            } else {
                                answers.front().cloned()
                            }
                        };
                        let response = match answer.unwrap_or(Answer::Status(200)) {
                            Answer::Status(code) => {
                                let mut response = Response::new(Full::new(Bytes::new()));
                                *response.status_mut() =
                                    StatusCode::from_u16(code).expect("status");
                                response
                            }
                            Answer::Body(bytes) => Response::new(Full::new(bytes)),
                            Answer::Hang => {
                                std::future::pending::<()>().await;
                                Response::new(Full::new(Bytes::new()))
                            }
                        };
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Self { addr, requests }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// The next request, waiting at most ten seconds (a safety net, not a timing assertion).
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("a request arrives")
            .expect("receiver running")
    }
}

/// Polls a job's status until it is terminal (with the automatic clock).
pub async fn wait_terminal(api: &Api, id: &str) -> Value {
    for _ in 0..1000 {
        let (_, json) = send(api.get(&format!("/v1/transcriptions/{id}"))).await;
        if json["status"] == "completed" || json["status"] == "error" {
            return json;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {id} never finished");
}

/// Waits until the emulator has recorded at least `n` webhook attempts (ten seconds at most,
/// a safety net, not a timing assertion).
pub async fn wait_attempts(api: &Api, n: usize) -> Vec<soniox_emulator::WebhookAttempt> {
    tokio::time::timeout(Duration::from_secs(10), api.emulator.wait_for_attempts(n))
        .await
        .unwrap_or_else(|_| panic!("fewer than {n} webhook attempts were recorded"))
}
