//! Datadog's `GET /api/v2/incidents` and `GET /api/v2/events`, over the shared [`Ticket`] model
//! (ticket keys are numbers: the incident's `public_id`, and the monitor id of its events).
//!
//! As documented: incidents page with `page[size]` (at most 100) and `page[offset]`, newest first
//! here (Datadog documents no order, so the fake picks one a connector must not rely on), with
//! `meta.pagination`; severity, state, summary, services and root cause are user-defined
//! `fields`. Events filter with `filter[query]` (`source:alert` selects monitor notifications),
//! `filter[from]` / `filter[to]` in milliseconds, sort with `sort` (`timestamp` or
//! `-timestamp`), page with `page[limit]` (at most 1000) and an opaque `page[cursor]` announced in
//! `meta.page.after`. A ticket is a monitor alert event at its creation (`error` for P1–P2,
//! `warning` below) and a recovery event (`success`) at its resolution. Malformed parameters get
//! 400.

use super::{rfc3339, Shared, Ticket};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

const MAX_INCIDENT_PAGE: usize = 100;
const MAX_EVENT_PAGE: usize = 1000;
const DEFAULT_EVENT_LOOKBACK_MS: i64 = 15 * 60 * 1000;

pub fn routes() -> Router<Shared> {
    Router::new().route("/api/v2/incidents", get(list_incidents)).route("/api/v2/events", get(list_events))
}

fn refuse(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"errors": [message]}))).into_response()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Datadog writes times with an explicit `+00:00`.
fn datadog_time(ms: i64) -> String {
    let text = rfc3339(ms);
    format!("{}+00:00", text.trim_end_matches('Z'))
}

