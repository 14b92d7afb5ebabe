//! ServiceNow incidents, read from the Table API (`GET {base_url}/api/now/table/incident`).
//!
//! Facts this module relies on (ServiceNow's Table API reference, `ServiceNow/ServiceNowDocs`
//! `markdown/api-reference/rest-apis/c_TableAPI.md`, transcribed into
//! `shared/vendor-specs/servicenow-table.handwritten.yaml`; the Table API FAQ, KB0534905):
//! - `sysparm_query` takes an encoded query: conditions joined by `^` (AND); `^OR` binds to the
//!   condition before it; `^NQ` starts a new OR-ed query; `ORDERBY<field>` sorts.
//! - `sysparm_limit` / `sysparm_offset` page; `sysparm_fields` selects columns;
//!   `sysparm_exclude_reference_link=true` drops reference links; `sysparm_no_count=true` skips
//!   the total count.
//! - `sysparm_display_value`: `false` (the default) answers stored values, `true` display values,
//!   `all` both as `{"display_value", "value"}`. Date-times are stored in UTC as
//!   `yyyy-MM-dd HH:mm:ss`; their *display* value is in the session user's time zone and format.
//!   A plain date-time literal in a web-service query is taken as UTC (only
//!   `javascript:gs.dateGenerate(...)` is read in the user's zone). This module asks for `all`:
//!   times from `value` (UTC), labels (`cmdb_ci`'s name, `close_code`) from `display_value`.
//! - Incident `state` 6 is Resolved, 7 Closed (8 Canceled); `priority` 1 (Critical) to 5
//!   (Planning), by default `impact + urgency - 1` (both 1–3); `resolved_at`, `closed_at`,
//!   `close_code` (the resolution code) and `close_notes` (the resolution notes).
//! - OAuth 2.0 authorization code at `{instance}/oauth_auth.do` and `{instance}/oauth_token.do`;
//!   a private client authenticates with its client secret (PKCE is for public clients), and the
//!   grant's scope is the application registry's (default `useraccount`) when none is asked
//!   (<https://www.servicenow.com/docs/r/platform-security/authentication/authorization-workflow.html>).
//!
//! Paging without loss: rows are ordered by `sys_updated_on`, then `sys_id`. Offsets alone would
//! skip a row whenever a row before it is updated during the walk (it leaves its place and the
//! rest shift up), so the cursor is a keyset on `sys_updated_on`: each page starts again at the
//! last update time read (`sys_updated_on>=T`, offset 0), re-reading the rows of that second
//! (harmless) rather than counting past them. Only when a whole page shares one second does the
//! cursor count rows within that second (`sysparm_offset`); a row of that very second updated
//! between two such requests can then shift one neighbour past the offset — the one residual
//! risk, which needs more than [`PAGE_LIMIT`] rows updated in the same second. The walk ends on
//! an empty page: short pages do not prove the end (ACLs filter rows after the limit applies).

use crate::http::{self, list_answer, Request, Response};
use crate::oauth::OAuthVendor;
use crate::{text, Auth, Connection, Cursor, Failure, Page, Vendor, VendorRecord, Window};
use causeloop_domain::limits::{MAX_EXTERNAL_ID_CHARS, MAX_URL_CHARS};
use causeloop_domain::time_fmt::{format_rfc3339, format_unix_millis, parse_rfc3339, parse_unix_millis};
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct ServiceNow;

/// The instance's own authorization server; URLs follow the connector's base URL.
pub static OAUTH: OAuthVendor = OAuthVendor {
    authorize_url: "{base_url}/oauth_auth.do",
    token_url: "{base_url}/oauth_token.do",
    scopes: &[],
    authorize_params: &[],
    pkce: false,
};

const KIND: &str = "servicenow";
pub const TABLE_PATH: &str = "/api/now/table/incident";
/// Rows per page.
pub const PAGE_LIMIT: u64 = 100;
/// The columns read.
pub const FIELDS: &str = "sys_id,number,short_description,description,priority,impact,urgency,state,cmdb_ci,\
business_service,sys_created_on,sys_updated_on,resolved_at,closed_at,close_code,close_notes";

