//! PagerDuty incidents, read from the REST API v2 (`GET {base_url}/incidents`).
//!
//! Facts this module relies on (PagerDuty's developer documentation and the `List incidents`
//! operation of its OpenAPI description, `PagerDuty/api-schema` `reference/REST/openapiv3.json`):
//! - `since` / `until` bound the incidents' *creation* time; "Maximum range is 6 months and
//!   default is 1 month" (<https://developer.pagerduty.com/api-reference/9d0b4b12e36f9-list-incidents>);
//!   `date_range=all` lifts the date filter. `statuses[]` (`triggered`, `acknowledged`,
//!   `resolved`) and `service_ids[]` filter; `sort_by` takes `incident_number`, `created_at`,
//!   `resolved_at` or `urgency` with `:asc` / `:desc`.
//! - Classic pagination: `limit` (default 25, at most 100) and `offset`; the answer echoes them
//!   with `more` (whether more matched) and `total` (`null` unless `total=true`). `offset + limit`
//!   may not exceed 10,000 or the API answers 400
//!   (<https://developer.pagerduty.com/docs/pagination>, `docs/REST-API/09-Pagination.md` in
//!   `PagerDuty/developer-docs`).
//! - Requests carry `Accept: application/vnd.pagerduty+json;version=2` and either
//!   `Authorization: Token token=<api key>` or, for OAuth, `Authorization: Bearer <token>`.
//! - OAuth 2.0 authorization code with PKCE (S256) at `https://identity.pagerduty.com/oauth/authorize`
//!   and `.../oauth/token`; access tokens expire (30 days) and come with rotating refresh tokens;
//!   Scoped OAuth apps ask for scopes such as `incidents.read`
//!   (<https://developer.pagerduty.com/docs/user-oauth-token-via-pkce>,
//!   `docs/app-integration-development/10-User-OAuth-Token-PKCE.md`).
//! - An incident has `id`, `incident_number`, `title`, `description`, `status`, `urgency`
//!   (`high`/`low`), `priority` (a reference whose `summary` is `P1`..`P5`, or `null`), `service`
//!   (a reference with `summary`), `created_at`, `updated_at`, `last_status_change_at`,
//!   `resolved_at` (newer answers), `html_url` and `resolve_reason`. `resolve_reason` only ever
//!   says that the incident was merged into another one (PagerDuty's own examples send `null`).
//!
//! What a sync of `[since, until)` reads, in two passes the cursor walks one after the other:
//! 1. **created**: incidents created in the window, `sort_by=incident_number:asc` (a unique,
//!    stable order, so offsets do not shuffle), in ranges of at most [`MAX_RANGE_MS`] (a
//!    backfill of a year is three ranges). When a range holds more than the 10,000 incidents
//!    offsets can reach, the walk restarts the range at the last creation time read (keyset),
//!    re-reading that instant's incidents rather than skipping any.
//! 2. **resolved**: because the date filter is on creation, an incident opened long ago and
//!    resolved within the window is not in pass 1. Pass 2 reads `date_range=all` +
//!    `statuses[]=resolved` newest resolution first (`sort_by=resolved_at:desc`) and stops at the
//!    first resolution older than `since`. Resolutions that happen during the walk are inserted
//!    at the head and push the rest to later offsets, so they cause re-reads, never skips.
//!    This pass is bounded by the same 10,000-offset limit: a window with more resolutions than
//!    that stops there (documented loss; a sync window that large is a backfill, whose pass 1
//!    already read every incident created in it with its current state).
//!
//! The record's body is the `description`; the `summary` only repeats the number and the title.
//!
//! Not read: acknowledgements and edits (title, priority) of incidents created before the window
//! that do not resolve them. Their status stays `open` in our model; a title or priority change
//! shows once the incident resolves or when `updated_at` moves and the window covers its creation.
//! The resolution note typed by the responder lives in the incident's notes
//! (`GET /incidents/{id}/notes`, one extra call per incident); this connector does not make
//! that call, so `resolution.fix` is only set for merged incidents.

