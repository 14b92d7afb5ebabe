//! Timestamps from provider formats into RFC 3339 UTC strings.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

fn to_rfc3339(at: OffsetDateTime) -> Option<String> {
    at.to_offset(UtcOffset::UTC).format(&Rfc3339).ok()
}

pub(crate) fn from_unix_seconds(seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(seconds).ok().and_then(to_rfc3339)
}

pub(crate) fn from_unix_millis(millis: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok().and_then(to_rfc3339)
}

/// Reads RFC 3339, and the `+0000` offset spelling CloudWatch uses, into RFC 3339 UTC.
/// Go's zero time (`0001-01-01T00:00:00Z`, Alertmanager's "no end") and anything unreadable are
/// absent.
pub(crate) fn normalize(text: &str) -> Option<String> {
    let text = text.trim();
    let compact_offset = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][offset_minute]"
    );
    let at = OffsetDateTime::parse(text, &Rfc3339).or_else(|_| OffsetDateTime::parse(text, &compact_offset)).ok()?;
    if at.year() <= 1 {
        return None;
    }
    to_rfc3339(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_provider_spellings() {
        assert_eq!(normalize("2021-11-10T02:45:55.640+0000").as_deref(), Some("2021-11-10T02:45:55.64Z"));
        assert_eq!(normalize("2021-10-12T09:51:03+02:00").as_deref(), Some("2021-10-12T07:51:03Z"));
        assert_eq!(normalize("0001-01-01T00:00:00Z"), None);
        assert_eq!(normalize("yesterday"), None);
    }

    #[test]
    fn converts_epochs() {
        assert_eq!(from_unix_millis(1_406_662_672_000).as_deref(), Some("2014-07-29T19:37:52Z"));
        assert_eq!(from_unix_seconds(0).as_deref(), Some("1970-01-01T00:00:00Z"));
    }
}
