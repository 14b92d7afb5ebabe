//! GitHub: the issues of the configured repositories, one repository after another.
//!
//! Facts relied on, from GitHub's REST documentation and its OpenAPI description
//! (`@octokit/openapi` 23.0.2, excerpt in `tests/specs/github-excerpt.json`):
//! - `GET /repos/{owner}/{repo}/issues` takes `state` (default `open`, so `all` is asked),
//!   `since` ("only results last updated after the given time", `YYYY-MM-DDTHH:MM:SSZ`),
//!   `sort`, `direction` (default `desc`), `per_page` (max 100) and `page`, and answers an array
//!   of issues with a `Link` header (`rel="next"`). Pull requests are issues too, told apart by
//!   their `pull_request` key. <https://docs.github.com/rest/issues/issues#list-repository-issues>
//! - `state_reason` is `completed`, `not_planned`, `duplicate` or `reopened`.
//! - Requests should send `Accept: application/vnd.github+json` and
//!   `X-GitHub-Api-Version: 2022-11-28`. <https://docs.github.com/rest/about-the-rest-api/api-versions>
//! - Rate limits: the primary limit answers 403 or 429 with `x-ratelimit-remaining: 0` and
//!   `x-ratelimit-reset` (epoch seconds); secondary limits answer 403 or 429, often with
//!   `retry-after`. [`http::check_status`] reads both.
//!   <https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api>
//! - OAuth apps: `https://github.com/login/oauth/authorize` and
//!   `https://github.com/login/oauth/access_token` (JSON when asked with `Accept`); PKCE with
//!   S256 is supported since 2025-07-14.
//!   <https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication>
//!
//! Paging: GitHub's `page` numbers are offsets, and an issue updated during the walk moves to the
//! end of an `updated`-ascending list, shifting every later issue one place back, so following
//! `rel="next"` alone can skip an issue. Instead, while there is a next page, the next request
//! starts again at the last update time read (less a second, as `since` is "after" and
//! second-precise), which re-reads a few issues (recognised by their revision) but never skips
//! one. Only when a whole page shares that second does the walk follow the `Link` (same origin
//! only).
//!
//! The fix of a completed issue (its closing pull request or commit) is only in the issue's
//! timeline, one more request per issue; it is not fetched, so `resolution.fix` is omitted.

use crate::http::{self, check_status, json_body, same_origin, Request, Response};
use crate::oauth::OAuthVendor;
use crate::{text, Auth, Connection, Cursor, Failure, Page, Vendor, VendorRecord, Window};
use causeloop_domain::limits::{MAX_EXTERNAL_ID_CHARS, MAX_URL_CHARS};
use causeloop_domain::time_fmt::{format_unix_millis, parse_unix_millis};
use serde_json::{json, Map, Value};

pub struct GitHub;

pub static OAUTH: OAuthVendor = OAuthVendor {
    authorize_url: "https://github.com/login/oauth/authorize",
    token_url: "https://github.com/login/oauth/access_token",
    // Private repositories' issues need `repo`; GitHub has no read-only issues scope for OAuth apps.
    scopes: &["repo"],
    authorize_params: &[],
    pkce: true,
};

const KIND: &str = "github";
const ACCEPT: &str = "application/vnd.github+json";
const API_VERSION: &str = "2022-11-28";
const PAGE_SIZE: u32 = 100;
const SECOND_MS: i64 = 1000;

impl Vendor for GitHub {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn auth(&self, credentials: &Map<String, Value>, oauth_access_token: Option<&str>) -> Result<Auth, String> {
        if let Some(token) = oauth_access_token.filter(|token| !token.is_empty()) {
            return Ok(Auth::Bearer(token.to_string()));
        }
        credentials
            .get("token")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(|token| Auth::Bearer(token.to_string()))
            .ok_or_else(|| "github credentials need `token` (or an OAuth grant)".to_string())
    }

    fn request(&self, connection: &Connection<'_>, window: &Window, cursor: &Cursor) -> Result<Request, Failure> {
        let repositories = repositories(connection.config)?;
        let position = Position::of(cursor, window, repositories.len())?;
        let url = match &position.next {
            Some(next) => {
                if !same_origin(connection.api_base, next) {
                    return Err(cross_origin(next));
                }
                next.clone()
            }
            None => {
                let (owner, name) = repositories[position.repository];
                let query = [
                    ("state", "all".to_string()),
                    ("since", second_text(position.since_ms)),
                    ("sort", "updated".to_string()),
                    ("direction", "asc".to_string()),
                    ("per_page", PAGE_SIZE.to_string()),
                ];
                http::url(connection.api_base, &format!("/repos/{owner}/{name}/issues"), &query)
            }
        };
        Ok(Request::get(url, connection.auth, &[("accept", ACCEPT), ("x-github-api-version", API_VERSION)]))
    }

