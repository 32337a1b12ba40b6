//! A cursor that reads JSON the way the API writes it, and gives up on anything else.
//!
//! It backs [`Transcript::from_json`](crate::Transcript::from_json), which must build exactly
//! the value `serde_json` would. Every method returns `None` ("give up") when the input is not
//! in the forms handled here — escapes in keys, exponents, long numbers, deep nesting — as
//! well as when it is invalid. The caller then hands the whole input to `serde_json`, which
//! decides, so this cursor only has to be right about what it accepts: it accepts nothing
//! `serde_json` rejects, and reads every value it accepts to the same bits.
//!
//! Speed comes from matching bytes instead of dispatching through serde's visitors, and from
//! scanning strings eight bytes at a time for the bytes that end a plain run.

/// How deep [`Cursor::skip_value`] follows arrays and objects before giving up; real unknown
/// fields are flat or nearly so.
const SKIP_DEPTH: u32 = 32;

/// `10^k` for the fraction digits a decimal of [`Cursor::f64`] may have; each is exact.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A position in JSON text. `None` from any method means "give up".
///
/// The input is UTF-8 checked once, as a whole, so strings are slices of it rather than each
/// being checked again. `serde_json` accepts invalid UTF-8 inside strings it skips; such input
/// makes the cursor's caller give up, which is allowed.
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips JSON whitespace.
    #[inline(always)]
    pub(crate) fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes().len() - self.pos
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.whitespace();
        self.pos == self.bytes().len()
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    /// Consumes `byte` if it is next.
    #[inline(always)]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Consumes `literal` if it is next.
    #[inline(always)]
    fn eat_literal(&mut self, literal: &[u8]) -> Option<()> {
        let end = self.pos + literal.len();
        (self.bytes().get(self.pos..end)? == literal).then(|| self.pos = end)
    }

    /// Reads an object whose keys usually come in the order of `keys`, as a serializer writes
    /// a struct's fields. `field` gets the cursor just before each value and the key's index in
    /// `keys`, or `None` for another key; it must consume the value. Keys with escapes give up,
    /// and so does a key of `keys` seen twice, which serde's derived implementations reject.
    /// Returns the set of `keys` present, as bits.
    ///
    /// Keys in that order are recognised by comparing the input with each expected key in turn,
    /// in place; only keys out of order or unknown are scanned and looked up.
    #[inline(always)]
    pub(crate) fn object<const N: usize>(
        &mut self,
        keys: &[Key; N],
        mut field: impl FnMut(&mut Self, Option<usize>) -> Option<()>,
    ) -> Option<u32> {
        const { assert!(N <= 32, "one bit per key") };
        let mut present = 0_u32;
        let mut more = self.open(b'{', b'}')?;
        // In order, each key can come up once, so none repeats here.
        for (index, key) in keys.iter().enumerate() {
            if more && self.eat_key(key) {
                self.colon()?;
                present |= 1 << index;
                field(self, Some(index))?;
                more = self.after_item(b'}')?;
            }
        }
        while more {
            let key = self.key()?;
            self.colon()?;
            let index = keys.iter().position(|known| known.name() == key);
            if let Some(index) = index {
                if present & 1 << index != 0 {
                    return None;
                }
                present |= 1 << index;
            }
            field(self, index)?;
            more = self.after_item(b'}')?;
        }
        Some(present)
    }

    /// Consumes `key`, quotes included, if it is next.
    #[inline(always)]
    fn eat_key(&mut self, key: &Key) -> bool {
        let Some(window) = self
            .bytes()
            .get(self.pos..)
            .and_then(<[u8]>::first_chunk::<24>)
        else {
            return self.eat_literal(key.quoted).is_some();
        };
        let mut difference = 0;
        for (word, (expected, mask)) in window.chunks_exact(8).zip(key.words.iter().zip(key.masks))
        {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(word);
            difference |= (u64::from_le_bytes(bytes) ^ expected) & mask;
        }
        if difference == 0 {
            self.pos += key.quoted.len();
        }
        difference == 0
    }

    /// Consumes the colon after a key, with the whitespace around it.
    #[inline(always)]
    fn colon(&mut self) -> Option<()> {
        self.whitespace();
        self.eat(b':')?;
        self.whitespace();
        Some(())
    }

    /// Reads an array, calling `element` with the cursor just before each element.
    pub(crate) fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        let mut more = self.open(b'[', b']')?;
        while more {
            element(self)?;
            more = self.after_item(b']')?;
        }
        Some(())
    }

    /// Consumes `open` and whitespace, and `close` too if the container is empty. Says whether
    /// an item follows.
    #[inline(always)]
    fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        self.eat(open)?;
        self.whitespace();
        Some(self.eat(close).is_none())
    }

    /// After an item, consumes the comma and whitespace before the next one (`true`), or the
    /// `close` that ends the container (`false`).
    #[inline(always)]
    fn after_item(&mut self, close: u8) -> Option<bool> {
        self.whitespace();
        let byte = self.peek()?;
        self.pos += 1;
        if byte == b',' {
            self.whitespace();
            Some(true)
        } else {
            (byte == close).then_some(false)
        }
    }

    /// Reads a key without escapes.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        let end = self.plain_run_end()?;
        if self.bytes()[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        Some(&self.bytes()[start..end])
    }

    /// Reads `null` as `Some(None)`, anything else with `read`.
    #[inline(always)]
    pub(crate) fn nullable<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.eat_literal(b"null")?;
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// Reads `true` or `false`.
    #[inline(always)]
    pub(crate) fn bool(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.eat_literal(b"true").map(|()| true),
            b'f' => self.eat_literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// Reads a string. Without escapes it is borrowed from the input; with them it is built in
    /// `scratch`. Lone surrogates and control characters give up.
    #[inline(always)]
    pub(crate) fn str<'s>(&mut self, scratch: &'s mut String) -> Option<&'s str>
    where
        'a: 's,
    {
        self.eat(b'"')?;
        let mut start = self.pos;
        let mut end = self.plain_run_end()?;
        if self.bytes()[end] == b'"' {
            self.pos = end + 1;
            // Both ends sit next to an ASCII byte, so they are character boundaries.
            return self.text.get(start..end);
        }
        scratch.clear();
        loop {
            scratch.push_str(self.text.get(start..end)?);
            match self.bytes()[end] {
                b'"' => {
                    self.pos = end + 1;
                    return Some(scratch.as_str());
                }
                b'\\' => {
                    self.pos = end + 1;
                    scratch.push(self.escape()?);
                }
                _ => return None,
            }
            start = self.pos;
            end = self.plain_run_end()?;
        }
    }

    /// Decodes the escape after a backslash.
    fn escape(&mut self) -> Option<char> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        self.eat_literal(b"\\u")?;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                    }
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        })
    }

    /// Reads four hex digits.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes().get(self.pos..self.pos + 4)?;
        let mut value = 0;
        for &digit in digits {
            value = value << 4 | char::from(digit).to_digit(16)?;
        }
        self.pos += 4;
        Some(value)
    }

    /// Where the plain run of string bytes from the cursor ends: the index of the next quote,
    /// backslash or control character. Gives up at the end of the input.
    #[inline(always)]
    fn plain_run_end(&self) -> Option<usize> {
        let mut index = self.pos;
        while let Some(word) = self.bytes().get(index..).and_then(<[u8]>::first_chunk::<8>) {
            let stops = stop_bytes(u64::from_le_bytes(*word));
            if stops != 0 {
                return Some(index + (stops.trailing_zeros() / 8) as usize);
            }
            index += 8;
        }
        let rest = self.bytes().get(index..)?;
        let offset = rest
            .iter()
            .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)?;
        Some(index + offset)
    }

    /// Reads an unsigned integer without sign, fraction or exponent, of at most 19 digits (so
    /// it fits a `u64`); anything else gives up.
    #[inline(always)]
    pub(crate) fn u64(&mut self) -> Option<u64> {
        let (value, _) = self.digits(19)?;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(value)
    }

    /// Reads a number as an `f64`: an optional minus, an integer part and an optional fraction,
    /// with at most 15 digits in all. Exponents and longer numbers give up.
    #[inline(always)]
    pub(crate) fn f64(&mut self) -> Option<f64> {
        let negative = self.eat(b'-').is_some();
        let (mut significand, integer_digits) = self.digits(15)?;
        let mut fraction_digits = 0;
        if self.eat(b'.').is_some() {
            let start = self.pos;
            while let Some(digit @ b'0'..=b'9') = self.peek() {
                significand = significand * 10 + u64::from(digit - b'0');
                self.pos += 1;
                if integer_digits + (self.pos - start) > 15 {
                    return None;
                }
            }
            fraction_digits = self.pos - start;
            if fraction_digits == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        // Fifteen digits stay below 2^53, so the significand and the power of ten are exact and
        // the quotient is the correctly rounded value: what `serde_json` computes, in its fast
        // float mode (the same two operations) and in its exact one alike.
        let magnitude = significand as f64 / POW10[fraction_digits];
        Some(if negative { -magnitude } else { magnitude })
    }

    /// Reads an integer part: `0`, or a non-zero digit and up to `max - 1` more. Returns its
    /// value and digit count; a leading zero followed by a digit, or too many digits, gives up.
    #[inline(always)]
    fn digits(&mut self, max: usize) -> Option<(u64, usize)> {
        match self.peek()? {
            b'0' => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return None;
                }
                Some((0, 1))
            }
            b'1'..=b'9' => {
                let start = self.pos;
                let mut value = 0_u64;
                while let Some(digit @ b'0'..=b'9') = self.peek() {
                    if self.pos - start == max {
                        return None;
                    }
                    value = value * 10 + u64::from(digit - b'0');
                    self.pos += 1;
                }
                Some((value, self.pos - start))
            }
            _ => None,
        }
    }

    /// Skips any value, checking it is well-formed JSON.
    pub(crate) fn skip_value(&mut self, scratch: &mut String) -> Option<()> {
        self.skip_nested(scratch, SKIP_DEPTH)
    }

    fn skip_nested(&mut self, scratch: &mut String, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.str(scratch).map(drop),
            b'{' => {
                let depth = depth.checked_sub(1)?;
                self.object(&[], |cursor, _| cursor.skip_nested(scratch, depth))
                    .map(drop)
            }
            b'[' => {
                let depth = depth.checked_sub(1)?;
                self.array(|cursor| cursor.skip_nested(scratch, depth))
            }
            b't' | b'f' => self.bool().map(drop),
            b'n' => self.eat_literal(b"null"),
            _ => self.skip_number(),
        }
    }

    /// Skips a number of any JSON form.
    fn skip_number(&mut self) -> Option<()> {
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        if self.eat(b'.').is_some() {
            self.require_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.require_digits()?;
        }
        Some(())
    }

    fn require_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.skip_digits();
        (self.pos > start).then_some(())
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }
}