use crate::http::{self, list_answer, Request, Response};
use crate::oauth::OAuthVendor;
use crate::{text, Auth, Connection, Cursor, Failure, Page, Vendor, VendorRecord, Window};
use causeloop_domain::time_fmt::{format_rfc3339, format_unix_millis, parse_rfc3339, parse_unix_millis};
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct PagerDuty;

/// PagerDuty's authorization-code flow with PKCE; read-only incident access is all a sync needs.
pub static OAUTH: OAuthVendor = OAuthVendor {
    authorize_url: "https://identity.pagerduty.com/oauth/authorize",
    token_url: "https://identity.pagerduty.com/oauth/token",
    scopes: &["incidents.read"],
    authorize_params: &[],
    pkce: true,
};

const KIND: &str = "pagerduty";
/// The API's documented version header.
pub const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";
/// The largest `limit` the API accepts.
pub const PAGE_LIMIT: u64 = 100;
/// `offset + limit` may not exceed this.
pub const MAX_OFFSET_REACH: u64 = 10_000;
/// The widest `since`..`until` range asked for: 180 days, within "6 months" however months are
/// counted (the shortest six calendar months have 181 days).
pub const MAX_RANGE_MS: i64 = 180 * 24 * 3600 * 1000;

/// Where a sync is: which pass, and for pass 1 the start of the current creation range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "pass", rename_all = "snake_case")]
enum Position {
    Created { since: i64, offset: u64 },
    Resolved { offset: u64 },
}

impl Position {
    fn parse(cursor: &Cursor, window: &Window) -> Result<Self, Failure> {
        if cursor.is_null() {
            return Ok(Position::Created { since: window.since_millis, offset: 0 });
        }
        serde_json::from_value(cursor.clone())
            .map_err(|err| Failure::Permanent(format!("pagerduty: unreadable checkpoint {cursor}: {err}")))
    }

    fn to_cursor(self) -> Cursor {
        match self {
            Position::Created { since, offset } => json!({"pass": "created", "since": since, "offset": offset}),
            Position::Resolved { offset } => json!({"pass": "resolved", "offset": offset}),
        }
    }
}

/// The end of the creation range that starts at `since`.
fn range_end(since: i64, window: &Window) -> i64 {
    since.saturating_add(MAX_RANGE_MS).min(window.until_millis)
}

/// The `limit` that keeps `offset + limit` within reach.
fn limit_at(offset: u64) -> u64 {
    PAGE_LIMIT.min(MAX_OFFSET_REACH.saturating_sub(offset))
}

fn service_ids(config: &Map<String, Value>) -> Result<Vec<String>, Failure> {
    match config.get("service_ids") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Failure::Permanent("pagerduty: `service_ids` must hold strings".into()))
            })
            .collect(),
        Some(_) => Err(Failure::Permanent("pagerduty: `service_ids` must be a list of service ids".into())),
    }
}

fn iso(millis: i64) -> String {
    format_unix_millis(millis.max(0) as u64)
}

impl Vendor for PagerDuty {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn auth(&self, credentials: &Map<String, Value>, oauth_access_token: Option<&str>) -> Result<Auth, String> {
        if let Some(token) = oauth_access_token {
            return Ok(Auth::Bearer(token.to_string()));
        }
        match credentials.get("api_key").and_then(Value::as_str).map(str::trim) {
            Some(key) if !key.is_empty() => Ok(Auth::PagerDutyToken(key.to_string())),
            _ => Err("PagerDuty polling needs an `api_key` credential (a REST API key) or an OAuth grant".into()),
        }
    }