    fn read(
        &self,
        connection: &Connection<'_>,
        window: &Window,
        cursor: &Cursor,
        response: &Response,
        now_millis: i64,
    ) -> Result<Page, Failure> {
        check_status(KIND, response, now_millis)?;
        let repositories = repositories(connection.config)?;
        let position = Position::of(cursor, window, repositories.len())?;
        let body = json_body(KIND, response)?;
        let items =
            body.as_array().ok_or_else(|| Failure::Permanent("github's issues answer is not an array".into()))?;
        let next_link = response.header("link").and_then(next_link);
        if let Some(link) = next_link {
            if !same_origin(connection.api_base, link) {
                return Err(cross_origin(link));
            }
        }

        let (owner, name) = repositories[position.repository];
        let mut records = Vec::with_capacity(items.len());
        let mut last_updated_ms: Option<i64> = None;
        for item in items {
            let updated_ms = item
                .get("updated_at")
                .and_then(Value::as_str)
                .and_then(parse_unix_millis)
                .map(|ms| ms as i64)
                .ok_or_else(|| {
                    Failure::Permanent(format!("github answered an issue of {owner}/{name} without updated_at"))
                })?;
            last_updated_ms = Some(last_updated_ms.map_or(updated_ms, |last| last.max(updated_ms)));
            // `since` was widened by a second; later windows read what is past this one.
            let in_window = (window.since_millis..window.until_millis).contains(&updated_ms);
            if in_window && item.get("pull_request").is_none() {
                records.push(issue_record(owner, name, item, updated_ms)?);
            }
        }

        let next_repository = || {
            (position.repository + 1 < repositories.len())
                .then(|| json!({ "repository": position.repository + 1, "since": second_text(first_since(window)) }))
        };
        let past_window = last_updated_ms.is_some_and(|last| last >= window.until_millis);
        let next = match next_link {
            // Updated ascending: nothing further of this repository is in the window.
            None => next_repository(),
            Some(_) if past_window => next_repository(),
            Some(link) => {
                let restart = last_updated_ms.map(|last| last - last.rem_euclid(SECOND_MS) - SECOND_MS);
                match restart {
                    Some(since_ms) if since_ms > position.since_ms => {
                        Some(json!({ "repository": position.repository, "since": second_text(since_ms) }))
                    }
                    _ => Some(json!({
                        "repository": position.repository,
                        "since": second_text(position.since_ms),
                        "next": link,
                    })),
                }
            }
        };
        Ok(Page { records, next })
    }

    fn oauth(&self) -> Option<&'static OAuthVendor> {
        Some(&OAUTH)
    }
}

/// Where the walk is: which repository, the `since` of its request (Unix ms, whole seconds) and,
/// when a page is followed by its `Link`, that URL.
struct Position {
    repository: usize,
    since_ms: i64,
    next: Option<String>,
}

impl Position {
    fn of(cursor: &Cursor, window: &Window, repositories: usize) -> Result<Self, Failure> {
        let unreadable = || Failure::Permanent(format!("github cursor {cursor} is not one this connector wrote"));
        let position = match cursor {
            Value::Null => Position { repository: 0, since_ms: first_since(window), next: None },
            Value::Object(fields) => Position {
                repository: fields.get("repository").and_then(Value::as_u64).ok_or_else(unreadable)? as usize,
                since_ms: fields
                    .get("since")
                    .and_then(Value::as_str)
                    .and_then(parse_unix_millis)
                    .ok_or_else(unreadable)? as i64,
                next: fields.get("next").and_then(Value::as_str).map(str::to_string),
            },
            _ => return Err(unreadable()),
        };
        if position.repository >= repositories {
            return Err(Failure::Permanent(format!(
                "github cursor points at repository {} of {repositories}; the configured repositories changed",
                position.repository + 1
            )));
        }
        Ok(position)
    }
}

fn cross_origin(link: &str) -> Failure {
    Failure::Permanent(format!("github's next page {} is on another origin; not followed", text::cut_chars(link, 200)))
}

/// The window's start, down to the second and one more: `since` means "updated after".
fn first_since(window: &Window) -> i64 {
    let since = window.since_millis.max(SECOND_MS);
    since - since.rem_euclid(SECOND_MS) - SECOND_MS
}

