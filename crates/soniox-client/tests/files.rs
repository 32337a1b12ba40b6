//! `client.files()` against the emulator: uploads from every source, get, delete, count,
//! lists, and the size limit.

mod common;

use std::{
    collections::HashSet,
    io::Write,
    sync::{Arc, Mutex},
};

use futures_util::{StreamExt, TryStreamExt};
use soniox_client::{Error, Upload, types::ApiErrorType};
use soniox_types::{FileId, ListParams};

use common::{client, emulator, start, wav};

/// The `(sent, total)` reports of one upload.
type ProgressLog = Arc<Mutex<Vec<(u64, u64)>>>;

/// A log and a progress callback that appends to it.
fn progress_log() -> (ProgressLog, impl Fn(u64, u64) + Send + Sync + 'static) {
    let log = ProgressLog::default();
    let sink = Arc::clone(&log);
    (log, move |sent, total| {
        sink.lock().expect("lock").push((sent, total));
    })
}

#[track_caller]
fn assert_progress_complete(log: &Mutex<Vec<(u64, u64)>>, size: u64) {
    let log = log.lock().expect("lock");
    assert!(!log.is_empty(), "progress was reported");
    assert_eq!(log[0], (0, size), "each attempt reports from zero");
    assert!(
        log.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "progress only grows: {log:?}"
    );
    assert!(log.iter().all(|&(_, total)| total == size), "{log:?}");
    assert_eq!(log.last().map(|&(sent, _)| sent), Some(size));
}

#[tokio::test]
async fn uploads_from_bytes_path_and_reader() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let audio = wav(500);
    let size = audio.len() as u64;

    let (log, progress) = progress_log();
    let from_bytes = client
        .files()
        .upload(
            Upload::bytes(audio.clone(), "bytes.wav")
                .client_reference_id("ref-bytes")
                .on_progress(progress),
        )
        .await
        .expect("upload from bytes");
    assert_eq!(from_bytes.filename, "bytes.wav");
    assert_eq!(from_bytes.size, size);
    assert_eq!(from_bytes.client_reference_id.as_deref(), Some("ref-bytes"));
    assert_progress_complete(&log, size);

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("from disk.wav");
    std::fs::File::create(&path)
        .and_then(|mut file| file.write_all(&audio))
        .expect("write the audio");
    let (log, progress) = progress_log();
    let from_path = client
        .files()
        .upload(Upload::path(&path).on_progress(progress))
        .await
        .expect("upload from a path");
    assert_eq!(from_path.filename, "from disk.wav");
    assert_eq!(from_path.size, size);
    assert_eq!(from_path.client_reference_id, None);
    assert_progress_complete(&log, size);

    let (log, progress) = progress_log();
    let reader = tokio::fs::File::open(&path).await.expect("open");
    let from_reader = client
        .files()
        .upload(
            Upload::reader(reader, size, "reader.wav")
                .filename("renamed.wav")
                .client_reference_id("ref-reader")
                .on_progress(progress),
        )
        .await
        .expect("upload from a reader");
    assert_eq!(from_reader.filename, "renamed.wav");
    assert_eq!(from_reader.size, size);
    assert_eq!(
        from_reader.client_reference_id.as_deref(),
        Some("ref-reader")
    );
    assert_progress_complete(&log, size);

    let ids: HashSet<_> = [&from_bytes.id, &from_path.id, &from_reader.id]
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 3, "three distinct files");
    assert_eq!(client.files().count().await.expect("count").total, 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn get_delete_and_count() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    assert_eq!(client.files().count().await.expect("count").total, 0);

    let uploaded = client
        .files()
        .upload(Upload::bytes(wav(100), "a.wav").client_reference_id("mine"))
        .await
        .expect("upload");
    let fetched = client.files().get(&uploaded.id).await.expect("get");
    assert_eq!(fetched.id, uploaded.id);
    assert_eq!(fetched.filename, "a.wav");
    assert_eq!(fetched.size, uploaded.size);
    assert_eq!(fetched.client_reference_id.as_deref(), Some("mine"));
    assert_eq!(fetched.created_at, uploaded.created_at);
    assert_eq!(client.files().count().await.expect("count").total, 1);

    client.files().delete(&uploaded.id).await.expect("delete");
    assert_eq!(client.files().count().await.expect("count").total, 0);

    for error in [
        client.files().get(&uploaded.id).await.expect_err("gone"),
        client
            .files()
            .delete(&uploaded.id)
            .await
            .expect_err("deleted twice"),
    ] {
        assert!(error.is_not_found(), "{error}");
        assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
        assert_eq!(error.api_error_type(), Some(&ApiErrorType::FileNotFound));
        assert!(error.request_id().is_some_and(|id| !id.is_empty()));
        assert!(!error.is_retryable());
    }

    // An id with path syntax stays one path segment: it cannot reach another endpoint.
    let error = client
        .files()
        .get(&FileId::new("../transcriptions/count"))
        .await
        .expect_err("no such file");
    assert!(error.is_not_found(), "{error}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_follows_cursors_newest_first() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let mut uploaded = Vec::new();
    for index in 0..23 {
        let file = client
            .files()
            .upload(Upload::bytes(wav(10), format!("{index}.wav")))
            .await
            .expect("upload");
        uploaded.push(file.id);
    }

    let listed: Vec<FileId> = client
        .files()
        .list(ListParams::new().limit(5))
        .map_ok(|file| file.id)
        .try_collect()
        .await
        .expect("list");
    let newest_first: Vec<FileId> = uploaded.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);

    let page = client
        .files()
        .list_page(&ListParams::new().limit(20))
        .await
        .expect("first page");
    assert_eq!(page.files.len(), 20);
    let cursor = page.next_page_cursor.expect("a second page");
    let rest = client
        .files()
        .list_page(&ListParams::new().limit(20).cursor(cursor))
        .await
        .expect("second page");
    assert_eq!(rest.files.len(), 3);
    assert_eq!(rest.next_page_cursor, None);
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_errors_are_yielded_once_then_the_stream_ends() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);

    let mut stream = Box::pin(
        client
            .files()
            .list(ListParams::new().cursor("not-a-cursor-we-issued")),
    );
    let error = stream
        .next()
        .await
        .expect("an item")
        .expect_err("a bad cursor");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(error.api_error_type(), Some(&ApiErrorType::InvalidCursor));
    assert!(stream.next().await.is_none(), "the stream ends");

    // An invalid limit is refused before sending.
    let mut stream = Box::pin(client.files().list(ListParams::new().limit(0)));
    let error = stream.next().await.expect("an item").expect_err("limit 0");
    assert!(matches!(error, Error::Validation(_)), "{error}");
    assert!(stream.next().await.is_none(), "the stream ends");
    emulator.shutdown().await;
}

