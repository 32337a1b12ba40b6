//! The fast reader against serde: whenever it reads input, serde must read the same value.
//!
//! Values are compared by their serde_json encoding, which tells `-0.0` from `0.0`.

use proptest::{prelude::*, sample::select, test_runner::RngSeed};

use super::*;

/// serde's result for `json`, re-encoded.
fn by_serde(json: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<Transcript>(json)
        .map(|transcript| encode(&transcript))
        .map_err(|error| error.to_string())
}

fn encode(transcript: &Transcript) -> String {
    serde_json::to_string(transcript).unwrap_or_else(|error| panic!("encodes: {error}"))
}

/// Checks the contract on `json` and says whether the fast reader read it.
fn agrees(json: &[u8]) -> Result<bool, TestCaseError> {
    let serde = by_serde(json);
    let fast = std::str::from_utf8(json).ok().and_then(read_transcript);
    if let Some(fast) = &fast {
        let read = encode(fast);
        prop_assert_eq!(
            Ok(&read),
            serde.as_ref(),
            "the fast reader accepted {}",
            String::from_utf8_lossy(json)
        );
    }
    let public = Transcript::from_json(json)
        .map(|transcript| encode(&transcript))
        .map_err(|error| error.to_string());
    prop_assert_eq!(public, serde);
    Ok(fast.is_some())
}

/// Runs [`agrees`] on a fixed input, expecting the fast reader to read it or not.
#[track_caller]
fn check(json: &str, read_fast: bool) {
    match agrees(json.as_bytes()) {
        Ok(read) => assert_eq!(read, read_fast, "fast reader on {json}"),
        Err(failure) => panic!("{failure}"),
    }
}

