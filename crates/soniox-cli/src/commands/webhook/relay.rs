//! `soniox webhook relay`: deliver, to a local URL, the webhooks Soniox would have sent for
//! jobs that finish while it runs — found by polling the transcriptions list, no tunnel.
//!
//! What polling cannot see, it cannot relay: a job that finishes and is deleted between two
//! looks (`transcribe` without `--keep` deletes its job at once) is never delivered, where
//! Soniox would have sent its webhook. Deliveries still being retried when the relay stops
//! are not made by a later relay, which relays only the jobs that finish after it starts.

use std::{collections::HashMap, time::Duration};

use clap::Args;
use futures_util::TryStreamExt as _;
use serde::Serialize;
use soniox_client::Client;
use soniox_types::{
    DEFAULT_WEBHOOK_HEADER, ListParams, Secret, Transcription, TranscriptionId,
    TranscriptionStatus, WEBHOOK_HEADER_ENV, WEBHOOK_SECRET_ENV, WebhookEvent, WebhookStatus,
};
use time::OffsetDateTime;
use tokio::task::JoinSet;

use crate::{
    context::Context,
    deliver::{check, deliver, http_client},
    failure::Failure,
    output::Output,
};
use soniox_emulator::options;

/// Relay finished jobs' webhooks to a local URL.
#[derive(Debug, Args)]
pub(crate) struct RelayArgs {
    /// Where to deliver: your local receiver.
    #[arg(long, value_name = "URL")]
    to: String,

    /// The header that carries the secret [default: the job's own header name, or
    /// X-Soniox-Webhook-Secret].
    #[arg(long, value_name = "NAME", env = WEBHOOK_HEADER_ENV)]
    header: Option<String>,

    /// The secret to send (Soniox never shows a job's own); without it, no auth header.
    #[arg(long, value_name = "SECRET", env = WEBHOOK_SECRET_ENV, hide_env_values = true)]
    secret: Option<Secret>,

    /// Only jobs whose `client_reference_id` starts with this.
    #[arg(long, value_name = "PREFIX")]
    reference_prefix: Option<String>,

    /// How often to look at the transcriptions list [default: 1s, 100ms with --emulator].
    #[arg(long, value_name = "DURATION", value_parser = options::parse_duration)]
    interval: Option<Duration>,

    /// Waits before each delivery attempt, comma-separated, as Soniox retries.
    #[arg(long, value_name = "DURATIONS", default_value = "0s,5s,30s,2m,5m", value_delimiter = ',', value_parser = options::parse_duration)]
    retry_schedule: Vec<Duration>,
}

