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
