//! The ids and timestamps the emulator issues, in the API's formats.

use soniox_types::OffsetDateTime;

/// A random version-4 UUID, the form of every id the API issues.
pub(crate) fn new_uuid() -> String {
    let mut bits = fastrand::u128(..);
    bits = (bits & !(0xF << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Whether `value` is a UUID in its hyphenated form, either case.
pub(crate) fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Now, to the millisecond, as the API writes timestamps.
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4() {
        let id = new_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
    }

    #[test]
    fn uuids() {
        assert!(is_uuid(&new_uuid()));
        assert!(is_uuid("b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11"));
        assert!(is_uuid("B6F6B6B2-4A34-4A25-9EF6-0D3F0B5F9C11"));
        assert!(!is_uuid("b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c1"));
        assert!(!is_uuid("b6f6b6b2x4a34-4a25-9ef6-0d3f0b5f9c11"));
        assert!(!is_uuid("é6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c1"));
    }

    #[test]
    fn timestamps_have_millisecond_precision() {
        assert_eq!(now().nanosecond() % 1_000_000, 0);
    }
}
