//! Datadog incidents (`GET /api/v2/incidents`) and, when `config.sources` asks for
//! `monitor_events`, monitor alert events (`GET /api/v2/events`).
//!
//! Facts this module relies on (Datadog's OpenAPI description, `DataDog/datadog-api-client-python`
//! `.generator/schemas/v2/openapi.yaml` @ 9a09c580, excerpted in
//! `shared/connectors/tests/specs/datadog-v2-excerpt.json`; the API reference's site table,
//! <https://docs.datadoghq.com/api/latest/incidents/>):
//! - Every request carries `DD-API-KEY` and `DD-APPLICATION-KEY`. Each site has its own API host:
//!   `api.datadoghq.com` (app `app.datadoghq.com`), `api.us3.datadoghq.com` (`us3.datadoghq.com`),
//!   `api.us5.datadoghq.com`, `api.datadoghq.eu` (`app.datadoghq.eu`), `api.ap1.datadoghq.com`,
//!   `api.ap2.datadoghq.com`, `api.uk1.datadoghq.com`, `api.ddog-gov.com` (`app.ddog-gov.com`),
//!   `api.us2.ddog-gov.com`.
//! - `ListIncidents` pages with `page[size]` (at most 100) and `page[offset]`; the answer's
//!   `meta.pagination` echoes `offset`, `size` and `next_offset` (= offset + size, present even on
//!   the last page). It has no time filter and documents no order, so every page is read and
//!   incidents are kept when `modified` falls in the window; the walk never stops early.
//!   Attributes: `public_id` (integer), `title`, `created`, `modified`, `resolved`, `severity`
//!   (`UNKNOWN`, `SEV-0`..`SEV-5`), `state`, `customer_impact_scope`, and `fields`, user-defined
//!   fields as `{"type", "value"}` (`severity`, `state` = `active`/`stable`/`resolved`/`completed`,
//!   `services` a multi-value). `resolved` is "when the incident's state was last changed from
//!   active or stable to resolved or completed": so `resolved`/`completed` resolve an Issue and
//!   `stable` (mitigated, still open in Datadog) does not.
//! - `ListEvents` filters with `filter[query]`, `filter[from]`/`filter[to]` (milliseconds),
//!   sorts with `sort=timestamp`, pages with `page[limit]` (at most 1000) and `page[cursor]`
//!   taken from `meta.page.after` (absent on the last page). An event's `attributes.attributes`
//!   holds `monitor_id`, `monitor_groups`, `monitor` (with `name`), `status` (`error`, `warning`,
//!   `success`, ...), `service` and `title`; `attributes.timestamp` dates it. Monitor
//!   notifications are the events of `source:alert`.
//!
//! Offsets and deletions: an incident deleted between two pages shifts the later ones up by one,
//! so each page starts one incident before the end of the previous one ([`INCIDENT_OVERLAP`]);
//! the overlap is re-read (harmless), and one deletion per page is absorbed.
//!
//! Monitor events: one record per alert or recovery event, keyed by monitor id and group
//! (`monitor/<id>/<group,...>`), so a recovery resolves the Issue its alert opened and a new
//! alert of the same group reopens it. Events are immutable: the event time is the revision.
//! Events of other statuses (`info`, `user_update`, ...) are not alerts and are skipped.

use crate::http::{self, list_answer, Request, Response};
use crate::{text, Auth, Connection, Cursor, Failure, Page, Vendor, VendorRecord, Window};
use causeloop_domain::limits::MAX_EXTERNAL_ID_CHARS;
use causeloop_domain::time_fmt::{format_rfc3339, parse_rfc3339, parse_unix_millis};
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct Datadog;

const KIND: &str = "datadog";
pub const INCIDENTS_PATH: &str = "/api/v2/incidents";
pub const EVENTS_PATH: &str = "/api/v2/events";
/// `page[size]` of the incidents list (its documented maximum).
pub const INCIDENT_PAGE_SIZE: u64 = 100;
/// `page[limit]` of the events list.
pub const EVENT_PAGE_LIMIT: u64 = 100;
/// Incidents each page re-reads from the end of the previous one.
pub const INCIDENT_OVERLAP: u64 = 1;
/// The Events query that selects monitor notifications.
pub const MONITOR_EVENTS_QUERY: &str = "source:alert";

/// What a sync can read, in the order the cursor walks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Incidents,
    MonitorEvents,
}

