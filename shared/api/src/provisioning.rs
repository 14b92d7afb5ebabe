//! Creating workspaces and API keys: used by `causeloop keys create`, by the first start of
//! `causeloop serve` and by `POST /v1/keys`.

use causeloop_domain::keys::issue_key;
use causeloop_domain::{KeyId, ScopeSet, WorkspaceId};
use causeloop_storage::clock::{now_millis, now_rfc3339};
use causeloop_storage::repo::ApiKeyRecord;
use causeloop_storage::{Store, StoreError};
use serde::Serialize;

/// A new key as shown to its owner — the only time `key` and `webhook_secret` exist in clear.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    pub workspace_id: WorkspaceId,
    pub key_id: KeyId,
    pub key: String,
    pub webhook_secret: String,
    pub scopes: ScopeSet,
}

/// Valid workspace slugs: 1–64 of lowercase letters, digits, `-` and `_`.
pub fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Creates a key in the workspace named `slug`, creating the workspace on first use.
pub async fn create_key(store: &Store, slug: &str, scopes: ScopeSet) -> Result<CreatedKey, StoreError> {
    let workspace =
        store.ensure_workspace(slug, WorkspaceId::random(now_millis(), rand::random()), &now_rfc3339()).await?;
    create_key_in(store, &workspace.id, scopes).await
}

/// Creates a key in an existing workspace (`POST /v1/keys`, and [`create_key`]).
pub async fn create_key_in(store: &Store, workspace: &WorkspaceId, scopes: ScopeSet) -> Result<CreatedKey, StoreError> {
    let issued = issue_key(rand::random(), rand::random());
    let record = ApiKeyRecord {
        key_id: KeyId::random(now_millis(), rand::random()),
        workspace_id: workspace.clone(),
        scopes: scopes.clone(),
        hint: issued.hint,
        key_hash: issued.key_hash,
        wrapped_webhook_secret: issued.wrapped_webhook_secret,
        created_at: now_rfc3339(),
        revoked_at: None,
    };
    store.insert_key(&record).await?;
    Ok(CreatedKey {
        workspace_id: workspace.clone(),
        key_id: record.key_id,
        key: issued.key,
        webhook_secret: issued.webhook_secret,
        scopes,
    })
}
