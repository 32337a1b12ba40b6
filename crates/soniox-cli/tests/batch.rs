//! `soniox batch`, end to end: a directory in, transcripts out, nothing left in the API;
//! interrupted and resumed without submitting anything twice.

mod common;

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use common::{at, emulator, emulator_with, finish, held, soniox_at, wav};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use soniox_client::Upload;
use soniox_emulator::{Emulator, FaultAction, FaultRule, JobClock};
use soniox_types::ListParams;
use tokio::sync::Notify;

fn creates(emulator: &Emulator) -> u64 {
    emulator.request_counts().get("POST", "/v1/transcriptions")
}

fn uploads(emulator: &Emulator) -> u64 {
    emulator.request_counts().get("POST", "/v1/files")
}

/// Every one of `count` inputs has its text output, nothing is left in the API; stops the
/// emulator.
async fn transcribed_and_cleaned_up(emulator: Emulator, out: &str, count: u64) {
    for n in 1..=count {
        assert!(Path::new(out).join(format!("call-{n}.wav.txt")).exists());
    }
    assert_eq!(held(&emulator).await, (0, 0));
    emulator.shutdown().await;
}

fn inputs(dir: &Path, count: u64) -> std::path::PathBuf {
    let input = dir.join("in");
    std::fs::create_dir(&input).expect("mkdir");
    for n in 1..=count {
        wav(&input, &format!("call-{n}.wav"), n);
    }
    input
}

/// A temporary folder holding `count` inputs in `input`, with `out` for the batch's outputs.
struct Folders {
    _dir: tempfile::TempDir,
    input: String,
    out: String,
}

