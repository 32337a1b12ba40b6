//! `/v1/transcriptions`, models and temporary keys, with jobs stepped by hand.

mod common;

use common::{Answer, Api, Receiver, assert_error, builder, locations, send, wav};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn create_echoes_the_request_as_the_api_does() {
    let api = Api::start(builder()).await;
    let job = api
        .job_for_wav(
            2_000,
            json!({
                "language_hints": ["en"],
                "enable_speaker_diarization": true,
                "webhook_url": "http://127.0.0.1:9/hook?customer=42&order=a%20b",
                "webhook_auth_header_name": "X-Soniox-Webhook-Secret",
                "webhook_auth_header_value": "s3cr3t",
                "client_reference_id": "ref",
                "audio_url": null
            }),
        )
        .await;
    assert_eq!(job["status"], "queued");
    assert_eq!(job["filename"], "speech.wav");
    assert_eq!(job["webhook_auth_header_value"], "******************");
    assert_eq!(job["webhook_auth_header_name"], "X-Soniox-Webhook-Secret");
    assert_eq!(
        job["webhook_url"],
        "http://127.0.0.1:9/hook?customer=42&order=a%20b"
    );
    assert_eq!(job["enable_speaker_diarization"], true);
    assert_eq!(job["enable_language_identification"], false);
    for null_field in [
        "audio_url",
        "audio_duration_ms",
        "error_type",
        "error_message",
        "webhook_status_code",
    ] {
        assert!(
            job.get(null_field).is_some_and(Value::is_null),
            "{null_field} is null, not absent: {job}"
        );
    }
    let id = job["id"].as_str().expect("id");
    let (_, got) = send(api.get(&format!("/v1/transcriptions/{id}"))).await;
    assert_eq!(got, job);

    let url_job = api
        .create(json!({"model": "stt-async-v3", "audio_url": "http://127.0.0.1:9/media/coffee_shop.mp3?sig=1"}))
        .await;
    assert_eq!(url_job["filename"], "coffee_shop.mp3");
    assert_eq!(url_job["file_id"], Value::Null);
    assert_eq!(url_job["webhook_auth_header_value"], Value::Null);
}

#[tokio::test]
async fn invalid_bodies_get_located_validation_errors() {
    let api = Api::start(builder()).await;
    let cases: Vec<(Value, Vec<(String, String)>)> = vec![
        (
            json!({"audio_url": "http://127.0.0.1/a.wav"}),
            pairs(&[("missing", "body.payload.model")]),
        ),
        (
            json!({"model": 3, "enable_speaker_diarization": "yes", "language_hints": "en"}),
            pairs(&[
                ("string_type", "body.payload.model"),
                ("list_type", "body.payload.language_hints"),
                ("bool_type", "body.payload.enable_speaker_diarization"),
            ]),
        ),
        (
            json!({"model": "stt-async-v5"}),
            pairs(&[("value_error", "body.payload")]),
        ),
        (
            json!({"model": "x".repeat(33), "audio_url": "ftp://a"}),
            pairs(&[
                ("string_too_long", "body.payload.model"),
                ("string_pattern_mismatch", "body.payload.audio_url"),
            ]),
        ),
        (
            json!({"model": "stt-async-v9", "audio_url": "http://a/b"}),
            pairs(&[("value_error", "body.payload.model")]),
        ),
        (
            json!({"model": "stt-rt-v4", "audio_url": "http://a/b"}),
            pairs(&[("value_error", "body.payload.model")]),
        ),
        (
            json!([]),
            pairs(&[("model_attributes_type", "body.payload")]),
        ),
        (
            json!({"model": "stt-async-v5", "file_id": "not-a-uuid"}),
            pairs(&[("uuid_parsing", "body.payload.file_id")]),
        ),
    ];
    for (body, expect) in cases {
        let (status, json) = send(api.post("/v1/transcriptions").json(&body)).await;
        assert_error(status, &json, 400, "invalid_request");
        assert_eq!(json["message"], "Invalid request.");
        assert_eq!(locations(&json), expect, "{body}");
    }
    let (status, json) = send(api.post("/v1/transcriptions").body("{not json")).await;
    assert_error(status, &json, 400, "invalid_request");
    assert_eq!(locations(&json)[0].1, "body");
    let (status, json) = send(api.post("/v1/transcriptions").json(
        &json!({"model": "stt-async-v5", "file_id": "b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11"}),
    ))
    .await;
    assert_error(status, &json, 404, "file_not_found");
}

