//! How a transcript is printed: `--format text|json|srt|vtt|speakers`.

use std::fmt::Write as _;

use clap::ValueEnum;
use soniox_types::{SubtitleOptions, Transcript};

use std::path::Path;

use crate::{failure::Failure, output::Output};

/// An output format for transcripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The spoken text; a translation follows after a blank line.
    Text,
    /// The transcript as the API returns it (id, text, tokens), on one line.
    Json,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
    /// One line per speaker turn: `Speaker 1: ...`.
    Speakers,
}

impl Format {
    /// The format to use when none is given: JSON under `--json`, text otherwise.
    pub(crate) fn or_default(format: Option<Format>, json: bool) -> Format {
        format.unwrap_or(if json { Format::Json } else { Format::Text })
    }
}

/// `transcript` in `format`, ending with a newline.
///
/// # Errors
/// Only if JSON encoding fails, which a transcript from the API cannot make it do.
pub(crate) fn render(transcript: &Transcript, format: Format) -> Result<String, Failure> {
    let speaker_labels = transcript
        .tokens
        .iter()
        .any(|token| token.speaker.is_some());
    let subtitles = SubtitleOptions::default().speaker_labels(speaker_labels);
    Ok(match format {
        Format::Text => {
            let mut text = transcript.spoken_text();
            let translated = transcript.translated_text();
            if !translated.is_empty() {
                text.push_str("\n\n");
                text.push_str(&translated);
            }
            text.push('\n');
            text
        }
        Format::Json => {
            let mut json = serde_json::to_string(transcript).map_err(|error| {
                Failure::other(format!("cannot encode the transcript: {error}"))
            })?;
            json.push('\n');
            json
        }
        Format::Srt => transcript.to_srt(&subtitles),
        Format::Vtt => transcript.to_vtt(&subtitles),
        Format::Speakers => speakers(transcript),
    })
}

/// Writes `transcript` in `format` to `path`, or to stdout without one.
///
/// # Errors
/// The file cannot be written; stdout is closed.
pub(crate) async fn write(
    output: Output,
    transcript: &Transcript,
    format: Format,
    path: Option<&Path>,
) -> Result<(), Failure> {
    let text = render(transcript, format)?;
    match path {
        Some(path) => tokio::fs::write(path, text)
            .await
            .map_err(|error| Failure::io(path.display(), &error)),
        None => output.text(&text),
    }
}

fn speakers(transcript: &Transcript) -> String {
    let mut out = String::new();
    for segment in transcript.segments() {
        let label = match (&segment.speaker, &segment.language) {
            (Some(speaker), Some(language)) => format!("Speaker {speaker} [{language}]: "),
            (Some(speaker), None) => format!("Speaker {speaker}: "),
            (None, Some(language)) => format!("[{language}] "),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "{label}{}", segment.text);
        if let Some(translation) = &segment.translation {
            let _ = writeln!(out, "  -> {translation}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use soniox_types::{Token, TranscriptionId};

    #[test]
    fn speakers_label_each_turn() {
        let transcript = Transcript::new(
            TranscriptionId::new("t"),
            "",
            vec![
                Token::spoken("Hi.", 0, 400, 0.9).speaker("1"),
                Token::spoken(" Hello.", 500, 900, 0.9).speaker("2"),
            ],
        );
        assert_eq!(
            render(&transcript, Format::Speakers).ok().as_deref(),
            Some("Speaker 1: Hi.\nSpeaker 2: Hello.\n")
        );
        assert_eq!(
            render(&transcript, Format::Text).ok().as_deref(),
            Some("Hi. Hello.\n")
        );
    }
}
