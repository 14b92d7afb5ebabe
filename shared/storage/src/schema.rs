//! The single-table key schema: every partition and sort key the product writes, in one place.
//!
//! | entity | pk | sk | gsi1pk | gsi1sk |
//! |---|---|---|---|---|
//! | workspace | `WS#<ws>` | `META` | `WORKSPACES` | `<slug>` |
//! | workspace slug | `SLUG#<slug>` | `WS` | | |
//! | API key | `WS#<ws>` | `KEY#<key_id>` | `KEYS` | `<ws>#<key_id>` |
//! | key lookup by hash | `KEYHASH#<sha256>` | `KEY` | | |
//! | key id → workspace | `KEYID#<key_id>` | `KEY` | | |
//! | issue | `WS#<ws>` | `ISS#<issue_id>` | `WS#<ws>#ISSUES` | `<last_seen>#<issue_id>` |
//! | ingest job | `WS#<ws>` | `JOB#<job_id>` | | |
//! | job's clustered marker | `WS#<ws>#JOB#<job_id>` | `CL#<issue_id>` | | |
//! | connector | `WS#<ws>` | `CON#<con_id>` | | |
//! | connector id → workspace | `CONID#<con_id>` | `CON` | | |
//! | connector sync record | `WS#<ws>#SYNCS#<con_id>` | `<syn_id>` (time-ordered) | | |
//! | webhook registration | `WS#<ws>` | `WHK#<whk_id>` | | |
//! | outbound delivery | `WS#<ws>#WHK#<whk_id>#DLV` | `<dlv_id>` (time-ordered) | | |
//! | event → its delivery to an endpoint | `WS#<ws>#WHK#<whk_id>#EVT` | `<evt_id>` | | |
//! | engine state head | `WS#<ws>` | `ENGINE` | | |
//! | engine state chunk | `WS#<ws>#ENGINE` | `<version:020>#<digest>#<index:04>` | | |
//! | pattern | `WS#<ws>` | `PAT#<pat_id>` | `WS#<ws>#PATTERNS` | `<last_seen>#<pat_id>` |
//! | merged pattern id → survivor | `WS#<ws>` | `PATALIAS#<pat_id>` | | |
//! | pattern member | `WS#<ws>#PAT#<pat_id>` | `ISS#<issue_id>` | | |
//! | workspace insights | `WS#<ws>` | `INSIGHTS` | | |
//! | pattern insights | `WS#<ws>` | `PATINS#<pat_id>` | | |

pub fn workspace_pk(workspace: &str) -> String {
    format!("WS#{workspace}")
}
pub const WORKSPACE_SK: &str = "META";
pub const WORKSPACES_INDEX_PK: &str = "WORKSPACES";
pub fn slug_pk(slug: &str) -> String {
    format!("SLUG#{slug}")
}
pub const SLUG_SK: &str = "WS";

pub fn key_sk(key_id: &str) -> String {
    format!("KEY#{key_id}")
}
pub const KEYS_INDEX_PK: &str = "KEYS";
pub fn key_hash_pk(hash: &str) -> String {
    format!("KEYHASH#{hash}")
}
pub fn key_id_pk(key_id: &str) -> String {
    format!("KEYID#{key_id}")
}
pub const KEY_LOOKUP_SK: &str = "KEY";

pub fn issue_sk(issue_id: &str) -> String {
    format!("ISS#{issue_id}")
}
pub fn issues_index_pk(workspace: &str) -> String {
    format!("WS#{workspace}#ISSUES")
}
pub fn issues_index_sk(last_seen: &str, issue_id: &str) -> String {
    format!("{last_seen}#{issue_id}")
}

pub fn job_sk(job_id: &str) -> String {
    format!("JOB#{job_id}")
}
pub fn job_markers_pk(workspace: &str, job_id: &str) -> String {
    format!("WS#{workspace}#JOB#{job_id}")
}
pub fn clustered_marker_sk(issue_id: &str) -> String {
    format!("CL#{issue_id}")
}

pub const CONNECTOR_SK_PREFIX: &str = "CON#";
pub fn connector_sk(connector_id: &str) -> String {
    format!("{CONNECTOR_SK_PREFIX}{connector_id}")
}
/// The one item that maps a bare connector id to its workspace, for the inbound receiver whose
/// URL names only the connector.
pub fn connector_id_pk(connector_id: &str) -> String {
    format!("CONID#{connector_id}")
}
pub const CONNECTOR_LOOKUP_SK: &str = "CON";
pub fn sync_records_pk(workspace: &str, connector_id: &str) -> String {
    format!("WS#{workspace}#SYNCS#{connector_id}")
}
/// Inbound deliveries a connector has applied, by the SHA-256 of their signed bytes (sk).
pub fn inbound_seen_pk(workspace: &str, connector_id: &str) -> String {
    format!("WS#{workspace}#INBOUND#{connector_id}")
}

pub const WEBHOOK_SK_PREFIX: &str = "WHK#";
pub fn webhook_sk(webhook_id: &str) -> String {
    format!("{WEBHOOK_SK_PREFIX}{webhook_id}")
}

pub fn deliveries_pk(workspace: &str, webhook_id: &str) -> String {
    format!("WS#{workspace}#WHK#{webhook_id}#DLV")
}

pub fn delivered_events_pk(workspace: &str, webhook_id: &str) -> String {
    format!("WS#{workspace}#WHK#{webhook_id}#EVT")
}

pub const ENGINE_STATE_SK: &str = "ENGINE";
pub fn engine_chunks_pk(workspace: &str) -> String {
    format!("WS#{workspace}#ENGINE")
}
/// Chunks carry the version and digest of the state they belong to, so that two writers of the
/// same version (one of which will lose the head) never overwrite each other's chunks.
pub fn engine_chunk_sk(version: u64, digest: &str, index: usize) -> String {
    format!("{version:020}#{digest}#{index:04}")
}

pub fn pattern_sk(pattern_id: &str) -> String {
    format!("PAT#{pattern_id}")
}
pub fn patterns_index_pk(workspace: &str) -> String {
    format!("WS#{workspace}#PATTERNS")
}
pub fn patterns_index_sk(last_seen: &str, pattern_id: &str) -> String {
    format!("{last_seen}#{pattern_id}")
}
pub fn pattern_alias_sk(pattern_id: &str) -> String {
    format!("PATALIAS#{pattern_id}")
}
pub fn pattern_members_pk(workspace: &str, pattern_id: &str) -> String {
    format!("WS#{workspace}#PAT#{pattern_id}")
}
pub fn pattern_member_sk(issue_id: &str) -> String {
    format!("ISS#{issue_id}")
}

pub const WORKSPACE_INSIGHTS_SK: &str = "INSIGHTS";
pub fn pattern_insights_sk(pattern_id: &str) -> String {
    format!("PATINS#{pattern_id}")
}
