//! The `insights` family, served by the issues function (scope `issues:read`):
//! `GET /v1/predictions` ranks the open Issues by how likely their Pattern is to come back
//! after they are resolved; `GET /v1/issues/{id}/recommendations` ranks the fixes of an Issue's
//! Pattern by how likely they are to hold.
//!
//! Both are computed at request time from the stored insights state (`causeloop-insights`), so
//! they follow the Pattern's history as it changes; the prediction stored on each Issue is the
//! one made when the cluster worker last counted its history.

use crate::insights_view::recommendations;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use causeloop_domain::ids::PatternId;
use causeloop_domain::limits::MAX_PAGE_LIMIT;
use causeloop_domain::{IssueId, IssueStatus, Scope, WorkspaceId};
use causeloop_http::pagination::page_limit;
use causeloop_http::{ApiError, Principal};
use causeloop_insights::WorkspaceInsights;
use causeloop_storage::clock::now_millis;
use causeloop_storage::insights::PatternInsightsRecord;
use causeloop_storage::repo::IssueFilter;
use causeloop_storage::{Store, StoreError};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Every route of the family, as (method, path); `openapi.yaml` is checked against these.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/v1/predictions"), ("GET", "/v1/issues/{id}/recommendations")];

/// Open Issues read (most recently active first) to rank; older ones are not ranked, so one
/// request's cost stays bounded however large the workspace.
pub const MAX_RANKED_ISSUES: usize = 1_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/predictions", get(list_predictions))
        .route("/v1/issues/{id}/recommendations", get(issue_recommendations))
}

fn horizon(params: &HashMap<String, String>) -> Result<i64, ApiError> {
    match params.get("horizon_days").map(String::as_str) {
        None | Some("7") => Ok(7),
        Some("30") => Ok(30),
        Some(_) => Err(ApiError::bad_request("invalid_parameter", "query parameter `horizon_days` must be 7 or 30")
            .with("field", "horizon_days")),
    }
}

/// A live Pattern's insights: its id (following merges) and state, if it has any.
async fn live_insights(
    store: &Store,
    workspace: &WorkspaceId,
    pattern_id: &str,
) -> Result<Option<(PatternId, Option<String>, PatternInsightsRecord)>, StoreError> {
    let Some(id) = PatternId::parse(pattern_id) else { return Ok(None) };
    let Some(record) = store.resolve_pattern(workspace, &id).await? else { return Ok(None) };
    let live = record.value.id.clone();
    Ok(store.pattern_insights(workspace, &live).await?.map(|found| (live, Some(record.value.template), found.value)))
}

async fn workspace_insights(store: &Store, workspace: &WorkspaceId) -> Result<WorkspaceInsights, StoreError> {
    Ok(store.workspace_insights(workspace).await?.map(|found| found.value).unwrap_or_default())
}

async fn list_predictions(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IssuesRead)?;
    let workspace = &principal.workspace_id;
    let horizon_days = horizon(&params)?;
    let limit = page_limit(params.get("limit").map(String::as_str))?;
    let store = &state.store;

    let filter = IssueFilter { status: Some(IssueStatus::Open), ..IssueFilter::default() };
    let mut open = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = store.list_issues(workspace, &filter, MAX_PAGE_LIMIT, cursor).await?;
        open.extend(page.into_iter().filter(|issue| issue.pattern_id.is_some()));
        match next {
            Some(next) if open.len() < MAX_RANKED_ISSUES => cursor = Some(next),
            _ => break,
        }
    }
    open.truncate(MAX_RANKED_ISSUES);

    let mut pattern_ids: Vec<String> = open.iter().filter_map(|issue| issue.pattern_id.clone()).collect();
    pattern_ids.sort();
    pattern_ids.dedup();
    let reads = pattern_ids.iter().map(|id| live_insights(store, workspace, id));
    let (found, insights) =
        futures_util::future::join(futures_util::future::try_join_all(reads), workspace_insights(store, workspace))
            .await;
    let (found, insights) = (found?, insights?);
    let now = (now_millis() as i64).max(insights.watermark);
    let mut by_pattern = HashMap::new();
    for (id, found) in pattern_ids.iter().zip(found) {
        if let Some((live, template, record)) = found {
            let prediction = insights.predict(&record.insights, now);
            by_pattern.insert(id.clone(), (live, template, prediction));
        }
    }
    let mut ranked: Vec<(f64, Value)> = open
        .iter()
        .filter_map(|issue| {
            let (live, template, prediction) = by_pattern.get(issue.pattern_id.as_deref()?)?;
            let probability = prediction.p(horizon_days)?;
            Some((
                probability,
                json!({
                    "probability": probability,
                    "recur_7d": prediction.p_7d,
                    "recur_30d": prediction.p_30d,
                    "pattern": {"id": live, "template": template},
                    "issue": issue.to_api(),
                }),
            ))
        })
        .collect();
    // Stable: equal probabilities keep the most recently active Issue first.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.truncate(limit);
    Ok(Json(json!({
        "horizon_days": horizon_days,
        "data": ranked.into_iter().map(|(_, item)| item).collect::<Vec<_>>(),
    })))
}

async fn issue_recommendations(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IssuesRead)?;
    let workspace = &principal.workspace_id;
    let store = &state.store;
    let id = IssueId::parse(&id).ok_or_else(|| ApiError::not_found("issue"))?;
    let issue = store.issue(workspace, &id).await?.ok_or_else(|| ApiError::not_found("issue"))?.value;
    let found = match issue.pattern_id.as_deref() {
        Some(pattern_id) => live_insights(store, workspace, pattern_id).await?,
        None => None,
    };
    let Some((live, _, record)) = found else {
        return Ok(Json(json!({"pattern_id": issue.pattern_id, "data": []})));
    };
    let insights = workspace_insights(store, workspace).await?;
    let now = now_millis() as i64;
    Ok(Json(json!({"pattern_id": live, "data": recommendations(&insights, &record, now)})))
}