impl Folders {
    /// `batch` arguments polling every 10ms, with `extra` ones.
    fn batch<const N: usize>(
        &self,
        concurrency: &'static str,
        extra: [&'static str; N],
    ) -> Vec<&str> {
        let mut args = vec!["batch", &self.input, "--out", &self.out];
        args.extend(["--concurrency", concurrency, "--poll-interval", "10ms"]);
        args.extend(extra);
        args
    }
}

fn folders(count: u64) -> Folders {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = inputs(dir.path(), count);
    let out = dir.path().join("out");
    Folders {
        input: input.to_str().expect("utf-8").to_owned(),
        out: out.to_str().expect("utf-8").to_owned(),
        _dir: dir,
    }
}

/// Runs `args` until `count` jobs were created, then stops it as Ctrl-C does, which lets
/// the submissions in progress be recorded whole; its stderr.
async fn interrupted_after_creates(emulator: &Emulator, args: &[&str], count: u64) -> String {
    let child = at(emulator, args).spawn().expect("spawn");
    while creates(emulator) < count {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    common::interrupt(&child).await;
    let output = child.wait_with_output().await.expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    stderr
}

/// Runs `args` to the end while the emulator's jobs are finished as they come.
async fn finishing_jobs(emulator: &Emulator, args: &[&str]) -> common::Run {
    let run = tokio::spawn(finish(at(emulator, args)));
    while !run.is_finished() {
        emulator.finish_jobs().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    run.await.expect("joined")
}

#[tokio::test]
async fn a_directory_is_transcribed_and_cleaned_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator().await;
    let input = inputs(dir.path(), 5);
    std::fs::write(input.join("notes.txt"), "not audio").expect("write");
    // Over the upload limit (sparse: nothing is written): refused before it is sent, and
    // the batch goes on without it.
    let big = std::fs::File::create(input.join("big.wav")).expect("create");
    big.set_len((1 << 30) + 1).expect("size");
    let out = dir.path().join("out");
    let (input, out) = (input.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    let args = [
        "batch",
        input,
        "--out",
        out,
        "--concurrency",
        "2",
        "--poll-interval",
        "10ms",
        "--format",
        "srt",
    ];
    let run = soniox_at(&emulator, &args).await;
    let failed = "error: 2 of 7 files failed; see the .error.txt files\n";
    assert_eq!(run.code, 5, "one input is not audio: {}", run.stderr);
    assert_eq!(run.stderr, failed);
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines[0], "big.wav -> big.wav.error.txt");
    assert_eq!(lines[1], "call-1.wav -> call-1.wav.srt");
    assert_eq!(lines[6], "notes.txt -> notes.txt.error.txt");
    let error = std::fs::read_to_string(Path::new(out).join("big.wav.error.txt")).expect("written");
    assert!(error.starts_with("upload_refused: "), "{error}");
    assert!(error.contains("1 GiB"), "{error}");
    for n in 1..=5 {
        let srt = std::fs::read_to_string(Path::new(out).join(format!("call-{n}.wav.srt")))
            .expect("written");
        assert!(srt.starts_with("1\n00:00:00,"), "{srt}");
    }
    let error =
        std::fs::read_to_string(Path::new(out).join("notes.txt.error.txt")).expect("written");
    assert!(error.starts_with("audio_decode_error: "), "{error}");
    assert_eq!(
        held(&emulator).await,
        (0, 0),
        "jobs and uploads are deleted once written"
    );
    assert_eq!(creates(&emulator), 6);
    let gets = emulator
        .request_counts()
        .get("GET", "/v1/transcriptions/{id}");
    // The tracker's, one a job (for its upload's id, or the failed job's error): outputs are
    // named by the jobs' references, without a GET each.
    assert!(gets <= 6, "{gets} GET /v1/transcriptions/{{id}}");

    // Run again: everything is done, nothing is submitted, and the batch ends as it did.
    let run = soniox_at(&emulator, &args).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_eq!(run.stderr, failed);
    assert_eq!(run.stdout, "");
    assert_eq!(creates(&emulator), 6);
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_interrupted_batch_resumes_without_submitting_twice() {
    // Jobs move only when the test says so.
    let emulator = emulator_with(JobClock::Manual).await;
    let folders = folders(4);
    let args = folders.batch("2", []);

    let stderr = interrupted_after_creates(&emulator, &args, 2).await;
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    assert_eq!(creates(&emulator), 2, "the concurrency bound held");

    // Resume while jobs are finished as they come.
    let run = finishing_jobs(&emulator, &args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        creates(&emulator),
        4,
        "the two jobs of the first run were not submitted again"
    );
    transcribed_and_cleaned_up(emulator, &folders.out, 4).await;
}

/// The crash window between the tracker's record of a job and anything the batch writes
/// itself: the first create reaches the API but its answer never comes back, and the batch is
/// killed (SIGKILL, no cleanup) while it waits. The resumed batch finds the input by its
/// reference in the tracker's database: it neither uploads nor creates it again, and the
/// tracker adopts the job the API has.
#[tokio::test]
async fn a_batch_killed_mid_submit_resumes_without_a_second_create() {
    let emulator = emulator().await;
    let folders = folders(2);
    // The resumed run's create is waited for half the grace: long enough for a loaded machine.
    let args = folders.batch("1", ["--create-grace", "4s"]);
    let lost_answer = FaultRule::new(FaultAction::DropResponse)
        .method("POST")
        .path_prefix("/v1/transcriptions");
    emulator.add_fault(lost_answer);

    let mut child = at(&emulator, &args).spawn().expect("spawn");
    let client = common::client(&emulator);
    // The job exists at the API; the batch never learnt its id.
    loop {
        let page = client.transcriptions().list_page(&Default::default()).await;
        if !page.expect("list").transcriptions.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("killed");
    assert_eq!((creates(&emulator), uploads(&emulator)), (1, 1));

    emulator.clear_faults();
    let run = soniox_at(&emulator, &args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        (creates(&emulator), uploads(&emulator)),
        (2, 2),
        "the killed run's input was neither uploaded nor created again"
    );
    transcribed_and_cleaned_up(emulator, &folders.out, 2).await;
}

/// Headers a forwarding hop sets itself.
const HOP_HEADERS: [http::HeaderName; 3] = [
    http::header::HOST,
    http::header::CONTENT_LENGTH,
    http::header::TRANSFER_ENCODING,
];

type ProxyError = Box<dyn std::error::Error + Send + Sync>;

/// A plain HTTP proxy in front of `emulator`, returning its base URL: it forwards every
/// request and its answer, except the answer to the first upload, which it holds forever
/// once the emulator has stored the file (notifying `held`): the state of a client killed
/// after its upload succeeded and before it could act on the answer.
async fn holding_first_upload(emulator: &Emulator, held: Arc<Notify>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}", listener.local_addr().expect("address"));
    let upstream = emulator.base_url().to_owned();
    let forwarder = reqwest::Client::new();
    let holding = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (upstream, forwarder) = (upstream.clone(), forwarder.clone());
            let (held, holding) = (Arc::clone(&held), Arc::clone(&holding));
            let service = service_fn(move |request: Request<Incoming>| {
                let (upstream, forwarder) = (upstream.clone(), forwarder.clone());
                let (held, holding) = (Arc::clone(&held), Arc::clone(&holding));
                async move {
                    let answer = forward(request, &upstream, &forwarder, &held, &holding).await;
                    answer.map_err(|error| error.to_string())
                }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    base_url
}

/// One request of [`holding_first_upload`]'s proxy.
async fn forward(
    request: Request<Incoming>,
    upstream: &str,
    forwarder: &reqwest::Client,
    held: &Notify,
    holding: &AtomicBool,
) -> Result<Response<Full<Bytes>>, ProxyError> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str());
    let mut forward = forwarder
        .request(parts.method.clone(), format!("{upstream}{target}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !HOP_HEADERS.contains(name) {
            forward = forward.header(name, value);
        }
    }
    let answer = forward.send().await?;
    let upload = parts.method == http::Method::POST && parts.uri.path() == "/v1/files";
    if upload && !holding.swap(true, Ordering::SeqCst) {
        held.notify_one();
        std::future::pending::<()>().await;
    }
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !HOP_HEADERS.contains(name) {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await?;
    Ok(response.body(Full::new(bytes))?)
}

/// The other crash window: the batch is killed (SIGKILL) after an upload was stored and
/// before the tracker recorded its job, so its answer never reached the batch. The resumed
/// batch finds that upload by its reference and submits it instead of uploading the file
/// again; a second upload under the same reference (a duplicate) is deleted. Nothing is left
/// in the API.
#[tokio::test]
async fn a_batch_killed_after_an_upload_reuses_it_on_resume() {
    let emulator = emulator().await;
    let folders = folders(2);
    let args = folders.batch("1", []);
    let held = Arc::new(Notify::new());
    let proxy = holding_first_upload(&emulator, Arc::clone(&held)).await;

    let mut child = at(&emulator, &args)
        .env("SONIOX_API_BASE_URL", &proxy)
        .spawn()
        .expect("spawn");
    held.notified().await;
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("killed");
    assert_eq!((creates(&emulator), uploads(&emulator)), (0, 1));
    let client = common::client(&emulator);
    let files = common::files(&emulator).await;
    let reference = files[0].client_reference_id.clone().expect("a reference");
    let duplicate =
        Upload::path(Path::new(&folders.input).join("call-1.wav")).client_reference_id(reference);
    client.files().upload(duplicate).await.expect("upload");

    let run = soniox_at(&emulator, &args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        (creates(&emulator), uploads(&emulator)),
        (2, 3),
        "the killed run's upload was submitted, not made again"
    );
    transcribed_and_cleaned_up(emulator, &folders.out, 2).await;
}

/// An output deleted after its job was handled (and so deleted from the API) is written
/// again by the next run, from a new job; the run after that finds everything done.
#[tokio::test]
async fn a_deleted_output_is_transcribed_again() {
    let emulator = emulator().await;
    let folders = folders(2);
    let args = folders.batch("2", []);
    soniox_at(&emulator, &args).await.success();
    assert_eq!(creates(&emulator), 2);

    let output = Path::new(&folders.out).join("call-1.wav.txt");
    std::fs::remove_file(&output).expect("delete the output");
    let run = tokio::time::timeout(Duration::from_secs(60), soniox_at(&emulator, &args))
        .await
        .expect("the resumed batch ends");
    assert_eq!(
        run.stdout, "call-1.wav -> call-1.wav.txt\n",
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("call-1.wav: its output is missing"),
        "{}",
        run.stderr
    );
    assert_eq!(creates(&emulator), 3, "one new job, for the deleted output");

    soniox_at(&emulator, &args).await.success();
    assert_eq!(creates(&emulator), 3, "everything is done");
    transcribed_and_cleaned_up(emulator, &folders.out, 2).await;
}

/// A job deleted from the API before the batch handled it (here while the batch was stopped)
/// is written as failed instead of being waited for; once its `.error.txt` is deleted, the
/// next run submits the input again.
#[tokio::test]
async fn a_job_lost_by_the_api_fails_instead_of_hanging() {
    let emulator = emulator_with(JobClock::Manual).await;
    let folders = folders(1);
    let args = folders.batch("1", []);

    // The job is recorded as on its way.
    interrupted_after_creates(&emulator, &args, 1).await;
    emulator.finish_jobs().await;
    let client = common::client(&emulator);
    let page = client.transcriptions().list_page(&ListParams::new()).await;
    let job = page.expect("list").transcriptions.remove(0);
    client
        .transcriptions()
        .delete(&job.id)
        .await
        .expect("delete");

    let run = tokio::time::timeout(Duration::from_secs(60), soniox_at(&emulator, &args))
        .await
        .expect("the resumed batch ends");
    assert_eq!(run.code, 5, "{}", run.stderr);
    let error = Path::new(&folders.out).join("call-1.wav.error.txt");
    let text = std::fs::read_to_string(&error).expect("written");
    assert!(text.starts_with("job_lost: "), "{text}");

    std::fs::remove_file(&error).expect("delete the error");
    let run = finishing_jobs(&emulator, &args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("the API no longer has its job"),
        "{}",
        run.stderr
    );
    assert_eq!(creates(&emulator), 2);
    // The first job's upload, kept by the tracker for a job it could not handle, is deleted
    // by the run that found the job gone.
    transcribed_and_cleaned_up(emulator, &folders.out, 1).await;
}

#[tokio::test]
async fn bad_sources_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator().await;
    let out = dir.path().join("out");
    let out = out.to_str().expect("utf-8");
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "missing.wav\n").expect("write");
    let run = soniox_at(
        &emulator,
        &["batch", list.to_str().expect("utf-8"), "--out", out],
    )
    .await;
    assert!(
        run.failure(2).ends_with("missing.wav: not a file"),
        "{}",
        run.stderr
    );
    let run = soniox_at(
        &emulator,
        &[
            "batch",
            list.to_str().expect("utf-8"),
            "--out",
            out,
            "--concurrency",
            "101",
        ],
    )
    .await;
    assert_eq!(run.code, 2);
    emulator.shutdown().await;
}
