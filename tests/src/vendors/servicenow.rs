//! ServiceNow's Table API `GET /api/now/table/incident`, over the shared [`Ticket`] model.
//!
//! As documented: `sysparm_query` is an encoded query (`^` AND, `^OR`, `ORDERBY` /
//! `ORDERBYDESC`) whose date-time literals are UTC; `sysparm_limit` / `sysparm_offset` page,
//! with a `Link: <...>;rel="next"` header while rows remain and `X-Total-Count` unless
//! `sysparm_no_count=true`; `sysparm_fields` selects columns; `sysparm_display_value`
//! (`false`/`true`/`all`) picks stored values, display values, or both; reference fields carry a
//! `link` unless `sysparm_exclude_reference_link=true`. Stored date-times are UTC
//! `yyyy-MM-dd HH:mm:ss`; display values are in the user's zone, US/Pacific (UTC−8) here, so a
//! connector reading display times would be eight hours off. A ticket is state 2 (In Progress)
//! until resolved, then 6 (Resolved) with `close_code` and `close_notes`. Unknown fields in the
//! query, malformed literals and unknown parameters get 400.

use super::{parse_time, rfc3339, Shared, Ticket};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sha2::Digest;
use std::cmp::Ordering;

/// The user's display zone: US/Pacific standard time.
const DISPLAY_OFFSET_MS: i64 = -8 * 3600 * 1000;
const FIELDS: &[&str] = &[
    "sys_id",
    "number",
    "short_description",
    "description",
    "priority",
    "impact",
    "urgency",
    "state",
    "cmdb_ci",
    "business_service",
    "sys_created_on",
    "sys_updated_on",
    "resolved_at",
    "closed_at",
    "close_code",
    "close_notes",
];
const REFERENCES: &[&str] = &["cmdb_ci", "business_service"];
const DATE_TIMES: &[&str] = &["sys_created_on", "sys_updated_on", "resolved_at", "closed_at"];

pub fn routes() -> Router<Shared> {
    Router::new().route("/api/now/table/incident", get(list))
}

fn refuse(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": message, "detail": null}, "status": "failure"})))
        .into_response()
}

/// A stored date-time: UTC `yyyy-MM-dd HH:mm:ss`.
pub fn stored_time(ms: i64) -> String {
    rfc3339(ms - ms.rem_euclid(1000))[..19].replacen('T', " ", 1)
}

fn parse_stored(text: &str) -> Option<i64> {
    (text.len() == 19).then(|| parse_time(&format!("{}Z", text.replacen(' ', "T", 1))))?
}

fn hex_id(seed: &str) -> String {
    hex32(&sha2::Sha256::digest(seed.as_bytes()))
}