#[tokio::test]
async fn size_limits() {
    let emulator = start(emulator().max_file_size(1_000)).await;
    let client = client(&emulator);

    // Over the API's 1 GiB limit: refused before a byte is read or sent.
    let too_large = soniox_types::validation::limits::FILE_MAX_BYTES + 1;
    let error = client
        .files()
        .upload(Upload::reader(tokio::io::empty(), too_large, "huge.wav"))
        .await
        .expect_err("too large");
    assert!(
        matches!(error, Error::FileTooLarge { size } if size == too_large),
        "{error}"
    );

    // Over the server's limit: the API's own answer.
    let error = client
        .files()
        .upload(Upload::bytes(vec![0_u8; 2_000], "big.wav"))
        .await
        .expect_err("over the emulator's limit");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400), "{error}");
    assert_eq!(error.api_error_type(), Some(&ApiErrorType::InvalidRequest));
    assert_eq!(client.files().count().await.expect("count").total, 0);

    // Metadata is checked before sending.
    let error = client
        .files()
        .upload(Upload::bytes(vec![0_u8; 10], "a.wav").client_reference_id("x".repeat(300)))
        .await
        .expect_err("reference too long");
    assert!(matches!(error, Error::Validation(_)), "{error}");

    let error = client
        .files()
        .upload(Upload::path("/definitely/not/here.wav"))
        .await
        .expect_err("missing file");
    let Error::Io { path, source } = &error else {
        panic!("expected an I/O error, got {error:?}");
    };
    assert_eq!(path, std::path::Path::new("/definitely/not/here.wav"));
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_large_file_streams_from_disk() {
    const SIZE: u64 = 64 * 1024 * 1024;
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("large.raw");
    // Sparse: the test machine's disk and page cache are spared; the client still reads and
    // sends every byte.
    std::fs::File::create(&path)
        .and_then(|file| file.set_len(SIZE))
        .expect("create the file");

    let (log, progress) = progress_log();
    let file = client
        .files()
        .upload(Upload::path(&path).on_progress(progress))
        .await
        .expect("upload");
    assert_eq!(file.size, SIZE);
    assert_eq!(file.filename, "large.raw");
    assert_progress_complete(&log, SIZE);
    assert_eq!(client.files().get(&file.id).await.expect("get").size, SIZE);
    emulator.shutdown().await;
}
