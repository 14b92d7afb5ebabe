//! The one wall clock. Handlers, workers and the adapters (TTLs, queue visibility) read "now"
//! here and nowhere else; the pure crates take it as an argument.

use time::OffsetDateTime;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Now, as the RFC 3339 string every stored timestamp uses.
pub fn now_rfc3339() -> String {
    causeloop_domain::time_fmt::format_rfc3339(now())
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    (now().unix_timestamp_nanos() / 1_000_000) as u64
}

/// Seconds since the Unix epoch, the unit of the TTL attribute.
pub fn unix_now() -> i64 {
    now().unix_timestamp()
}