/// An object key [`Cursor::object`] expects, prepared for comparing eight bytes at a time.
pub(crate) struct Key {
    /// The key with its quotes, as it appears in the input.
    quoted: &'static [u8],
    /// `quoted` as three little-endian words, zero-padded.
    words: [u64; 3],
    /// Which bytes of `words` belong to `quoted`.
    masks: [u64; 3],
}

impl Key {
    /// A key given with its quotes (`b"\"text\""`): plain (no quote, backslash or control
    /// character inside) and at most 22 bytes, so that with its quotes it fits the three words.
    /// Checked at compile time where the key is a constant.
    pub(crate) const fn new(quoted: &'static [u8]) -> Self {
        assert!(
            quoted.len() >= 2 && quoted.len() <= 24,
            "a quoted key of 24 bytes at most"
        );
        let last = quoted.len() - 1;
        assert!(
            quoted[0] == b'"' && quoted[last] == b'"',
            "a key with its quotes"
        );
        let mut words = [0; 3];
        let mut masks = [0; 3];
        let mut index = 0;
        while index < quoted.len() {
            let byte = quoted[index];
            let inner = index > 0 && index < last;
            assert!(
                !inner || (byte != b'"' && byte != b'\\' && byte >= 0x20),
                "a plain key"
            );
            let shift = (index % 8) * 8;
            words[index / 8] |= (byte as u64) << shift;
            masks[index / 8] |= 0xff << shift;
            index += 1;
        }
        Self {
            quoted,
            words,
            masks,
        }
    }