pub(crate) async fn run(context: &mut Context, args: RelayArgs) -> Result<(), Failure> {
    // What every delivery would fail on is refused before the relay starts: a job's own
    // header name may replace the default, and its query is added to `--to`.
    let auth = args
        .secret
        .clone()
        .map(|secret| (header_for(&args, None), secret));
    check(&args.to, auth.as_ref(), context.allow_insecure_http())?;
    let client = context.client().await?;
    let http = http_client()?;
    let output = context.output;
    let interval = args
        .interval
        .unwrap_or_else(|| context.default_poll_interval());
    let interrupt = context.interrupt.clone();
    let mut watch = Watch::default();
    let started = interrupt
        .guard(watch.start(&client))
        .await
        .ok_or_else(Failure::interrupted)?;
    started?;
    output.note(&format!("relaying to {} every {interval:?}", args.to));
    let relay = Relay { http, args, output };
    let relay = std::sync::Arc::new(relay);
    let mut deliveries = JoinSet::new();
    loop {
        let finished = tokio::select! {
            () = interrupt.wait() => break,
            finished = watch.poll(&client) => finished,
        };
        match finished {
            Ok(jobs) => {
                for job in jobs {
                    if relay.wants(&job) {
                        let relay = std::sync::Arc::clone(&relay);
                        deliveries.spawn(async move { relay.deliver(job).await });
                    }
                }
            }
            // A failed look is tried again at the next tick, as a poller must.
            Err(failure) => tracing::warn!("cannot list transcriptions: {failure}"),
        }
        while let Some(done) = deliveries.try_join_next() {
            if let Ok(Err(failure)) = done {
                return Err(failure);
            }
        }
        tokio::select! {
            () = interrupt.wait() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
    if !deliveries.is_empty() {
        output.note(&format!(
            "stopped with {} deliveries unfinished",
            deliveries.len()
        ));
    }
    Ok(())
}

/// What the relay knows of the jobs: those finished already (never relayed again) and those
/// still running, which bound how far back each look pages.
#[derive(Debug, Default)]
struct Watch {
    finished: HashMap<TranscriptionId, OffsetDateTime>,
    running: HashMap<TranscriptionId, OffsetDateTime>,
    newest: Option<OffsetDateTime>,
    /// The list request each look pages with (the API's default page size).
    params: ListParams,
}

impl Watch {
    /// The first look: every job finished by now is never relayed.
    async fn start(&mut self, client: &Client) -> Result<(), Failure> {
        for job in self.list(client, None).await? {
            self.see(&job);
        }
        Ok(())
    }

    /// Looks at the list pages back to the oldest running job (or the newest job seen, when
    /// none runs) and returns the jobs that finished since the last look. A look that fails
    /// on any page changes nothing: the next one reads the same jobs again, so a finished
    /// job is returned once, by the first look that reads all its pages.
    async fn poll(&mut self, client: &Client) -> Result<Vec<Transcription>, Failure> {
        let cutoff = self.running.values().min().copied().or(self.newest);
        let listed = self.list(client, cutoff).await?;
        let mut still_running = HashMap::new();
        let mut finished = Vec::new();
        for job in listed {
            let newly_finished = job.status.is_terminal() && !self.finished.contains_key(&job.id);
            if !job.status.is_terminal() {
                still_running.insert(job.id.clone(), job.created_at);
            }
            self.see(&job);
            if newly_finished {
                finished.push(job);
            }
        }
        // A running job the pages no longer show was deleted: stop waiting for it.
        self.running = still_running;
        // Finished jobs older than every job that can still finish cannot come back.
        if let Some(cutoff) = self.running.values().min().copied().or(self.newest) {
            self.finished.retain(|_, created| *created >= cutoff);
        }
        Ok(finished)
    }

    /// Every job the list holds, newest first, down to the first created before `cutoff`.
    async fn list(
        &self,
        client: &Client,
        cutoff: Option<OffsetDateTime>,
    ) -> Result<Vec<Transcription>, Failure> {
        let mut listed = Vec::new();
        let mut jobs = std::pin::pin!(client.transcriptions().list(self.params.clone()));
        while let Some(job) = jobs.try_next().await? {
            if cutoff.is_some_and(|cutoff| job.created_at < cutoff) {
                break;
            }
            listed.push(job);
        }
        Ok(listed)
    }

    fn see(&mut self, job: &Transcription) {
        if job.status.is_terminal() {
            self.running.remove(&job.id);
            self.finished.insert(job.id.clone(), job.created_at);
        } else {
            self.running.insert(job.id.clone(), job.created_at);
        }
        if self.newest.is_none_or(|newest| job.created_at > newest) {
            self.newest = Some(job.created_at);
        }
    }
}

/// Delivers finished jobs as Soniox would have.
#[derive(Debug)]
struct Relay {
    http: reqwest::Client,
    args: RelayArgs,
    output: Output,
}

/// One relayed job, as printed.
#[derive(Serialize)]
struct Relayed<'a> {
    id: &'a str,
    status: &'a str,
    url: &'a str,
    answer: Option<u16>,
    attempts: usize,
    delivered: bool,
}

impl Relay {
    fn wants(&self, job: &Transcription) -> bool {
        match &self.args.reference_prefix {
            None => true,
            Some(prefix) => job
                .client_reference_id
                .as_deref()
                .is_some_and(|reference| reference.starts_with(prefix.as_str())),
        }
    }

    /// Attempts the delivery on the retry schedule until one is answered 2xx, and prints
    /// the outcome. Only printing can fail it (stdout closed).
    async fn deliver(&self, job: Transcription) -> Result<(), Failure> {
        let status = match job.status {
            TranscriptionStatus::Completed => WebhookStatus::Completed,
            _ => WebhookStatus::Error,
        };
        let url = target_url(&self.args.to, job.webhook_url.as_deref());
        let header = header_for(&self.args, job.webhook_auth_header_name.as_deref());
        let auth = self
            .args
            .secret
            .as_ref()
            .map(|secret| (header, secret.clone()));
        let mut answer = None;
        let mut attempts = 0;
        for wait in &self.args.retry_schedule {
            tokio::time::sleep(*wait).await;
            attempts += 1;
            let event = WebhookEvent::new(job.id.clone(), status.clone());
            match deliver(&self.http, &url, event, auth.as_ref()).await {
                Ok(got) => {
                    answer = Some(got.status.as_u16());
                    if got.status.is_success() {
                        break;
                    }
                    tracing::warn!(id = %job.id, status = got.status.as_u16(), "delivery refused; retrying");
                }
                Err(failure) => {
                    tracing::warn!(id = %job.id, "delivery failed; retrying: {failure}");
                }
            }
        }
        let delivered = answer.is_some_and(|status| (200..300).contains(&status));
        let line = Relayed {
            id: job.id.as_str(),
            status: status.as_str(),
            url: &url,
            answer,
            attempts,
            delivered,
        };
        self.output.record(&line, || {
            let answer = answer.map_or_else(|| "no answer".to_owned(), |code| code.to_string());
            let verdict = if delivered { "delivered" } else { "gave up" };
            format!(
                "{} {} -> {url}: {answer} ({verdict} after {attempts} attempts)",
                job.id, status
            )
        })
    }
}

/// The header that carries the secret: `--header`, else the job's own, else the default.
fn header_for(args: &RelayArgs, job_header: Option<&str>) -> String {
    args.header
        .as_deref()
        .or(job_header)
        .unwrap_or(DEFAULT_WEBHOOK_HEADER)
        .to_owned()
}

/// `to` with the query of the job's own webhook URL added, byte for byte.
fn target_url(to: &str, job_url: Option<&str>) -> String {
    let query = job_url
        .and_then(|url| url.split_once('?'))
        .map(|(_, rest)| rest.split_once('#').map_or(rest, |(query, _)| query))
        .filter(|query| !query.is_empty());
    match query {
        None => to.to_owned(),
        Some(query) => {
            let (base, fragment) = to
                .split_once('#')
                .map_or((to, None), |(base, f)| (base, Some(f)));
            let joiner = if base.contains('?') { '&' } else { '?' };
            let mut url = format!("{base}{joiner}{query}");
            if let Some(fragment) = fragment {
                url.push('#');
                url.push_str(fragment);
            }
            url
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use soniox_client::{Client, RetryPolicy, Upload};
    use soniox_emulator::{Emulator, FaultAction, FaultRule, JobClock};
    use soniox_types::{CreateTranscription, ListParams, Transcription, TranscriptionId};

    use super::{Watch, target_url};

    async fn create(client: &Client) -> Transcription {
        let audio = soniox_emulator::wav(Duration::from_secs(1));
        let file = client.files().upload(Upload::bytes(audio, "a.wav")).await;
        let request = CreateTranscription::new("stt-async-v5").file_id(file.expect("upload").id);
        let job = client.transcriptions().create(&request).await;
        job.expect("create")
    }

    /// A look whose second page fails returns nothing and forgets nothing: the next look
    /// returns every job that finished, the one after that none.
    #[tokio::test]
    async fn a_failed_page_loses_no_finished_job_and_doubles_none() {
        let emulator = Emulator::builder()
            .api_key("relay-key")
            .job_clock(JobClock::Manual)
            .start()
            .await
            .expect("the emulator starts");
        // Every failure reaches the watch: no retries hide it.
        let client = Client::builder()
            .api_key("relay-key")
            .base_url(emulator.base_url())
            .retry_policy(RetryPolicy::never())
            .build()
            .expect("client");
        // A job a page, so that one look reads several pages.
        let mut watch = Watch {
            params: ListParams::new().limit(1),
            ..Watch::default()
        };
        let oldest = create(&client).await;
        watch.start(&client).await.expect("the first look");
        let newer = [create(&client).await, create(&client).await];
        emulator.finish_jobs().await;

        // The first page is read, the second fails.
        let pages = FaultRule::new(FaultAction::Error { status: 503 })
            .method("GET")
            .path_prefix("/v1/transcriptions")
            .every_nth(2);
        emulator.add_fault(pages);
        let failed = watch.poll(&client).await;
        assert!(failed.is_err(), "{failed:?}");
        emulator.clear_faults();

        let ids = |jobs: Vec<Transcription>| -> Vec<TranscriptionId> {
            jobs.into_iter().map(|job| job.id).collect()
        };
        let finished = ids(watch.poll(&client).await.expect("a look"));
        let [older, newest] = newer.map(|job| job.id);
        assert_eq!(finished, [newest, older, oldest.id]);
        let again = ids(watch.poll(&client).await.expect("a look"));
        assert!(again.is_empty(), "{again:?}");
        emulator.shutdown().await;
    }

    #[test]
    fn the_jobs_query_is_kept_verbatim() {
        let check = |to, job, expect: &str| assert_eq!(target_url(to, job), expect);
        check("http://l/h", None, "http://l/h");
        check("http://l/h", Some("https://x/y"), "http://l/h");
        check("http://l/h", Some("https://x/y?"), "http://l/h");
        check(
            "http://l/h",
            Some("https://x/y?a=1&b=%C3%AB+c"),
            "http://l/h?a=1&b=%C3%AB+c",
        );
        check(
            "http://l/h?k=v",
            Some("https://x/y?a=1#frag"),
            "http://l/h?k=v&a=1",
        );
        check(
            "http://l/h#top",
            Some("https://x/y?a=1"),
            "http://l/h?a=1#top",
        );
    }
}