impl Source {
    const ALL: [Source; 2] = [Source::Incidents, Source::MonitorEvents];

    fn name(self) -> &'static str {
        match self {
            Source::Incidents => "incidents",
            Source::MonitorEvents => "monitor_events",
        }
    }

    fn start(self) -> Position {
        match self {
            Source::Incidents => Position::Incidents { offset: 0 },
            Source::MonitorEvents => Position::MonitorEvents { after: None },
        }
    }
}

/// The sources the connector's config asks for (`["incidents"]` when absent).
fn sources(config: &Map<String, Value>) -> Result<Vec<Source>, Failure> {
    let names: Vec<&str> = match config.get("sources") {
        None | Some(Value::Null) => vec!["incidents"],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(|| Failure::Permanent("datadog: `sources` must hold strings".into())))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Failure::Permanent("datadog: `sources` must be a list".into())),
    };
    if let Some(unknown) = names.iter().find(|name| !Source::ALL.iter().any(|source| source.name() == **name)) {
        return Err(Failure::Permanent(format!(
            "datadog: unknown source `{unknown}`; use `incidents` and/or `monitor_events`"
        )));
    }
    Ok(Source::ALL.into_iter().filter(|source| names.contains(&source.name())).collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
enum Position {
    Incidents { offset: u64 },
    MonitorEvents { after: Option<String> },
}

impl Position {
    fn source(&self) -> Source {
        match self {
            Position::Incidents { .. } => Source::Incidents,
            Position::MonitorEvents { .. } => Source::MonitorEvents,
        }
    }

    fn to_cursor(&self) -> Cursor {
        match self {
            Position::Incidents { offset } => json!({"source": "incidents", "offset": offset}),
            Position::MonitorEvents { after } => json!({"source": "monitor_events", "after": after}),
        }
    }
}

fn position(config: &Map<String, Value>, cursor: &Cursor) -> Result<Position, Failure> {
    if cursor.is_null() {
        return sources(config)?
            .first()
            .map(|source| source.start())
            .ok_or_else(|| Failure::Permanent("datadog: `sources` is empty".into()));
    }
    serde_json::from_value(cursor.clone())
        .map_err(|err| Failure::Permanent(format!("datadog: unreadable checkpoint {cursor}: {err}")))
}

/// The position after `done`'s last page: the next configured source, if any.
fn after_source(config: &Map<String, Value>, done: Source) -> Result<Option<Cursor>, Failure> {
    let sources = sources(config)?;
    let next = sources.iter().skip_while(|source| **source != done).nth(1);
    Ok(next.map(|source| source.start().to_cursor()))
}

/// The web app's host for an API base URL on a known Datadog site, for links to incidents and
/// monitors; `None` elsewhere (a proxy, a test server), where no link is made up.
pub fn app_host(api_base: &str) -> Option<String> {
    let url = url::Url::parse(api_base).ok()?;
    let site = url.host_str()?.strip_prefix("api.")?;
    match site {
        "datadoghq.com" | "datadoghq.eu" | "ddog-gov.com" => Some(format!("app.{site}")),
        "us3.datadoghq.com" | "us5.datadoghq.com" | "ap1.datadoghq.com" | "ap2.datadoghq.com" | "uk1.datadoghq.com"
        | "us2.ddog-gov.com" => Some(site.to_string()),
        _ => None,
    }
}

impl Vendor for Datadog {
    fn kind(&self) -> &'static str {
        KIND
    }

    /// API and application keys; Datadog offers no OAuth grant to this connector.
    fn auth(&self, credentials: &Map<String, Value>, _oauth_access_token: Option<&str>) -> Result<Auth, String> {
        let field = |name: &str| credentials.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
        match (field("api_key"), field("application_key")) {
            (Some(api_key), Some(application_key)) => {
                Ok(Auth::Datadog { api_key: api_key.to_string(), application_key: application_key.to_string() })
            }
            _ => Err("Datadog polling needs `api_key` and `application_key` credentials".into()),
        }
    }

    fn request(&self, connection: &Connection<'_>, window: &Window, cursor: &Cursor) -> Result<Request, Failure> {
        let url = match position(connection.config, cursor)? {
            Position::Incidents { offset } => http::url(
                connection.api_base,
                INCIDENTS_PATH,
                &[("page[size]", INCIDENT_PAGE_SIZE.to_string()), ("page[offset]", offset.to_string())],
            ),
            Position::MonitorEvents { after } => {
                let mut query: Vec<(&str, String)> = vec![
                    ("filter[query]", MONITOR_EVENTS_QUERY.into()),
                    ("filter[from]", window.since_millis.to_string()),
                    ("filter[to]", window.until_millis.to_string()),
                    ("sort", "timestamp".into()),
                    ("page[limit]", EVENT_PAGE_LIMIT.to_string()),
                ];
                if let Some(after) = after {
                    query.push(("page[cursor]", after));
                }
                http::url(connection.api_base, EVENTS_PATH, &query)
            }
        };
        Ok(Request::get(url, connection.auth, &[("accept", "application/json")]))
    }

    fn read(
        &self,
        connection: &Connection<'_>,
        window: &Window,
        cursor: &Cursor,
        response: &Response,
        now_millis: i64,
    ) -> Result<Page, Failure> {
        let (body, data) = list_answer(KIND, response, now_millis, "data")?;
        let app = app_host(connection.api_base);
        let position = position(connection.config, cursor)?;
        let (records, more) = match &position {
            Position::Incidents { offset } => {
                let records = data
                    .iter()
                    .filter_map(|incident| incident_record(incident, app.as_deref()))
                    .filter(|record| in_window(&record.updated_at, window))
                    .collect();
                let size = body.pointer("/meta/pagination/size").and_then(Value::as_u64).unwrap_or(INCIDENT_PAGE_SIZE);
                let read = data.len() as u64;
                let more = (read > 0 && read >= size)
                    .then(|| Position::Incidents { offset: offset + read.saturating_sub(INCIDENT_OVERLAP).max(1) });
                (records, more)
            }
            Position::MonitorEvents { .. } => {
                let records = data.iter().filter_map(|event| event_record(event, app.as_deref())).collect();
                let after = body.pointer("/meta/page/after").and_then(Value::as_str).filter(|after| !after.is_empty());
                let more = after
                    .filter(|_| !data.is_empty())
                    .map(|after| Position::MonitorEvents { after: Some(after.to_string()) });
                (records, more)
            }
        };
        let next = match more {
            Some(more) => Some(more.to_cursor()),
            None => after_source(connection.config, position.source())?,
        };
        Ok(Page { records, next })
    }
}

