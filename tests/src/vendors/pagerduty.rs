//! PagerDuty's REST API v2 `GET /incidents`, over the shared [`Ticket`] model.
//!
//! As documented: `since`/`until` filter on *creation* (at most 6 months apart; the last 30 days
//! when neither is given), `date_range=all` lifts that filter, `statuses[]` and `service_ids[]`
//! filter, `sort_by` orders by `incident_number`, `created_at` or `resolved_at` (`:asc`/`:desc`),
//! `limit` (at most 100) and `offset` page with `more`, and `offset + limit` beyond 10,000 is
//! refused. Requests without the v2 `Accept` header or with a malformed parameter get 400.
//! A ticket is `triggered` until resolved; its priority is `P<n>` and its urgency high for P1–P2.

use super::{parse_time, rfc3339, Shared, Ticket};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The longest `since`..`until` range the fake accepts: six months of 31 days, generous like
/// the real API's calendar months.
const MAX_RANGE_MS: i64 = 186 * 24 * 3600 * 1000;
const DEFAULT_RANGE_MS: i64 = 30 * 24 * 3600 * 1000;

pub fn routes() -> Router<Shared> {
    Router::new().route("/incidents", get(list_incidents))
}

/// The service id the fake gives a service name.
pub fn service_id(name: &str) -> String {
    format!("P{}", name.to_ascii_uppercase().replace(|c: char| !c.is_ascii_alphanumeric(), ""))
}

fn refuse(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"message": "Invalid Input Provided", "code": 2001, "errors": [message]}})),
    )
        .into_response()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[derive(Default)]
struct Query {
    since: Option<i64>,
    until: Option<i64>,
    all_dates: bool,
    statuses: Vec<String>,
    service_ids: Vec<String>,
    sort: Option<(String, bool)>,
    limit: usize,
    offset: usize,
}

fn parse_query(raw: Option<&str>) -> Result<Query, String> {
    let mut query = Query { limit: 25, ..Query::default() };
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned() {
        let number = |value: &str| value.parse::<usize>().map_err(|_| format!("{name} must be an integer"));
        match name.as_str() {
            "since" => query.since = Some(parse_time(&value).ok_or("since is not an ISO 8601 date")?),
            "until" => query.until = Some(parse_time(&value).ok_or("until is not an ISO 8601 date")?),
            "date_range" if value == "all" => query.all_dates = true,
            "statuses[]" if matches!(value.as_str(), "triggered" | "acknowledged" | "resolved") => {
                query.statuses.push(value)
            }
            "service_ids[]" => query.service_ids.push(value),
            "sort_by" => {
                let (field, direction) = value.split_once(':').unwrap_or((value.as_str(), "asc"));
                if !matches!(field, "incident_number" | "created_at" | "resolved_at")
                    || !matches!(direction, "asc" | "desc")
                {
                    return Err(format!("sort_by {value} is not supported"));
                }
                query.sort = Some((field.to_string(), direction == "desc"));
            }
            "limit" => query.limit = number(&value)?.min(100),
            "offset" => query.offset = number(&value)?,
            "total" | "time_zone" => {}
            _ => return Err(format!("{name}={value} is not a valid parameter")),
        }
    }
    if query.offset + query.limit > 10_000 {
        return Err("offset + limit may not exceed 10000".into());
    }
    if query.limit == 0 {
        return Err("limit must be positive".into());
    }
    Ok(query)
}

/// The incidents in creation order: `incident_number` is the 1-based position.
fn numbered(tickets: &[Ticket]) -> Vec<(u64, Ticket)> {
    let mut sorted = tickets.to_vec();
    sorted.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then_with(|| a.key.cmp(&b.key)));
    sorted.into_iter().enumerate().map(|(index, ticket)| (index as u64 + 1, ticket)).collect()
}

fn status(ticket: &Ticket) -> &'static str {
    if ticket.resolved.is_some() {
        "resolved"
    } else {
        "triggered"
    }
}

fn render(number: u64, ticket: &Ticket) -> Value {
    let service = ticket.service.clone().unwrap_or_else(|| "Default Service".into());
    let service_id = service_id(&service);
    let changed = ticket.resolved.as_ref().map_or(ticket.created_ms, |(at, _)| *at);
    let mut incident = json!({
        "id": ticket.key,
        "type": "incident",
        "summary": format!("[#{number}] {}", ticket.title),
        "self": format!("https://api.pagerduty.com/incidents/{}", ticket.key),
        "html_url": format!("https://fake.pagerduty.com/incidents/{}", ticket.key),
        "incident_number": number,
        "title": ticket.title,
        "description": ticket.body,
        "created_at": rfc3339(ticket.created_ms),
        "updated_at": rfc3339(ticket.updated_ms),
        "status": status(ticket),
        "incident_key": format!("key-{}", ticket.key),
        "service": {
            "id": service_id,
            "type": "service_reference",
            "summary": service,
            "self": format!("https://api.pagerduty.com/services/{service_id}"),
            "html_url": format!("https://fake.pagerduty.com/service-directory/{service_id}")
        },
        "assignments": [],
        "last_status_change_at": rfc3339(changed),
        "urgency": if ticket.priority <= 2 { "high" } else { "low" },
        "priority": {"id": format!("PRIO{}", ticket.priority), "type": "priority_reference", "summary": format!("P{}", ticket.priority)},
        "resolve_reason": null
    });
    if let Some((at, _)) = &ticket.resolved {
        incident["resolved_at"] = json!(rfc3339(*at));
    }
    incident
}