/// Where a walk is: rows updated at or after `from` (Unix seconds, UTC), past `skip` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
struct Position {
    from: i64,
    skip: u64,
}

impl Position {
    fn parse(cursor: &Cursor, window: &Window) -> Result<Self, Failure> {
        if cursor.is_null() {
            return Ok(Position { from: window.since_millis.div_euclid(1000), skip: 0 });
        }
        serde_json::from_value(cursor.clone())
            .map_err(|err| Failure::Permanent(format!("servicenow: unreadable checkpoint {cursor}: {err}")))
    }

    fn to_cursor(self) -> Cursor {
        json!({"from": self.from, "skip": self.skip})
    }
}

/// Unix seconds as a ServiceNow date-time literal (UTC).
fn literal(seconds: i64) -> String {
    let iso = format_unix_millis(seconds.max(0) as u64 * 1000);
    iso[..19].replacen('T', " ", 1)
}

/// A stored ServiceNow date-time (`yyyy-MM-dd HH:mm:ss`, UTC) in RFC 3339 form.
fn stored_as_rfc3339(value: &str) -> Option<String> {
    let value = value.trim();
    (value.len() == 19).then(|| format!("{}Z", value.replacen(' ', "T", 1)))
}

/// A stored date-time as Unix milliseconds.
fn stored_millis(value: &str) -> Option<i64> {
    parse_unix_millis(&stored_as_rfc3339(value)?).map(|ms| ms as i64)
}

/// A stored date-time as RFC 3339 UTC with milliseconds, the ingest form.
fn stored_rfc3339(value: &str) -> Option<String> {
    parse_rfc3339(&stored_as_rfc3339(value)?).map(format_rfc3339)
}

/// The connector's extra encoded query, checked to be safe to AND in.
fn extra_query(config: &Map<String, Value>) -> Result<Option<String>, Failure> {
    match config.get("query") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(query)) => {
            let query = query.trim().trim_matches('^');
            if query.is_empty() {
                return Ok(None);
            }
            // `^NQ` would OR a second query past the time bounds; `ORDERBY` would change the
            // order paging relies on.
            if query.contains("^NQ") || query.to_ascii_uppercase().contains("ORDERBY") {
                return Err(Failure::Permanent(
                    "servicenow: `query` may not contain ^NQ or ORDERBY (the sync adds its own time bounds and order)"
                        .into(),
                ));
            }
            Ok(Some(query.to_string()))
        }
        Some(_) => Err(Failure::Permanent("servicenow: `query` must be an encoded query string".into())),
    }
}

impl Vendor for ServiceNow {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn auth(&self, credentials: &Map<String, Value>, oauth_access_token: Option<&str>) -> Result<Auth, String> {
        if let Some(token) = oauth_access_token {
            return Ok(Auth::Bearer(token.to_string()));
        }
        let field = |name: &str| credentials.get(name).and_then(Value::as_str).filter(|value| !value.is_empty());
        match (field("username"), field("password")) {
            (Some(user), Some(password)) => Ok(Auth::Basic { user: user.to_string(), password: password.to_string() }),
            _ => Err("ServiceNow polling needs `username` and `password` credentials or an OAuth grant".into()),
        }
    }