fn in_window(updated_at: &str, window: &Window) -> bool {
    parse_unix_millis(updated_at)
        .map(|ms| ms as i64)
        .is_some_and(|ms| ms >= window.since_millis && ms < window.until_millis)
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|text| !text.is_empty())
}

fn time_at(value: &Value, pointer: &str) -> Option<String> {
    str_at(value, pointer).and_then(parse_rfc3339).map(format_rfc3339)
}

/// `SEV-0`/`SEV-1` → p1 .. `SEV-5` → p5; `UNKNOWN` (or anything else) says nothing.
fn incident_severity(word: &str) -> Option<&'static str> {
    match word.trim().to_ascii_uppercase().as_str() {
        "SEV-0" | "SEV-1" => Some("p1"),
        "SEV-2" => Some("p2"),
        "SEV-3" => Some("p3"),
        "SEV-4" => Some("p4"),
        "SEV-5" => Some("p5"),
        _ => None,
    }
}

/// A user-defined field's value: a single value, or a multiple value joined with commas.
fn field_value(attributes: &Value, name: &str) -> Option<String> {
    match attributes.pointer(&format!("/fields/{name}/value"))? {
        Value::String(value) => Some(value.trim().to_string()),
        Value::Array(values) => Some(values.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
        _ => None,
    }
    .filter(|value| !value.is_empty())
}

/// One incident as an ingest record, or `None` without a public id or a modification time.
fn incident_record(incident: &Value, app: Option<&str>) -> Option<VendorRecord> {
    let attributes = incident.get("attributes")?;
    let public_id = attributes.get("public_id").and_then(Value::as_u64)?.to_string();
    let updated_at = time_at(attributes, "/modified")?;
    let severity = field_value(attributes, "severity")
        .or_else(|| str_at(attributes, "/severity").map(str::to_string))
        .and_then(|word| incident_severity(&word));
    let body =
        field_value(attributes, "summary").or_else(|| str_at(attributes, "/customer_impact_scope").map(str::to_string));
    let state = field_value(attributes, "state").or_else(|| str_at(attributes, "/state").map(str::to_string));
    let mut record = json!({
        "source": KIND,
        "external_id": text::cut_chars(&public_id, MAX_EXTERNAL_ID_CHARS),
        "title": text::title(str_at(attributes, "/title").unwrap_or(""), &format!("Datadog incident {public_id}")),
        "body": body.as_deref().and_then(text::body),
        "severity": severity,
        "service": field_value(attributes, "services").as_deref().and_then(text::short),
        "external_url": app.map(|app| format!("https://{app}/incidents/{public_id}")),
        "source_created_at": time_at(attributes, "/created"),
        "metadata": {
            "incident_id": str_at(incident, "/id").and_then(text::short),
            "state": state.as_deref().and_then(text::short),
        },
    });
    match state.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("resolved" | "completed") => {
            record["status"] = json!("resolved");
            record["resolved_at"] = json!(time_at(attributes, "/resolved").unwrap_or_else(|| updated_at.clone()));
            if let Some(root_cause) = field_value(attributes, "root_cause").as_deref().and_then(text::fix) {
                record["resolution"] = json!({ "fix": root_cause });
            }
        }
        Some("active" | "stable") => record["status"] = json!("open"),
        _ => {}
    }
    Some(VendorRecord { record, updated_at })
}

