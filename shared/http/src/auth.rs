//! API-key authentication and scope checks (`docs/api-contract.md`, "Authentication" and "Scopes").

use crate::error::ApiError;
use crate::request_log::RequestWorkspace;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use causeloop_domain::keys::{hash_key, key_matches, looks_like_key};
use causeloop_domain::{KeyId, Scope, ScopeSet, WorkspaceId};
use causeloop_storage::Store;

/// The caller, once its key checked out.
#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace_id: WorkspaceId,
    pub key_id: KeyId,
    pub scopes: ScopeSet,
}

impl Principal {
    /// 403 naming the scope unless the key holds it (or an `:admin` scope that implies it).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.grants(scope) {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scope))
        }
    }

    /// Passes when the key holds any of `scopes`; the 403 names the first.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        if scopes.iter().any(|&scope| self.scopes.grants(scope)) {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scopes[0]))
        }
    }
}

/// The key presented as `Authorization: Bearer <key>`.
pub fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(key.trim())
}

/// Looks the presented key up by its hash. Every failure is the same 401: nothing tells a
/// caller whether a key exists, was revoked or was malformed.
pub async fn authenticate_key(store: &Store, presented: Option<&str>) -> Result<Principal, ApiError> {
    let presented = presented.filter(|key| looks_like_key(key)).ok_or_else(ApiError::unauthorized)?;
    let record = store.key_by_hash(&hash_key(presented)).await?.ok_or_else(ApiError::unauthorized)?;
    // The store matched on the hash; compare again in constant time so that no backend's
    // lookup semantics (collation, prefix matching) can ever admit a different key.
    if !key_matches(presented, &record.key_hash) {
        return Err(ApiError::unauthorized());
    }
    Ok(Principal { workspace_id: record.workspace_id, key_id: record.key_id, scopes: record.scopes })
}

/// Any state that holds the [`Store`] authenticates: the route families' state does.
impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    Store: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = authenticate_key(&Store::from_ref(state), bearer_key(&parts.headers)).await?;
        if let Some(slot) = parts.extensions.get::<RequestWorkspace>() {
            slot.set(principal.workspace_id.as_str());
        }
        Ok(principal)
    }
}
