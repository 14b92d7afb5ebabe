//! The `issues` family: `GET /v1/issues`, `GET /v1/issues/{id}`, `PATCH /v1/issues/{id}`
//! (scopes `issues:read` / `issues:write`).

use crate::events::{emit, issue_resolved};
use crate::messages::ClusterRequest;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use causeloop_domain::ingest::check_not_future;
use causeloop_domain::issue::Issue;
use causeloop_domain::limits::{MAX_RESOLUTION_TEXT_CHARS, MAX_SINGLE_BODY_BYTES};
use causeloop_domain::time_fmt::{format_rfc3339, parse_rfc3339};
use causeloop_domain::{FieldError, IssueId, IssueStatus, Scope, Severity};
use causeloop_http::body::json_object;
use causeloop_http::pagination::{page_body, page_cursor, page_limit};
use causeloop_http::{ApiError, Principal};
use causeloop_storage::clock::{now_millis, now_rfc3339};
use causeloop_storage::repo::IssueFilter;
use causeloop_storage::update::update_with_retries;
use causeloop_storage::QueueName;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Every route of the family, as (method, path); `openapi.yaml` is checked against these.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/v1/issues"), ("GET", "/v1/issues/{id}"), ("PATCH", "/v1/issues/{id}")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/issues", get(list_issues)).route("/v1/issues/{id}", get(get_issue).patch(patch_issue))
}

fn invalid_param(name: &str, expected: &str) -> ApiError {
    ApiError::bad_request("invalid_parameter", format!("query parameter `{name}` must be {expected}"))
        .with("field", name)
}

fn issue_filter(params: &HashMap<String, String>) -> Result<IssueFilter, ApiError> {
    let text = |name: &str| params.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    // The enumerated and timestamp filters, when present, must be valid: empty is not "no filter".
    let present = |name: &str| params.get(name).map(|v| v.trim().to_string());
    Ok(IssueFilter {
        status: present("status")
            .map(|v| IssueStatus::parse(&v).ok_or_else(|| invalid_param("status", "`open` or `resolved`")))
            .transpose()?,
        severity: present("severity")
            .map(|v| Severity::from_word(&v).ok_or_else(|| invalid_param("severity", "p1–p5 or a severity word")))
            .transpose()?,
        source: text("source"),
        service: text("service"),
        pattern_id: text("pattern_id"),
        since: present("since")
            .map(|v| {
                parse_rfc3339(&v).map(format_rfc3339).ok_or_else(|| invalid_param("since", "an RFC 3339 timestamp"))
            })
            .transpose()?,
    })
}

async fn list_issues(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IssuesRead)?;
    let filter = issue_filter(&params)?;
    let limit = page_limit(params.get("limit").map(String::as_str))?;
    let cursor = page_cursor(params.get("cursor").map(String::as_str));
    let (issues, next) = state.store.list_issues(&principal.workspace_id, &filter, limit, cursor).await?;
    Ok(Json(page_body(issues.iter().map(Issue::to_api).collect(), next)))
}

async fn get_issue(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IssuesRead)?;
    let id = IssueId::parse(&id).ok_or_else(|| ApiError::not_found("issue"))?;
    let issue = state.store.issue(&principal.workspace_id, &id).await?.ok_or_else(|| ApiError::not_found("issue"))?;
    Ok(Json(issue.value.to_api()))
}

/// The accepted PATCH body: `status`, `resolution: {fix, note}` and/or `resolved_at` (when the
/// source resolved it; not in the future). A resolution or a resolution time without a status
/// resolves the Issue, since a fix is only recorded for a resolved Issue.
struct IssuePatch {
    status: Option<IssueStatus>,
    fix: Option<String>,
    note: Option<String>,
    resolved_at: Option<String>,
    has_resolution: bool,
}

fn resolution_text(resolution: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    let field = format!("resolution.{name}");
    match resolution.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() > MAX_RESOLUTION_TEXT_CHARS => {
            Err(ApiError::field(FieldError::too_long(&field, MAX_RESOLUTION_TEXT_CHARS, "characters")))
        }
        Some(Value::String(text)) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
        Some(_) => Err(ApiError::field(FieldError::wrong_type(&field, "a string"))),
    }
}