/// Unix ms as GitHub's `YYYY-MM-DDTHH:MM:SSZ`.
fn second_text(millis: i64) -> String {
    let formatted = format_unix_millis(millis.max(0) as u64);
    format!("{}Z", formatted.get(..19).unwrap_or(formatted.as_str()))
}

/// The configured `owner/name` pairs, checked so they can only name a repository path.
fn repositories(config: &Map<String, Value>) -> Result<Vec<(&str, &str)>, Failure> {
    let listed = config
        .get("repositories")
        .and_then(Value::as_array)
        .filter(|listed| !listed.is_empty())
        .ok_or_else(|| Failure::Permanent("github config needs `repositories` (owner/name, ...)".into()))?;
    let valid_part = |part: &str| {
        !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
    };
    listed
        .iter()
        .map(|entry| {
            entry
                .as_str()
                .and_then(|entry| entry.trim().split_once('/'))
                .filter(|(owner, name)| valid_part(owner) && valid_part(name) && !matches!(*name, "." | ".."))
                .ok_or_else(|| Failure::Permanent(format!("github repository {entry} is not owner/name")))
        })
        .collect()
}

/// The `rel="next"` URL of a `Link` header (`<url>; rel="next", <url>; rel="last"`).
fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let (target, params) = (&after[..close], &after[close + 1..]);
        let own_params = &params[..params.find('<').unwrap_or(params.len())];
        let is_next = own_params.split(';').any(|param| {
            let param = param.trim().trim_end_matches(',').trim();
            param.eq_ignore_ascii_case("rel=\"next\"") || param.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            return Some(target);
        }
        rest = params;
    }
    None
}

/// A severity label: `p1`…`p5`, `sev1`…`sev5` (also `sev-1`, `Sev 1`), or
/// `critical`/`high`/`medium`/`low`.
fn label_severity(label: &str) -> Option<u8> {
    let word: String = label.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    let level = |digits: &str| digits.parse::<u8>().ok().filter(|level| (1..=5).contains(level));
    match word.as_str() {
        "critical" => Some(1),
        "high" => Some(2),
        "medium" => Some(3),
        "low" => Some(4),
        _ => word.strip_prefix("sev").or_else(|| word.strip_prefix('p')).and_then(level),
    }
}

/// The most severe severity label of an issue (labels are objects with `name`, or strings).
fn severity(item: &Value) -> Option<String> {
    item.get("labels")?
        .as_array()?
        .iter()
        .filter_map(|label| label.get("name").and_then(Value::as_str).or_else(|| label.as_str()))
        .filter_map(label_severity)
        .min()
        .map(|level| format!("p{level}"))
}