    fn request(&self, connection: &Connection<'_>, window: &Window, cursor: &Cursor) -> Result<Request, Failure> {
        let position = Position::parse(cursor, window)?;
        // Stored times have whole seconds: the upper bound is rounded up, so nothing in the
        // window's last second is left out (it is read again next time, which is harmless).
        let until_seconds = window.until_millis.div_euclid(1000) + i64::from(window.until_millis.rem_euclid(1000) != 0);
        let mut conditions = vec![
            format!("sys_updated_on>={}", literal(position.from)),
            format!("sys_updated_on<{}", literal(until_seconds)),
        ];
        conditions.extend(extra_query(connection.config)?);
        conditions.push("ORDERBYsys_updated_on".into());
        conditions.push("ORDERBYsys_id".into());
        let query: Vec<(&str, String)> = vec![
            ("sysparm_query", conditions.join("^")),
            ("sysparm_display_value", "all".into()),
            ("sysparm_exclude_reference_link", "true".into()),
            ("sysparm_fields", FIELDS.into()),
            ("sysparm_no_count", "true".into()),
            ("sysparm_limit", PAGE_LIMIT.to_string()),
            ("sysparm_offset", position.skip.to_string()),
        ];
        let url = http::url(connection.api_base, TABLE_PATH, &query);
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
        let (_, rows) = list_answer(KIND, response, now_millis, "result")?;
        let position = Position::parse(cursor, window)?;
        let Some(last_second) =
            rows.last().map(|row| stored(row, "sys_updated_on").and_then(stored_millis).map(|ms| ms.div_euclid(1000)))
        else {
            return Ok(Page { records: Vec::new(), next: None });
        };
        let last_second = last_second
            .ok_or_else(|| Failure::Permanent("servicenow: a row has no readable `sys_updated_on`".into()))?;
        let next = if last_second > position.from {
            Position { from: last_second, skip: 0 }
        } else {
            Position { from: position.from, skip: position.skip + rows.len() as u64 }
        };
        let records = rows.iter().filter_map(|row| record(connection.api_base, row)).collect();
        Ok(Page { records, next: Some(next.to_cursor()) })
    }

    fn oauth(&self) -> Option<&'static OAuthVendor> {
        Some(&OAUTH)
    }
}

/// A field's stored value: `{"value": ...}` with `sysparm_display_value=all`, or a plain string.
fn stored<'a>(row: &'a Value, field: &str) -> Option<&'a str> {
    let value = row.get(field)?;
    value.get("value").unwrap_or(value).as_str().map(str::trim).filter(|text| !text.is_empty())
}

/// A field's display value (a reference's name, a choice's label), else its stored value.
fn display<'a>(row: &'a Value, field: &str) -> Option<&'a str> {
    let value = row.get(field)?;
    value
        .get("display_value")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .or_else(|| stored(row, field))
}

fn level(row: &Value, field: &str) -> Option<u8> {
    stored(row, field)?.parse().ok()
}

/// `priority` 1–5, else ServiceNow's default matrix `impact + urgency - 1`.
fn severity(row: &Value) -> Option<&'static str> {
    let priority = level(row, "priority").filter(|priority| (1..=5).contains(priority)).or_else(|| {
        match (level(row, "impact"), level(row, "urgency")) {
            (Some(impact @ 1..=3), Some(urgency @ 1..=3)) => Some(impact + urgency - 1),
            _ => None,
        }
    })?;
    ["p1", "p2", "p3", "p4", "p5"].get(usize::from(priority) - 1).copied()
}

