//! Patterns, served by the `issues` family (`docs/api-contract.md`): `GET /v1/patterns`,
//! `GET /v1/patterns/{id}`, `GET /v1/patterns/{id}/issues` (scope `issues:read`).
//!
//! An id that was merged into another pattern answers as the surviving pattern, so an id a
//! client stored earlier keeps working.

use crate::insights_view::pattern_statistics;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use causeloop_domain::ids::PatternId;
use causeloop_domain::pattern::PatternRecord;
use causeloop_domain::time_fmt::{format_rfc3339, parse_rfc3339};
use causeloop_domain::{IssueId, Scope, WorkspaceId};
use causeloop_http::pagination::{page_body, page_cursor, page_limit};
use causeloop_http::{ApiError, Principal};
use causeloop_storage::clock::now_millis;
use causeloop_storage::patterns::{PatternFilter, PatternSort};
use causeloop_storage::Store;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Every route of this part of the family, as (method, path); `openapi.yaml` is checked against these.
pub const ROUTES: &[(&str, &str)] =
    &[("GET", "/v1/patterns"), ("GET", "/v1/patterns/{id}"), ("GET", "/v1/patterns/{id}/issues")];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/patterns", get(list_patterns))
        .route("/v1/patterns/{id}", get(get_pattern))
        .route("/v1/patterns/{id}/issues", get(pattern_issues))
}

fn invalid_param(name: &str, expected: &str) -> ApiError {
    ApiError::bad_request("invalid_parameter", format!("query parameter `{name}` must be {expected}"))
        .with("field", name)
}

fn list_params(params: &HashMap<String, String>) -> Result<(PatternFilter, PatternSort), ApiError> {
    let text = |name: &str| params.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    // `sort` and `since`, when present, must be valid: empty is not "the default".
    let sort = match params.get("sort").map(|v| v.trim()) {
        None | Some("last_seen") => PatternSort::LastSeen,
        Some("count") => PatternSort::Count,
        Some("risk") => PatternSort::Risk { now_millis: now_millis() as i64 },
        Some(_) => return Err(invalid_param("sort", "`last_seen`, `count` or `risk`")),
    };
    let since = params
        .get("since")
        .map(|v| {
            parse_rfc3339(v.trim()).map(format_rfc3339).ok_or_else(|| invalid_param("since", "an RFC 3339 timestamp"))
        })
        .transpose()?;
    Ok((PatternFilter { service: text("service"), source: text("source"), since }, sort))
}

/// The live pattern that `id` names in the caller's workspace; unknown, foreign and malformed
/// ids are the same 404.
async fn live_pattern(store: &Store, workspace: &WorkspaceId, id: &str) -> Result<PatternRecord, ApiError> {
    let id = PatternId::parse(id).ok_or_else(|| ApiError::not_found("pattern"))?;
    let found = store.resolve_pattern(workspace, &id).await?.ok_or_else(|| ApiError::not_found("pattern"))?;
    Ok(found.value)
}

/// The Issues with these ids, in order, skipping any that no longer exist; read concurrently.
async fn issues_by_id(store: &Store, workspace: &WorkspaceId, ids: Vec<IssueId>) -> Result<Vec<Value>, ApiError> {
    let mut reads = tokio::task::JoinSet::new();
    for (at, id) in ids.into_iter().enumerate() {
        let (store, workspace) = (store.clone(), workspace.clone());
        reads.spawn(async move { (at, store.issue(&workspace, &id).await) });
    }
    let mut found: Vec<(usize, Value)> = Vec::new();
    while let Some(joined) = reads.join_next().await {
        let (at, issue) = joined.map_err(|_| ApiError::internal())?;
        if let Some(issue) = issue? {
            found.push((at, issue.value.to_api()));
        }
    }
    found.sort_by_key(|(at, _)| *at);
    Ok(found.into_iter().map(|(_, issue)| issue).collect())
}

async fn list_patterns(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IssuesRead)?;
    let (filter, sort) = list_params(&params)?;
    let limit = page_limit(params.get("limit").map(String::as_str))?;
    let cursor = page_cursor(params.get("cursor").map(String::as_str));
    let workspace = &principal.workspace_id;
    let (patterns, next) = state.store.list_patterns(workspace, &filter, sort, limit, cursor).await?;
    let ids: Vec<PatternId> = patterns.iter().map(|record| record.id.clone()).collect();
    let (model, states) = state.store.insights_state(workspace, &ids).await?;
    let model = model.map(|model| model.value).unwrap_or_default();
    let now = now_millis() as i64;
    let data = patterns
        .iter()
        .zip(states)
        .map(|(record, insights)| {
            let mut view = record.to_api();
            // The Pattern's recurrence prediction now; null until Insights has counted it.
            view["recurrence_risk"] = match insights {
                Some(insights) => {
                    let prediction = model.predict(&insights.value.insights, now);
                    json!({"recur_7d": prediction.p_7d, "recur_30d": prediction.p_30d})
                }
                None => Value::Null,
            };
            view
        })
        .collect();
    Ok(Json(page_body(data, next)))
}

async fn get_pattern(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IssuesRead)?;
    let workspace = &principal.workspace_id;
    let record = live_pattern(&state.store, workspace, &id).await?;
    let mut view = record.to_api();
    view["sample_issues"] = json!(issues_by_id(&state.store, workspace, record.sample_issue_ids.clone()).await?);
    view["recurrence"] = match state.store.pattern_insights(workspace, &record.id).await? {
        Some(found) => {
            let insights = state.store.workspace_insights(workspace).await?.map(|w| w.value).unwrap_or_default();
            pattern_statistics(&insights, &found.value, now_millis() as i64)
        }
        None => Value::Null,
    };
    Ok(Json(view))
}

async fn pattern_issues(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IssuesRead)?;
    let workspace = &principal.workspace_id;
    let record = live_pattern(&state.store, workspace, &id).await?;
    let limit = page_limit(params.get("limit").map(String::as_str))?;
    let cursor = page_cursor(params.get("cursor").map(String::as_str));
    let (members, next) = state.store.pattern_members(workspace, &record.id, limit, cursor).await?;
    Ok(Json(page_body(issues_by_id(&state.store, workspace, members).await?, next)))
}