/// One issue as an ingest record.
fn issue_record(owner: &str, name: &str, item: &Value, updated_ms: i64) -> Result<VendorRecord, Failure> {
    let number = item
        .get("number")
        .and_then(Value::as_u64)
        .ok_or_else(|| Failure::Permanent(format!("github answered an issue of {owner}/{name} without a number")))?;
    let external_id = text::cut_chars(&format!("{owner}/{name}#{number}"), MAX_EXTERNAL_ID_CHARS);
    let time =
        |field: &str| item.get(field).and_then(Value::as_str).and_then(parse_unix_millis).map(format_unix_millis);
    let updated_at = format_unix_millis(updated_ms as u64);
    let created_at = time("created_at");

    let mut record = Map::new();
    record.insert("source".into(), json!(KIND));
    record.insert(
        "title".into(),
        json!(text::title(item.get("title").and_then(Value::as_str).unwrap_or(""), &external_id)),
    );
    record.insert("external_id".into(), json!(external_id));
    if let Some(body) = item.get("body").and_then(Value::as_str).and_then(text::body) {
        record.insert("body".into(), json!(body));
    }
    if let Some(severity) = severity(item) {
        record.insert("severity".into(), json!(severity));
    }
    if let Some(service) = text::short(name) {
        record.insert("service".into(), json!(service));
    }
    let html_url = item
        .get("html_url")
        .and_then(Value::as_str)
        .filter(|url| (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= MAX_URL_CHARS);
    if let Some(url) = html_url {
        record.insert("external_url".into(), json!(url));
    }
    if let Some(created_at) = &created_at {
        record.insert("source_created_at".into(), json!(created_at));
    }
    if item.get("state").and_then(Value::as_str) == Some("closed") {
        record.insert("status".into(), json!("resolved"));
        let closed_at = time("closed_at").unwrap_or_else(|| updated_at.clone());
        let resolved_at = match &created_at {
            Some(created_at) if closed_at < *created_at => created_at.clone(),
            _ => closed_at,
        };
        record.insert("resolved_at".into(), json!(resolved_at));
        let note = match item.get("state_reason").and_then(Value::as_str) {
            Some("not_planned") => Some("closed as not planned"),
            Some("duplicate") => Some("closed as duplicate"),
            _ => None,
        };
        if let Some(note) = note {
            record.insert("resolution".into(), json!({ "note": note }));
        }
    } else {
        // Says so explicitly: an Issue resolved earlier reopens.
        record.insert("status".into(), json!("open"));
    }
    Ok(VendorRecord { record: Value::Object(record), updated_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeloop_domain::limits::{MAX_BODY_BYTES, MAX_TITLE_CHARS};

    const API: &str = "https://api.github.com";
    // 2024-01-15T10:00:00Z and 2024-01-16T10:00:00Z.
    const WINDOW: Window = Window { since_millis: 1_705_312_800_000, until_millis: 1_705_399_200_000 };

    fn config() -> Map<String, Value> {
        json!({"repositories": ["octocat/Hello-World", "acme/api"]}).as_object().cloned().unwrap_or_default()
    }

    fn answer(items: Value, link: Option<&str>) -> Response {
        let headers = link.map(|link| vec![("link".to_string(), link.to_string())]).unwrap_or_default();
        Response { status: 200, headers, body: items.to_string().into_bytes() }
    }

    /// An issue shaped like GitHub's `issue-items` example (the fields read).
    fn issue(number: u64, updated_at: &str) -> Value {
        json!({
            "id": 1,
            "node_id": "MDU6SXNzdWUx",
            "url": format!("https://api.github.com/repos/octocat/Hello-World/issues/{number}"),
            "html_url": format!("https://github.com/octocat/Hello-World/issues/{number}"),
            "number": number,
            "state": "open",
            "state_reason": null,
            "title": "Found a bug",
            "body": "I'm having a problem with this.",
            "labels": [{"id": 208045946, "name": "bug", "color": "f29513", "default": true}],
            "locked": false,
            "comments": 0,
            "closed_at": null,
            "created_at": "2024-01-14T20:08:10Z",
            "updated_at": updated_at,
            "author_association": "COLLABORATOR"
        })
    }

    fn read(cursor: &Cursor, response: &Response) -> Result<Page, Failure> {
        let config = config();
        let auth = Auth::Bearer("t".into());
        GitHub.read(&Connection { api_base: API, config: &config, auth: &auth }, &WINDOW, cursor, response, 0)
    }

    fn build(base: &str, cursor: &Cursor) -> Result<Request, Failure> {
        let config = config();
        let auth = Auth::Bearer("ghp_x".into());
        GitHub.request(&Connection { api_base: base, config: &config, auth: &auth }, &WINDOW, cursor)
    }

    #[test]
    fn the_first_request_lists_all_states_updated_since_the_window_oldest_first() {
        let request = build(API, &Value::Null).unwrap();
        assert_eq!(
            request.url,
            "https://api.github.com/repos/octocat/Hello-World/issues?state=all&since=2024-01-15T09%3A59%3A59Z\
             &sort=updated&direction=asc&per_page=100"
        );
        assert_eq!(request.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        assert_eq!(request.header("authorization"), Some("Bearer ghp_x"));
        // GitHub Enterprise Server keeps the API under /api/v3.
        let enterprise =
            build("https://ghe.example/api/v3", &json!({"repository": 1, "since": "2024-01-15T09:59:59Z"}));
        assert!(enterprise.unwrap().url.starts_with("https://ghe.example/api/v3/repos/acme/api/issues?state=all"));
    }

    #[test]
    fn pages_restart_at_the_last_update_then_move_to_the_next_repository() {
        let link = "<https://api.github.com/repositories/1296269/issues?state=all&page=2>; rel=\"next\", \
                    <https://api.github.com/repositories/1296269/issues?state=all&page=5>; rel=\"last\"";
        let first = answer(json!([issue(1, "2024-01-15T11:00:00Z"), issue(2, "2024-01-15T12:00:00.500Z")]), Some(link));
        let page = read(&Value::Null, &first).unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.next, Some(json!({"repository": 0, "since": "2024-01-15T11:59:59Z"})));
        let url = build(API, page.next.as_ref().unwrap()).unwrap().url;
        assert!(url.contains("/repos/octocat/Hello-World/issues?state=all&since=2024-01-15T11%3A59%3A59Z&"), "{url}");

        // No next link: this repository is done, the next one starts at the window.
        let last = answer(json!([issue(2, "2024-01-15T12:00:00.500Z")]), None);
        let page = read(&json!({"repository": 0, "since": "2024-01-15T11:59:59Z"}), &last).unwrap();
        assert_eq!(page.next, Some(json!({"repository": 1, "since": "2024-01-15T09:59:59Z"})));
        let page = read(&json!({"repository": 1, "since": "2024-01-15T09:59:59Z"}), &answer(json!([]), None)).unwrap();
        assert_eq!(page.next, None);
    }

    #[test]
    fn a_page_within_one_second_follows_the_link_and_one_past_the_window_stops() {
        let link = "<https://api.github.com/repositories/1296269/issues?page=2>; rel=\"next\"";
        let same_second =
            answer(json!([issue(1, "2024-01-15T09:59:59Z"), issue(2, "2024-01-15T10:00:00Z")]), Some(link));
        let page = read(&Value::Null, &same_second).unwrap();
        assert_eq!(
            page.next,
            Some(json!({
                "repository": 0,
                "since": "2024-01-15T09:59:59Z",
                "next": "https://api.github.com/repositories/1296269/issues?page=2"
            }))
        );
        assert_eq!(
            build(API, page.next.as_ref().unwrap()).unwrap().url,
            "https://api.github.com/repositories/1296269/issues?page=2"
        );
        // Only #2 is in the window (#1 was updated a second before it).
        assert_eq!(page.records.len(), 1);

        let beyond = answer(json!([issue(3, "2024-01-15T11:00:00Z"), issue(4, "2024-01-16T10:00:00Z")]), Some(link));
        let page = read(&Value::Null, &beyond).unwrap();
        assert_eq!(page.next, Some(json!({"repository": 1, "since": "2024-01-15T09:59:59Z"})));
        let ids: Vec<&Value> = page.records.iter().map(|record| &record.record["external_id"]).collect();
        assert_eq!(ids, vec!["octocat/Hello-World#3"]);
    }

    #[test]
    fn a_next_link_to_another_origin_is_refused() {
        let link = "<https://evil.example/repositories/1296269/issues?page=2>; rel=\"next\"";
        let page = answer(json!([issue(1, "2024-01-15T11:00:00Z")]), Some(link));
        assert!(
            matches!(read(&Value::Null, &page), Err(Failure::Permanent(message)) if message.contains("another origin"))
        );
        let cursor = json!({"repository": 0, "since": "2024-01-15T09:59:59Z", "next": "http://api.github.com/x"});
        assert!(matches!(build(API, &cursor), Err(Failure::Permanent(_))));
    }

    #[test]
    fn every_field_is_mapped_and_pull_requests_are_skipped() {
        let mut labelled = issue(1347, "2024-01-15T12:34:56Z");
        labelled["labels"] = json!([{"name": "bug"}, {"name": "Sev-2"}, "P1", {"name": "low"}]);
        let mut pull = issue(1348, "2024-01-15T12:35:00Z");
        pull["pull_request"] =
            json!({"url": "https://api.github.com/repos/octocat/Hello-World/pulls/1348", "merged_at": null});
        let page = read(&Value::Null, &answer(json!([labelled, pull]), None)).unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.records[0].updated_at, "2024-01-15T12:34:56.000Z");
        assert_eq!(
            page.records[0].record,
            json!({
                "source": "github",
                "external_id": "octocat/Hello-World#1347",
                "title": "Found a bug",
                "body": "I'm having a problem with this.",
                "severity": "p1",
                "service": "Hello-World",
                "external_url": "https://github.com/octocat/Hello-World/issues/1347",
                "source_created_at": "2024-01-14T20:08:10.000Z",
                "status": "open"
            })
        );
        assert_eq!(label_severity("critical"), Some(1));
        assert_eq!(label_severity("sev5"), Some(5));
        assert_eq!(label_severity("p6"), None);
        assert_eq!(label_severity("priority"), None);
    }

    #[test]
    fn closing_resolves_and_reopening_opens() {
        let mut completed = issue(1, "2024-01-15T12:00:00Z");
        completed["state"] = json!("closed");
        completed["state_reason"] = json!("completed");
        completed["closed_at"] = json!("2024-01-15T11:30:00Z");
        let mut not_planned = issue(2, "2024-01-15T12:00:00Z");
        not_planned["state"] = json!("closed");
        not_planned["state_reason"] = json!("not_planned");
        not_planned["closed_at"] = json!("2024-01-15T11:45:00Z");
        let mut reopened = issue(3, "2024-01-15T12:00:00Z");
        reopened["state_reason"] = json!("reopened");
        let page = read(&Value::Null, &answer(json!([completed, not_planned, reopened]), None)).unwrap();
        let records: Vec<&Value> = page.records.iter().map(|record| &record.record).collect();
        assert_eq!(records[0]["status"], "resolved");
        assert_eq!(records[0]["resolved_at"], "2024-01-15T11:30:00.000Z");
        assert_eq!(records[0].get("resolution"), None);
        assert_eq!(records[1]["resolved_at"], "2024-01-15T11:45:00.000Z");
        assert_eq!(records[1]["resolution"], json!({"note": "closed as not planned"}));
        assert_eq!(records[2]["status"], "open");
        assert_eq!(records[2].get("resolved_at"), None);
    }

    #[test]
    fn huge_text_is_cut_to_the_ingest_limits() {
        let mut huge = issue(1, "2024-01-15T12:00:00Z");
        huge["title"] = json!("t".repeat(3_000));
        huge["body"] = json!("ü".repeat(70_000));
        let page = read(&Value::Null, &answer(json!([huge]), None)).unwrap();
        let record = &page.records[0].record;
        assert_eq!(record["title"].as_str().unwrap().chars().count(), MAX_TITLE_CHARS);
        let body = record["body"].as_str().unwrap();
        assert!(body.len() <= MAX_BODY_BYTES && body.ends_with('…'));
        causeloop_domain::ingest::normalize_record(record).expect("a valid ingest record");
    }

    #[test]
    fn rate_limits_and_refusals_come_first() {
        let primary = Response {
            status: 403,
            headers: vec![
                ("x-ratelimit-remaining".into(), "0".into()),
                ("x-ratelimit-reset".into(), "1705312860".into()),
            ],
            body: br#"{"message":"API rate limit exceeded"}"#.to_vec(),
        };
        let config = config();
        let auth = Auth::Bearer("t".into());
        let connection = Connection { api_base: API, config: &config, auth: &auth };
        assert_eq!(
            GitHub.read(&connection, &WINDOW, &Value::Null, &primary, 1_705_312_800_000),
            Err(Failure::RateLimited { retry_after_seconds: 61 })
        );
        let secondary = Response {
            status: 403,
            headers: vec![("retry-after".into(), "120".into())],
            body: br#"{"message":"You have exceeded a secondary rate limit"}"#.to_vec(),
        };
        assert_eq!(read(&Value::Null, &secondary), Err(Failure::RateLimited { retry_after_seconds: 120 }));
        let refused = Response { status: 401, headers: vec![], body: br#"{"message":"Bad credentials"}"#.to_vec() };
        assert!(matches!(read(&Value::Null, &refused), Err(Failure::Unauthorized(_))));
        let forbidden =
            Response { status: 403, headers: vec![], body: br#"{"message":"Resource not accessible"}"#.to_vec() };
        assert!(matches!(read(&Value::Null, &forbidden), Err(Failure::Permanent(_))));
    }

    #[test]
    fn config_and_credentials_are_checked() {
        let auth = Auth::Bearer("t".into());
        let bad = json!({"repositories": ["octocat/../x"]}).as_object().cloned().unwrap_or_default();
        let window = WINDOW;
        let connection = Connection { api_base: API, config: &bad, auth: &auth };
        assert!(matches!(GitHub.request(&connection, &window, &Value::Null), Err(Failure::Permanent(_))));
        assert!(matches!(
            build(API, &json!({"repository": 2, "since": "2024-01-15T09:59:59Z"})),
            Err(Failure::Permanent(_))
        ));
        let credentials = json!({"token": "ghp_x"}).as_object().cloned().unwrap_or_default();
        assert_eq!(GitHub.auth(&credentials, Some("gho_y")), Ok(Auth::Bearer("gho_y".into())));
        assert_eq!(GitHub.auth(&credentials, None), Ok(Auth::Bearer("ghp_x".into())));
        assert!(GitHub.auth(&Map::new(), None).unwrap_err().contains("`token`"));
        assert_eq!(GitHub.oauth().map(|oauth| (oauth.pkce, oauth.scopes)), Some((true, &["repo"][..])));
    }
}
