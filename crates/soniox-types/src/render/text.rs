//! Plain text of each track, and the split of a token stream into its two tracks.

use super::is_spoken;
use crate::transcript::Token;

/// The spoken text of `tokens`: every token that is not a translation, concatenated (leading
/// spaces are part of each token's text) and trimmed.
///
/// ```
/// use soniox_types::{Token, render};
///
/// let tokens = [
///     Token::spoken("Good", 0, 300, 0.9),
///     Token::spoken(" morn", 300, 500, 0.9),
///     Token::spoken("ing", 500, 700, 0.9),
///     Token::translation("Guten Morgen", "de", "en", 0.9),
/// ];
/// assert_eq!(render::spoken_text(&tokens), "Good morning");
/// ```
pub fn spoken_text(tokens: &[Token]) -> String {
    let text: String = tokens
        .iter()
        .filter(|token| is_spoken(token))
        .map(|token| token.text.as_str())
        .collect();
    trimmed(text)
}

/// The translated text of `tokens`: the translation tokens, concatenated and trimmed.
///
/// Each run of translation tokens follows the spoken words it translates, and a run's first
/// token often has no leading space; where neither side of the join has whitespace, a single
/// space is put between two runs so that their words do not run together.
///
/// ```
/// use soniox_types::{Token, render};
///
/// let tokens = [
///     Token::spoken("Hi.", 0, 300, 0.9),
///     Token::translation("Hallo.", "de", "en", 0.9),
///     Token::spoken(" Bye.", 400, 700, 0.9),
///     Token::translation("Tschüss.", "de", "en", 0.9),
/// ];
/// assert_eq!(render::translated_text(&tokens), "Hallo. Tschüss.");
/// ```
pub fn translated_text(tokens: &[Token]) -> String {
    split_tracks(tokens).translated_text()
}

/// Appends the separator that goes before a new run of text starting with `next`.
pub(super) fn join_run(text: &mut String, next: &str) {
    let ends_open = text.chars().next_back().is_some_and(|c| !c.is_whitespace());
    let starts_open = next.chars().next().is_some_and(|c| !c.is_whitespace());
    if ends_open && starts_open {
        text.push(' ');
    }
}

/// Removes leading and trailing whitespace without a second allocation when there is none.
pub(super) fn trimmed(text: String) -> String {
    let trimmed = text.trim();
    if trimmed.len() == text.len() {
        text
    } else {
        trimmed.to_owned()
    }
}

/// A token stream split into its spoken track and its translation track, both in order.
///
/// ```
/// use soniox_types::{Token, render};
///
/// let tokens = [
///     Token::spoken("Hi.", 0, 300, 0.9),
///     Token::translation("Hallo.", "de", "en", 0.9),
/// ];
/// let tracks = render::split_tracks(&tokens);
/// assert_eq!(tracks.spoken_text(), "Hi.");
/// assert_eq!(tracks.translated_text(), "Hallo.");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Tracks<'a> {
    /// The spoken tokens: original and untranslated speech.
    pub spoken: Vec<&'a Token>,
    /// The translation tokens.
    pub translation: Vec<&'a Token>,
    /// Where each run of translation tokens starts in `translation`, in order, so that the
    /// text of one run is not glued to the next.
    translation_runs: Vec<usize>,
}

impl Tracks<'_> {
    /// The spoken track's text, as [`spoken_text`] gives it.
    ///
    /// ```
    /// use soniox_types::{Token, render};
    ///
    /// let tokens = [Token::spoken("Hi", 0, 300, 0.9), Token::spoken(" there", 300, 600, 0.9)];
    /// assert_eq!(render::split_tracks(&tokens).spoken_text(), "Hi there");
    /// ```
    pub fn spoken_text(&self) -> String {
        trimmed(
            self.spoken
                .iter()
                .map(|token| token.text.as_str())
                .collect(),
        )
    }

    /// The translation track's text, as [`translated_text`] gives it.
    ///
    /// ```
    /// use soniox_types::{Token, render};
    ///
    /// let tokens = [Token::translation("Hallo", "de", "en", 0.9)];
    /// assert_eq!(render::split_tracks(&tokens).translated_text(), "Hallo");
    /// ```
    pub fn translated_text(&self) -> String {
        let mut text = String::new();
        let mut runs = self.translation_runs.iter().peekable();
        for (index, token) in self.translation.iter().enumerate() {
            if runs.next_if_eq(&&index).is_some() {
                join_run(&mut text, &token.text);
            }
            text.push_str(&token.text);
        }
        trimmed(text)
    }
}