fn parse_patch(body: &Map<String, Value>, now_millis: i64) -> Result<IssuePatch, ApiError> {
    if let Some(unknown) = body.keys().find(|key| !matches!(key.as_str(), "status" | "resolution" | "resolved_at")) {
        return Err(ApiError::field(FieldError::new(
            unknown.clone(),
            "unknown_field",
            format!("`{unknown}` cannot be changed; send `status`, `resolution` and/or `resolved_at`"),
        )));
    }
    let status = match body.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(word)) => Some(IssueStatus::parse(word).ok_or_else(|| {
            ApiError::field(FieldError::new("status", "invalid_value", "`status` must be `open` or `resolved`"))
        })?),
        Some(_) => return Err(ApiError::field(FieldError::wrong_type("status", "a string"))),
    };
    let (fix, note, has_resolution) = match body.get("resolution") {
        None | Some(Value::Null) => (None, None, false),
        Some(Value::Object(resolution)) => {
            (resolution_text(resolution, "fix")?, resolution_text(resolution, "note")?, true)
        }
        Some(_) => return Err(ApiError::field(FieldError::wrong_type("resolution", "an object"))),
    };
    let resolved_at = match body.get("resolved_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let at = parse_rfc3339(text.trim()).map(format_rfc3339).ok_or_else(|| {
                ApiError::field(FieldError::new(
                    "resolved_at",
                    "invalid_value",
                    "`resolved_at` must be an RFC 3339 timestamp",
                ))
            })?;
            check_not_future("resolved_at", &at, now_millis).map_err(ApiError::field)?;
            Some(at)
        }
        Some(_) => return Err(ApiError::field(FieldError::wrong_type("resolved_at", "a string"))),
    };
    if status.is_none() && !has_resolution && resolved_at.is_none() {
        return Err(ApiError::bad_request("empty_patch", "send `status`, `resolution` and/or `resolved_at`"));
    }
    if status == Some(IssueStatus::Open) && (has_resolution || resolved_at.is_some()) {
        let field = if has_resolution { "resolution" } else { "resolved_at" };
        return Err(ApiError::field(FieldError::new(
            field,
            "invalid_value",
            "a resolution can only be recorded when resolving",
        )));
    }
    Ok(IssuePatch { status, fix, note, has_resolution: has_resolution || resolved_at.is_some(), resolved_at })
}

async fn patch_issue(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IssuesWrite)?;
    let workspace = &principal.workspace_id;
    let id = IssueId::parse(&id).ok_or_else(|| ApiError::not_found("issue"))?;
    let patch = parse_patch(&json_object(&headers, &body, MAX_SINGLE_BODY_BYTES)?, now_millis() as i64)?;
    let now = now_rfc3339();
    let resolving = patch.status == Some(IssueStatus::Resolved) || (patch.status.is_none() && patch.has_resolution);
    let (store, id, patch, now) = (&state.store, &id, &patch, &now);
    let updated = update_with_retries(|| async move {
        let Some(stored) = store.issue(workspace, id).await? else {
            return Ok(None);
        };
        let mut issue = stored.value;
        if resolving {
            issue.resolve(patch.fix.clone(), patch.note.clone(), patch.resolved_at.clone(), now);
        } else {
            issue.reopen(now);
        }
        store.save_issue(&issue, Some(stored.version)).await?;
        Ok(Some(issue))
    })
    .await?;
    let issue = updated.ok_or_else(|| ApiError::not_found("issue"))?;
    // The follow-ups derive from the stored state, not from whether this request changed it, so
    // a retry of a PATCH whose queue sends failed after its write completes them. The cluster
    // worker keeps each pattern's open members, which its recurrence rule reads, and counts
    // resolutions into Insights in the workspace's order: a status change or a resolution goes
    // through it like any other change (also before the Issue is clustered: the worker then
    // finds it resolved); what it has counted it does not count again.
    let request = ClusterRequest { workspace_id: workspace.clone(), issue_id: issue.id.clone(), job_id: None };
    let cause = format!("status/{}@{}", issue.status.as_str(), issue.updated_at);
    state.queue.send_batch(QueueName::Cluster, vec![request.to_message(&cause)]).await?;
    // The event's id derives from the resolution, so announcing it again is the same event.
    if resolving && issue.resolved_from_open() {
        emit(state.queue.as_ref(), vec![issue_resolved(&issue, now)]).await?;
    }
    Ok(Json(issue.to_api()))
}
