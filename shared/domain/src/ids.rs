//! Prefixed identifiers (`ws_`, `iss_`, `job_`, `key_`, `evt_`, ...).
//!
//! Random ids are ULID-shaped (48-bit milliseconds + 80 random bits, Crockford base32) so that
//! they sort by creation time. Issue ids are derived from the deduplication key instead, which is
//! what makes every retried ingest idempotent.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Length of the encoded part of every id: 128 bits in base32.
pub const ID_BODY_LEN: usize = 26;

/// Encodes 16 bytes as 26 lowercase Crockford base32 characters (the first carries 3 bits).
fn encode_128(bytes: [u8; 16]) -> String {
    let mut value = u128::from_be_bytes(bytes);
    let mut out = [0u8; ID_BODY_LEN];
    for slot in out.iter_mut().rev() {
        *slot = CROCKFORD[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8(out.to_vec()).expect("alphabet is ASCII")
}

/// A time-ordered id body from a millisecond timestamp and 10 random bytes.
pub fn time_ordered_body(unix_millis: u64, random: [u8; 10]) -> String {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&unix_millis.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random);
    encode_128(bytes)
}

/// An id body derived from a hash of `parts`, separated so that ("ab","c") != ("a","bc").
pub fn derived_body(domain: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(domain.as_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    encode_128(bytes)
}

fn is_id_body(body: &str) -> bool {
    body.len() == ID_BODY_LEN && body.bytes().all(|b| CROCKFORD.contains(&b))
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn from_body(body: String) -> Self {
                Self(format!("{}{}", $prefix, body))
            }

            pub fn random(unix_millis: u64, random: [u8; 10]) -> Self {
                Self::from_body(time_ordered_body(unix_millis, random))
            }

            /// Accepts only well-formed ids, so junk in a path never reaches storage.
            pub fn parse(text: &str) -> Option<Self> {
                text.strip_prefix($prefix).filter(|body| is_id_body(body)).map(|_| Self(text.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A workspace (the tenant). Every record belongs to exactly one.
    WorkspaceId,
    "ws_"
);
prefixed_id!(KeyId, "key_");
prefixed_id!(JobId, "job_");
prefixed_id!(EventId, "evt_");
prefixed_id!(
    /// A connector: a managed integration or a custom source (`custom_api`) of a workspace.
    ConnectorId,
    "con_"
);
prefixed_id!(
    /// A webhook registration: an outbound endpoint, or the inbound enablement of a connector.
    WebhookId,
    "whk_"
);
prefixed_id!(
    /// One entry of a connector's sync history (a sync run or an inbound delivery). Time-ordered,
    /// so the history sorts by id.
    SyncId,
    "syn_"
);
prefixed_id!(
    /// Derived from workspace + source + external id; see [`IssueId::derive`].
    IssueId,
    "iss_"
);

impl IssueId {
    /// The deduplication key made into an id: the same (workspace, source, external id) always
    /// names the same Issue, so a retry can never create a second one.
    pub fn derive(workspace: &WorkspaceId, source: &str, external_id: &str) -> Self {
        Self::from_body(derived_body("causeloop/issue/v1", &[workspace.as_str(), source, external_id]))
    }
}

prefixed_id!(
    /// A pattern of Issues with one root cause; see [`PatternId::for_engine_id`].
    PatternId,
    "pat_"
);

impl PatternId {
    /// The public id of the clustering engine's pattern `engine_id` in `workspace`. Engine ids
    /// are never reused within a workspace's engine state, so this names one pattern forever,
    /// and a worker that retries an assignment derives the same id again.
    pub fn for_engine_id(workspace: &WorkspaceId, engine_id: u64) -> Self {
        Self::from_body(derived_body("causeloop/pattern/v1", &[workspace.as_str(), &engine_id.to_string()]))
    }
}

prefixed_id!(
    /// One (event, endpoint) pair of outbound delivery; see [`DeliveryId::for_pair`].
    DeliveryId,
    "dlv_"
);

impl DeliveryId {
    /// Time-ordered by the event's creation (so an endpoint's deliveries list newest first by
    /// id) and otherwise derived from the pair, so a fan-out retried after a crash names the same
    /// delivery again instead of sending the event twice.
    pub fn for_pair(event_created_millis: u64, event: &EventId, webhook: &WebhookId) -> Self {
        let digest = Sha256::new()
            .chain_update(b"causeloop/delivery/v1")
            .chain_update(event.as_str().as_bytes())
            .chain_update([0])
            .chain_update(webhook.as_str().as_bytes())
            .finalize();
        let mut random = [0u8; 10];
        random.copy_from_slice(&digest[..10]);
        Self::random(event_created_millis, random)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_stable_per_pair_and_sort_by_event_time() {
        let (event, other_event) = (EventId::random(1, [1; 10]), EventId::random(1, [2; 10]));
        let webhook = WebhookId::random(1, [3; 10]);
        let id = DeliveryId::for_pair(5_000, &event, &webhook);
        assert_eq!(id, DeliveryId::for_pair(5_000, &event, &webhook));
        assert_ne!(id, DeliveryId::for_pair(5_000, &other_event, &webhook));
        assert!(DeliveryId::for_pair(4_999, &other_event, &webhook) < id);
        assert!(DeliveryId::parse(id.as_str()).is_some());
    }

    #[test]
    fn random_ids_sort_by_time() {
        let a = JobId::random(1_700_000_000_000, [255; 10]);
        let b = JobId::random(1_700_000_000_001, [0; 10]);
        assert!(a < b);
        assert!(JobId::parse(a.as_str()).is_some());
    }

    #[test]
    fn parse_rejects_wrong_prefix_length_and_alphabet() {
        let id = IssueId::random(1, [1; 10]);
        assert!(IssueId::parse(id.as_str()).is_some());
        assert!(JobId::parse(id.as_str()).is_none());
        assert!(IssueId::parse("iss_short").is_none());
        assert!(IssueId::parse(&format!("iss_{}", "u".repeat(ID_BODY_LEN))).is_none());
        assert!(IssueId::parse(&format!("iss_{}", "../".repeat(9))).is_none());
    }

    #[test]
    fn issue_id_is_a_function_of_the_dedup_key() {
        let ws = WorkspaceId::random(1, [7; 10]);
        let other = WorkspaceId::random(1, [8; 10]);
        let id = IssueId::derive(&ws, "custom_api", "deploy-1");
        assert_eq!(id, IssueId::derive(&ws, "custom_api", "deploy-1"));
        assert_ne!(id, IssueId::derive(&other, "custom_api", "deploy-1"));
        assert_ne!(id, IssueId::derive(&ws, "custom_ap", "ideploy-1"));
        assert!(IssueId::parse(id.as_str()).is_some());
    }
}
