//! `/v1/files`, authentication, error bodies and pagination, over real loopback HTTP.

mod common;

use common::{Api, KEY, assert_error, builder, locations, send, wav};
use reqwest::StatusCode;

#[tokio::test]
async fn upload_get_list_count_delete() {
    let api = Api::start(builder()).await;
    let audio = wav(1_000);
    let part = reqwest::multipart::Part::bytes(audio.clone()).file_name("speech.wav");
    let form = reqwest::multipart::Form::new()
        .text("client_reference_id", "ref-1")
        .part("file", part);
    let (status, file) = send(api.post("/v1/files").multipart(form)).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    assert_eq!(file["filename"], "speech.wav");
    assert_eq!(file["size"], audio.len());
    assert_eq!(file["client_reference_id"], "ref-1");
    let id = file["id"].as_str().expect("id").to_owned();

    let (status, got) = send(api.get(&format!("/v1/files/{id}"))).await;
    assert_eq!((status, &got), (StatusCode::OK, &file));

    let second = api
        .upload("other.mp3", b"ID3\x04 not really mp3".to_vec())
        .await;
    assert_eq!(second["client_reference_id"], serde_json::Value::Null);
    let (_, list) = send(api.get("/v1/files")).await;
    let ids: Vec<&str> = list["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, [second["id"].as_str().expect("id"), &id]);
    assert_eq!(list["next_page_cursor"], serde_json::Value::Null);

    let (_, count) = send(api.get("/v1/files/count")).await;
    assert_eq!(
        count,
        serde_json::json!({"total": 2, "public_api": 2, "playground": 0})
    );

    let response = api
        .delete(&format!("/v1/files/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, json) = send(api.get(&format!("/v1/files/{id}"))).await;
    assert_error(status, &json, 404, "file_not_found");
    assert_eq!(json["message"], "File could not be found.");
    let (status, json) = send(api.delete(&format!("/v1/files/{id}"))).await;
    assert_error(status, &json, 404, "file_not_found");
}

#[tokio::test]
async fn upload_without_a_file_part_is_located() {
    let api = Api::start(builder()).await;
    let form = reqwest::multipart::Form::new().text("client_reference_id", "x");
    let (status, json) = send(api.post("/v1/files").multipart(form)).await;
    assert_error(status, &json, 400, "invalid_request");
    assert_eq!(
        locations(&json),
        [("missing".to_owned(), "file.file".to_owned())]
    );
    let (status, json) = send(api.post("/v1/files").body("not multipart")).await;
    assert_error(status, &json, 400, "invalid_request");

    let long = "x".repeat(257);
    let form = reqwest::multipart::Form::new()
        .text("client_reference_id", long)
        .part(
            "file",
            reqwest::multipart::Part::bytes(wav(10)).file_name("a.wav"),
        );
    let (status, json) = send(api.post("/v1/files").multipart(form)).await;
    assert_error(status, &json, 400, "invalid_request");
    assert_eq!(
        locations(&json),
        [(
            "string_too_long".to_owned(),
            "file.client_reference_id".to_owned()
        )]
    );
    let (_, count) = send(api.get("/v1/files/count")).await;
    assert_eq!(count["total"], 0, "a rejected upload leaves nothing behind");
}

#[tokio::test]
async fn authentication_and_request_ids() {
    let api = Api::start(builder()).await;
    let unauthenticated = [
        api.http.get(api.url("/v1/files")),
        api.http.get(api.url("/v1/files")).bearer_auth("wrong"),
        api.http
            .get(api.url("/v1/models"))
            .bearer_auth("temp:ABCDEF"),
    ];
    for request in unauthenticated {
        let response = request.send().await.expect("answered");
        let header = response
            .headers()
            .get(soniox_emulator::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = response.status();
        let json: serde_json::Value = response.json().await.expect("json");
        assert_error(status, &json, 401, "unauthenticated");
        assert_eq!(
            json["message"],
            "Incorrect API key provided. You can get an API key at https://console.soniox.com"
        );
        assert_eq!(
            json["more_info"],
            "https://soniox.com/docs/api-reference/errors#unauthenticated"
        );
        assert_eq!(header.as_deref(), json["request_id"].as_str());
    }
    let (status, _) = send(api.http.get(api.url("/v1/models")).bearer_auth(KEY)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn pagination_follows_cursors() {
    let api = Api::start(builder()).await;
    for i in 0..5 {
        api.upload(&format!("f{i}.wav"), wav(10)).await;
    }
    let mut names = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = send(
            api.get("/v1/files")
                .query(&[("limit", "2"), ("cursor", cursor.as_str())]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for file in page["files"].as_array().expect("files") {
            names.push(file["filename"].as_str().expect("name").to_owned());
        }
        match page["next_page_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["f4.wav", "f3.wav", "f2.wav", "f1.wav", "f0.wav"]);

    let (status, json) = send(api.get("/v1/files?cursor=bogus")).await;
    assert_error(status, &json, 400, "invalid_cursor");
    for limit in ["0", "1001"] {
        let (status, json) = send(api.get(&format!("/v1/transcriptions?limit={limit}"))).await;
        assert_error(status, &json, 400, "invalid_request");
        assert_eq!(locations(&json)[0].1, "query.limit");
    }
    let (status, json) = send(api.get("/v1/files?limit=ten")).await;
    assert_error(status, &json, 400, "invalid_request");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let api = Api::start(builder()).await;
    let (status, json) = send(api.get("/v1/nothing")).await;
    assert_error(status, &json, 404, "not_found");
    let (status, json) = send(api.delete("/v1/models")).await;
    assert_error(status, &json, 405, "method_not_allowed");
    let (status, json) = send(api.http.get(api.url("/_emulator/health"))).await;
    assert_eq!(
        (status, json),
        (StatusCode::OK, serde_json::json!({"status": "ok"}))
    );
    let (status, json) = send(api.get("/_emulator/nothing")).await;
    assert_error(status, &json, 404, "not_found");
}

#[tokio::test]
async fn debug_output_never_shows_keys() {
    let api = Api::start(builder().api_key("very-secret-key")).await;
    let debug = format!("{:?}", api.emulator);
    assert!(
        !debug.contains("very-secret-key") && !debug.contains(KEY),
        "{debug}"
    );
}

#[tokio::test]
async fn file_quota() {
    let api = Api::start(builder().quotas(soniox_emulator::Quotas::new(100, 2_000, 1))).await;
    api.upload("a.wav", wav(10)).await;
    let part = reqwest::multipart::Part::bytes(wav(10)).file_name("b.wav");
    let (status, json) = send(
        api.post("/v1/files")
            .multipart(reqwest::multipart::Form::new().part("file", part)),
    )
    .await;
    assert_error(status, &json, 429, "limit_exceeded");
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused_and_removed() {
    let api = Api::start(builder().max_file_size(1_000)).await;
    let part = reqwest::multipart::Part::bytes(vec![0_u8; 1_001]).file_name("big.wav");
    let (status, json) = send(
        api.post("/v1/files")
            .multipart(reqwest::multipart::Form::new().part("file", part)),
    )
    .await;
    assert_error(status, &json, 400, "invalid_request");
    assert_eq!(
        json["message"],
        "Exceeded maximum file size (maximum is 1000 bytes)."
    );
    assert_eq!(
        locations(&json),
        [("value_error".to_owned(), "file.file".to_owned())]
    );
    let left = std::fs::read_dir(api.emulator.data_dir())
        .expect("data dir")
        .count();
    assert_eq!(left, 0, "the partial upload is removed");
    api.upload("ok.wav", vec![0_u8; 1_000]).await;
}

#[tokio::test]
async fn shutdown_stops_serving_and_removes_the_temporary_directory() {
    let api = Api::start(builder()).await;
    api.upload("a.wav", wav(10)).await;
    let dir = api.emulator.data_dir().to_owned();
    assert!(dir.exists());
    let url = api.url("/v1/models");
    api.emulator.shutdown().await;
    assert!(
        api.http.get(url).bearer_auth(KEY).send().await.is_err(),
        "nothing listens any more"
    );
    assert!(!dir.exists(), "uploads are removed with the emulator");
}

#[tokio::test]
async fn a_data_dir_keeps_uploads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::start(builder().data_dir(dir.path().join("data"))).await;
    api.upload("a.wav", wav(10)).await;
    api.emulator.shutdown().await;
    let kept = std::fs::read_dir(dir.path().join("data"))
        .expect("kept")
        .count();
    assert_eq!(kept, 1);
}

#[tokio::test]
async fn files_an_earlier_run_left_in_the_data_dir_are_removed_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stale_upload = dir.path().join("b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11");
    let stale_download = dir
        .path()
        .join("c6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11.download");
    let unrelated = dir.path().join("notes.txt");
    for path in [&stale_upload, &stale_download, &unrelated] {
        std::fs::write(path, b"left over").expect("write");
    }
    let api = Api::start(builder().data_dir(dir.path())).await;
    assert!(!stale_upload.exists());
    assert!(!stale_download.exists());
    assert!(
        unrelated.exists(),
        "a file the emulator did not write is left alone"
    );
    // Uploads of this run are kept, as the data dir promises.
    let file = api.upload("a.wav", wav(100)).await;
    let id = file["id"].as_str().expect("id").to_owned();
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 2);
    api.emulator.shutdown().await;
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        2,
        "{id}"
    );
}

#[tokio::test]
async fn the_files_quota_is_checked_again_before_an_upload_is_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = Api::start(
        builder()
            .quotas(soniox_emulator::Quotas::new(100, 2_000, 1))
            .data_dir(dir.path()),
    )
    .await;
    // An upload that passes the first check, then waits while another one fills the quota.
    let (chunks, received) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let body = futures_util::stream::unfold(received, |mut received| async move {
        let chunk = received.recv().await?;
        Some((Ok::<_, std::io::Error>(chunk), received))
    });
    let slow = api
        .post("/v1/files")
        .header("content-type", "multipart/form-data; boundary=XBOUNDARY")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let slow = tokio::spawn(slow);
    let mut head = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
        filename=\"slow.wav\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    head.extend_from_slice(&wav(100));
    chunks.send(head).await.expect("first chunk");
    // Its file is on disk once the emulator is streaming it: the first check has passed.
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while std::fs::read_dir(dir.path()).expect("list").count() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the slow upload started");

    api.upload("fast.wav", wav(100)).await;
    chunks
        .send(b"\r\n--XBOUNDARY--\r\n".to_vec())
        .await
        .expect("last chunk");
    drop(chunks);
    let response = slow.await.expect("task").expect("answered");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let (_, count) = send(api.get("/v1/files/count")).await;
    assert_eq!(count["total"], 1, "{count}");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        1,
        "the refused upload's file is removed"
    );
}