/// One monitor alert or recovery event as an ingest record; `None` for other events.
fn event_record(event: &Value, app: Option<&str>) -> Option<VendorRecord> {
    let outer = event.get("attributes")?;
    let inner = outer.get("attributes")?;
    let monitor_id = inner.get("monitor_id").and_then(Value::as_u64)?;
    let updated_at = time_at(outer, "/timestamp").or_else(|| {
        let millis = inner.get("timestamp").and_then(Value::as_i64)?;
        Some(causeloop_domain::time_fmt::format_unix_millis(u64::try_from(millis).ok()?))
    })?;
    let mut groups: Vec<&str> = inner
        .get("monitor_groups")
        .and_then(Value::as_array)
        .map(|groups| groups.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    groups.sort_unstable();
    let external_id = if groups.is_empty() {
        format!("monitor/{monitor_id}")
    } else {
        format!("monitor/{monitor_id}/{}", groups.join(","))
    };
    let (status, severity) = match str_at(inner, "/status")? {
        "error" | "failure" => ("open", Some("p2")),
        "warning" => ("open", Some("p3")),
        "success" => ("resolved", None),
        _ => return None,
    };
    // The monitor's name is stable across alert and recovery; the event title carries a prefix.
    let title = str_at(inner, "/monitor/name").or_else(|| str_at(inner, "/title")).unwrap_or("");
    let mut record = json!({
        "source": KIND,
        "external_id": text::cut_chars(&external_id, MAX_EXTERNAL_ID_CHARS),
        "title": text::title(title, &format!("Datadog monitor {monitor_id}")),
        "body": str_at(outer, "/message").and_then(text::body),
        "severity": severity,
        "service": str_at(inner, "/service").and_then(text::short),
        "external_url": app.map(|app| format!("https://{app}/monitors/{monitor_id}")),
        "status": status,
        "metadata": {
            "monitor_id": monitor_id,
            "event_id": str_at(event, "/id").and_then(text::short),
        },
    });
    if status == "resolved" {
        record["resolved_at"] = json!(updated_at);
    } else {
        record["source_created_at"] = json!(updated_at);
    }
    Some(VendorRecord { record, updated_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeloop_domain::ingest::normalize_record;

    const BASE: &str = "https://api.datadoghq.com";
    /// 2020-09-17T00:00:00Z to 2020-09-18T00:00:00Z.
    const WINDOW: Window = Window { since_millis: 1_600_300_800_000, until_millis: 1_600_387_200_000 };

    fn auth() -> Auth {
        Auth::Datadog { api_key: "dd-api".into(), application_key: "dd-app".into() }
    }

    fn config(sources: &[&str]) -> Map<String, Value> {
        let mut config = Map::new();
        config.insert("base_url".into(), json!(BASE));
        if !sources.is_empty() {
            config.insert("sources".into(), json!(sources));
        }
        config
    }

    /// An incident shaped like the `ListIncidents` example of Datadog's OpenAPI description.
    fn incident() -> Value {
        json!({
            "attributes": {
                "created": "2020-04-21T15:34:08.627205+00:00",
                "creation_idempotency_key": null,
                "customer_impact_duration": 0,
                "customer_impact_end": null,
                "customer_impact_scope": "Checkout fails for EU customers",
                "customer_impact_start": null,
                "customer_impacted": true,
                "detected": "2020-04-14T00:00:00+00:00",
                "fields": {
                    "severity": {"type": "dropdown", "value": "SEV-2"},
                    "state": {"type": "dropdown", "value": "resolved"},
                    "summary": {"type": "textbox", "value": "Payments API returned 502s after the deploy."},
                    "services": {"type": "autocomplete", "value": ["payments-api", "checkout"]},
                    "root_cause": {"type": "textbox", "value": "Rolled back release 2020.09.17-1."}
                },
                "incident_type_uuid": "00000000-0000-0000-0000-000000000001",
                "modified": "2020-09-17T14:16:58.696424+00:00",
                "public_id": 1,
                "resolved": "2020-09-17T14:10:00+00:00",
                "severity": "SEV-2",
                "state": "resolved",
                "time_to_detect": 0,
                "time_to_internal_response": 0,
                "time_to_repair": 0,
                "time_to_resolve": 0,
                "title": "Example Incident"
            },
            "id": "00000000-aaaa-0000-0000-000000000000",
            "relationships": {},
            "type": "incidents"
        })
    }

    fn incidents_page(data: Vec<Value>, offset: u64, size: u64) -> Response {
        let body = json!({"data": data, "included": [], "meta": {"pagination": {"offset": offset, "next_offset": offset + size, "size": size}}});
        Response { status: 200, headers: vec![], body: body.to_string().into_bytes() }
    }

    /// A monitor event shaped like the `ListEvents` schema (`EventResponse`).
    fn monitor_event(id: &str, status: &str, timestamp: &str) -> Value {
        json!({
            "id": id,
            "type": "event",
            "attributes": {
                "message": "%%%\nCPU above 90% on host:web-1\n%%%",
                "tags": ["monitor", "service:web"],
                "timestamp": timestamp,
                "attributes": {
                    "monitor_id": 123456,
                    "monitor_groups": ["host:web-1"],
                    "monitor": {"id": 123456, "name": "High CPU on {{host.name}}", "type": "metric alert"},
                    "status": status,
                    "service": "web",
                    "title": "[Triggered on {host:web-1}] High CPU on web-1",
                    "priority": "normal",
                    "source_type_name": "Monitor Alert"
                }
            }
        })
    }

    fn events_page(data: Vec<Value>, after: Option<&str>) -> Response {
        let mut body = json!({"data": data, "links": {}, "meta": {"elapsed": 12, "request_id": "r", "status": "done", "page": {}}});
        if let Some(after) = after {
            body["meta"]["page"]["after"] = json!(after);
        }
        Response { status: 200, headers: vec![], body: body.to_string().into_bytes() }
    }

    #[test]
    fn incidents_are_listed_by_offset_with_both_keys() {
        let config = config(&[]);
        let auth = auth();
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let request = Datadog.request(&connection, &WINDOW, &Value::Null).unwrap();
        assert_eq!(request.url, "https://api.datadoghq.com/api/v2/incidents?page[size]=100&page[offset]=0");
        assert_eq!(request.header("dd-api-key"), Some("dd-api"));
        assert_eq!(request.header("dd-application-key"), Some("dd-app"));
    }

    #[test]
    fn every_incident_field_is_mapped() {
        let record = incident_record(&incident(), app_host(BASE).as_deref()).unwrap();
        assert_eq!(record.updated_at, "2020-09-17T14:16:58.696Z");
        assert_eq!(
            record.record,
            json!({
                "source": "datadog",
                "external_id": "1",
                "title": "Example Incident",
                "body": "Payments API returned 502s after the deploy.",
                "severity": "p2",
                "service": "payments-api, checkout",
                "external_url": "https://app.datadoghq.com/incidents/1",
                "source_created_at": "2020-04-21T15:34:08.627Z",
                "status": "resolved",
                "resolved_at": "2020-09-17T14:10:00.000Z",
                "resolution": {"fix": "Rolled back release 2020.09.17-1."},
                "metadata": {"incident_id": "00000000-aaaa-0000-0000-000000000000", "state": "resolved"},
            })
        );
        normalize_record(&record.record).unwrap();
    }

    #[test]
    fn stable_and_active_incidents_are_open_and_unknown_severity_says_nothing() {
        let mut reopened = incident();
        reopened["attributes"]["fields"]["state"]["value"] = json!("active");
        reopened["attributes"]["fields"]["severity"]["value"] = json!("UNKNOWN");
        reopened["attributes"]["severity"] = json!("UNKNOWN");
        let record = incident_record(&reopened, None).unwrap().record;
        assert_eq!(record["status"], "open");
        assert_eq!(record["severity"], Value::Null);
        assert_eq!(record.get("resolved_at"), None);
        assert_eq!(record.get("resolution"), None);
        assert_eq!(record["external_url"], Value::Null, "no link for an unknown site");
        normalize_record(&record).unwrap();

        let mut stable = incident();
        stable["attributes"]["fields"]["state"]["value"] = json!("stable");
        stable["attributes"]["fields"]["severity"]["value"] = json!("SEV-0");
        let record = incident_record(&stable, None).unwrap().record;
        assert_eq!((record["status"].as_str(), record["severity"].as_str()), (Some("open"), Some("p1")));
    }

    #[test]
    fn app_links_follow_the_site() {
        assert_eq!(app_host("https://api.datadoghq.eu").as_deref(), Some("app.datadoghq.eu"));
        assert_eq!(app_host("https://api.us3.datadoghq.com/").as_deref(), Some("us3.datadoghq.com"));
        assert_eq!(app_host("https://api.ddog-gov.com").as_deref(), Some("app.ddog-gov.com"));
        assert_eq!(app_host("http://127.0.0.1:8080"), None);
        assert_eq!(app_host("https://api.evil.example"), None);
    }

    #[test]
    fn incident_pages_overlap_by_one_keep_the_window_and_end_on_a_short_page() {
        let config = config(&["incidents", "monitor_events"]);
        let auth = auth();
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let mut old = incident();
        old["attributes"]["public_id"] = json!(2);
        old["attributes"]["modified"] = json!("2020-09-16T23:59:59.999+00:00");
        let full = incidents_page(vec![incident(), old], 0, 2);
        let page = Datadog.read(&connection, &WINDOW, &Value::Null, &full, 0).unwrap();
        let ids: Vec<&str> = page.records.iter().map(|r| r.record["external_id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec!["1"], "modified before the window");
        assert_eq!(page.next, Some(json!({"source": "incidents", "offset": 1})));

        let short = incidents_page(vec![incident()], 1, 2);
        let page = Datadog.read(&connection, &WINDOW, &json!({"source": "incidents", "offset": 1}), &short, 0).unwrap();
        assert_eq!(page.next, Some(json!({"source": "monitor_events", "after": null})), "then the next source");
    }

    #[test]
    fn monitor_events_are_filtered_by_time_and_walk_their_cursor() {
        let config = config(&["monitor_events"]);
        let auth = auth();
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let request = Datadog.request(&connection, &WINDOW, &Value::Null).unwrap();
        let url = url::Url::parse(&request.url).unwrap();
        assert_eq!(url.path(), "/api/v2/events");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            query,
            vec![
                ("filter[query]".to_string(), "source:alert".to_string()),
                ("filter[from]".into(), "1600300800000".into()),
                ("filter[to]".into(), "1600387200000".into()),
                ("sort".into(), "timestamp".into()),
                ("page[limit]".into(), "100".into()),
            ]
        );
        let alert =
            monitor_event("AAAAAWgN8Xwgr1vKDQAAAABBV2dOOFh3ZzZobm1mWXJFYTR0OA", "error", "2020-09-17T09:42:36.320Z");
        let page = Datadog
            .read(
                &connection,
                &WINDOW,
                &Value::Null,
                &events_page(
                    vec![alert],
                    Some("eyJzdGFydEF0IjoiQVFBQUFYS2tMS3pPbm40NGV3QUFBQUJCV0V0clRFdDZVbG8zY3pCRmNsbHJiVmxDWlEifQ=="),
                ),
                0,
            )
            .unwrap();
        let cursor = page.next.unwrap();
        assert_eq!(
            cursor,
            json!({"source": "monitor_events", "after": "eyJzdGFydEF0IjoiQVFBQUFYS2tMS3pPbm40NGV3QUFBQUJCV0V0clRFdDZVbG8zY3pCRmNsbHJiVmxDWlEifQ=="})
        );
        assert_eq!(
            page.records[0].record,
            json!({
                "source": "datadog",
                "external_id": "monitor/123456/host:web-1",
                "title": "High CPU on {{host.name}}",
                "body": "%%%\nCPU above 90% on host:web-1\n%%%",
                "severity": "p2",
                "service": "web",
                "external_url": "https://app.datadoghq.com/monitors/123456",
                "status": "open",
                "source_created_at": "2020-09-17T09:42:36.320Z",
                "metadata": {"monitor_id": 123456, "event_id": "AAAAAWgN8Xwgr1vKDQAAAABBV2dOOFh3ZzZobm1mWXJFYTR0OA"},
            })
        );
        let next_request = Datadog.request(&connection, &WINDOW, &cursor).unwrap();
        assert!(next_request.url.contains("&page[cursor]=eyJzdGFydEF0Ij"), "{}", next_request.url);

        let recovery =
            monitor_event("AAAAAWgN8Xwgr1vKDQAAAABBV2dOOFh3ZzZobm1mWXJFYTR0OQ", "success", "2020-09-17T10:00:00.000Z");
        let info =
            monitor_event("AAAAAWgN8Xwgr1vKDQAAAABBV2dOOFh3ZzZobm1mWXJFYTR0OR", "info", "2020-09-17T10:01:00.000Z");
        let last = Datadog.read(&connection, &WINDOW, &cursor, &events_page(vec![recovery, info], None), 0).unwrap();
        assert_eq!(last.next, None);
        assert_eq!(last.records.len(), 1, "info events are not alerts");
        let resolved = &last.records[0].record;
        assert_eq!(
            (resolved["status"].as_str(), resolved["resolved_at"].as_str()),
            (Some("resolved"), Some("2020-09-17T10:00:00.000Z"))
        );
        assert_eq!(resolved["external_id"], "monitor/123456/host:web-1", "the recovery names the alert's Issue");
        normalize_record(resolved).unwrap();
    }

    #[test]
    fn huge_text_is_cut() {
        let mut big = incident();
        big["attributes"]["title"] = json!("t".repeat(2_000));
        big["attributes"]["fields"]["summary"]["value"] = json!("b".repeat(200_000));
        big["attributes"]["fields"]["root_cause"]["value"] = json!("r".repeat(9_000));
        let record = incident_record(&big, None).unwrap().record;
        assert_eq!(record["title"].as_str().unwrap().chars().count(), causeloop_domain::limits::MAX_TITLE_CHARS);
        assert_eq!(record["body"].as_str().unwrap().len(), causeloop_domain::limits::MAX_BODY_BYTES);
        normalize_record(&record).unwrap();
    }

    #[test]
    fn bad_config_rate_limits_and_refused_keys_are_failures() {
        let auth = auth();
        let bad = config(&["logs"]);
        let connection = Connection { api_base: BASE, config: &bad, auth: &auth };
        assert!(matches!(Datadog.request(&connection, &WINDOW, &Value::Null), Err(Failure::Permanent(_))));
        let config = config(&[]);
        let connection = Connection { api_base: BASE, config: &config, auth: &auth };
        let throttled = Response {
            status: 429,
            headers: vec![("retry-after".into(), "9".into()), ("x-ratelimit-remaining".into(), "0".into())],
            body: br#"{"errors":["Rate limit of 1000 requests per 60 seconds reached"]}"#.to_vec(),
        };
        assert_eq!(
            Datadog.read(&connection, &WINDOW, &Value::Null, &throttled, 0),
            Err(Failure::RateLimited { retry_after_seconds: 9 })
        );
        let forbidden = Response { status: 403, headers: vec![], body: br#"{"errors":["Forbidden"]}"#.to_vec() };
        assert!(matches!(Datadog.read(&connection, &WINDOW, &Value::Null, &forbidden, 0), Err(Failure::Permanent(_))));
        let refused = Response { status: 401, headers: vec![], body: br#"{"errors":["Unauthorized"]}"#.to_vec() };
        assert!(matches!(Datadog.read(&connection, &WINDOW, &Value::Null, &refused, 0), Err(Failure::Unauthorized(_))));
        let mut credentials = Map::new();
        credentials.insert("api_key".into(), json!("a"));
        assert!(Datadog.auth(&credentials, Some("ignored")).is_err());
        credentials.insert("application_key".into(), json!("b"));
        assert_eq!(
            Datadog.auth(&credentials, None),
            Ok(Auth::Datadog { api_key: "a".into(), application_key: "b".into() })
        );
        assert_eq!(Datadog.oauth(), None);
    }
}
