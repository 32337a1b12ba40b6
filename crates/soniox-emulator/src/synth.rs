//! Deterministic transcripts: the same audio and options always give the same tokens.
//!
//! Text is either scripted (by content hash) or drawn from a fixed vocabulary with a generator
//! seeded by the audio's hash. Tokens are spread over the audio's duration. Diarization,
//! language identification and translation shape the tokens the way the real API does:
//! speakers are `"1"`, `"2"`, ...; translation tokens follow each sentence, carry no
//! timestamps, and name their `source_language`.

use soniox_types::{
    Token, Transcript, TranscriptionId, Translation, TranslationStatus, TranslationType,
};

const VOCABULARY: &[&str] = &[
    "the", "meeting", "starts", "at", "nine", "we", "reviewed", "budget", "and", "agreed", "on",
    "next", "steps", "please", "send", "report", "today", "customer", "called", "about", "order",
    "delivery", "was", "late", "again", "thank", "you", "for", "waiting", "project", "is", "on",
    "track", "team", "will", "share", "update", "tomorrow", "morning", "sounds", "good",
];

/// Roughly how long one spoken word takes, which sets how many words a duration holds.
const MS_PER_WORD: u64 = 400;

/// What shapes a transcript besides its text.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shape {
    pub(crate) diarization: bool,
    pub(crate) language_identification: bool,
    pub(crate) language_hints: Vec<String>,
    pub(crate) translation: Option<Translation>,
}

/// A splitmix64 generator: tiny, seedable, and stable across releases, unlike a library's.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Text for audio with no script: about one word per [`MS_PER_WORD`], in sentences.
pub(crate) fn generated_text(sha256: &[u8; 32], duration_ms: u64) -> String {
    let mut seed = [0_u8; 8];
    seed.copy_from_slice(&sha256[..8]);
    let mut rng = SplitMix(u64::from_le_bytes(seed));
    let words = (duration_ms / MS_PER_WORD).max(1);
    let mut text = String::new();
    let mut sentence_left = 0;
    for i in 0..words {
        let word = VOCABULARY[rng.below(VOCABULARY.len() as u64) as usize];
        if sentence_left == 0 {
            if i > 0 {
                text.push_str(". ");
            }
            sentence_left = 4 + rng.below(8);
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
        } else {
            text.push(' ');
            text.push_str(word);
        }
        sentence_left -= 1;
    }
    text.push('.');
    text
}