fn uuid_of(seed: &str) -> String {
    let hex: String = sha2::Sha256::digest(seed.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn params(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect()
}

fn snapshot(state: &Shared) -> (Vec<(u64, Ticket)>, usize) {
    let state = state.lock().unwrap();
    let numbered = state.tickets.iter().filter_map(|ticket| Some((ticket.key.parse().ok()?, ticket.clone()))).collect();
    (numbered, state.page_size)
}

fn incident(public_id: u64, ticket: &Ticket) -> Value {
    let state = if ticket.resolved.is_some() { "resolved" } else { "active" };
    let severity = format!("SEV-{}", ticket.priority);
    let mut fields = json!({
        "severity": {"type": "dropdown", "value": severity},
        "state": {"type": "dropdown", "value": state},
        "summary": {"type": "textbox", "value": ticket.body},
        "services": {"type": "autocomplete", "value": ticket.service.iter().collect::<Vec<_>>()},
    });
    if let Some((_, fix)) = &ticket.resolved {
        fields["root_cause"] = json!({"type": "textbox", "value": fix});
    }
    json!({
        "type": "incidents",
        "id": uuid_of(&ticket.key),
        "attributes": {
            "public_id": public_id,
            "title": ticket.title,
            "created": datadog_time(ticket.created_ms),
            "modified": datadog_time(ticket.updated_ms),
            "resolved": ticket.resolved.as_ref().map(|(at, _)| datadog_time(*at)),
            "detected": datadog_time(ticket.created_ms),
            "severity": severity,
            "state": state,
            "customer_impact_scope": null,
            "customer_impacted": false,
            "fields": fields,
        },
        "relationships": {},
    })
}

async fn list_incidents(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let mut size = 10_usize;
    let mut offset = 0_usize;
    for (name, value) in params(raw.as_deref()) {
        let number = value.parse::<usize>();
        match (name.as_str(), number) {
            ("page[size]", Ok(n)) if (1..=MAX_INCIDENT_PAGE).contains(&n) => size = n,
            ("page[offset]", Ok(n)) => offset = n,
            ("include", _) => {}
            _ => return refuse(&format!("invalid parameter {name}={value}")),
        }
    }
    let (mut incidents, page_size) = snapshot(&state);
    incidents.sort_by(|(a_id, a), (b_id, b)| b.created_ms.cmp(&a.created_ms).then(b_id.cmp(a_id)));
    let size = size.min(page_size);
    let data: Vec<Value> = incidents.iter().skip(offset).take(size).map(|(id, ticket)| incident(*id, ticket)).collect();
    Json(json!({
        "data": data,
        "included": [],
        "meta": {"pagination": {"offset": offset, "next_offset": offset + size, "size": size}},
    }))
    .into_response()
}

/// One monitor event: `(timestamp, event)`.
fn events_of(monitor_id: u64, ticket: &Ticket) -> Vec<(i64, Value)> {
    let group = format!("service:{}", ticket.service.clone().unwrap_or_else(|| "none".into()));
    let event = |kind: &str, status: &str, at: i64| {
        let title = match kind {
            "recovery" => format!("[Recovered on {{{group}}}] {}", ticket.title),
            _ => format!("[Triggered on {{{group}}}] {}", ticket.title),
        };
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{}", ticket.key));
        json!({
            "id": id,
            "type": "event",
            "attributes": {
                "message": format!("%%%\n{}\n%%%", ticket.body),
                "tags": ["source:alert", format!("monitor_id:{monitor_id}")],
                "timestamp": rfc3339(at),
                "attributes": {
                    "monitor_id": monitor_id,
                    "monitor_groups": [group],
                    "monitor": {"id": monitor_id, "name": ticket.title, "type": "metric alert"},
                    "status": status,
                    "service": ticket.service,
                    "title": title,
                    "timestamp": at,
                    "priority": "normal",
                    "source_type_name": "Monitor Alert",
                },
            },
        })
    };
    let mut events = vec![(
        ticket.created_ms,
        event("alert", if ticket.priority <= 2 { "error" } else { "warning" }, ticket.created_ms),
    )];
    if let Some((at, _)) = &ticket.resolved {
        events.push((*at, event("recovery", "success", *at)));
    }
    events
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("offset:")?.parse().ok()
}

async fn list_events(State(state): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let now = now_ms();
    let (mut from, mut to) = (now - DEFAULT_EVENT_LOOKBACK_MS, now);
    let mut query: Option<String> = None;
    let mut descending = true;
    let mut limit = 10_usize;
    let mut offset = 0_usize;
    let mut kept: Vec<(String, String)> = Vec::new();
    for (name, value) in params(raw.as_deref()) {
        let ok = match name.as_str() {
            "filter[from]" => value.parse().map(|ms| from = ms).is_ok(),
            "filter[to]" => value.parse().map(|ms| to = ms).is_ok(),
            "filter[query]" => {
                query = Some(value.clone());
                true
            }
            "sort" if matches!(value.as_str(), "timestamp" | "-timestamp") => {
                descending = value == "-timestamp";
                true
            }
            "page[limit]" => {
                value.parse().ok().filter(|n| (1..=MAX_EVENT_PAGE).contains(n)).map(|n| limit = n).is_some()
            }
            "page[cursor]" => decode_cursor(&value).map(|at| offset = at).is_some(),
            _ => false,
        };
        if !ok {
            return refuse(&format!("invalid parameter {name}={value}"));
        }
        if name != "page[cursor]" {
            kept.push((name, value));
        }
    }
    let (tickets, page_size) = snapshot(&state);
    let mut events: Vec<(i64, Value)> = if query.as_deref().is_none_or(|query| query == "source:alert") {
        tickets
            .iter()
            .flat_map(|(id, ticket)| events_of(*id, ticket))
            .filter(|(at, _)| *at >= from && *at <= to)
            .collect()
    } else {
        Vec::new()
    };
    events.sort_by_key(|(at, _)| *at);
    if descending {
        events.reverse();
    }
    let limit = limit.min(page_size);
    let data: Vec<Value> = events.iter().skip(offset).take(limit).map(|(_, event)| event.clone()).collect();
    let mut body =
        json!({"data": data, "links": {}, "meta": {"elapsed": 3, "page": {}, "request_id": "fake", "status": "done"}});
    if offset + limit < events.len() {
        let after = encode_cursor(offset + limit);
        let host = headers.get("host").and_then(|host| host.to_str().ok()).unwrap_or("localhost");
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        next.extend_pairs(kept.iter()).append_pair("page[cursor]", &after);
        body["links"]["next"] = json!(format!("http://{host}/api/v2/events?{}", next.finish()));
        body["meta"]["page"]["after"] = json!(after);
    }
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendors::drive_pd_sn_dd::walk;
    use crate::vendors::{FakeVendor, Fault};
    use causeloop_connectors::datadog::Datadog;
    use causeloop_connectors::{Auth, Connection, Failure, VendorRecord, Window};
    use serde_json::Map;

    /// 2024-03-01T00:00:00Z.
    const T0: i64 = 1_709_251_200_000;
    const HOUR: i64 = 3_600_000;

    async fn fake() -> FakeVendor {
        let fake = FakeVendor::start(routes()).await;
        fake.accept("dd-api-key");
        fake
    }

    fn auth() -> Auth {
        Auth::Datadog { api_key: "dd-api-key".into(), application_key: "dd-app-key".into() }
    }

    fn config(sources: &[&str]) -> Map<String, Value> {
        let mut config = Map::new();
        config.insert("sources".into(), json!(sources));
        config
    }

    fn ids(records: &[VendorRecord]) -> Vec<String> {
        let mut ids: Vec<String> =
            records.iter().map(|r| r.record["external_id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    #[tokio::test]
    async fn a_backfill_reads_every_incident_page_then_the_monitor_events() {
        let fake = fake().await;
        for id in 1..=5 {
            fake.put(Ticket::new(&id.to_string(), &format!("Incident {id}"), T0 + id * HOUR));
        }
        fake.put(Ticket::new("6", "Resolved", T0 + 6 * HOUR).resolved_at(T0 + 7 * HOUR, "Scaled the queue workers."));
        let config = config(&["incidents", "monitor_events"]);
        let auth = auth();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 24 * HOUR };
        let records = walk(&Datadog, &connection, &window, &fake.base_url).await.unwrap();
        let (incidents, events): (Vec<VendorRecord>, Vec<VendorRecord>) =
            records.into_iter().partition(|r| !r.record["external_id"].as_str().unwrap().starts_with("monitor/"));
        assert_eq!(ids(&incidents), vec!["1", "2", "3", "4", "5", "6"]);
        let resolved = incidents.iter().find(|r| r.record["external_id"] == "6").unwrap();
        assert_eq!(resolved.record["status"], "resolved");
        assert_eq!(resolved.record["resolved_at"], "2024-03-01T07:00:00.000Z");
        assert_eq!(resolved.record["resolution"], json!({"fix": "Scaled the queue workers."}));
        assert_eq!(resolved.record["service"], "checkout");
        assert_eq!(resolved.record["severity"], "p2");
        assert_eq!(
            ids(&events),
            vec![
                "monitor/1/service:checkout",
                "monitor/2/service:checkout",
                "monitor/3/service:checkout",
                "monitor/4/service:checkout",
                "monitor/5/service:checkout",
                "monitor/6/service:checkout"
            ]
        );
        assert_eq!(events.len(), 7, "six alerts and one recovery");
        let recovery = events.iter().find(|r| r.record["status"] == "resolved").unwrap();
        assert_eq!(recovery.record["external_id"], "monitor/6/service:checkout");
        let seen = fake.seen();
        let incident_pages = seen.iter().filter(|s| s.path == "/api/v2/incidents").count();
        let event_pages: Vec<_> = seen.iter().filter(|s| s.path == "/api/v2/events").collect();
        assert!(incident_pages >= 3, "{incident_pages} incident pages");
        assert!(event_pages.len() >= 3, "{} event pages", event_pages.len());
        assert_eq!(event_pages[0].param("filter[from]"), Some("1709251200000"));
        assert_eq!(event_pages[0].param("filter[query]"), Some("source:alert"));
        assert!(event_pages[1].param("page[cursor]").is_some());
        assert!(seen.iter().all(|s| s.header("dd-application-key") == "dd-app-key"));
    }

    #[tokio::test]
    async fn an_incremental_window_keeps_incidents_modified_in_it_and_sees_a_reopen() {
        let fake = fake().await;
        fake.put(Ticket::new("10", "Old", T0 - 48 * HOUR));
        fake.put(Ticket::new("11", "Old, resolved now", T0 - 48 * HOUR).resolved_at(T0 + HOUR, "Rolled back."));
        fake.put(Ticket::new("12", "New", T0 + 2 * HOUR));
        fake.put(Ticket::new("13", "Later", T0 + 30 * HOUR));
        let config = config(&["incidents"]);
        let auth = auth();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 24 * HOUR };
        let records = walk(&Datadog, &connection, &window, &fake.base_url).await.unwrap();
        assert_eq!(ids(&records), vec!["11", "12"]);
        assert!(fake.seen().iter().all(|s| s.path == "/api/v2/incidents"), "monitor events were not asked for");

        let mut reopened = Ticket::new("11", "Old, resolved now", T0 - 48 * HOUR);
        reopened.updated_ms = T0 + 25 * HOUR;
        fake.put(reopened);
        let next = Window { since_millis: T0 + 24 * HOUR, until_millis: T0 + 48 * HOUR };
        let records = walk(&Datadog, &connection, &next, &fake.base_url).await.unwrap();
        let record = records.iter().find(|r| r.record["external_id"] == "11").unwrap();
        assert_eq!(record.record["status"], "open");
        assert_eq!(record.updated_at, "2024-03-02T01:00:00.000Z");
    }

    #[tokio::test]
    async fn a_429_asks_to_wait_and_a_401_is_unauthorized() {
        let fake = fake().await;
        fake.put(Ticket::new("1", "One", T0 + HOUR));
        fake.fault(Fault::Throttle(4));
        let config = config(&["incidents"]);
        let auth = auth();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 2 * HOUR };
        assert_eq!(
            walk(&Datadog, &connection, &window, &fake.base_url).await,
            Err(Failure::RateLimited { retry_after_seconds: 4 })
        );
        assert_eq!(ids(&walk(&Datadog, &connection, &window, &fake.base_url).await.unwrap()), vec!["1"]);

        let revoked = Auth::Datadog { api_key: "revoked".into(), application_key: "dd-app-key".into() };
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &revoked };
        let outcome = walk(&Datadog, &connection, &window, &fake.base_url).await;
        assert!(matches!(outcome, Err(Failure::Unauthorized(_))), "{outcome:?}");
    }

    #[tokio::test]
    async fn the_fake_refuses_malformed_parameters() {
        let fake = fake().await;
        let client = reqwest::Client::new();
        for path in [
            "/api/v2/incidents?page[size]=500",
            "/api/v2/incidents?page[offset]=-1",
            "/api/v2/events?filter[from]=yesterday",
            "/api/v2/events?page[cursor]=not-a-cursor",
            "/api/v2/events?sort=newest",
        ] {
            let answer =
                client.get(format!("{}{path}", fake.base_url)).header("dd-api-key", "dd-api-key").send().await.unwrap();
            assert_eq!(answer.status(), 400, "{path}");
        }
    }
}
