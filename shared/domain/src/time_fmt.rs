//! RFC 3339 UTC timestamps, the only time format on the wire.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Formats as RFC 3339 in UTC with millisecond precision, which sorts lexicographically.
pub fn format_rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    let millis = at.millisecond();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        millis
    )
}

/// Formats Unix milliseconds like [`format_rfc3339`].
pub fn format_unix_millis(unix_millis: u64) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format_rfc3339(at)
}

/// An RFC 3339 timestamp as Unix milliseconds (`None` if it does not parse or is before 1970).
pub fn parse_unix_millis(text: &str) -> Option<u64> {
    u64::try_from(parse_rfc3339(text)?.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Parses any RFC 3339 timestamp (any offset) and normalizes it to UTC.
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok().map(|t| t.to_offset(UtcOffset::UTC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalizes_offsets() {
        let t = parse_rfc3339("2026-03-01T10:00:00.5+02:00").unwrap();
        assert_eq!(format_rfc3339(t), "2026-03-01T08:00:00.500Z");
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn unix_millis_format_like_instants() {
        assert_eq!(format_unix_millis(1_614_265_330_250), "2021-02-25T15:02:10.250Z");
        assert_eq!(parse_unix_millis("2021-02-25T16:02:10.25+01:00"), Some(1_614_265_330_250));
        assert_eq!(parse_unix_millis("1969-12-31T23:59:59Z"), None);
    }

    #[test]
    fn formatted_times_sort_like_instants() {
        let a = format_rfc3339(parse_rfc3339("2026-01-02T03:04:05Z").unwrap());
        let b = format_rfc3339(parse_rfc3339("2026-01-02T03:04:05.001Z").unwrap());
        assert!(a < b);
    }
}
