//! A fake GitHub REST API: `GET /repos/{owner}/{repo}/issues` over the shared [`Ticket`]s.
//!
//! As GitHub documents it (and its OpenAPI description declares): `state` (`open` by default,
//! `closed`, `all`), `since` (issues updated after it, ISO 8601), `sort` (`created` by default,
//! `updated`, `comments`), `direction` (`desc` by default), `per_page` (30 by default, at most
//! 100) and `page`; the answer is an array of issues with a `Link` header (`rel="next"`,
//! `rel="last"`) while pages remain. An unknown `state`/`sort`/`direction` or an unreadable
//! `since` answers 422 (the operation's documented validation failure), a `per_page`/`page` that
//! is not a positive integer 400, and an unsupported `X-GitHub-Api-Version` 400.
//!
//! A ticket belongs to the repository named by its `service` (any owner); a ticket whose key is
//! `pr-<n>` is pull request `<n>` (with a `pull_request` key, as the issues list shows them). A
//! ticket is labelled `p<priority>`; a resolved one is closed, `not_planned` when its fix text is
//! `not planned`, else `completed`. Times are whole seconds, as GitHub writes them.

use super::{rfc3339, Shared, Ticket};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

const SUPPORTED_API_VERSIONS: &[&str] = &["2022-11-28", "2026-03-10"];