fn hex32(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

/// The `sys_id` the fake gives a ticket.
pub fn sys_id(ticket: &Ticket) -> String {
    hex_id(&ticket.key)
}

/// A field's stored and display values.
fn field(ticket: &Ticket, name: &str) -> (String, String) {
    let same = |text: String| (text.clone(), text);
    let time = |ms: Option<i64>| {
        ms.map_or((String::new(), String::new()), |ms| (stored_time(ms), stored_time(ms + DISPLAY_OFFSET_MS)))
    };
    let level =
        |level: u8, labels: &[&str]| (level.to_string(), format!("{level} - {}", labels[usize::from(level) - 1]));
    let priority = ticket.priority.clamp(1, 5);
    let impact = priority.min(3);
    match name {
        "sys_id" => same(sys_id(ticket)),
        "number" => same(ticket.key.clone()),
        "short_description" => same(ticket.title.clone()),
        "description" => same(ticket.body.clone()),
        "priority" => level(priority, &["Critical", "High", "Moderate", "Low", "Planning"]),
        "impact" => level(impact, &["High", "Medium", "Low"]),
        "urgency" => level(priority - impact + 1, &["High", "Medium", "Low"]),
        "state" if ticket.resolved.is_some() => ("6".into(), "Resolved".into()),
        "state" => ("2".into(), "In Progress".into()),
        "cmdb_ci" => ticket
            .service
            .as_ref()
            .map_or((String::new(), String::new()), |service| (hex_id(&format!("ci:{service}")), service.clone())),
        "sys_created_on" => time(Some(ticket.created_ms)),
        "sys_updated_on" => time(Some(ticket.updated_ms)),
        "resolved_at" => time(ticket.resolved.as_ref().map(|(at, _)| *at)),
        "close_code" if ticket.resolved.is_some() => same("Solved (Permanently)".into()),
        "close_notes" => same(ticket.resolved.as_ref().map(|(_, fix)| fix.clone()).unwrap_or_default()),
        _ => (String::new(), String::new()),
    }
}

#[derive(Debug)]
struct Condition {
    field: String,
    operator: &'static str,
    value: String,
}

impl Condition {
    fn parse(text: &str) -> Result<Self, String> {
        let (at, operator) = [">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|operator| text.find(operator).map(|at| (at, *operator)))
            .ok_or_else(|| format!("`{text}` is not a condition"))?;
        let field = &text[..at];
        let value = &text[at + operator.len()..];
        if !FIELDS.contains(&field) {
            return Err(format!("unknown field `{field}` in sysparm_query"));
        }
        if DATE_TIMES.contains(&field) && parse_stored(value).is_none() {
            return Err(format!("`{value}` is not a date-time (yyyy-MM-dd HH:mm:ss)"));
        }
        Ok(Condition { field: field.to_string(), operator, value: value.to_string() })
    }

    fn holds(&self, ticket: &Ticket) -> bool {
        let (stored, _) = field(ticket, &self.field);
        let ordering = if DATE_TIMES.contains(&self.field.as_str()) {
            match (parse_stored(&stored), parse_stored(&self.value)) {
                (Some(left), Some(right)) => left.cmp(&right),
                _ => return false,
            }
        } else {
            stored.cmp(&self.value)
        };
        match self.operator {
            ">=" => ordering != Ordering::Less,
            "<=" => ordering != Ordering::Greater,
            ">" => ordering == Ordering::Greater,
            "<" => ordering == Ordering::Less,
            "!=" => ordering != Ordering::Equal,
            _ => ordering == Ordering::Equal,
        }
    }
}

/// An encoded query: an AND of OR-groups, and the sort keys.
struct EncodedQuery {
    groups: Vec<Vec<Condition>>,
    order: Vec<(String, bool)>,
}

fn parse_encoded(query: &str) -> Result<EncodedQuery, String> {
    let mut parsed = EncodedQuery { groups: Vec::new(), order: Vec::new() };
    for part in query.split('^').filter(|part| !part.is_empty()) {
        if let Some(field) = part.strip_prefix("ORDERBYDESC") {
            parsed.order.push((field.to_string(), true));
        } else if let Some(field) = part.strip_prefix("ORDERBY") {
            parsed.order.push((field.to_string(), false));
        } else if part.starts_with("NQ") {
            return Err("^NQ is not supported by this fake".into());
        } else if let Some(condition) = part.strip_prefix("OR") {
            let group = parsed.groups.last_mut().ok_or("^OR needs a condition before it")?;
            group.push(Condition::parse(condition)?);
        } else {
            parsed.groups.push(vec![Condition::parse(part)?]);
        }
    }
    if let Some((field, _)) = parsed.order.iter().find(|(field, _)| !FIELDS.contains(&field.as_str())) {
        return Err(format!("cannot order by unknown field `{field}`"));
    }
    Ok(parsed)
}

fn render(ticket: &Ticket, fields: &[&str], display: &str, with_links: bool, base: &str) -> Value {
    let mut row = Map::new();
    for name in fields {
        let (stored, shown) = field(ticket, name);
        let link = (with_links && REFERENCES.contains(name) && !stored.is_empty())
            .then(|| format!("{base}/api/now/table/cmdb_ci/{stored}"));
        let value = match (display, link) {
            ("all", Some(link)) => json!({"display_value": shown, "link": link, "value": stored}),
            ("all", None) => json!({"display_value": shown, "value": stored}),
            ("true", Some(link)) => json!({"display_value": shown, "link": link}),
            ("true", None) => json!(shown),
            (_, Some(link)) => json!({"link": link, "value": stored}),
            (_, None) => json!(stored),
        };
        row.insert(name.to_string(), value);
    }
    Value::Object(row)
}

async fn list(State(state): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let mut query = String::new();
    let mut limit = 10_000_usize;
    let mut offset = 0_usize;
    let mut display = "false".to_string();
    let mut fields: Vec<&str> = FIELDS.to_vec();
    let mut with_links = true;
    let mut count = true;
    for (name, value) in url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()).into_owned() {
        let flag = |value: &str| match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("{name} must be true or false")),
        };
        let outcome: Result<(), String> = match name.as_str() {
            "sysparm_query" => {
                query = value;
                Ok(())
            }
            "sysparm_limit" => value.parse().map(|n| limit = n).map_err(|_| "sysparm_limit must be an integer".into()),
            "sysparm_offset" => {
                value.parse().map(|n| offset = n).map_err(|_| "sysparm_offset must be an integer".into())
            }
            "sysparm_display_value" if matches!(value.as_str(), "true" | "false" | "all") => {
                display = value;
                Ok(())
            }
            "sysparm_fields" => {
                fields = FIELDS
                    .iter()
                    .copied()
                    .filter(|field| value.split(',').any(|asked| asked.trim() == *field))
                    .collect();
                Ok(())
            }
            "sysparm_exclude_reference_link" => flag(&value).map(|exclude| with_links = !exclude),
            "sysparm_no_count" => flag(&value).map(|no_count| count = !no_count),
            _ => Err(format!("{name}={value} is not a valid parameter")),
        };
        if let Err(message) = outcome {
            return refuse(&message);
        }
    }
    let encoded = match parse_encoded(&query) {
        Ok(encoded) => encoded,
        Err(message) => return refuse(&message),
    };
    if limit == 0 {
        return refuse("sysparm_limit must be positive");
    }
    let (tickets, page_size) = {
        let state = state.lock().unwrap();
        (state.tickets.clone(), state.page_size)
    };
    let mut matching: Vec<Ticket> = tickets
        .into_iter()
        .filter(|ticket| encoded.groups.iter().all(|group| group.iter().any(|condition| condition.holds(ticket))))
        .collect();
    matching.sort_by(|a, b| {
        encoded.order.iter().fold(Ordering::Equal, |so_far, (name, descending)| {
            so_far.then_with(|| {
                let ordering = field(a, name).0.cmp(&field(b, name).0);
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
        })
    });
    let base = format!("http://{}", headers.get("host").and_then(|host| host.to_str().ok()).unwrap_or("localhost"));
    let limit = limit.min(page_size);
    let rows: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|ticket| render(ticket, &fields, &display, with_links, &base))
        .collect();
    let mut response = Json(json!({ "result": rows })).into_response();
    let answer_headers = response.headers_mut();
    if offset + limit < matching.len() {
        let next = format!(
            "<{base}/api/now/table/incident?sysparm_offset={}&sysparm_limit={limit}>;rel=\"next\"",
            offset + limit
        );
        answer_headers.insert("link", next.parse().expect("header"));
    }
    if count {
        answer_headers.insert("x-total-count", matching.len().to_string().parse().expect("header"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendors::drive_pd_sn_dd::walk;
    use crate::vendors::{FakeVendor, Fault};
    use causeloop_connectors::servicenow::ServiceNow;
    use causeloop_connectors::{Auth, Connection, Failure, VendorRecord, Window};

    /// 2024-01-02T00:00:00Z.
    const T0: i64 = 1_704_153_600_000;
    const HOUR: i64 = 3_600_000;
    const BASIC: &str = "Basic aW50ZWdyYXRpb246cHc=";

    async fn fake() -> FakeVendor {
        let fake = FakeVendor::start(routes()).await;
        fake.accept(BASIC);
        fake
    }

    fn auth() -> Auth {
        Auth::Basic { user: "integration".into(), password: "pw".into() }
    }

    fn ticket(number: &str, created_ms: i64, updated_ms: i64) -> Ticket {
        let mut ticket = Ticket::new(number, &format!("Incident {number}"), created_ms);
        ticket.updated_ms = updated_ms;
        ticket
    }

    fn numbers(records: &[VendorRecord]) -> Vec<String> {
        let mut numbers: Vec<String> =
            records.iter().map(|r| r.record["external_id"].as_str().unwrap().to_string()).collect();
        numbers.sort();
        numbers.dedup();
        numbers
    }

    #[tokio::test]
    async fn a_backfill_reads_every_page_with_utc_times() {
        let fake = fake().await;
        for index in 1..=5 {
            fake.put(ticket(&format!("INC001000{index}"), T0, T0 + index * HOUR));
        }
        fake.put(
            ticket("INC0010009", T0 - HOUR, T0 + 2 * HOUR + 500)
                .resolved_at(T0 + 2 * HOUR + 500, "Rebooted the mail relay."),
        );
        let config = Map::new();
        let auth = auth();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 24 * HOUR };
        let records = walk(&ServiceNow, &connection, &window, &fake.base_url).await.unwrap();
        assert_eq!(
            numbers(&records),
            vec!["INC0010001", "INC0010002", "INC0010003", "INC0010004", "INC0010005", "INC0010009"]
        );
        let first = records.iter().find(|r| r.record["external_id"] == "INC0010001").unwrap();
        assert_eq!(first.updated_at, "2024-01-02T01:00:00.000Z", "stored UTC, not the user's US/Pacific display");
        assert_eq!(first.record["service"], "checkout");
        assert_eq!(first.record["severity"], "p2");
        let resolved = records.iter().find(|r| r.record["external_id"] == "INC0010009").unwrap();
        assert_eq!(resolved.record["status"], "resolved");
        assert_eq!(resolved.record["resolved_at"], "2024-01-02T02:00:00.000Z");
        assert_eq!(
            resolved.record["resolution"],
            json!({"fix": "Rebooted the mail relay.", "note": "Solved (Permanently)"})
        );
        let seen = fake.seen();
        assert!(seen.len() >= 3, "{} requests", seen.len());
        assert!(seen.iter().all(|s| s.param("sysparm_display_value") == Some("all")));
        assert_eq!(
            seen[0].param("sysparm_query"),
            Some("sys_updated_on>=2024-01-02 00:00:00^sys_updated_on<2024-01-03 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id")
        );
    }

    #[tokio::test]
    async fn rows_updated_in_the_same_second_are_all_read_across_pages() {
        let fake = fake().await;
        for number in ["INC0020001", "INC0020002", "INC0020003", "INC0020004", "INC0020005"] {
            fake.put(ticket(number, T0, T0 + HOUR + 250));
        }
        fake.put(ticket("INC0020006", T0, T0 + HOUR + 1_000));
        let config = Map::new();
        let auth = auth();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 2 * HOUR };
        let records = walk(&ServiceNow, &connection, &window, &fake.base_url).await.unwrap();
        assert_eq!(
            numbers(&records),
            vec!["INC0020001", "INC0020002", "INC0020003", "INC0020004", "INC0020005", "INC0020006"]
        );
        let seen = fake.seen();
        let offsets: Vec<&str> = seen.iter().filter_map(|s| s.param("sysparm_offset")).collect();
        assert!(offsets.contains(&"2") && offsets.contains(&"4"), "counted within the second: {offsets:?}");
    }

    #[tokio::test]
    async fn an_incremental_window_reads_only_rows_updated_in_it_and_sees_a_reopen() {
        let fake = fake().await;
        fake.put(ticket("INC0030001", T0 - 48 * HOUR, T0 - HOUR));
        fake.put(ticket("INC0030002", T0 - 48 * HOUR, T0 + HOUR).resolved_at(T0 + HOUR, "Fixed DNS."));
        fake.put(ticket("INC0030003", T0, T0 + 30 * HOUR));
        let mut config = Map::new();
        config.insert("query".into(), json!("priority=2^ORpriority=1"));
        let auth = auth();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 24 * HOUR };
        let records = walk(&ServiceNow, &connection, &window, &fake.base_url).await.unwrap();
        assert_eq!(numbers(&records), vec!["INC0030002"]);
        assert_eq!(records[0].record["status"], "resolved");

        // Reopened the next day: the next window sees it open again.
        fake.put(ticket("INC0030002", T0 - 48 * HOUR, T0 + 26 * HOUR));
        let next = Window { since_millis: T0 + 24 * HOUR, until_millis: T0 + 48 * HOUR };
        let records = walk(&ServiceNow, &connection, &next, &fake.base_url).await.unwrap();
        let reopened = records.iter().find(|r| r.record["external_id"] == "INC0030002").unwrap();
        assert_eq!(reopened.record["status"], "open");
        assert_eq!(reopened.updated_at, "2024-01-03T02:00:00.000Z");
    }

    #[tokio::test]
    async fn a_429_asks_to_wait_and_a_401_is_unauthorized() {
        let fake = fake().await;
        fake.put(ticket("INC0040001", T0, T0 + HOUR));
        fake.fault(Fault::Throttle(12));
        let config = Map::new();
        let auth = auth();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 2 * HOUR };
        assert_eq!(
            walk(&ServiceNow, &connection, &window, &fake.base_url).await,
            Err(Failure::RateLimited { retry_after_seconds: 12 })
        );
        assert_eq!(
            numbers(&walk(&ServiceNow, &connection, &window, &fake.base_url).await.unwrap()),
            vec!["INC0040001"]
        );

        let wrong = Auth::Basic { user: "integration".into(), password: "stale".into() };
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &wrong };
        let outcome = walk(&ServiceNow, &connection, &window, &fake.base_url).await;
        assert!(matches!(outcome, Err(Failure::Unauthorized(_))), "{outcome:?}");
    }

    #[tokio::test]
    async fn the_fake_refuses_malformed_queries_and_shows_display_times_in_the_user_zone() {
        let fake = fake().await;
        fake.put(ticket("INC0050001", T0, T0 + HOUR));
        let client = reqwest::Client::new();
        let get = |query: String| {
            client
                .get(format!("{}/api/now/table/incident?{query}", fake.base_url))
                .header("authorization", BASIC)
                .send()
        };
        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        for bad in [
            "sysparm_query=".to_string() + &encode("sys_updated_on>=yesterday"),
            "sysparm_query=".to_string() + &encode("u_bogus=1"),
            "sysparm_display_value=maybe".into(),
            "sysparm_limit=ten".into(),
            "limit=5".into(),
        ] {
            assert_eq!(get(bad.clone()).await.unwrap().status(), 400, "{bad}");
        }
        let answer = get("sysparm_display_value=true&sysparm_fields=number,sys_updated_on".into()).await.unwrap();
        assert_eq!(answer.headers()["x-total-count"], "1");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body, json!({"result": [{"number": "INC0050001", "sys_updated_on": "2024-01-01 17:00:00"}]}));
    }
}