    /// The key without its quotes.
    pub(crate) fn name(&self) -> &[u8] {
        &self.quoted[1..self.quoted.len() - 1]
    }
}

/// Marks, with the high bit of its byte, each byte of `word` that ends a plain string run: a
/// quote, a backslash or a control character. Marks above the lowest may be false (a borrow
/// carries into the next byte), so only the lowest is used.
#[inline]
fn stop_bytes(word: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = zero_bytes(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(json: &str) -> Option<String> {
        let mut cursor = Cursor::new(json);
        let mut scratch = String::new();
        let value = cursor.str(&mut scratch)?.to_owned();
        cursor.at_end().then_some(value)
    }

    fn number(json: &str) -> Option<f64> {
        let mut cursor = Cursor::new(json);
        let value = cursor.f64()?;
        cursor.at_end().then_some(value)
    }

    #[test]
    fn strings_of_every_length_find_their_end() {
        for length in 0..40 {
            let text = "a".repeat(length);
            assert_eq!(string(&format!("\"{text}\"")), Some(text.clone()));
            let escaped = format!("\"{text}\\n{text}\"");
            assert_eq!(string(&escaped), Some(format!("{text}\n{text}")));
        }
    }

    #[test]
    fn escapes_decode_as_json_defines_them() {
        assert_eq!(
            string(r#""\"\\\/\b\f\n\r\t\u00fc\u20AC\ud83d\ude00""#).as_deref(),
            Some("\"\\/\u{8}\u{c}\n\r\t\u{fc}\u{20ac}\u{1f600}")
        );
        assert_eq!(string("\"m\u{fc}ssen\"").as_deref(), Some("m\u{fc}ssen"));
    }

    #[test]
    fn bad_strings_give_up() {
        for bad in [
            "\"open",
            "\"tab\there\"",
            r#""\x""#,
            r#""\u12""#,
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            "\"\\",
        ] {
            assert_eq!(string(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_match_whole_with_or_without_a_full_window() {
        let key = Key::new(b"\"speaker\"");
        let padding = " ".repeat(24);
        for (input, matches) in [
            ("\"speaker\"", true),
            ("\"speakers\"", false),
            ("\"speake\"", false),
            ("\"Speaker\"", false),
            ("\"speaker", false),
        ] {
            for text in [input.to_owned(), format!("{input}{padding}")] {
                let mut cursor = Cursor::new(&text);
                assert_eq!(cursor.eat_key(&key), matches, "{text:?}");
                assert_eq!(cursor.pos, if matches { 9 } else { 0 });
            }
        }
        let longest = Key::new(b"\"translation_status_22\"");
        let text = format!("\"translation_status_22\"{padding}");
        assert!(Cursor::new(&text).eat_key(&longest));
        assert!(!Cursor::new(&text.replace("_22", "_23")).eat_key(&longest));
    }

    #[test]
    fn stop_bytes_finds_the_first_stop_only() {
        let word = u64::from_le_bytes(*b"ab\x1f\"\\cde");
        assert_eq!(stop_bytes(word).trailing_zeros() / 8, 2);
        let high = u64::from_le_bytes(*b"\xc3\xbc\xff\x80abcd");
        assert_eq!(stop_bytes(high), 0);
    }

    #[test]
    fn numbers_read_in_the_exact_range_and_give_up_outside_it() {
        assert_eq!(number("0"), Some(0.0));
        assert_eq!(number("-0").map(f64::to_bits), Some((-0.0_f64).to_bits()));
        assert_eq!(number("0.9731"), Some(0.9731));
        assert_eq!(number("12.5"), Some(12.5));
        assert_eq!(number("999999999999999"), Some(999_999_999_999_999.0));
        for unread in [
            "1e3",
            "01",
            "1.",
            ".5",
            "-",
            "1.0000000000000001",
            "9999999999999999",
        ] {
            assert_eq!(number(unread), None, "{unread}");
        }
        let mut cursor = Cursor::new("18446744073709551615");
        assert_eq!(cursor.u64(), None, "20 digits are left to serde_json");
        let mut cursor = Cursor::new("1844674407370955161");
        assert_eq!(cursor.u64(), Some(1_844_674_407_370_955_161));
    }

    #[test]
    fn skipping_checks_the_value_and_bounds_depth() {
        let skips = |json: &str| {
            let mut cursor = Cursor::new(json);
            cursor.skip_value(&mut String::new()).is_some() && cursor.at_end()
        };
        assert!(skips(
            r#"{"a":[1,-2.5e+3,true,false,null,"x\"y",{}],"b":[]}"#
        ));
        for bad in ["[1,]", "{\"a\"}", "[01]", "tru", "{\"a\":1,}", "[1 2]", "-"] {
            assert!(!skips(bad), "{bad}");
        }
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(!skips(&deep));
    }
}
