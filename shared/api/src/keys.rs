//! The `keys` family: a workspace's API keys over HTTP (`docs/api-contract.md`, "API keys").
//!
//! * `GET /v1/keys/me` — the presented key itself (id, scopes, and what they grant), for any
//!   valid key: a client such as the console asks it which actions to offer.
//! * `GET /v1/keys`, `POST /v1/keys`, `DELETE /v1/keys/{id}` — under `keys:admin`.
//!
//! A created key and its companion webhook secret are in the 201 answer once; no read shows
//! either (only the `hint`, the key's first characters). Revocation deletes the item the key is
//! authenticated by, so the key fails from the next request on; the record stays, listed with
//! its `revoked_at`.
//!
//! A key cannot revoke itself (409), so that no request locks a workspace out of its own key
//! administration. A key can grant only scopes it holds itself: `keys:admin` lets a caller hand out its own
//! powers, never more (otherwise a `keys:admin`-only key would be every scope).

use crate::fields::{optional_string_list, reject_unknown};
use crate::provisioning::{create_key_in, CreatedKey};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use bytes::Bytes;
use causeloop_domain::{FieldError, KeyId, Scope, ScopeSet};
use causeloop_http::body::json_object;
use causeloop_http::pagination::{page_body, page_cursor, page_limit};
use causeloop_http::{ApiError, Principal};
use causeloop_storage::clock::now_rfc3339;
use causeloop_storage::repo::ApiKeyRecord;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::str::FromStr;

/// Every route of the family, as (method, path); `openapi.yaml` is checked against these.
pub const ROUTES: &[(&str, &str)] =
    &[("GET", "/v1/keys/me"), ("GET", "/v1/keys"), ("POST", "/v1/keys"), ("DELETE", "/v1/keys/{id}")];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/keys/me", get(me))
        .route("/v1/keys", get(list).post(create))
        .route("/v1/keys/{id}", delete(revoke))
}

const MAX_REQUEST_BYTES: usize = 4 * 1024;
const CREATE_FIELDS: &[&str] = &["scopes"];

/// The API's view of a key record: never the hash, the key or its webhook secret.
pub fn key_view(record: &ApiKeyRecord) -> Value {
    json!({
        "id": record.key_id,
        "hint": record.hint,
        "scopes": record.scopes,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    })
}

/// Every scope `scopes` grants, the implied ones included, in the canonical order.
fn granted(scopes: &ScopeSet) -> Vec<&'static str> {
    Scope::ALL.into_iter().filter(|scope| scopes.grants(*scope)).map(Scope::as_str).collect()
}

async fn me(State(state): State<AppState>, principal: Principal) -> Result<impl IntoResponse, ApiError> {
    let record = state
        .store
        .workspace_key(&principal.workspace_id, &principal.key_id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let mut view = key_view(&record);
    view["workspace_id"] = json!(principal.workspace_id);
    view["grants"] = json!(granted(&principal.scopes));
    Ok(Json(view))
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::KeysAdmin)?;
    let limit = page_limit(params.get("limit").map(String::as_str))?;
    let cursor = page_cursor(params.get("cursor").map(String::as_str));
    let (keys, next) = state.store.workspace_keys(&principal.workspace_id, limit, cursor).await?;
    Ok(Json(page_body(keys.iter().map(key_view).collect(), next)))
}

fn parse_scopes(names: Vec<String>) -> Result<ScopeSet, ApiError> {
    if names.is_empty() {
        return Err(ApiError::field(FieldError::empty("scopes")));
    }
    let scopes = names
        .iter()
        .map(|name| Scope::from_str(name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|unknown| ApiError::field(FieldError::new("scopes", "invalid_value", unknown.to_string())))?;
    Ok(ScopeSet::new(scopes))
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::KeysAdmin)?;
    let body = json_object(&headers, &body, MAX_REQUEST_BYTES)?;
    reject_unknown(&body, CREATE_FIELDS)?;
    let names = optional_string_list(&body, "scopes")?.ok_or_else(|| ApiError::field(FieldError::missing("scopes")))?;
    let scopes = parse_scopes(names)?;
    if let Some(beyond) = scopes.iter().find(|scope| !principal.scopes.grants(*scope)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "scope_not_held",
            format!("a key can grant only scopes it holds; this key does not hold `{beyond}`"),
        )
        .with("field", "scopes")
        .with("required_scope", beyond.as_str()));
    }
    let CreatedKey { key_id, key, webhook_secret, .. } =
        create_key_in(&state.store, &principal.workspace_id, scopes).await?;
    let record = state.store.workspace_key(&principal.workspace_id, &key_id).await?.ok_or_else(ApiError::internal)?;
    let mut answer = key_view(&record);
    answer["key"] = json!(key);
    answer["webhook_secret"] = json!(webhook_secret);
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::KeysAdmin)?;
    let key_id = KeyId::parse(&id).ok_or_else(|| ApiError::not_found("key"))?;
    // A key cannot revoke itself: the key in hand is often the workspace's only `keys:admin`
    // key, and a stray request must not lock the workspace out of its own administration.
    if key_id == principal.key_id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "cannot_revoke_own_key",
            "a key cannot revoke itself; revoke it with another key that holds keys:admin",
        ));
    }
    // The workspace's own item first: another workspace's key id is a 404, like an unknown one.
    // A revoked key is gone as far as this route is concerned (as a deleted webhook is): the
    // retry of a revocation changes nothing and says 404.
    let live =
        state.store.workspace_key(&principal.workspace_id, &key_id).await?.filter(|key| key.revoked_at.is_none());
    live.ok_or_else(|| ApiError::not_found("key"))?;
    state.store.revoke_key(&key_id, &now_rfc3339()).await?.ok_or_else(|| ApiError::not_found("key"))?;
    Ok(StatusCode::NO_CONTENT)
}