    fn request(&self, connection: &Connection<'_>, window: &Window, cursor: &Cursor) -> Result<Request, Failure> {
        let position = Position::parse(cursor, window)?;
        let mut query: Vec<(&str, String)> = Vec::new();
        match position {
            Position::Created { since, offset } => {
                query.push(("since", iso(since)));
                query.push(("until", iso(range_end(since, window))));
                query.push(("sort_by", "incident_number:asc".into()));
                query.push(("limit", limit_at(offset).to_string()));
                query.push(("offset", offset.to_string()));
            }
            Position::Resolved { offset } => {
                query.push(("date_range", "all".into()));
                query.push(("statuses[]", "resolved".into()));
                query.push(("sort_by", "resolved_at:desc".into()));
                query.push(("limit", limit_at(offset).to_string()));
                query.push(("offset", offset.to_string()));
            }
        }
        for id in service_ids(connection.config)? {
            query.push(("service_ids[]", id));
        }
        let url = http::url(connection.api_base, "/incidents", &query);
        // The reference lists both headers on every operation, GETs included.
        Ok(Request::get(url, connection.auth, &[("accept", ACCEPT), ("content-type", "application/json")]))
    }

    fn read(
        &self,
        _connection: &Connection<'_>,
        window: &Window,
        cursor: &Cursor,
        response: &Response,
        now_millis: i64,
    ) -> Result<Page, Failure> {
        let (body, incidents) = list_answer(KIND, response, now_millis, "incidents")?;
        let more = body.get("more").and_then(Value::as_bool).unwrap_or(false);
        let position = Position::parse(cursor, window)?;
        let read = incidents.len() as u64;
        match position {
            Position::Created { since, offset } => {
                let records = incidents.iter().filter_map(record).collect();
                let end = range_end(since, window);
                let next = if more && read > 0 {
                    if offset + read + PAGE_LIMIT <= MAX_OFFSET_REACH {
                        Position::Created { since, offset: offset + read }
                    } else {
                        // Offsets run out: start again at the last creation time read.
                        let last = incidents.last().and_then(|incident| millis(incident, "created_at"));
                        match last {
                            Some(last) if last > since => Position::Created { since: last, offset: 0 },
                            _ => {
                                return Err(Failure::Permanent(format!(
                                    "pagerduty: more than {MAX_OFFSET_REACH} incidents were created at {}",
                                    iso(since)
                                )))
                            }
                        }
                    }
                } else if end < window.until_millis {
                    Position::Created { since: end, offset: 0 }
                } else {
                    Position::Resolved { offset: 0 }
                };
                Ok(Page { records, next: Some(next.to_cursor()) })
            }
            Position::Resolved { offset } => {
                let mut records = Vec::new();
                let mut reached_older = false;
                for incident in &incidents {
                    match resolved_millis(incident) {
                        Some(at) if at < window.since_millis => {
                            reached_older = true;
                            break;
                        }
                        _ => records.extend(record(incident)),
                    }
                }
                let next_offset = offset + read;
                let next = (more && !reached_older && read > 0 && next_offset < MAX_OFFSET_REACH)
                    .then(|| Position::Resolved { offset: next_offset }.to_cursor());
                Ok(Page { records, next })
            }
        }
    }

    fn oauth(&self) -> Option<&'static OAuthVendor> {
        Some(&OAUTH)
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|text| !text.is_empty())
}

/// A vendor time as RFC 3339 UTC with milliseconds.
fn time_at(incident: &Value, field: &str) -> Option<String> {
    str_at(incident, &format!("/{field}")).and_then(parse_rfc3339).map(format_rfc3339)
}

fn millis(incident: &Value, field: &str) -> Option<i64> {
    str_at(incident, &format!("/{field}")).and_then(parse_unix_millis).map(|ms| ms as i64)
}

/// When a resolved incident was resolved: `resolved_at`, else its last status change.
fn resolved_millis(incident: &Value) -> Option<i64> {
    millis(incident, "resolved_at").or_else(|| millis(incident, "last_status_change_at"))
}

/// `P1`..`P5` from the priority, else the urgency (high → p2, low → p4).
fn severity(incident: &Value) -> Option<&'static str> {
    let from_priority =
        str_at(incident, "/priority/summary").and_then(|summary| match summary.to_ascii_uppercase().as_str() {
            "P1" => Some("p1"),
            "P2" => Some("p2"),
            "P3" => Some("p3"),
            "P4" => Some("p4"),
            "P5" => Some("p5"),
            _ => None,
        });
    from_priority.or_else(|| match str_at(incident, "/urgency") {
        Some("high") => Some("p2"),
        Some("low") => Some("p4"),
        _ => None,
    })
}

