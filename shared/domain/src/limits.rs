//! Request limits (`docs/api-contract.md`, "Limits"). Each one is named in the 4xx that enforces it.

/// Largest body accepted by single-record routes.
pub const MAX_SINGLE_BODY_BYTES: usize = 1024 * 1024;
/// Largest body accepted by the batch route.
pub const MAX_BATCH_BODY_BYTES: usize = 6 * 1000 * 1000;
pub const MAX_BATCH_RECORDS: usize = 500;
pub const MAX_TITLE_CHARS: usize = 1_000;
pub const MAX_EXTERNAL_ID_CHARS: usize = 256;
pub const MAX_SOURCE_CHARS: usize = 64;
pub const MAX_SHORT_FIELD_CHARS: usize = 256;
pub const MAX_URL_CHARS: usize = 2_048;
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
pub const MAX_METADATA_DEPTH: usize = 10;
pub const DEFAULT_PAGE_LIMIT: usize = 50;
pub const MAX_PAGE_LIMIT: usize = 200;
/// A resolution's `fix` and `note`, each.
pub const MAX_RESOLUTION_TEXT_CHARS: usize = 4_000;
/// How far past the server's clock a reported `resolved_at` may lie (client clock skew); beyond
/// it the time is refused as "in the future".
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Connectors a workspace may hold; bounds every read of "all the workspace's connectors"
/// (alert routing reads them consistently on each provider webhook).
pub const MAX_CONNECTORS_PER_WORKSPACE: usize = 100;
/// Outbound endpoints a workspace may register; bounds each event's fan-out.
pub const MAX_OUTBOUND_ENDPOINTS_PER_WORKSPACE: usize = 50;
