//! Decoding a five-hour transcript.
//!
//! Five decoders read the same synthetic bytes:
//! - `typed`: [`Transcript::from_json`], the decoder the client uses;
//! - `typed_serde`: the same [`Transcript`] through its derived serde implementation, which
//!   `from_json` falls back on for shapes it does not read itself;
//! - `naive`: the same shape with a `String` per text field, as a first attempt would write it;
//! - `parse_only`: [`IgnoredAny`] fields, so serde_json validates the JSON and builds nothing.
//!   No decoder that builds a value can beat it; the target is `typed / parse_only` ≥ 0.80.
//! - `fields_only`: every token visited as a struct whose nine fields are all [`IgnoredAny`].
//!   This is the least any serde-derived token type pays: matching each field name and
//!   dispatching its value, with no value built. It shows how much of the gap to `parse_only`
//!   belongs to walking tokens field by field rather than to the token type.
//!
//! After criterion's own report the bench prints a summary: MB/s of each decoder from the fastest
//! sample criterion took (other work on a shared machine only ever slows a sample down, so the
//! fastest is the steadiest figure to compare), the ratio, and what each decoded value costs on
//! the heap, counted by a wrapping global allocator. Held bytes are the sizes requested; the
//! system allocator rounds each block up (with glibc, a request of up to 24 bytes occupies 32),
//! which weighs on `naive`'s many small strings. The counter's few atomic operations per
//! allocation slow `naive` a little and the others not measurably.
//!
//! Under `cargo xtask bench --quick` each decoder is measured for 2 s instead of 10.

#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;

use std::{alloc::System, hint::black_box, io::Write, time::Duration};