/// One incident as an ingest record, or `None` when it lacks an id or a time to date it by.
fn record(incident: &Value) -> Option<VendorRecord> {
    let id = str_at(incident, "/id")?;
    let updated_at = time_at(incident, "updated_at")
        .or_else(|| time_at(incident, "last_status_change_at"))
        .or_else(|| time_at(incident, "created_at"))?;
    let title = str_at(incident, "/title").or_else(|| str_at(incident, "/summary")).unwrap_or("");
    let mut record = json!({
        "source": KIND,
        "external_id": text::cut_chars(id, causeloop_domain::limits::MAX_EXTERNAL_ID_CHARS),
        "title": text::title(title, &format!("PagerDuty incident {id}")),
        "body": str_at(incident, "/description").and_then(text::body),
        "severity": severity(incident),
        "service": str_at(incident, "/service/summary").and_then(text::short),
        // A link cut short would lead nowhere: one beyond the limit is left out.
        "external_url": str_at(incident, "/html_url").filter(|url| {
            (url.starts_with("https://") || url.starts_with("http://"))
                && url.chars().count() <= causeloop_domain::limits::MAX_URL_CHARS
        }),
        "source_created_at": time_at(incident, "created_at"),
        "metadata": {
            "incident_number": incident.get("incident_number").and_then(Value::as_u64),
            "urgency": str_at(incident, "/urgency").and_then(text::short),
            "pagerduty_status": str_at(incident, "/status").and_then(text::short),
        },
    });
    match str_at(incident, "/status") {
        Some("resolved") => {
            record["status"] = json!("resolved");
            let resolved_at = time_at(incident, "resolved_at").or_else(|| time_at(incident, "last_status_change_at"));
            record["resolved_at"] = json!(resolved_at);
            let merged_into = str_at(incident, "/resolve_reason/incident/summary")
                .or_else(|| str_at(incident, "/resolve_reason/incident/id"))
                .and_then(|other| text::fix(&format!("Merged into {other}")));
            if merged_into.is_some() {
                record["resolution"] = json!({ "fix": merged_into });
            }
        }
        Some("triggered" | "acknowledged") => record["status"] = json!("open"),
        _ => {}
    }
    Some(VendorRecord { record, updated_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeloop_domain::ingest::normalize_record;

    const BASE: &str = "https://api.pagerduty.com";
    const DAY: i64 = 24 * 3600 * 1000;
    /// 2015-10-01T00:00:00Z and 2015-10-08T00:00:00Z.
    const WINDOW: Window = Window { since_millis: 1_443_657_600_000, until_millis: 1_444_262_400_000 };

    fn config(service_ids: &[&str]) -> Map<String, Value> {
        let mut config = Map::new();
        config.insert("base_url".into(), json!(BASE));
        if !service_ids.is_empty() {
            config.insert("service_ids".into(), json!(service_ids));
        }
        config
    }

    fn answer(status: u16, body: Value) -> Response {
        Response { status, headers: vec![], body: body.to_string().into_bytes() }
    }

    /// An incident shaped like the `List incidents` example of PagerDuty's reference.
    fn resolved_incident() -> Value {
        json!({
            "id": "PT4KHLK",
            "type": "incident",
            "summary": "[#1234] The server is on fire.",
            "self": "https://api.pagerduty.com/incidents/PT4KHLK",
            "html_url": "https://subdomain.pagerduty.com/incidents/PT4KHLK",
            "incident_number": 1234,
            "title": "The server is on fire.",
            "description": "The server is on fire.\nDisk /var is full.",
            "created_at": "2015-10-06T21:30:42Z",
            "updated_at": "2015-10-06T21:40:23Z",
            "status": "resolved",
            "incident_key": "baf7cf21b1da41b4b0221008339ff357",
            "service": {
                "id": "PIJ90N7",
                "type": "service_reference",
                "summary": "My Mail Service",
                "self": "https://api.pagerduty.com/services/PIJ90N7",
                "html_url": "https://subdomain.pagerduty.com/service-directory/PIJ90N7"
            },
            "assignments": [],
            "last_status_change_at": "2015-10-06T21:38:23Z",
            "resolved_at": "2015-10-06T21:38:23Z",
            "urgency": "high",
            "priority": {
                "id": "P53ZZH5",
                "type": "priority_reference",
                "summary": "P3",
                "self": "https://api.pagerduty.com/priorities/P53ZZH5"
            },
            "resolve_reason": null
        })
    }

    fn page(incidents: Vec<Value>, offset: u64, more: bool) -> Value {
        json!({"incidents": incidents, "limit": 100, "offset": offset, "more": more, "total": null})
    }

    fn query_of(request: &Request) -> Vec<(String, String)> {
        let url = url::Url::parse(&request.url).unwrap();
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn the_first_request_asks_for_the_window_by_creation_in_a_stable_order() {
        let config = config(&["PIJ90N7", "PF9KMXH"]);
        let auth = Auth::PagerDutyToken("y_NbAkKc66ryYTWUXYEu".into());
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let request = PagerDuty.request(&connection, &WINDOW, &Value::Null).unwrap();
        assert!(request.url.starts_with("https://api.pagerduty.com/incidents?"), "{}", request.url);
        assert_eq!(
            query_of(&request),
            vec![
                ("since".to_string(), "2015-10-01T00:00:00.000Z".to_string()),
                ("until".into(), "2015-10-08T00:00:00.000Z".into()),
                ("sort_by".into(), "incident_number:asc".into()),
                ("limit".into(), "100".into()),
                ("offset".into(), "0".into()),
                ("service_ids[]".into(), "PIJ90N7".into()),
                ("service_ids[]".into(), "PF9KMXH".into()),
            ]
        );
        assert_eq!(request.header("accept"), Some(ACCEPT));
        assert_eq!(request.header("authorization"), Some("Token token=y_NbAkKc66ryYTWUXYEu"));
    }

    #[test]
    fn every_field_is_mapped_and_the_record_is_a_valid_ingest_record() {
        let page = answer(200, page(vec![resolved_incident()], 0, false));
        let config = config(&[]);
        let auth = Auth::Bearer("t".into());
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let read = PagerDuty.read(&connection, &WINDOW, &Value::Null, &page, 0).unwrap();
        assert_eq!(read.records.len(), 1);
        let VendorRecord { record, updated_at } = &read.records[0];
        assert_eq!(updated_at, "2015-10-06T21:40:23.000Z");
        assert_eq!(
            record,
            &json!({
                "source": "pagerduty",
                "external_id": "PT4KHLK",
                "title": "The server is on fire.",
                "body": "The server is on fire.\nDisk /var is full.",
                "severity": "p3",
                "service": "My Mail Service",
                "external_url": "https://subdomain.pagerduty.com/incidents/PT4KHLK",
                "source_created_at": "2015-10-06T21:30:42.000Z",
                "status": "resolved",
                "resolved_at": "2015-10-06T21:38:23.000Z",
                "metadata": {"incident_number": 1234, "urgency": "high", "pagerduty_status": "resolved"},
            })
        );
        let normalized = normalize_record(record).unwrap();
        assert_eq!(normalized.severity.map(|s| s.as_str()), Some("p3"));
        // The window is exhausted by creation: pass 2 (resolutions) comes next.
        assert_eq!(read.next, Some(json!({"pass": "resolved", "offset": 0})));
    }

    #[test]
    fn open_incidents_fall_back_to_urgency_and_merges_are_the_only_resolution_text() {
        let mut triggered = resolved_incident();
        triggered["status"] = json!("acknowledged");
        triggered["priority"] = Value::Null;
        triggered["urgency"] = json!("low");
        triggered.as_object_mut().unwrap().remove("updated_at");
        triggered.as_object_mut().unwrap().remove("resolved_at");
        let record = super::record(&triggered).unwrap();
        assert_eq!(record.record["status"], "open");
        assert_eq!(record.record["severity"], "p4");
        assert_eq!(record.record.get("resolved_at"), None);
        assert_eq!(record.updated_at, "2015-10-06T21:38:23.000Z", "last_status_change_at dates the revision");

        let mut merged = resolved_incident();
        merged.as_object_mut().unwrap().remove("resolved_at");
        merged["last_status_change_at"] = json!("2015-10-06T22:00:00Z");
        merged["resolve_reason"] = json!({
            "type": "merge_resolve_reason",
            "incident": {"id": "PXYZ123", "type": "incident_reference", "summary": "[#1235] Mail queue stuck"}
        });
        let record = super::record(&merged).unwrap();
        assert_eq!(record.record["resolved_at"], "2015-10-06T22:00:00.000Z");
        assert_eq!(record.record["resolution"], json!({"fix": "Merged into [#1235] Mail queue stuck"}));
        normalize_record(&record.record).unwrap();
    }

    #[test]
    fn huge_text_is_cut_to_the_ingest_limits() {
        let mut incident = resolved_incident();
        incident["title"] = json!("t".repeat(5_000));
        incident["description"] = json!("é".repeat(100_000));
        incident["service"]["summary"] = json!("s".repeat(1_000));
        let record = super::record(&incident).unwrap().record;
        assert_eq!(record["title"].as_str().unwrap().chars().count(), causeloop_domain::limits::MAX_TITLE_CHARS);
        assert!(record["body"].as_str().unwrap().len() <= causeloop_domain::limits::MAX_BODY_BYTES);
        assert_eq!(
            record["service"].as_str().unwrap().chars().count(),
            causeloop_domain::limits::MAX_SHORT_FIELD_CHARS
        );
        normalize_record(&record).unwrap();
    }

    #[test]
    fn pages_follow_more_and_offset_then_long_windows_walk_six_month_ranges() {
        let config = config(&[]);
        let auth = Auth::PagerDutyToken("k".into());
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let year = Window { since_millis: WINDOW.since_millis, until_millis: WINDOW.since_millis + 365 * DAY };
        let first = answer(200, page(vec![resolved_incident(); 100], 0, true));
        let read = PagerDuty.read(&connection, &year, &Value::Null, &first, 0).unwrap();
        let next = read.next.unwrap();
        assert_eq!(next, json!({"pass": "created", "since": year.since_millis, "offset": 100}));
        let request = PagerDuty.request(&connection, &year, &next).unwrap();
        assert!(request.url.contains("until=2016-03-29T00%3A00%3A00.000Z&"), "{}", request.url);
        assert!(request.url.contains("offset=100"), "{}", request.url);

        let last_of_range = answer(200, page(vec![resolved_incident()], 100, false));
        let read = PagerDuty.read(&connection, &year, &next, &last_of_range, 0).unwrap();
        let second_range = read.next.unwrap();
        assert_eq!(second_range, json!({"pass": "created", "since": year.since_millis + MAX_RANGE_MS, "offset": 0}));
        let request = PagerDuty.request(&connection, &year, &second_range).unwrap();
        assert!(request.url.contains("since=2016-03-29T00%3A00%3A00.000Z&until=2016-09-25T00%3A00%3A00.000Z"));

        let empty = answer(200, page(vec![], 0, false));
        let third_range = PagerDuty.read(&connection, &year, &second_range, &empty, 0).unwrap().next.unwrap();
        let request = PagerDuty.request(&connection, &year, &third_range).unwrap();
        assert!(request.url.contains("since=2016-09-25T00%3A00%3A00.000Z&until=2016-09-30T00%3A00%3A00.000Z"));
        let done = PagerDuty.read(&connection, &year, &third_range, &empty, 0).unwrap();
        assert_eq!(done.next, Some(json!({"pass": "resolved", "offset": 0})));
    }

    #[test]
    fn offsets_near_ten_thousand_restart_the_range_at_the_last_creation_time() {
        let config = config(&[]);
        let auth = Auth::PagerDutyToken("k".into());
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let cursor = json!({"pass": "created", "since": WINDOW.since_millis, "offset": 9_900});
        let request = PagerDuty.request(&connection, &WINDOW, &cursor).unwrap();
        assert!(request.url.contains("limit=100&offset=9900"), "{}", request.url);
        let full = answer(200, page(vec![resolved_incident(); 100], 9_900, true));
        let read = PagerDuty.read(&connection, &WINDOW, &cursor, &full, 0).unwrap();
        // 2015-10-06T21:30:42Z, the last incident's creation.
        assert_eq!(read.next, Some(json!({"pass": "created", "since": 1_444_167_042_000_i64, "offset": 0})));
    }

    #[test]
    fn the_resolved_pass_reads_old_incidents_resolved_in_the_window_and_stops_at_older_resolutions() {
        let config = config(&["PIJ90N7"]);
        let auth = Auth::PagerDutyToken("k".into());
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let cursor = json!({"pass": "resolved", "offset": 0});
        let request = PagerDuty.request(&connection, &WINDOW, &cursor).unwrap();
        assert_eq!(
            query_of(&request),
            vec![
                ("date_range".to_string(), "all".to_string()),
                ("statuses[]".into(), "resolved".into()),
                ("sort_by".into(), "resolved_at:desc".into()),
                ("limit".into(), "100".into()),
                ("offset".into(), "0".into()),
                ("service_ids[]".into(), "PIJ90N7".into()),
            ]
        );
        let mut old_resolved_now = resolved_incident();
        old_resolved_now["id"] = json!("POLD001");
        old_resolved_now["created_at"] = json!("2014-01-01T00:00:00Z");
        let mut resolved_before = resolved_incident();
        resolved_before["id"] = json!("POLD002");
        resolved_before["resolved_at"] = json!("2015-09-30T23:59:59Z");
        let first_page = answer(200, page(vec![old_resolved_now, resolved_before], 0, true));
        let read = PagerDuty.read(&connection, &WINDOW, &cursor, &first_page, 0).unwrap();
        let ids: Vec<&str> = read.records.iter().map(|r| r.record["external_id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec!["POLD001"]);
        assert_eq!(read.next, None, "a resolution older than the window ends the pass");

        let more = answer(200, page(vec![resolved_incident(); 100], 0, true));
        let read = PagerDuty.read(&connection, &WINDOW, &cursor, &more, 0).unwrap();
        assert_eq!(read.next, Some(json!({"pass": "resolved", "offset": 100})));
    }

    #[test]
    fn rate_limits_and_refused_credentials_are_failures() {
        let config = config(&[]);
        let auth = Auth::PagerDutyToken("k".into());
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let throttled = Response {
            status: 429,
            headers: vec![("retry-after".into(), "17".into())],
            body: br#"{"error":{"message":"Rate Limit Exceeded","code":2020}}"#.to_vec(),
        };
        assert_eq!(
            PagerDuty.read(&connection, &WINDOW, &Value::Null, &throttled, 0),
            Err(Failure::RateLimited { retry_after_seconds: 17 })
        );
        let refused = answer(401, json!({"error": {"message": "Unauthorized", "code": 2006}}));
        assert!(matches!(
            PagerDuty.read(&connection, &WINDOW, &Value::Null, &refused, 0),
            Err(Failure::Unauthorized(_))
        ));
        let not_json = Response { status: 200, headers: vec![], body: b"<html>".to_vec() };
        assert!(matches!(PagerDuty.read(&connection, &WINDOW, &Value::Null, &not_json, 0), Err(Failure::Permanent(_))));
    }

    #[test]
    fn credentials_and_oauth_grants_pick_their_header() {
        let mut credentials = Map::new();
        assert!(PagerDuty.auth(&credentials, None).is_err());
        credentials.insert("webhook_secret".into(), json!("whsec"));
        assert!(PagerDuty.auth(&credentials, None).is_err(), "the push secret is not an API key");
        credentials.insert("api_key".into(), json!("u+key"));
        assert_eq!(PagerDuty.auth(&credentials, None), Ok(Auth::PagerDutyToken("u+key".into())));
        assert_eq!(PagerDuty.auth(&credentials, Some("pdus+_0X")), Ok(Auth::Bearer("pdus+_0X".into())));
        assert_eq!(PagerDuty.oauth().unwrap().token_url, "https://identity.pagerduty.com/oauth/token");
    }
}