/// Splits text into words with their leading space and trailing punctuation as separate
/// tokens, grouped by sentence.
fn sentences(text: &str) -> Vec<Vec<String>> {
    let mut sentences = Vec::new();
    let mut current = Vec::new();
    for word in text.split_whitespace() {
        let body = word.trim_end_matches(['.', ',', '?', '!', ';', ':']);
        let punctuation = &word[body.len()..];
        if !body.is_empty() {
            let space = if sentences.is_empty() && current.is_empty() {
                ""
            } else {
                " "
            };
            current.push(format!("{space}{body}"));
        }
        if !punctuation.is_empty() {
            current.push(punctuation.to_owned());
        }
        if punctuation.contains(['.', '?', '!']) && !current.is_empty() {
            sentences.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        sentences.push(current);
    }
    sentences
}

/// The spoken language and, when translating, the language its translation goes into.
fn languages(shape: &Shape) -> (String, Option<String>) {
    let spoken = shape
        .language_hints
        .first()
        .cloned()
        .unwrap_or_else(|| "en".to_owned());
    let Some(translation) = &shape.translation else {
        return (spoken, None);
    };
    match translation.kind {
        TranslationType::TwoWay => {
            let a = translation.language_a.clone().unwrap_or_default();
            let b = translation.language_b.clone().unwrap_or_default();
            let spoken = if spoken == b { b } else { a };
            let target = translation
                .language_a
                .clone()
                .filter(|a| *a != spoken)
                .or_else(|| translation.language_b.clone());
            (spoken, target)
        }
        _ => (spoken, translation.target_language.clone()),
    }
}

/// Builds the transcript of `text` spoken over `duration_ms`.
pub(crate) fn transcript(
    id: TranscriptionId,
    text: &str,
    duration_ms: u64,
    sha256: &[u8; 32],
    shape: &Shape,
) -> Transcript {
    let sentences = sentences(text);
    let total: usize = sentences.iter().map(Vec::len).sum();
    let slot = duration_ms / (total.max(1) as u64);
    let mut seed = [0_u8; 8];
    seed.copy_from_slice(&sha256[8..16]);
    let mut rng = SplitMix(u64::from_le_bytes(seed));
    let (spoken, target) = languages(shape);
    let translated = target.as_ref().filter(|target| **target != spoken);
    let label_language = shape.language_identification || shape.translation.is_some();
    let mut tokens = Vec::with_capacity(total * if translated.is_some() { 2 } else { 1 });
    let mut index = 0_u64;
    for (number, sentence) in sentences.iter().enumerate() {
        let speaker = (number % 2 + 1).to_string();
        for piece in sentence {
            let start = index * slot;
            let end = start + (slot * 9 / 10).max(u64::from(slot > 0));
            let confidence = 0.85 + (rng.below(1500) as f64) / 10_000.0;
            let mut token = Token::spoken(piece.as_str(), start, end, confidence);
            if shape.diarization {
                token = token.speaker(speaker.as_str());
            }
            if label_language {
                token = token.language(spoken.as_str());
            }
            if shape.translation.is_some() {
                token.translation_status = Some(if translated.is_some() {
                    TranslationStatus::Original
                } else {
                    TranslationStatus::None
                });
            }
            tokens.push(token);
            index += 1;
        }
        if let Some(target) = translated {
            for piece in sentence {
                let mut token =
                    Token::translation(piece.as_str(), target.as_str(), spoken.as_str(), 0.9);
                if shape.diarization {
                    token = token.speaker(speaker.as_str());
                }
                tokens.push(token);
            }
        }
    }
    let text: String = tokens.iter().map(|token| token.text.as_str()).collect();
    Transcript::new(id, text, tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape::default()
    }

    #[test]
    fn generated_text_is_deterministic_and_sized() {
        let a = generated_text(&[7; 32], 4_000);
        assert_eq!(a, generated_text(&[7; 32], 4_000));
        assert_ne!(a, generated_text(&[8; 32], 4_000));
        assert_eq!(a.split_whitespace().count(), 10);
        assert_eq!(generated_text(&[1; 32], 0).split_whitespace().count(), 1);
    }

    #[test]
    fn tokens_concatenate_to_text_and_spread_over_duration() {
        let t = transcript(
            "t".into(),
            "Hello world. How are you?",
            6_000,
            &[1; 32],
            &shape(),
        );
        assert_eq!(t.text, "Hello world. How are you?");
        let texts: Vec<&str> = t.tokens.iter().map(|token| token.text.as_str()).collect();
        assert_eq!(texts, ["Hello", " world", ".", " How", " are", " you", "?"]);
        assert_eq!(t.tokens[0].start_ms, Some(0));
        assert!(t.tokens.iter().all(|token| token.end_ms <= Some(6_000)));
        assert!(
            t.tokens
                .iter()
                .all(|token| (0.85..1.0).contains(&token.confidence))
        );
    }

    #[test]
    fn diarization_and_language_identification() {
        let shape = Shape {
            diarization: true,
            language_identification: true,
            language_hints: vec!["de".into()],
            translation: None,
        };
        let t = transcript("t".into(), "Eins. Zwei.", 1_000, &[1; 32], &shape);
        let speakers: Vec<_> = t
            .tokens
            .iter()
            .map(|token| token.speaker.as_deref())
            .collect();
        assert_eq!(speakers, [Some("1"), Some("1"), Some("2"), Some("2")]);
        assert!(
            t.tokens
                .iter()
                .all(|token| token.language.as_deref() == Some("de"))
        );
    }

    #[test]
    fn one_way_translation_follows_each_sentence() {
        let shape = Shape {
            translation: Some(Translation::one_way("de")),
            ..Shape::default()
        };
        let t = transcript("t".into(), "Good morning.", 1_000, &[1; 32], &shape);
        let statuses: Vec<_> = t
            .tokens
            .iter()
            .map(|token| token.translation_status.clone())
            .collect();
        let original = Some(TranslationStatus::Original);
        let translation = Some(TranslationStatus::Translation);
        assert_eq!(
            statuses,
            [
                original.clone(),
                original.clone(),
                original,
                translation.clone(),
                translation.clone(),
                translation
            ]
        );
        let last = t.tokens.last().expect("tokens");
        assert_eq!((last.start_ms, last.end_ms), (None, None));
        assert_eq!(last.source_language.as_deref(), Some("en"));
        assert_eq!(last.language.as_deref(), Some("de"));
    }

    #[test]
    fn two_way_translation_goes_to_the_other_language() {
        let shape = Shape {
            language_hints: vec!["es".into()],
            translation: Some(Translation::two_way("en", "es")),
            ..Shape::default()
        };
        let t = transcript("t".into(), "Hola.", 1_000, &[1; 32], &shape);
        let last = t.tokens.last().expect("tokens");
        assert_eq!(last.language.as_deref(), Some("en"));
        assert_eq!(last.source_language.as_deref(), Some("es"));
    }

    #[test]
    fn untranslated_speech_is_marked_none() {
        let shape = Shape {
            language_hints: vec!["de".into()],
            translation: Some(Translation::one_way("de")),
            ..Shape::default()
        };
        let t = transcript("t".into(), "Hallo.", 1_000, &[1; 32], &shape);
        assert_eq!(t.tokens.len(), 2);
        assert!(
            t.tokens
                .iter()
                .all(|token| token.translation_status == Some(TranslationStatus::None))
        );
    }
}
