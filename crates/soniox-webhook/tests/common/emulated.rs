//! The emulator as a real Soniox: jobs created over its REST API, webhooks delivered over
//! loopback.

use std::time::Duration;

use serde_json::{Value, json};
use soniox_emulator::{Emulator, EmulatorBuilder, JobClock, WebhookAttempt};

use super::HEADER;

pub(crate) const API_KEY: &str = "e2e-key";
/// Generous, so that a slow machine never fails a correct run; only a broken one waits it out.
pub(crate) const GIVE_UP_AFTER: Duration = Duration::from_secs(8);

/// An emulator on a free port, jobs stepped by hand, failed deliveries retried quickly.
pub(crate) fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .api_key(API_KEY)
        .job_clock(JobClock::Manual)
        .webhook_retry_schedule([
            Duration::ZERO,
            Duration::from_millis(10),
            Duration::from_millis(10),
        ])
}

/// Creates jobs on the emulator over its REST API, as an application would.
pub(crate) struct Api {
    pub(crate) emulator: Emulator,
    http: reqwest::Client,
}

impl Api {
    pub(crate) async fn start(builder: EmulatorBuilder) -> Self {
        Self {
            emulator: builder.start().await.expect("the emulator starts"),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("the emulator answers");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("a JSON body")
    }

    pub(crate) async fn upload(&self, bytes: Vec<u8>) -> String {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("audio.wav");
        let form = reqwest::multipart::Form::new().part("file", part);
        let url = format!("{}/v1/files", self.emulator.base_url());
        let file = self.send(self.http.post(url).multipart(form)).await;
        file["id"].as_str().expect("a file id").to_owned()
    }

    /// Creates a job for `audio` (a `file_id` or `audio_url` field) whose webhook goes to
    /// `webhook_url`, authenticated with `secret` when given; returns its id.
    pub(crate) async fn create(
        &self,
        audio: Value,
        webhook_url: &str,
        secret: Option<&str>,
    ) -> String {
        let mut body = json!({"model": "stt-async-v5", "webhook_url": webhook_url});
        if let (Some(body), Some(audio)) = (body.as_object_mut(), audio.as_object()) {
            body.extend(audio.clone());
            if let Some(secret) = secret {
                body.insert("webhook_auth_header_name".into(), HEADER.into());
                body.insert("webhook_auth_header_value".into(), secret.into());
            }
        }
        let url = format!("{}/v1/transcriptions", self.emulator.base_url());
        let job = self.send(self.http.post(url).json(&body)).await;
        job["id"].as_str().expect("a transcription id").to_owned()
    }

    pub(crate) async fn job_for_wav(&self, webhook_url: &str, secret: Option<&str>) -> String {
        let file_id = self.upload(wav(200)).await;
        self.create(json!({"file_id": file_id}), webhook_url, secret)
            .await
    }

    pub(crate) async fn transcription(&self, id: &str) -> Value {
        let url = format!("{}/v1/transcriptions/{id}", self.emulator.base_url());
        self.send(self.http.get(url)).await
    }

    /// Waits until the attempt log holds `count` attempts, then returns them.
    pub(crate) async fn attempts(&self, count: usize) -> Vec<WebhookAttempt> {
        self.attempts_until(|attempts| attempts.len() >= count)
            .await
    }

    /// Waits until `enough` holds for the attempt log, then returns it.
    pub(crate) async fn attempts_until(
        &self,
        enough: impl Fn(&[WebhookAttempt]) -> bool,
    ) -> Vec<WebhookAttempt> {
        let wait = async {
            loop {
                let attempts = self.emulator.webhook_attempts();
                if enough(&attempts) {
                    return attempts;
                }
                // Deliveries finish on other tasks; polling briefly is the only signal the
                // emulator offers, and the overall timeout only bounds a failing run.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(GIVE_UP_AFTER, wait)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the attempt log never got there: {:?}",
                    self.emulator.webhook_attempts()
                )
            })
    }

    pub(crate) async fn shutdown(self) {
        self.emulator.shutdown().await;
    }
}

/// A WAV of `ms` milliseconds (see [`soniox_emulator::wav`]).
fn wav(ms: u32) -> Vec<u8> {
    soniox_emulator::wav(Duration::from_millis(ms.into()))
}