use bench_report::{Figure, Samples};
use criterion::{Criterion, Throughput};
use serde::{
    Deserialize, Serialize,
    de::{DeserializeOwned, IgnoredAny},
};
use soniox_types::Transcript;
use stats_alloc::{Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: StatsAlloc<System> = StatsAlloc::system();

/// Tokens in the synthetic transcript; about what five hours of speech yields.
const TOKENS: usize = 100_000;

/// The decoders compared, in the order they run and are reported.
const DECODERS: [Decoder; 5] = [
    Decoder::of::<Transcript>("typed"),
    Decoder::of::<NaiveTranscript>("naive"),
    Decoder::of::<ParseOnly>("parse_only"),
    Decoder::of::<FieldsOnly>("fields_only"),
    Decoder::of::<TypedSerde>("typed_serde"),
];

/// Where each decoder sits in [`DECODERS`].
const TYPED: usize = 0;
const NAIVE: usize = 1;
const PARSE_ONLY: usize = 2;
const FIELDS_ONLY: usize = 3;
const TYPED_SERDE: usize = 4;

/// One way of decoding the transcript bytes.
struct Decoder {
    name: &'static str,
    /// Decodes; what it returns (the token count) is consumed, so the work is not optimised away.
    decode: fn(&[u8]) -> usize,
    /// Decodes once under the counting allocator; the token counts are compared.
    heap: fn(&[u8]) -> Heap,
}

impl Decoder {
    const fn of<T: Decoded>(name: &'static str) -> Self {
        Self {
            name,
            decode: decode::<T>,
            heap: heap::<T>,
        }
    }
}

/// A value one of the decoders builds.
trait Decoded: DeserializeOwned {
    /// Decodes with serde_json unless the type has a faster way.
    fn from_bytes(bytes: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(bytes)
    }

    fn tokens(&self) -> usize;
}

impl Decoded for Transcript {
    fn from_bytes(bytes: &[u8]) -> serde_json::Result<Self> {
        Transcript::from_json(bytes)
    }

    fn tokens(&self) -> usize {
        self.tokens.len()
    }
}

/// The typed transcript through its serde implementation rather than [`Transcript::from_json`].
#[derive(Deserialize)]
#[serde(transparent)]
struct TypedSerde(Transcript);

impl Decoded for TypedSerde {
    fn tokens(&self) -> usize {
        self.0.tokens.len()
    }
}

impl Decoded for NaiveTranscript {
    fn tokens(&self) -> usize {
        self.tokens.len()
    }
}

impl Decoded for ParseOnly {
    /// Nothing is kept, not even a count.
    fn tokens(&self) -> usize {
        0
    }
}

impl Decoded for FieldsOnly {
    fn tokens(&self) -> usize {
        self.tokens.len()
    }
}

fn decode<T: Decoded>(bytes: &[u8]) -> usize {
    parsed::<T>(bytes).tokens()
}

/// What decoding once costs on the heap, and the token count it found.
struct Heap {
    /// Tokens decoded, or 0 for a decoder that keeps none.
    tokens: usize,
    /// Allocations and reallocations made while decoding.
    allocations: usize,
    /// Bytes still allocated once the decoded value exists: what holding it costs.
    held: usize,
}

fn heap<T: Decoded>(bytes: &[u8]) -> Heap {
    let region = Region::new(&ALLOCATOR);
    let value = parsed::<T>(bytes);
    let change = region.change();
    let tokens = value.tokens();
    drop(value);
    // `bytes_allocated` and `bytes_deallocated` already include what reallocations grew or
    // shrank by, so their difference is what the value holds.
    Heap {
        tokens,
        allocations: change.allocations + change.reallocations,
        held: change
            .bytes_allocated
            .saturating_sub(change.bytes_deallocated),
    }
}

/// Decodes, passing the value through [`black_box`] so the work is not optimised away; a
/// fixture that does not decode is a bug in this bench, so it stops the run.
fn parsed<T: Decoded>(bytes: &[u8]) -> T {
    match T::from_bytes(bytes) {
        Ok(value) => black_box(value),
        Err(error) => panic!("the synthetic transcript must decode: {error}"),
    }
}

/// A transcript as a straightforward serde model would hold it.
#[derive(Serialize, Deserialize)]
struct NaiveTranscript {
    id: String,
    text: String,
    tokens: Vec<NaiveToken>,
}

/// A token with a heap `String` for every text field.
#[derive(Serialize, Deserialize)]
struct NaiveToken {
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_ms: Option<u64>,
    #[serde(default)]
    confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    speaker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    translation_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_audio_event: Option<bool>,
}

/// The transcript's fields, each skipped: parsing with nothing built.
#[derive(Deserialize)]
struct ParseOnly {
    #[serde(rename = "id")]
    _id: IgnoredAny,
    #[serde(rename = "text")]
    _text: IgnoredAny,
    #[serde(rename = "tokens")]
    _tokens: IgnoredAny,
}

/// The transcript with its tokens visited field by field and nothing kept.
#[derive(Deserialize)]
struct FieldsOnly {
    #[serde(rename = "id")]
    _id: IgnoredAny,
    #[serde(rename = "text")]
    _text: IgnoredAny,
    tokens: Vec<FieldsOnlyToken>,
}

/// A token's fields, each skipped; optional ones as the typed token has them optional.
#[derive(Deserialize)]
struct FieldsOnlyToken {
    #[serde(rename = "text")]
    _text: IgnoredAny,
    #[serde(rename = "start_ms")]
    _start_ms: Option<IgnoredAny>,
    #[serde(rename = "end_ms")]
    _end_ms: Option<IgnoredAny>,
    #[serde(rename = "confidence")]
    _confidence: Option<IgnoredAny>,
    #[serde(rename = "speaker")]
    _speaker: Option<IgnoredAny>,
    #[serde(rename = "language")]
    _language: Option<IgnoredAny>,
    #[serde(rename = "translation_status")]
    _translation_status: Option<IgnoredAny>,
    #[serde(rename = "source_language")]
    _source_language: Option<IgnoredAny>,
    #[serde(rename = "is_audio_event")]
    _is_audio_event: Option<IgnoredAny>,
}

/// A seeded generator, so every run decodes the same bytes.
type Rng = fastrand::Rng;

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// Sub-word pieces per spoken language; a word is one to three of them.
const WORDS: [(&str, &[&str]); 3] = [
    (
        "en",
        &[
            "the", "we", "meet", "ing", "project", "sched", "ule", "budg", "et", "will", "re",
            "view", "next", "week", "custom", "er", "said", "that", "data", "base", "migr",
            "ation", "is", "done", "okay", "so", "let", "us", "move", "on",
        ],
    ),
    (
        "de",
        &[
            "wir", "müs", "sen", "das", "Pro", "jekt", "bis", "Frei", "tag", "ab", "schlie", "ßen",
            "und", "die", "Kun", "den", "in", "for", "mie", "ren", "gut", "ja", "ge", "nau", "Ter",
            "min",
        ],
    ),
    (
        "es",
        &[
            "el", "pro", "yec", "to", "va", "bien", "ne", "ce", "si", "ta", "mos", "más", "tiem",
            "po", "para", "la", "re", "u", "nión", "cla", "ro",
        ],
    ),
];

/// What a two-way translation between English and German would render a sentence as.
const TRANSLATIONS: [(&str, &[&str]); 2] = [
    ("de", &["Das", " ist", " gut", " so", "."]),
    ("en", &["That", " is", " fine", "."]),
];

/// Builds a transcript of [`TOKENS`] tokens the way the API shapes one with diarization,
/// language identification and two-way translation: four speakers taking turns, sentences in
/// three languages, and every fifth English or German sentence followed by its translation
/// (tokens without timestamps).
fn synthetic_transcript() -> NaiveTranscript {
    let mut rng = Rng::with_seed(0x5EED_0000_0002);
    let mut tokens = Vec::with_capacity(TOKENS + 16);
    let mut clock_ms = 0_u64;
    let mut speaker = 1_u64;
    let mut sentences = 0_u64;
    while tokens.len() < TOKENS {
        if rng.u64(..4) == 0 {
            speaker = 1 + rng.u64(..4);
            clock_ms += 300 + rng.u64(..1_500);
        }
        let (language, pieces) = WORDS[match rng.u64(..10) {
            0..=5 => 0,
            6..=8 => 1,
            _ => 2,
        }];
        sentences += 1;
        let translated = language != "es" && sentences.is_multiple_of(5);
        let status = if translated { "original" } else { "none" };
        for word in 0..3 + rng.u64(..12) {
            for piece in 0..1 + rng.u64(..3) {
                let text = match (word, piece) {
                    (0, 0) if tokens.is_empty() => capitalised(pick(&mut rng, pieces)),
                    (0, 0) => format!(" {}", capitalised(pick(&mut rng, pieces))),
                    (_, 0) => format!(" {}", pick(&mut rng, pieces)),
                    _ => pick(&mut rng, pieces).to_owned(),
                };
                let duration = 50 + rng.u64(..200);
                let end_ms = clock_ms + duration;
                tokens.push(spoken(
                    text,
                    (clock_ms, end_ms),
                    &mut rng,
                    speaker,
                    language,
                    status,
                ));
                clock_ms += duration + rng.u64(..80);
            }
        }
        let period = (clock_ms, clock_ms + 20);
        tokens.push(spoken(
            ".".to_owned(),
            period,
            &mut rng,
            speaker,
            language,
            status,
        ));
        if translated {
            let (target, words) = TRANSLATIONS[usize::from(language == "de")];
            for (index, word) in words.iter().enumerate() {
                let lead = if index == 0 { " " } else { "" };
                tokens.push(NaiveToken {
                    text: format!("{lead}{word}"),
                    start_ms: None,
                    end_ms: None,
                    confidence: confidence(&mut rng),
                    speaker: Some(speaker.to_string()),
                    language: Some(target.to_owned()),
                    translation_status: Some("translation".to_owned()),
                    source_language: Some(language.to_owned()),
                    is_audio_event: None,
                });
            }
        }
    }
    let text = tokens.iter().map(|token| token.text.as_str()).collect();
    NaiveTranscript {
        id: "73d4357d-cad2-4338-a60d-ec6f2044f721".to_owned(),
        text,
        tokens,
    }
}

/// A spoken token with diarization and language identification, spanning `(start, end)` ms.
fn spoken(
    text: String,
    (start_ms, end_ms): (u64, u64),
    rng: &mut Rng,
    speaker: u64,
    language: &str,
    status: &str,
) -> NaiveToken {
    NaiveToken {
        text,
        start_ms: Some(start_ms),
        end_ms: Some(end_ms),
        confidence: confidence(rng),
        speaker: Some(speaker.to_string()),
        language: Some(language.to_owned()),
        translation_status: Some(status.to_owned()),
        source_language: None,
        is_audio_event: None,
    }
}

/// A confidence as the API reports one: mostly high, with several decimals.
fn confidence(rng: &mut Rng) -> f64 {
    let raw = 0.55 + 0.45 * (rng.u64(..1_000_000) as f64 / 1_000_000.0);
    (raw * 10_000.0).round() / 10_000.0
}

fn capitalised(piece: &str) -> String {
    let mut chars = piece.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Measures each decoder, keeping the time of every criterion sample in `samples` (one
/// entry per decoder).
fn bench(c: &mut Criterion, bytes: &[u8], samples: &[Samples]) {
    let mut group = c.benchmark_group("transcript_decode");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    group.measurement_time(bench_report::full_or_quick(
        Duration::from_secs(10),
        Duration::from_secs(2),
    ));
    for (decoder, samples) in DECODERS.iter().zip(samples) {
        group.bench_function(decoder.name, |b| {
            b.iter_custom(|iters| samples.time(iters, || (decoder.decode)(black_box(bytes))));
        });
    }
    group.finish();
}

/// `ours / theirs`, when both were measured (a filter on the command line can skip some).
fn ratio(ours: f64, theirs: f64) -> String {
    if ours > 0.0 && theirs > 0.0 {
        format!("{:.2}", ours / theirs)
    } else {
        "n/a".to_owned()
    }
}

/// The summary printed after criterion's report; also records the figures for
/// `cargo xtask bench`.
fn summary(bytes: &[u8], audio_hours: f64, samples: &[Samples]) -> String {
    let mb = bytes.len() as f64 / 1_000_000.0;
    let mut out = format!(
        "\ntranscript_decode summary: {TOKENS} tokens, {audio_hours:.1} h of audio, \
         {mb:.2} MB of JSON\n"
    );
    if cfg!(debug_assertions) {
        out += "  (unoptimised build, one run each: the MB/s below are not measurements)\n";
    }
    let mut throughput = [0.0_f64; DECODERS.len()];
    let mut tokens = [0_usize; DECODERS.len()];
    let mut held = [0_usize; DECODERS.len()];
    for (index, decoder) in DECODERS.iter().enumerate() {
        let heap = (decoder.heap)(bytes);
        tokens[index] = heap.tokens;
        held[index] = heap.held;
        throughput[index] = samples[index]
            .fastest()
            .map(|time| mb / time.as_secs_f64().max(f64::MIN_POSITIVE))
            .unwrap_or_default();
        out += &format!(
            "  {:<11} {:>8.1} MB/s  {:>7} allocations  {:>9} heap bytes held\n",
            decoder.name, throughput[index], heap.allocations, heap.held
        );
    }
    out += &format!(
        "  typed / parse_only = {} (target ≥ 0.80), typed / naive = {}, \
         typed / typed_serde = {}, fields_only / parse_only = {} (field-by-field ceiling)\n",
        ratio(throughput[TYPED], throughput[PARSE_ONLY]),
        ratio(throughput[TYPED], throughput[NAIVE]),
        ratio(throughput[TYPED], throughput[TYPED_SERDE]),
        ratio(throughput[FIELDS_ONLY], throughput[PARSE_ONLY]),
    );
    record(&throughput, &held);
    assert!(
        tokens[TYPED] >= TOKENS
            && [NAIVE, FIELDS_ONLY, TYPED_SERDE]
                .iter()
                .all(|&other| tokens[other] == tokens[TYPED]),
        "the decoders disagree on the token count: {tokens:?}"
    );
    out
}

/// Records each decoder's MB/s (fastest sample) against the one it is compared with, and what
/// the typed transcript holds on the heap against the naive one.
fn record(throughput: &[f64], held: &[usize]) {
    let mb_per_s = |index: usize| {
        let name = format!("{} decode (fastest sample)", DECODERS[index].name);
        Figure::new(name, throughput[index], "MB/s")
    };
    mb_per_s(TYPED)
        .baseline(DECODERS[PARSE_ONLY].name, throughput[PARSE_ONLY])
        .at_least(0.80)
        .report();
    for (index, baseline) in [
        (NAIVE, TYPED),
        (TYPED_SERDE, TYPED),
        (FIELDS_ONLY, PARSE_ONLY),
    ] {
        mb_per_s(index)
            .baseline(DECODERS[baseline].name, throughput[baseline])
            .report();
    }
    mb_per_s(PARSE_ONLY).report();
    let mib = |index: usize| held[index] as f64 / f64::from(1 << 20);
    Figure::new("typed heap held", mib(TYPED), "MiB")
        .baseline(DECODERS[NAIVE].name, mib(NAIVE))
        .report();
}

fn main() {
    let transcript = synthetic_transcript();
    let bytes = match serde_json::to_vec(&transcript) {
        Ok(bytes) => bytes,
        Err(error) => panic!("the synthetic transcript must encode: {error}"),
    };
    let audio_ms = transcript
        .tokens
        .iter()
        .filter_map(|token| token.end_ms)
        .max();
    let audio_hours = audio_ms.unwrap_or_default() as f64 / 3_600_000.0;
    drop(transcript);
    let samples: Vec<Samples> = DECODERS.iter().map(|_| Samples::default()).collect();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &bytes, &samples);
    criterion.final_summary();
    let printed = summary(&bytes, audio_hours, &samples);
    // Printed after criterion's report so that the run ends with the figures that matter.
    let _ = std::io::stdout().write_all(printed.as_bytes());
}