/// Splits `tokens` into the spoken track and the translation track.
///
/// ```
/// use soniox_types::{Token, render};
///
/// let tokens = [
///     Token::spoken("Hi", 0, 300, 0.9),
///     Token::translation("Hallo", "de", "en", 0.9),
///     Token::spoken(" you", 300, 500, 0.9),
/// ];
/// let tracks = render::split_tracks(&tokens);
/// assert_eq!(tracks.spoken.len(), 2);
/// assert_eq!(tracks.translation[0].text, "Hallo");
/// ```
pub fn split_tracks(tokens: &[Token]) -> Tracks<'_> {
    let mut tracks = Tracks::default();
    let mut previous_was_translation = false;
    for token in tokens {
        if token.is_translation() {
            if !previous_was_translation {
                tracks.translation_runs.push(tracks.translation.len());
            }
            tracks.translation.push(token);
        } else {
            tracks.spoken.push(token);
        }
        previous_was_translation = token.is_translation();
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::TranslationStatus;

    fn tokens() -> Vec<Token> {
        vec![
            Token::spoken(" Good", 0, 300, 0.9).translation_status(TranslationStatus::Original),
            Token::spoken(" morning.", 300, 600, 0.9)
                .translation_status(TranslationStatus::Original),
            Token::translation("Guten", "de", "en", 0.9),
            Token::translation(" Morgen.", "de", "en", 0.9),
            Token::spoken(" Hola.", 700, 900, 0.9).translation_status(TranslationStatus::None),
            Token::spoken(" Bye.", 1000, 1200, 0.9).translation_status(TranslationStatus::Original),
            Token::translation("Tschüss. ", "de", "en", 0.9),
        ]
    }

    #[test]
    fn spoken_text_keeps_original_and_untranslated_tokens() {
        assert_eq!(spoken_text(&tokens()), "Good morning. Hola. Bye.");
    }

    #[test]
    fn translated_text_joins_runs_with_one_space() {
        assert_eq!(translated_text(&tokens()), "Guten Morgen. Tschüss.");
    }

    #[test]
    fn translated_text_adds_no_space_when_a_run_brings_its_own() {
        let tokens = [
            Token::translation("Ja.", "de", "en", 0.9),
            Token::spoken("Yes.", 0, 100, 0.9),
            Token::translation(" Nein.", "de", "en", 0.9),
        ];
        assert_eq!(translated_text(&tokens), "Ja. Nein.");
    }

    #[test]
    fn edited_tracks_still_render_their_text() {
        let tokens = tokens();
        let mut tracks = split_tracks(&tokens);
        tracks.translation.truncate(1);
        assert_eq!(tracks.translated_text(), "Guten");
        tracks.translation.clear();
        assert_eq!(tracks.translated_text(), "");
    }

    #[test]
    fn texts_of_empty_input_are_empty() {
        assert_eq!(spoken_text(&[]), "");
        assert_eq!(translated_text(&[]), "");
        assert_eq!(split_tracks(&[]), Tracks::default());
    }

    #[test]
    fn split_keeps_order_within_each_track() {
        let tokens = tokens();
        let tracks = split_tracks(&tokens);
        let spoken: Vec<_> = tracks.spoken.iter().map(|t| t.text.as_str()).collect();
        let translation: Vec<_> = tracks.translation.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(spoken, [" Good", " morning.", " Hola.", " Bye."]);
        assert_eq!(translation, ["Guten", " Morgen.", "Tschüss. "]);
        assert_eq!(tracks.spoken_text(), "Good morning. Hola. Bye.");
        assert_eq!(tracks.translated_text(), "Guten Morgen. Tschüss.");
    }
}