#[tokio::test]
async fn lifecycle_states_and_conflicts() {
    let api = Api::start(builder()).await;
    let job = api.job_for_wav(2_500, json!({})).await;
    let id = job["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/transcriptions/{id}");

    let (status, json) = send(api.get(&format!("{path}/transcript"))).await;
    assert_error(status, &json, 409, "transcription_invalid_state");
    assert_eq!(
        json["message"],
        "Can only get transcript with completed status."
    );
    let (status, json) = send(api.delete(&path)).await;
    assert_error(status, &json, 409, "transcription_invalid_state");
    assert_eq!(
        json["message"],
        "Cannot delete transcription with queued status."
    );

    assert_eq!(api.emulator.advance_jobs().await, 1);
    let (_, json) = send(api.get(&path)).await;
    assert_eq!(json["status"], "processing");
    assert_eq!(json["audio_duration_ms"], 2_500);
    let (status, json) = send(api.delete(&path)).await;
    assert_eq!(
        json["message"],
        "Cannot delete transcription with processing status."
    );
    assert_eq!(status, StatusCode::CONFLICT);

    assert_eq!(api.emulator.advance_jobs().await, 1);
    assert_eq!(api.emulator.advance_jobs().await, 0);
    let (_, json) = send(api.get(&path)).await;
    assert_eq!(json["status"], "completed");
    let (status, transcript) = send(api.get(&format!("{path}/transcript"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(transcript["id"], id.as_str());
    let tokens = transcript["tokens"].as_array().expect("tokens");
    assert!(!tokens.is_empty());
    let joined: String = tokens
        .iter()
        .map(|t| t["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(transcript["text"], joined.as_str());
    let (_, again) = send(api.get(&format!("{path}/transcript"))).await;
    assert_eq!(again, transcript, "transcripts are deterministic");

    let (_, count) = send(api.get("/v1/transcriptions/count")).await;
    assert_eq!(count["total"], 1);
    let (status, _) = send(api.delete(&path)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, json) = send(api.get(&path)).await;
    assert_error(status, &json, 404, "transcription_not_found");
}

#[tokio::test]
async fn scripted_transcripts_and_shapes() {
    let api = Api::start(builder()).await;
    let audio = wav(3_000);
    api.emulator
        .script_transcript_for(&audio, "Hello there. General Kenobi!");
    let file = api.upload("scripted.wav", audio).await;
    let job = api
        .create(json!({
            "model": "stt-async-v5",
            "file_id": file["id"],
            "enable_speaker_diarization": true,
            "translation": {"type": "one_way", "target_language": "de"}
        }))
        .await;
    api.emulator.finish_jobs().await;
    let id = job["id"].as_str().expect("id");
    let (_, transcript) = send(api.get(&format!("/v1/transcriptions/{id}/transcript"))).await;
    let tokens = transcript["tokens"].as_array().expect("tokens");
    let originals: String = tokens
        .iter()
        .filter(|t| t["translation_status"] == "original")
        .map(|t| t["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(originals, "Hello there. General Kenobi!");
    let translation = tokens
        .iter()
        .find(|t| t["translation_status"] == "translation")
        .expect("translation token");
    assert!(translation.get("start_ms").is_none() && translation.get("end_ms").is_none());
    assert_eq!(translation["source_language"], "en");
    assert_eq!(translation["language"], "de");
    let speakers: Vec<&str> = tokens
        .iter()
        .filter_map(|t| t["speaker"].as_str())
        .collect();
    assert!(speakers.contains(&"1") && speakers.contains(&"2"));
}

#[tokio::test]
async fn script_by_hash_through_the_admin_api() {
    let api = Api::start(builder()).await;
    let audio = wav(1_000);
    let file = api.upload("a.wav", audio.clone()).await;
    let sha = {
        use std::fmt::Write as _;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&audio);
        digest.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let response = api
        .put(&format!("/_emulator/scripts/{sha}"))
        .json(&json!({"text": "Scripted words."}))
        .send()
        .await
        .expect("script");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, json) = send(
        api.put("/_emulator/scripts/nothex")
            .json(&json!({"text": "x"})),
    )
    .await;
    assert_error(status, &json, 400, "invalid_request");
    let job = api
        .create(json!({"model": "stt-async-v5", "file_id": file["id"]}))
        .await;
    let (status, advanced) = send(api.post("/_emulator/jobs/advance")).await;
    assert_eq!((status, advanced), (StatusCode::OK, json!({"advanced": 1})));
    api.emulator.finish_jobs().await;
    let (_, transcript) = send(api.get(&format!(
        "/v1/transcriptions/{}/transcript",
        job["id"].as_str().expect("id")
    )))
    .await;
    assert_eq!(transcript["text"], "Scripted words.");
}

/// An audio server on loopback for one download: it reads the request, lets `answer` write to
/// the connection, then holds it open until the test ends.
async fn audio_server<F, A>(answer: F) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>)
where
    F: FnOnce(tokio::net::TcpStream) -> A + Send + 'static,
    A: Future<Output = ()> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = [0_u8; 1024];
        let _ = stream.read(&mut request).await;
        answer(stream).await;
        std::future::pending::<()>().await;
    });
    (addr, server)
}

#[tokio::test]
async fn a_job_whose_advance_is_dropped_mid_download_still_moves_on() {
    // An audio server that answers only when the test says so.
    let (requested, download_started) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = audio_server(move |mut stream| async move {
        let _ = requested.send(());
        let _ = released.await;
        let audio = wav(1_000);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", audio.len());
        // The emulator is still waiting for this answer, though the advance was dropped.
        let _ = stream.write_all(&[head.into_bytes(), audio].concat()).await;
    })
    .await;
    let api = Api::start(builder()).await;
    let job = api
        .create(json!({"model": "stt-async-v5", "audio_url": format!("http://{addr}/a.wav")}))
        .await;
    let path = format!("/v1/transcriptions/{}", job["id"].as_str().expect("id"));
    // Dropped while the audio downloads, as hyper drops the future of an admin request whose
    // client hangs up.
    tokio::select! {
        moved = api.emulator.advance_jobs() => panic!("advanced ({moved}) before the audio came"),
        started = download_started => started.expect("the download started"),
    }
    release.send(()).expect("the audio server waits");
    // The download goes on without the dropped advance; the next one waits for it and finishes
    // the job. (A safety net, not a timing assertion.)
    let moved = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        api.emulator.advance_jobs(),
    )
    .await
    .expect("the advance ends");
    let (_, json) = send(api.get(&path)).await;
    assert_eq!(
        (json["status"].as_str(), json["audio_duration_ms"].as_u64()),
        (Some("completed"), Some(1_000)),
        "{json}"
    );
    assert_eq!(moved, 1);
    assert_eq!(
        api.emulator.advance_jobs().await,
        0,
        "nothing is left to move"
    );
    let (status, _) = send(api.delete(&path)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.abort();
}

#[tokio::test]
async fn audio_url_jobs_download_or_fail() {
    let mut audio_server = Receiver::start(vec![Answer::Body(wav(1_500).into())]).await;
    let api = Api::start(builder()).await;
    let ok = api
        .create(json!({"model": "stt-async-v5", "audio_url": audio_server.url("/a/speech.wav")}))
        .await;
    api.emulator.advance_jobs().await;
    let request = audio_server.next().await;
    assert_eq!(
        (request.method.as_str(), request.path_and_query.as_str()),
        ("GET", "/a/speech.wav")
    );
    let (_, json) = send(api.get(&format!(
        "/v1/transcriptions/{}",
        ok["id"].as_str().expect("id")
    )))
    .await;
    assert_eq!(
        (json["status"].as_str(), json["audio_duration_ms"].as_u64()),
        (Some("processing"), Some(1_500))
    );

    let text_server = Receiver::start(vec![Answer::Body("plain text, not audio".into())]).await;
    let not_audio = api
        .create(json!({"model": "stt-async-v5", "audio_url": text_server.url("/x.wav")}))
        .await;
    let missing = Receiver::start(vec![Answer::Status(404)]).await;
    let not_found = api
        .create(json!({"model": "stt-async-v5", "audio_url": missing.url("/gone.mp3")}))
        .await;
    let far = api
        .create(json!({"model": "stt-async-v5", "audio_url": "http://example.com/a.mp3"}))
        .await;
    api.emulator.finish_jobs().await;
    for (job, error_type) in [
        (&not_audio, "audio_decode_error"),
        (&not_found, "audio_download_error"),
        (&far, "audio_download_error"),
    ] {
        let id = job["id"].as_str().expect("id");
        let (_, json) = send(api.get(&format!("/v1/transcriptions/{id}"))).await;
        assert_eq!(json["status"], "error", "{json}");
        assert_eq!(json["error_type"], error_type, "{json}");
        assert!(json["error_message"].is_string());
        let (status, json) = send(api.get(&format!("/v1/transcriptions/{id}/transcript"))).await;
        assert_error(status, &json, 409, "transcription_invalid_state");
        assert_eq!(json["message"], "File transcription has failed.");
    }
}

#[tokio::test]
async fn quotas_answer_429() {
    let api = Api::start(builder().quotas(soniox_emulator::Quotas::new(1, 2, 10))).await;
    let body = json!({"model": "stt-async-v5", "audio_url": "http://127.0.0.1:9/a.wav"});
    api.create(body.clone()).await;
    let (status, json) = send(api.post("/v1/transcriptions").json(&body)).await;
    assert_error(status, &json, 429, "limit_exceeded");
    api.emulator.finish_jobs().await;
    api.create(body.clone()).await;
    api.emulator.finish_jobs().await;
    let (status, json) = send(api.post("/v1/transcriptions").json(&body)).await;
    assert_error(status, &json, 429, "limit_exceeded");
}

#[tokio::test]
async fn models_and_temporary_keys() {
    let api = Api::start(builder()).await;
    let (status, models) = send(api.get("/v1/models")).await;
    assert_eq!(status, StatusCode::OK);
    let models = models["models"].as_array().expect("models");
    let v3 = models
        .iter()
        .find(|m| m["id"] == "stt-async-v3")
        .expect("alias listed");
    assert_eq!(v3["aliased_model_id"], "stt-async-v4");
    assert!(
        models
            .iter()
            .any(|m| m["id"] == "stt-rt-v5" && m["transcription_mode"] == "real_time")
    );

    let (status, key) = send(
        api.post("/v1/auth/temporary-api-key")
            .json(&json!({"usage_type": "transcribe_websocket", "expires_in_seconds": 60})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let temp = key["api_key"].as_str().expect("key");
    assert!(temp.starts_with("temp:"));
    assert!(key["expires_at"].is_string());
    let (status, json) = send(api.http.get(api.url("/v1/files")).bearer_auth(temp)).await;
    assert_error(status, &json, 401, "unauthenticated");

    let (status, json) = send(
        api.post("/v1/auth/temporary-api-key")
            .json(&json!({"usage_type": "transcribe_websocket", "expires_in_seconds": 3601})),
    )
    .await;
    assert_error(status, &json, 400, "invalid_request");
    assert_eq!(
        locations(&json),
        pairs(&[("less_than_equal", "body.payload.expires_in_seconds")])
    );
    assert_eq!(
        json["validation_errors"][0]["message"],
        "Input should be less than or equal to 3600"
    );
    let (status, json) = send(
        api.post("/v1/auth/temporary-api-key")
            .json(&json!({"usage_type": "other"})),
    )
    .await;
    assert_error(status, &json, 400, "invalid_request");
    assert_eq!(
        locations(&json),
        pairs(&[
            ("enum", "body.payload.usage_type"),
            ("missing", "body.payload.expires_in_seconds")
        ])
    );
}

#[tokio::test]
async fn the_realistic_clock_finishes_jobs_by_itself() {
    let api = Api::start(builder().job_clock(soniox_emulator::JobClock::Realistic)).await;
    let job = api
        .job_for_wav(200, json!({"enable_language_identification": true}))
        .await;
    let done = common::wait_terminal(&api, job["id"].as_str().expect("id")).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["audio_duration_ms"], 200);
    let (_, transcript) = send(api.get(&format!(
        "/v1/transcriptions/{}/transcript",
        job["id"].as_str().expect("id")
    )))
    .await;
    assert!(
        transcript["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .all(|t| t["language"] == "en")
    );
}

/// A 16-bit mono WAV header with the given format tag, sample rate and byte rate, followed by
/// `data_len` bytes of silence.
fn wav_with_format(format_tag: u16, sample_rate: u32, byte_rate: u32, data_len: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16_u32.to_le_bytes());
    out.extend_from_slice(&format_tag.to_le_bytes());
    out.extend_from_slice(&1_u16.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&byte_rate.to_le_bytes());
    out.extend_from_slice(&2_u16.to_le_bytes());
    out.extend_from_slice(&16_u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.resize(out.len() + data_len as usize, 0);
    out
}

#[tokio::test]
async fn crafted_wav_headers_fail_the_job_as_undecodable_or_too_long() {
    let api = Api::start(builder()).await;
    let mut jobs = Vec::new();
    for (name, bytes) in [
        // A byte rate of 1 made 64 KiB into 18 hours of audio and a 14.6 MiB transcript.
        ("byte rate 1", wav_with_format(1, 16_000, 1, 64 * 1024)),
        // IMA ADPCM at 1 kHz with the lowest byte rate allowed: 125 bytes a second, so
        // 2.3 MB is over 300 minutes.
        ("too long", wav_with_format(0x11, 1_000, 125, 2_300_000)),
        ("five seconds", wav_with_format(1, 16_000, 32_000, 160_000)),
    ] {
        let file = api.upload("crafted.wav", bytes).await;
        let job = api
            .create(json!({"model": "stt-async-v5", "file_id": file["id"]}))
            .await;
        jobs.push((name, job["id"].as_str().expect("id").to_owned()));
    }
    api.emulator.finish_jobs().await;
    let mut outcomes = Vec::new();
    for (name, id) in &jobs {
        let (_, json) = send(api.get(&format!("/v1/transcriptions/{id}"))).await;
        outcomes.push((
            *name,
            json["status"].as_str().unwrap_or_default().to_owned(),
            json["error_type"].as_str().map(str::to_owned),
            json["audio_duration_ms"].as_u64(),
        ));
    }
    assert_eq!(
        outcomes,
        [
            (
                "byte rate 1",
                "error".into(),
                Some("audio_decode_error".into()),
                None
            ),
            (
                "too long",
                "error".into(),
                Some("audio_too_long".into()),
                Some(18_400_000)
            ),
            ("five seconds", "completed".into(), None, Some(5_000)),
        ]
    );
}

#[tokio::test]
async fn a_download_whose_body_stalls_fails_at_the_timeout() {
    // A server that answers with its headers and the first bytes, then sends nothing more.
    let (addr, server) = audio_server(|mut stream| async move {
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nRIFF")
            .await
            .expect("write");
    })
    .await;
    let api =
        Api::start(builder().audio_download_timeout(std::time::Duration::from_millis(200))).await;
    let job = api
        .create(json!({"model": "stt-async-v5", "audio_url": format!("http://{addr}/a.wav")}))
        .await;
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        api.emulator.finish_jobs(),
    )
    .await
    .expect("the download gave up");
    let id = job["id"].as_str().expect("id");
    let (_, json) = send(api.get(&format!("/v1/transcriptions/{id}"))).await;
    assert_eq!(
        (&json["status"], &json["error_type"]),
        (&json!("error"), &json!("audio_download_error")),
        "{json}"
    );
    server.abort();
}