pub fn routes() -> Router<Shared> {
    Router::new().route("/repos/{owner}/{repo}/issues", get(list_issues))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest/issues/issues#list-repository-issues",
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

/// Unix ms as GitHub writes times: whole seconds, `Z`.
pub fn github_time(ms: i64) -> String {
    rfc3339(ms - ms.rem_euclid(1000))
}

/// A ticket's issue number and whether it is a pull request.
fn number(ticket: &Ticket) -> (u64, bool) {
    match ticket.key.strip_prefix("pr-") {
        Some(number) => (number.parse().unwrap_or(0), true),
        None => (ticket.key.parse().unwrap_or(0), false),
    }
}

async fn list_issues(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    if let Some(version) = headers.get("x-github-api-version") {
        let version = version.to_str().unwrap_or("");
        if !SUPPORTED_API_VERSIONS.contains(&version) {
            return refuse(StatusCode::BAD_REQUEST, &format!("API version '{version}' is not supported."));
        }
    }
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(raw_query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let param = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let invalid = |name: &str| refuse(StatusCode::UNPROCESSABLE_ENTITY, &format!("Validation Failed: {name}"));
    let state_filter = param("state").unwrap_or("open");
    if !matches!(state_filter, "open" | "closed" | "all") {
        return invalid("state");
    }
    let sort = param("sort").unwrap_or("created");
    if !matches!(sort, "created" | "updated" | "comments") {
        return invalid("sort");
    }
    let descending = match param("direction").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        _ => return invalid("direction"),
    };
    let since = match param("since") {
        None => None,
        Some(text) => match super::parse_time(text) {
            Some(ms) => Some(ms),
            None => return invalid("since"),
        },
    };
    let positive = |name: &str, default: usize| match param(name) {
        None => Ok(default),
        Some(text) => text.parse::<usize>().ok().filter(|value| *value > 0).ok_or(()),
    };
    let (Ok(per_page), Ok(page)) = (positive("per_page", 30), positive("page", 1)) else {
        return refuse(StatusCode::BAD_REQUEST, "per_page and page must be positive integers");
    };

    let shared = state.lock().unwrap();
    let mut issues: Vec<&Ticket> = shared
        .tickets
        .iter()
        .filter(|ticket| ticket.service.as_deref().is_some_and(|service| service.eq_ignore_ascii_case(&repo)))
        .filter(|ticket| match state_filter {
            "open" => ticket.resolved.is_none(),
            "closed" => ticket.resolved.is_some(),
            _ => true,
        })
        // "Updated after": strictly later, at GitHub's second precision.
        .filter(|ticket| since.is_none_or(|since| ticket.updated_ms - ticket.updated_ms.rem_euclid(1000) > since))
        .collect();
    issues.sort_by(|a, b| {
        let order = match sort {
            "updated" => a.updated_ms.cmp(&b.updated_ms),
            _ => a.created_ms.cmp(&b.created_ms),
        };
        let order = order.then_with(|| number(a).0.cmp(&number(b).0));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    let size = per_page.min(100).min(shared.page_size);
    let last_page = issues.len().div_ceil(size).max(1);
    let host = headers.get("host").and_then(|value| value.to_str().ok()).unwrap_or("127.0.0.1");
    let page_url = |number: usize| {
        let mut pairs: Vec<(String, String)> = query.iter().filter(|(key, _)| key != "page").cloned().collect();
        pairs.push(("page".into(), number.to_string()));
        let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        format!("http://{host}/repos/{owner}/{repo}/issues?{encoded}")
    };
    let body: Vec<Value> = issues
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|ticket| render(ticket, &format!("http://{host}"), &owner, &repo))
        .collect();
    let mut response = Json(body).into_response();
    if page < last_page {
        let link = format!("<{}>; rel=\"next\", <{}>; rel=\"last\"", page_url(page + 1), page_url(last_page));
        response.headers_mut().insert("link", link.parse().expect("header"));
    }
    response
}

fn render(ticket: &Ticket, origin: &str, owner: &str, repo: &str) -> Value {
    let (number, pull) = number(ticket);
    let kind = if pull { "pull" } else { "issues" };
    let mut issue = json!({
        "id": 1_000_000 + number,
        "node_id": format!("I_fake{number}"),
        "url": format!("{origin}/repos/{owner}/{repo}/issues/{number}"),
        "repository_url": format!("{origin}/repos/{owner}/{repo}"),
        "html_url": format!("https://github.com/{owner}/{repo}/{kind}/{number}"),
        "number": number,
        "state": if ticket.resolved.is_some() { "closed" } else { "open" },
        "state_reason": match &ticket.resolved {
            Some((_, fix)) if fix == "not planned" => json!("not_planned"),
            Some(_) => json!("completed"),
            None => Value::Null,
        },
        "title": ticket.title,
        "body": if ticket.body.is_empty() { Value::Null } else { json!(ticket.body) },
        "user": {"login": "octocat", "id": 1, "type": "User"},
        "labels": [
            {"id": 208045946, "name": "bug", "color": "f29513", "default": true},
            {"id": 208045947, "name": format!("p{}", ticket.priority), "color": "e11d21", "default": false}
        ],
        "assignees": [],
        "locked": false,
        "comments": 0,
        "closed_at": ticket.resolved.as_ref().map(|(at, _)| github_time(*at)),
        "created_at": github_time(ticket.created_ms),
        "updated_at": github_time(ticket.updated_ms),
        "author_association": "COLLABORATOR",
    });
    if pull {
        issue["pull_request"] = json!({
            "url": format!("{origin}/repos/{owner}/{repo}/pulls/{number}"),
            "html_url": format!("https://github.com/{owner}/{repo}/pull/{number}"),
            "merged_at": null,
        });
    }
    issue
}

#[cfg(test)]
mod tests {
    use super::super::drive_jira_github::{step, walk, walk_from};
    use super::super::{FakeVendor, Fault};
    use super::*;
    use causeloop_connectors::github::GitHub;
    use causeloop_connectors::{Auth, Connection, Failure, VendorRecord, Window};
    use serde_json::Map;

    // 2024-01-15T10:00:00Z
    const T0: i64 = 1_705_312_800_000;
    const HOUR: i64 = 3_600_000;
    const TOKEN: &str = "ghp_fake";

    async fn fake() -> FakeVendor {
        let fake = FakeVendor::start(routes()).await;
        fake.accept(&format!("Bearer {TOKEN}"));
        fake
    }

    fn config() -> Map<String, Value> {
        json!({"repositories": ["acme/checkout", "acme/payments"]}).as_object().cloned().unwrap_or_default()
    }

    fn ticket(key: &str, repo: &str, updated_ms: i64) -> Ticket {
        let mut ticket = Ticket::new(key, &format!("{repo} {key}"), T0 - 48 * HOUR);
        ticket.service = Some(repo.to_string());
        ticket.updated_ms = updated_ms;
        ticket
    }

    /// The records as the worker applies them: a revision read twice (a page restarting at the
    /// last update time re-reads that time's issues) once.
    fn distinct(records: Vec<VendorRecord>) -> Vec<VendorRecord> {
        let mut applied: Vec<VendorRecord> = Vec::new();
        for record in records {
            let same = |seen: &VendorRecord| {
                seen.record["external_id"] == record.record["external_id"] && seen.updated_at == record.updated_at
            };
            if !applied.iter().any(same) {
                applied.push(record);
            }
        }
        applied
    }

    fn ids(records: &[VendorRecord]) -> Vec<String> {
        records.iter().map(|record| record.record["external_id"].as_str().unwrap_or("").to_string()).collect()
    }

    fn issue_requests(fake: &FakeVendor) -> Vec<super::super::Seen> {
        fake.seen().into_iter().filter(|seen| seen.path.ends_with("/issues")).collect()
    }

    #[tokio::test]
    async fn a_backfill_walks_every_page_of_every_repository_and_skips_pull_requests() {
        let fake = fake().await;
        for number in 1..=5 {
            fake.put(ticket(&number.to_string(), "checkout", T0 + number * HOUR));
        }
        fake.put(ticket("pr-6", "checkout", T0 + 90 * 60_000));
        fake.put(ticket("7", "payments", T0 + HOUR).resolved_at(T0 + 2 * HOUR, "rolled back"));
        fake.put(ticket("8", "payments", T0 + 3 * HOUR).resolved_at(T0 + 4 * HOUR, "not planned"));
        fake.put(ticket("9", "search", T0 + HOUR));
        let config = config();
        let auth = Auth::Bearer(TOKEN.into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0 - 24 * HOUR, until_millis: T0 + 24 * HOUR };
        let records = distinct(walk(&GitHub, &connection, &window).await.expect("walk"));
        assert_eq!(
            ids(&records),
            [
                "acme/checkout#1",
                "acme/checkout#2",
                "acme/checkout#3",
                "acme/checkout#4",
                "acme/checkout#5",
                "acme/payments#7",
                "acme/payments#8"
            ]
        );
        let seen = issue_requests(&fake);
        assert!(seen.len() >= 4, "{} requests", seen.len());
        for request in &seen {
            assert_eq!(request.header("accept"), "application/vnd.github+json");
            assert_eq!(request.header("x-github-api-version"), "2022-11-28");
            assert_eq!(request.param("state"), Some("all"));
            assert_eq!(request.param("sort"), Some("updated"));
            assert_eq!(request.param("direction"), Some("asc"));
        }
        assert_eq!(seen[0].path, "/repos/acme/checkout/issues");
        assert_eq!(seen[0].param("since"), Some("2024-01-14T09:59:59Z"));
        assert_eq!(seen.last().map(|request| request.path.as_str()), Some("/repos/acme/payments/issues"));
        assert_eq!(
            records[5].record,
            json!({
                "source": "github",
                "external_id": "acme/payments#7",
                "title": "payments 7",
                "body": "payments 7: details",
                "severity": "p2",
                "service": "payments",
                "external_url": "https://github.com/acme/payments/issues/7",
                "source_created_at": "2024-01-13T10:00:00.000Z",
                "status": "resolved",
                "resolved_at": "2024-01-15T12:00:00.000Z"
            })
        );
        assert_eq!(records[6].record["resolution"], json!({"note": "closed as not planned"}));
        assert_eq!(records[6].updated_at, "2024-01-15T14:00:00.000Z");
    }

    #[tokio::test]
    async fn an_incremental_window_reads_only_its_updates() {
        let fake = fake().await;
        fake.put(ticket("1", "checkout", T0 - 1000));
        fake.put(ticket("2", "checkout", T0));
        fake.put(ticket("3", "checkout", T0 + HOUR));
        fake.put(ticket("4", "checkout", T0 + 2 * HOUR - 1000));
        fake.put(ticket("5", "checkout", T0 + 2 * HOUR));
        fake.put(ticket("6", "payments", T0 + HOUR));
        let config = config();
        let auth = Auth::Bearer(TOKEN.into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 2 * HOUR };
        let records = distinct(walk(&GitHub, &connection, &window).await.expect("walk"));
        assert_eq!(ids(&records), ["acme/checkout#2", "acme/checkout#3", "acme/checkout#4", "acme/payments#6"]);
    }

    #[tokio::test]
    async fn issues_updated_in_the_same_second_are_paged_by_link() {
        let fake = fake().await;
        for number in 1..=5 {
            fake.put(ticket(&number.to_string(), "checkout", T0 + HOUR + number));
        }
        let config = json!({"repositories": ["acme/checkout"]}).as_object().cloned().unwrap_or_default();
        let auth = Auth::Bearer(TOKEN.into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 2 * HOUR };
        let records = distinct(walk(&GitHub, &connection, &window).await.expect("walk"));
        assert_eq!(
            ids(&records),
            ["acme/checkout#1", "acme/checkout#2", "acme/checkout#3", "acme/checkout#4", "acme/checkout#5"]
        );
        let pages: Vec<Option<String>> =
            issue_requests(&fake).iter().map(|request| request.param("page").map(str::to_string)).collect();
        // The second page restarts at the last update time; within that one second, the `Link`.
        assert_eq!(pages, [None, None, Some("2".to_string()), Some("3".to_string())]);
    }

    #[tokio::test]
    async fn a_throttled_page_is_retried_at_the_same_cursor_and_nothing_is_lost() {
        let fake = fake().await;
        for number in 1..=5 {
            fake.put(ticket(&number.to_string(), "checkout", T0 + number * HOUR));
        }
        let config = json!({"repositories": ["acme/checkout"]}).as_object().cloned().unwrap_or_default();
        let auth = Auth::Bearer(TOKEN.into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 24 * HOUR };
        let first = step(&GitHub, &connection, &window, &Value::Null).await.expect("first page");
        let mut cursor = first.next.expect("more pages");
        fake.fault(Fault::Throttle(7));
        assert_eq!(
            step(&GitHub, &connection, &window, &cursor).await,
            Err(Failure::RateLimited { retry_after_seconds: 7 })
        );
        let mut records = first.records;
        walk_from(&GitHub, &connection, &window, &mut cursor, &mut records).await.expect("resumed walk");
        assert_eq!(
            ids(&distinct(records)),
            ["acme/checkout#1", "acme/checkout#2", "acme/checkout#3", "acme/checkout#4", "acme/checkout#5"]
        );
        let seen = issue_requests(&fake);
        assert_eq!(seen[1].query, seen[2].query, "the throttled page is asked again as it was");
    }

    #[tokio::test]
    async fn a_refused_token_is_unauthorized() {
        let fake = fake().await;
        fake.put(ticket("1", "checkout", T0));
        let config = config();
        let auth = Auth::Bearer("ghp_revoked".into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + HOUR };
        assert!(matches!(walk(&GitHub, &connection, &window).await, Err(Failure::Unauthorized(_))));
    }

    #[tokio::test]
    async fn the_fake_follows_githubs_defaults_and_refusals() {
        let fake = fake().await;
        fake.put(ticket("1", "checkout", T0));
        fake.put(ticket("2", "checkout", T0 + HOUR).resolved_at(T0 + HOUR, "fixed"));
        let client = reqwest::Client::new();
        let get = |query: &str| {
            client
                .get(format!("{}/repos/acme/checkout/issues{query}", fake.base_url))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("x-github-api-version", "2022-11-28")
                .send()
        };
        // Without `state=all` only open issues come back.
        let open: Value = get("").await.expect("answer").json().await.expect("json");
        assert_eq!(open.as_array().map(Vec::len), Some(1));
        assert_eq!(open[0]["number"], 1);
        assert_eq!(get("?state=every").await.expect("answer").status().as_u16(), 422);
        assert_eq!(get("?since=yesterday").await.expect("answer").status().as_u16(), 422);
        assert_eq!(get("?per_page=many").await.expect("answer").status().as_u16(), 400);
        let old_version = client
            .get(format!("{}/repos/acme/checkout/issues", fake.base_url))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("x-github-api-version", "2021-01-01")
            .send()
            .await
            .expect("answer");
        assert_eq!(old_version.status().as_u16(), 400);
    }
}