fn document(tokens: &str) -> String {
    format!(r#"{{"id":"9c2b","text":"Hi there","tokens":[{tokens}]}}"#)
}

#[test]
fn the_usual_shapes_are_read_fast() {
    let spoken = r#"{"text":"Hi","start_ms":0,"end_ms":300,"confidence":0.98,"speaker":"1","language":"en","translation_status":"original"}"#;
    let translated = r#"{"text":" Hallo","confidence":0.9,"language":"de","translation_status":"translation","source_language":"en"}"#;
    let event =
        r#"{"text":"<laugh>","start_ms":5,"end_ms":9,"confidence":1,"is_audio_event":true}"#;
    check(&document(""), true);
    check(&document(&[spoken, translated, event].join(",")), true);
    // serde_json's own output, compact and pretty, of a decoded transcript.
    let value = Transcript::from_json(document(&[spoken, translated].join(",")).as_bytes())
        .unwrap_or_else(|error| panic!("{error}"));
    check(&encode(&value), true);
    let pretty = serde_json::to_string_pretty(&value).unwrap_or_else(|error| panic!("{error}"));
    check(&pretty, true);
    // Long enough that the token vector is sized from the first tokens read.
    let long = [spoken, event, translated].repeat(SAMPLE_TOKENS).join(",");
    check(&document(&long), true);
}

#[test]
fn token_memory_follows_the_tokens_not_the_input() {
    // A large unknown value after the first tokens must not be taken for more tokens to come.
    let tokens = [r#"{"text":""}"#; SAMPLE_TOKENS].join(",");
    let padding = "a".repeat(4 << 20);
    let json = document(&format!(r#"{tokens},{{"text":"","x":"{padding}"}}"#));
    let transcript =
        Transcript::from_json(json.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
    let read = transcript.tokens.len();
    assert_eq!(read, SAMPLE_TOKENS + 1);
    assert!(
        transcript.tokens.capacity() <= read * (MAX_GROWTH + 1),
        "{}",
        transcript.tokens.capacity()
    );
    assert!(agrees(json.as_bytes()).unwrap_or_default());

    // A short transcript reserves no more than a vector grown one push at a time would.
    let short = document(r#"{"text":"a"},{"text":"b"}"#);
    let transcript =
        Transcript::from_json(short.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        transcript.tokens.capacity() <= 4,
        "{}",
        transcript.tokens.capacity()
    );
}

#[test]
fn tolerated_variations_are_read_fast() {
    check(
        " {\n \"tokens\" : [ { \"confidence\" :0.5, \"text\": \"a\" } ] ,\t\"text\":\"a\",\"id\":\"x\"}\r\n",
        true,
    );
    check(
        &document(
            r#"{"text":"a","start_ms":null,"speaker":null,"is_audio_event":null,"translation_status":null}"#,
        ),
        true,
    );
    check(
        &document(r#"{"text":"a","new":{"deep":[1,-2.5e+3,true,null,"s\"",{}]},"newer":[]}"#),
        true,
    );
    check(
        &document(r#"{"text":"a","translation_status":"future_kind"}"#),
        true,
    );
    check(
        &document(r#"{"text":"\"qu\u00f6te\" \ud83d\ude00 \/ \n","confidence":-0}"#),
        true,
    );
    check(
        &document(r#"{"text":"m\u00fcssen","confidence":0.12345678901234}"#),
        true,
    );
    check(
        &document(r#"{"text":"a\u0001","confidence":999999999999999}"#),
        true,
    );
    check(r#"{"id":"x","text":"","tokens":[],"extra":"\u00e9"}"#, true);
}

#[test]
fn other_valid_forms_are_left_to_serde() {
    check(&document(r#"{"te\u0078t":"a"}"#), false);
    check(&document(r#"{"text":"a","confidence":1e-3}"#), false);
    check(
        &document(r#"{"text":"a","confidence":0.1234567890123456}"#),
        false,
    );
    check(
        &document(r#"{"text":"a","start_ms":18446744073709551615}"#),
        false,
    );
    check(&document(r#"["a",1,2,0.5]"#), false);
    check(r#"["x","a",[]]"#, false);
    check(&document(r#"{"text":"a","new":"\u0000"}"#), true);
    let mut invalid_utf8_in_ignored = document(r#"{"text":"a","new":"?"}"#).into_bytes();
    let at = invalid_utf8_in_ignored.iter().rposition(|&b| b == b'?');
    invalid_utf8_in_ignored[at.unwrap_or_default()] = 0xff;
    assert_eq!(agrees(&invalid_utf8_in_ignored).ok(), Some(false));
    let nested = format!("{}{}", "[".repeat(60), "]".repeat(60));
    check(
        &document(&format!(r#"{{"text":"a","new":{nested}}}"#)),
        false,
    );
}

#[test]
fn invalid_transcripts_are_left_to_serde_which_rejects_them() {
    for tokens in [
        r#"{"text":"a","text":"b"}"#,
        r#"{"start_ms":1}"#,
        r#"{"text":null}"#,
        r#"{"text":"a","confidence":null}"#,
        r#"{"text":"a","start_ms":-1}"#,
        r#"{"text":"a","start_ms":1.0}"#,
        r#"{"text":"a","start_ms":01}"#,
        r#"{"text":"a","speaker":1}"#,
        r#"{"text":"a","is_audio_event":"yes"}"#,
        r#"{"text":"\ud800"}"#,
        "{\"text\":\"a\u{1}\"}",
        r#"{"text":"a",}"#,
        r#"{"text":"a"},"#,
        r#"{"text":"a","start_ms":123456789012345678901}"#,
    ] {
        let json = document(tokens);
        check(&json, false);
        assert!(by_serde(json.as_bytes()).is_err(), "{json}");
    }
    for json in [
        "",
        "null",
        r#"{"id":"x","text":"a"}"#,
        r#"{"id":"x","text":"a","tokens":[]} x"#,
        r#"{"id":"x","id":"y","text":"a","tokens":[]}"#,
        r#"{"id":1,"text":"a","tokens":[]}"#,
    ] {
        check(json, false);
    }
}

/// A JSON value for a token field: mostly right for the field, sometimes of another type or
/// in a form the fast reader leaves to serde.
fn field_value(key: &'static str) -> BoxedStrategy<String> {
    let string = prop_oneof![
        4 => "[a-zA-Z ]{0,6}".prop_map(|text| format!("\"{text}\"")),
        1 => select(vec![r#""\"""#, r#""\u00fc\\""#, r#""\ud83d\ude00""#, r#""\ud800""#, "\"ü€\""])
            .prop_map(str::to_owned),
    ];
    let other = select(vec![
        "null", "true", "false", "[]", "{}", "\"\"", "-1", "1.5", "1e2", "0",
    ])
    .prop_map(str::to_owned);
    let value = match key {
        "start_ms" | "end_ms" => prop_oneof![
            4 => (0u64..10_000_000).prop_map(|ms| ms.to_string()),
            1 => any::<u64>().prop_map(|ms| ms.to_string()),
        ]
        .boxed(),
        "confidence" => prop_oneof![
            4 => (0u32..=10_000).prop_map(|n| (f64::from(n) / 10_000.0).to_string()),
            1 => any::<f64>().prop_map(|x| serde_json::to_string(&x).unwrap_or_default()),
            1 => (-99i32..99, 0u32..1_000_000).prop_map(|(i, f)| format!("{i}.{f:06}")),
        ]
        .boxed(),
        "is_audio_event" => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        _ => string.boxed(),
    };
    prop_oneof![6 => value, 1 => other].boxed()
}

/// A token's keys as the reader knows them, and one it does not.
fn keys() -> Vec<&'static str> {
    TOKEN_KEYS
        .iter()
        .map(|key| std::str::from_utf8(key.name()).unwrap_or_else(|error| panic!("{error}")))
        .chain(["unknown"])
        .collect()
}

/// A token object: known fields in any order, sometimes missing, repeated or unknown, joined
/// with varying whitespace.
fn token_json() -> impl Strategy<Value = String> {
    let field = select(keys()).prop_flat_map(|key| (Just(key), field_value(key)));
    (
        field_value("text"),
        prop::collection::vec(field, 0..8),
        select(vec!["", " ", "\n  "]),
        any::<bool>(),
    )
        .prop_map(|(text, fields, space, text_first)| {
            let mut parts: Vec<String> = fields
                .into_iter()
                .map(|(key, value)| format!("\"{key}\":{space}{value}"))
                .collect();
            let at = if text_first { 0 } else { parts.len() };
            parts.insert(at, format!("\"text\":{text}"));
            format!("{{{space}{}{space}}}", parts.join(&format!(",{space}")))
        })
}

fn transcript_json() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(token_json(), 0..6)
        .prop_map(|tokens| document(&tokens.join(",")).into_bytes())
}

/// Bytes that break JSON in interesting places.
const MUTATIONS: &[u8] = b"\"\\{}[],:-.e0 9\x01\xc3";

proptest! {
    // A fixed seed keeps the test deterministic; more cases make up for not varying it.
    #![proptest_config(ProptestConfig {
        cases: 2048,
        rng_seed: RngSeed::Fixed(2026),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn whatever_the_fast_reader_reads_serde_reads_the_same(json in transcript_json()) {
        agrees(&json)?;
    }

    #[test]
    fn damaged_input_never_makes_the_two_differ(
        json in transcript_json(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, select(MUTATIONS.to_vec())), 1..4),
    ) {
        let mut json = json;
        for (at, kind, byte) in edits {
            let at = at.index(json.len() + 1);
            match kind {
                0 => json.insert(at, byte),
                1 if at < json.len() => { json.remove(at); }
                _ => json.truncate(at),
            }
        }
        agrees(&json)?;
    }
}

/// The property above proves nothing if the fast reader gives up on everything generated.
#[test]
fn generated_input_exercises_both_readers() {
    use proptest::{
        strategy::ValueTree,
        test_runner::{RngAlgorithm, TestRng, TestRunner},
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(ProptestConfig::default(), rng);
    let strategy = transcript_json();
    let cases = 1_000;
    let mut fast = 0;
    for _ in 0..cases {
        let json = match strategy.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(reason) => panic!("{reason}"),
        };
        match agrees(&json) {
            Ok(read) => fast += usize::from(read),
            Err(failure) => panic!("{failure}"),
        }
    }
    assert!(
        (cases / 5..cases * 9 / 10).contains(&fast),
        "{fast} of {cases} generated transcripts read fast"
    );
}