async fn list_incidents(State(state): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("application/vnd.pagerduty+json;version=2") {
        return refuse("Accept must be application/vnd.pagerduty+json;version=2");
    }
    let query = match parse_query(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => return refuse(&message),
    };
    let (since, until) = if query.all_dates {
        (i64::MIN, i64::MAX)
    } else {
        match (query.since, query.until) {
            (None, None) => (now_ms() - DEFAULT_RANGE_MS, now_ms()),
            (Some(since), None) => (since, now_ms()),
            (Some(since), Some(until)) if since <= until => (since, until),
            _ => return refuse("until needs an earlier since"),
        }
    };
    if !query.all_dates && until - since > MAX_RANGE_MS {
        return refuse("the date range may span at most 6 months");
    }
    let (tickets, page_size) = {
        let state = state.lock().unwrap();
        (state.tickets.clone(), state.page_size)
    };
    let mut matching: Vec<(u64, Ticket)> = numbered(&tickets)
        .into_iter()
        .filter(|(_, ticket)| ticket.created_ms >= since && ticket.created_ms < until)
        .filter(|(_, ticket)| query.statuses.is_empty() || query.statuses.iter().any(|s| s == status(ticket)))
        .filter(|(_, ticket)| {
            query.service_ids.is_empty()
                || ticket.service.as_deref().is_some_and(|service| query.service_ids.contains(&service_id(service)))
        })
        .collect();
    let (field, descending) = query.sort.clone().unwrap_or(("created_at".into(), false));
    matching.sort_by_key(|(number, ticket)| match field.as_str() {
        "resolved_at" => ticket.resolved.as_ref().map_or(i64::MIN, |(at, _)| *at),
        "created_at" => ticket.created_ms,
        _ => *number as i64,
    });
    if descending {
        matching.reverse();
    }
    let limit = query.limit.min(page_size);
    let page: Vec<Value> =
        matching.iter().skip(query.offset).take(limit).map(|(number, ticket)| render(*number, ticket)).collect();
    let more = query.offset + page.len() < matching.len();
    Json(json!({"incidents": page, "limit": limit, "offset": query.offset, "more": more, "total": null}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendors::drive_pd_sn_dd::walk;
    use crate::vendors::{FakeVendor, Fault};
    use causeloop_connectors::pagerduty::PagerDuty;
    use causeloop_connectors::{Auth, Connection, Failure, Window};
    use serde_json::Map;

    const KEY: &str = "Token token=u+pagerduty-key";
    const DAY: i64 = 24 * 3600 * 1000;
    /// 2024-01-01T00:00:00Z.
    const T0: i64 = 1_704_067_200_000;

    async fn fake() -> FakeVendor {
        let fake = FakeVendor::start(routes()).await;
        fake.accept(KEY);
        fake
    }

    fn ids(records: &[causeloop_connectors::VendorRecord]) -> Vec<String> {
        let mut ids: Vec<String> =
            records.iter().map(|r| r.record["external_id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    #[tokio::test]
    async fn a_year_long_backfill_walks_ranges_and_pages() {
        let fake = fake().await;
        for (index, day) in [1, 2, 3, 200, 300].iter().enumerate() {
            fake.put(Ticket::new(&format!("PINC00{index}"), &format!("Incident {index}"), T0 + day * DAY));
        }
        fake.put(Ticket::new("PLATE01", "After the window", T0 + 400 * DAY));
        fake.put(Ticket::new("PRSLVD1", "Resolved", T0 + 5 * DAY).resolved_at(T0 + 6 * DAY, "restarted"));
        let config = Map::new();
        let auth = Auth::PagerDutyToken("u+pagerduty-key".into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 365 * DAY };
        let records = walk(&PagerDuty, &connection, &window, &fake.base_url).await.unwrap();
        assert_eq!(ids(&records), vec!["PINC000", "PINC001", "PINC002", "PINC003", "PINC004", "PRSLVD1"]);
        let resolved = records.iter().find(|r| r.record["external_id"] == "PRSLVD1").unwrap();
        assert_eq!(resolved.record["status"], "resolved");
        assert_eq!(resolved.record["resolved_at"], "2024-01-07T00:00:00.000Z");
        assert_eq!(resolved.record["severity"], "p2");
        let seen = fake.seen();
        let created_pages: Vec<_> = seen.iter().filter(|s| s.param("since").is_some()).collect();
        assert!(created_pages.len() >= 3, "pages of 2 over 3 ranges: {}", created_pages.len());
        let ranges: Vec<(&str, &str)> =
            created_pages.iter().map(|s| (s.param("since").unwrap(), s.param("until").unwrap())).collect();
        assert_eq!(ranges.first(), Some(&("2024-01-01T00:00:00.000Z", "2024-06-29T00:00:00.000Z")));
        assert_eq!(ranges.last().map(|range| range.1), Some("2024-12-31T00:00:00.000Z"));
        assert!(seen.iter().all(|s| s.header("accept") == "application/vnd.pagerduty+json;version=2"));
    }

    #[tokio::test]
    async fn an_incremental_sync_picks_up_an_old_incident_resolved_now() {
        let fake = fake().await;
        let since = T0 + 100 * DAY;
        fake.put(Ticket::new("POLDOPN", "Old and still open", T0));
        fake.put(Ticket::new("POLDFIX", "Old, resolved now", T0 + DAY).resolved_at(since + 3_600_000, "failover"));
        fake.put(Ticket::new("POLDGON", "Old, resolved long ago", T0 + 2 * DAY).resolved_at(T0 + 3 * DAY, "x"));
        fake.put(Ticket::new("PNEW001", "New", since + 60_000));
        fake.put(Ticket::new("PNEW002", "New too", since + 120_000).resolved_at(since + 180_000, "y"));
        let config = Map::new();
        let auth = Auth::Bearer("access-token".into());
        fake.lock().access_tokens.insert("access-token".into(), i64::MAX);
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: since, until_millis: since + DAY };
        let records = walk(&PagerDuty, &connection, &window, &fake.base_url).await.unwrap();
        assert_eq!(ids(&records), vec!["PNEW001", "PNEW002", "POLDFIX"]);
        let old = records.iter().find(|r| r.record["external_id"] == "POLDFIX").unwrap();
        assert_eq!(old.record["source_created_at"], "2024-01-02T00:00:00.000Z");
        assert_eq!(old.record["resolved_at"], "2024-04-10T01:00:00.000Z");
        let resolved_pass = fake.seen().into_iter().find(|s| s.param("date_range") == Some("all")).unwrap();
        assert_eq!(resolved_pass.param("statuses[]"), Some("resolved"));
        assert_eq!(resolved_pass.param("sort_by"), Some("resolved_at:desc"));
    }

    #[tokio::test]
    async fn service_filters_reach_the_api() {
        let fake = fake().await;
        fake.put(Ticket::new("PCHK001", "Checkout down", T0 + DAY));
        let mut search = Ticket::new("PSRC001", "Search slow", T0 + DAY);
        search.service = Some("search".into());
        fake.put(search);
        let mut config = Map::new();
        config.insert("service_ids".into(), json!([service_id("search")]));
        let auth = Auth::PagerDutyToken("u+pagerduty-key".into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 10 * DAY };
        let records = walk(&PagerDuty, &connection, &window, &fake.base_url).await.unwrap();
        assert_eq!(ids(&records), vec!["PSRC001"]);
        assert_eq!(records[0].record["service"], "search");
    }

    #[tokio::test]
    async fn a_429_asks_to_wait_and_the_same_walk_then_succeeds() {
        let fake = fake().await;
        fake.put(Ticket::new("PINC001", "One", T0 + DAY));
        fake.fault(Fault::Throttle(7));
        let config = Map::new();
        let auth = Auth::PagerDutyToken("u+pagerduty-key".into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 10 * DAY };
        assert_eq!(
            walk(&PagerDuty, &connection, &window, &fake.base_url).await,
            Err(Failure::RateLimited { retry_after_seconds: 7 })
        );
        assert_eq!(ids(&walk(&PagerDuty, &connection, &window, &fake.base_url).await.unwrap()), vec!["PINC001"]);
    }

    #[tokio::test]
    async fn a_refused_key_is_unauthorized() {
        let fake = fake().await;
        let config = Map::new();
        let auth = Auth::PagerDutyToken("revoked".into());
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + DAY };
        let outcome = walk(&PagerDuty, &connection, &window, &fake.base_url).await;
        assert!(matches!(outcome, Err(Failure::Unauthorized(_))), "{outcome:?}");
    }

    #[tokio::test]
    async fn the_fake_refuses_what_pagerduty_refuses() {
        let fake = fake().await;
        let client = reqwest::Client::new();
        let get = |query: &str| {
            client
                .get(format!("{}/incidents?{query}", fake.base_url))
                .header("authorization", KEY)
                .header("accept", "application/vnd.pagerduty+json;version=2")
                .send()
        };
        let too_long = get("since=2024-01-01T00:00:00Z&until=2024-12-01T00:00:00Z").await.unwrap();
        assert_eq!(too_long.status(), 400);
        assert_eq!(get("limit=100&offset=9950").await.unwrap().status(), 400);
        assert_eq!(get("limit=ten").await.unwrap().status(), 400);
        assert_eq!(get("statuses[]=closed").await.unwrap().status(), 400);
        assert_eq!(get("until=2024-01-01T00:00:00Z").await.unwrap().status(), 400);
        assert_eq!(get("date_range=all&limit=100&offset=0").await.unwrap().status(), 200);
        let no_accept =
            client.get(format!("{}/incidents", fake.base_url)).header("authorization", KEY).send().await.unwrap();
        assert_eq!(no_accept.status(), 400);
    }
}