/// One incident row as an ingest record, or `None` without a number or an update time.
fn record(base: &str, row: &Value) -> Option<VendorRecord> {
    let number = stored(row, "number")?;
    let updated_at = stored(row, "sys_updated_on").and_then(stored_rfc3339)?;
    // A sys_id is 32 hexadecimal characters; anything else is not put into a URL.
    let sys_id = stored(row, "sys_id").filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    let external_url = sys_id
        .map(|id| format!("{}/nav_to.do?uri=incident.do?sys_id={id}", base.trim_end_matches('/')))
        .filter(|url| url.len() <= MAX_URL_CHARS);
    let service = display(row, "cmdb_ci").or_else(|| display(row, "business_service"));
    let mut record = json!({
        "source": KIND,
        "external_id": text::cut_chars(number, MAX_EXTERNAL_ID_CHARS),
        "title": text::title(display(row, "short_description").unwrap_or(""), &format!("ServiceNow incident {number}")),
        "body": display(row, "description").and_then(text::body),
        "severity": severity(row),
        "service": service.and_then(text::short),
        "external_url": external_url,
        "source_created_at": stored(row, "sys_created_on").and_then(stored_rfc3339),
        "metadata": {
            "sys_id": sys_id,
            "state": display(row, "state").and_then(text::short),
            "impact": level(row, "impact"),
            "urgency": level(row, "urgency"),
        },
    });
    match level(row, "state") {
        Some(6 | 7) => {
            record["status"] = json!("resolved");
            let resolved_at = stored(row, "resolved_at").or_else(|| stored(row, "closed_at")).and_then(stored_rfc3339);
            record["resolved_at"] = json!(resolved_at);
            record["resolution"] = json!({
                "fix": display(row, "close_notes").and_then(text::fix),
                "note": display(row, "close_code").and_then(text::fix),
            });
        }
        _ => record["status"] = json!("open"),
    }
    Some(VendorRecord { record, updated_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeloop_domain::ingest::normalize_record;

    const BASE: &str = "https://dev12345.service-now.com";
    /// 2024-01-02T00:00:00Z and 2024-01-03T00:00:00.500Z.
    const WINDOW: Window = Window { since_millis: 1_704_153_600_000, until_millis: 1_704_240_000_500 };

    fn field(value: &str, display: &str) -> Value {
        json!({"display_value": display, "value": value})
    }

    /// A row as the Table API answers it with `sysparm_display_value=all` and
    /// `sysparm_exclude_reference_link=true` (display values in the user's zone, US/Pacific here).
    fn resolved_row() -> Value {
        json!({
            "sys_id": field("9d385017c611228701d22104cc95c371", "9d385017c611228701d22104cc95c371"),
            "number": field("INC0010001", "INC0010001"),
            "short_description": field("Can't read email", "Can't read email"),
            "description": field("User cannot open Outlook since 9am.", "User cannot open Outlook since 9am."),
            "priority": field("2", "2 - High"),
            "impact": field("1", "1 - High"),
            "urgency": field("2", "2 - Medium"),
            "state": field("6", "Resolved"),
            "cmdb_ci": field("281190e3c0a8000b003f593aa3f20ca6", "EXCH-SD-05"),
            "business_service": field("", ""),
            "sys_created_on": field("2024-01-02 10:00:00", "2024-01-02 02:00:00"),
            "sys_updated_on": field("2024-01-02 12:30:05", "2024-01-02 04:30:05"),
            "resolved_at": field("2024-01-02 12:30:00", "2024-01-02 04:30:00"),
            "closed_at": field("", ""),
            "close_code": field("Solved (Permanently)", "Solved (Permanently)"),
            "close_notes": field("Restarted the Exchange transport service.", "Restarted the Exchange transport service.")
        })
    }

    fn answer(rows: Vec<Value>) -> Response {
        Response { status: 200, headers: vec![], body: json!({ "result": rows }).to_string().into_bytes() }
    }

    fn with_updated(mut row: Value, number: &str, updated: &str) -> Value {
        row["number"] = field(number, number);
        row["sys_updated_on"] = field(updated, updated);
        row
    }

    fn connection<'a>(config: &'a Map<String, Value>, auth: &'a Auth) -> Connection<'a> {
        Connection { api_base: BASE, config, auth }
    }

    #[test]
    fn the_request_bounds_update_times_in_utc_and_orders_for_keyset_paging() {
        let mut config = Map::new();
        config.insert("query".into(), json!("assignment_group=287ebd7da9fe198100f92cc8d1d2154e^ORpriority=1"));
        let auth = Auth::Basic { user: "integration".into(), password: "pw".into() };
        let request = ServiceNow.request(&connection(&config, &auth), &WINDOW, &Value::Null).unwrap();
        let url = url::Url::parse(&request.url).unwrap();
        assert_eq!(url.path(), "/api/now/table/incident");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            query,
            vec![
                (
                    "sysparm_query".to_string(),
                    "sys_updated_on>=2024-01-02 00:00:00^sys_updated_on<2024-01-03 00:00:01\
                     ^assignment_group=287ebd7da9fe198100f92cc8d1d2154e^ORpriority=1^ORDERBYsys_updated_on^ORDERBYsys_id"
                        .to_string()
                ),
                ("sysparm_display_value".into(), "all".into()),
                ("sysparm_exclude_reference_link".into(), "true".into()),
                ("sysparm_fields".into(), FIELDS.into()),
                ("sysparm_no_count".into(), "true".into()),
                ("sysparm_limit".into(), "100".into()),
                ("sysparm_offset".into(), "0".into()),
            ]
        );
        assert_eq!(request.header("authorization"), Some("Basic aW50ZWdyYXRpb246cHc="));
        assert_eq!(request.header("accept"), Some("application/json"));
    }

    #[test]
    fn a_query_that_would_escape_the_time_bounds_is_refused() {
        let auth = Auth::Bearer("t".into());
        for bad in ["active=true^NQpriority=1", "active=true^ORDERBYDESCnumber"] {
            let mut config = Map::new();
            config.insert("query".into(), json!(bad));
            assert!(matches!(
                ServiceNow.request(&connection(&config, &auth), &WINDOW, &Value::Null),
                Err(Failure::Permanent(_))
            ));
        }
    }

    #[test]
    fn every_field_is_mapped_from_stored_utc_values_and_labels() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let page = ServiceNow
            .read(&connection(&config, &auth), &WINDOW, &Value::Null, &answer(vec![resolved_row()]), 0)
            .unwrap();
        let VendorRecord { record, updated_at } = &page.records[0];
        assert_eq!(updated_at, "2024-01-02T12:30:05.000Z");
        assert_eq!(
            record,
            &json!({
                "source": "servicenow",
                "external_id": "INC0010001",
                "title": "Can't read email",
                "body": "User cannot open Outlook since 9am.",
                "severity": "p2",
                "service": "EXCH-SD-05",
                "external_url": "https://dev12345.service-now.com/nav_to.do?uri=incident.do?sys_id=9d385017c611228701d22104cc95c371",
                "source_created_at": "2024-01-02T10:00:00.000Z",
                "status": "resolved",
                "resolved_at": "2024-01-02T12:30:00.000Z",
                "resolution": {"fix": "Restarted the Exchange transport service.", "note": "Solved (Permanently)"},
                "metadata": {"sys_id": "9d385017c611228701d22104cc95c371", "state": "Resolved", "impact": 1, "urgency": 2},
            })
        );
        normalize_record(record).unwrap();
        assert_eq!(page.next, Some(json!({"from": 1_704_198_605_i64, "skip": 0})));
    }

    #[test]
    fn closed_rows_fall_back_to_closed_at_and_reopened_rows_are_open() {
        let mut closed = resolved_row();
        closed["state"] = field("7", "Closed");
        closed["resolved_at"] = field("", "");
        closed["closed_at"] = field("2024-01-02 13:00:00", "2024-01-02 05:00:00");
        closed["priority"] = field("", "");
        closed["impact"] = field("3", "3 - Low");
        closed["urgency"] = field("3", "3 - Low");
        closed["cmdb_ci"] = field("", "");
        closed["business_service"] = field("27d32778c0a8000b00db970eeaa60f16", "Email");
        let record = super::record(BASE, &closed).unwrap().record;
        assert_eq!(record["resolved_at"], "2024-01-02T13:00:00.000Z");
        assert_eq!(record["severity"], "p5", "impact 3 + urgency 3 - 1");
        assert_eq!(record["service"], "Email");

        let mut reopened = resolved_row();
        reopened["state"] = field("2", "In Progress");
        let record = super::record(BASE, &reopened).unwrap().record;
        assert_eq!(record["status"], "open");
        assert_eq!(record.get("resolved_at"), None);
        assert_eq!(record.get("resolution"), None);
        normalize_record(&record).unwrap();
    }

    #[test]
    fn huge_text_is_cut_and_odd_sys_ids_stay_out_of_urls() {
        let mut row = resolved_row();
        row["short_description"] = field(&"x".repeat(3_000), &"x".repeat(3_000));
        row["description"] = field(&"😀".repeat(40_000), &"😀".repeat(40_000));
        row["close_notes"] = field(&"n".repeat(10_000), &"n".repeat(10_000));
        row["sys_id"] = field("../../evil", "../../evil");
        let record = super::record(BASE, &row).unwrap().record;
        assert_eq!(record["title"].as_str().unwrap().chars().count(), causeloop_domain::limits::MAX_TITLE_CHARS);
        assert!(record["body"].as_str().unwrap().len() <= causeloop_domain::limits::MAX_BODY_BYTES);
        assert_eq!(
            record["resolution"]["fix"].as_str().unwrap().chars().count(),
            causeloop_domain::limits::MAX_RESOLUTION_TEXT_CHARS
        );
        assert_eq!(record["external_url"], Value::Null);
        normalize_record(&record).unwrap();
    }

    #[test]
    fn pages_restart_at_the_last_update_second_and_count_only_within_one_second() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let connection = connection(&config, &auth);
        let two_seconds = answer(vec![
            with_updated(resolved_row(), "INC1", "2024-01-02 10:00:00"),
            with_updated(resolved_row(), "INC2", "2024-01-02 10:00:07"),
        ]);
        let page = ServiceNow.read(&connection, &WINDOW, &Value::Null, &two_seconds, 0).unwrap();
        let next = page.next.unwrap();
        assert_eq!(next, json!({"from": 1_704_189_607_i64, "skip": 0}));
        let request = ServiceNow.request(&connection, &WINDOW, &next).unwrap();
        assert!(request.url.contains("sys_updated_on%3E%3D2024-01-02+10%3A00%3A07%5E"), "{}", request.url);

        let one_second = answer(vec![
            with_updated(resolved_row(), "INC2", "2024-01-02 10:00:07"),
            with_updated(resolved_row(), "INC3", "2024-01-02 10:00:07"),
        ]);
        let page = ServiceNow.read(&connection, &WINDOW, &next, &one_second, 0).unwrap();
        let within = page.next.unwrap();
        assert_eq!(within, json!({"from": 1_704_189_607_i64, "skip": 2}));
        assert!(ServiceNow.request(&connection, &WINDOW, &within).unwrap().url.ends_with("sysparm_offset=2"));

        let empty = ServiceNow.read(&connection, &WINDOW, &within, &answer(vec![]), 0).unwrap();
        assert_eq!(empty, Page { records: vec![], next: None });
    }

    #[test]
    fn rate_limits_and_refused_credentials_are_failures() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let throttled = Response {
            status: 429,
            headers: vec![("retry-after".into(), "30".into())],
            body: br#"{"error":{"message":"Rate limit exceeded"},"status":"failure"}"#.to_vec(),
        };
        assert_eq!(
            ServiceNow.read(&connection(&config, &auth), &WINDOW, &Value::Null, &throttled, 0),
            Err(Failure::RateLimited { retry_after_seconds: 30 })
        );
        let refused = Response {
            status: 401,
            headers: vec![],
            body: br#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#
                .to_vec(),
        };
        assert!(matches!(
            ServiceNow.read(&connection(&config, &auth), &WINDOW, &Value::Null, &refused, 0),
            Err(Failure::Unauthorized(_))
        ));
    }

    #[test]
    fn credentials_and_oauth_grants_pick_their_header() {
        let mut credentials = Map::new();
        credentials.insert("username".into(), json!("integration"));
        assert!(ServiceNow.auth(&credentials, None).is_err());
        credentials.insert("password".into(), json!("pw"));
        assert_eq!(
            ServiceNow.auth(&credentials, None),
            Ok(Auth::Basic { user: "integration".into(), password: "pw".into() })
        );
        assert_eq!(ServiceNow.auth(&credentials, Some("tok")), Ok(Auth::Bearer("tok".into())));
        let oauth = ServiceNow.oauth().unwrap();
        assert_eq!(
            crate::oauth::expand(oauth.token_url, "https://acme.service-now.com/"),
            "https://acme.service-now.com/oauth_token.do"
        );
        assert_eq!(
            crate::oauth::expand(oauth.authorize_url, "https://acme.service-now.com"),
            "https://acme.service-now.com/oauth_auth.do"
        );
    }
}
