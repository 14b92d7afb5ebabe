//! Every request the Datadog connector builds, checked against the excerpt of Datadog's own
//! OpenAPI description (`tests/specs/datadog-v2-excerpt.json`): the operation's path, each query
//! parameter's name (deepObject-style `page[size]`, `filter[from]`, ...) and value, and the
//! headers its security scheme requires; and the answer fields the connector reads exist in the
//! documented schemas.

use causeloop_connectors::datadog::{app_host, Datadog};
use causeloop_connectors::{Auth, Connection, Request, Vendor, Window};
use serde_json::{json, Map, Value};

fn spec() -> Value {
    serde_json::from_str(include_str!("specs/datadog-v2-excerpt.json")).expect("the excerpt is JSON")
}

const WINDOW: Window = Window { since_millis: 1_700_000_000_000, until_millis: 1_700_086_400_000 };

/// The excerpt's operation whose path template matches `path`.
fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> &'a Value {
    spec["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|operation| {
            let template: Vec<&str> = operation["path"].as_str().unwrap().split('/').collect();
            let actual: Vec<&str> = path.split('/').collect();
            operation["method"] == method
                && template.len() == actual.len()
                && template.iter().zip(&actual).all(|(t, a)| (t.starts_with('{') && !a.is_empty()) || t == a)
        })
        .unwrap_or_else(|| panic!("no documented operation for {method} {path}"))
}

/// Checks one request against the excerpt and returns its query pairs.
fn conforms(spec: &Value, request: &Request) -> Vec<(String, String)> {
    let url = url::Url::parse(&request.url).unwrap();
    let operation = operation(spec, "GET", url.path());
    let parameters = operation["parameters"].as_array().unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    for (name, value) in &query {
        let parameter = parameters
            .iter()
            .find(|parameter| parameter["in"] == "query" && parameter["name"] == name.as_str())
            .unwrap_or_else(|| panic!("`{name}` is not a documented parameter of {}", operation["operationId"]));
        let schema = &parameter["schema"];
        match schema["type"].as_str() {
            Some("integer") => {
                let number: i64 = value.parse().unwrap_or_else(|_| panic!("`{name}={value}` is not an integer"));
                if let Some(maximum) = schema["maximum"].as_i64() {
                    assert!(number <= maximum, "`{name}={value}` exceeds {maximum}");
                }
                assert!(number >= schema["minimum"].as_i64().unwrap_or(0), "`{name}={value}` is negative");
            }
            Some("string") => {
                if let Some(allowed) = schema["enum"].as_array() {
                    assert!(allowed.iter().any(|v| v == value.as_str()), "`{name}={value}` is not one of {allowed:?}");
                }
            }
            other => panic!("unexpected parameter type {other:?} for `{name}`"),
        }
    }
    for required in parameters.iter().filter(|parameter| parameter["required"] == true) {
        assert!(query.iter().any(|(name, _)| required["name"] == name.as_str()), "missing {}", required["name"]);
    }
    // One of the documented security alternatives is fully satisfied by the request's headers.
    let schemes = &spec["securitySchemes"];
    let satisfied = operation["security"].as_array().unwrap().iter().any(|alternative| {
        let names: Vec<&String> = alternative.as_object().unwrap().keys().collect();
        !names.is_empty()
            && names.iter().all(|name| {
                let scheme = &schemes[name.as_str()];
                scheme["type"] == "apiKey"
                    && scheme["in"] == "header"
                    && request.header(scheme["name"].as_str().unwrap()).is_some_and(|value| !value.is_empty())
            })
    });
    assert!(satisfied, "{} lacks the headers of every security alternative: {:?}", request.url, request.headers);
    query
}

fn requests(sources: &[&str]) -> Vec<Request> {
    let mut config = Map::new();
    config.insert("sources".into(), json!(sources));
    let auth = Auth::Datadog { api_key: "k".into(), application_key: "a".into() };
    let connection = Connection { api_base: "https://api.datadoghq.eu", config: &config, auth: &auth };
    [
        Value::Null,
        json!({"source": "incidents", "offset": 99}),
        json!({"source": "monitor_events", "after": null}),
        json!({"source": "monitor_events", "after": "eyJzdGFydEF0IjoiQVFBQUFYS2tMS3pPbm40NGV3QUFBQUJCV0V0clRFdDZVbG8zY3pCRmNsbHJiVmxDWlEifQ=="}),
    ]
    .iter()
    .map(|cursor| Datadog.request(&connection, &WINDOW, cursor).unwrap())
    .collect()
}

#[test]
fn every_request_is_a_documented_operation_with_documented_parameters_and_keys() {
    let spec = spec();
    let all = requests(&["incidents", "monitor_events"]);
    let mut seen_names: Vec<String> = Vec::new();
    for request in &all {
        seen_names.extend(conforms(&spec, request).into_iter().map(|(name, _)| name));
    }
    seen_names.sort();
    seen_names.dedup();
    assert_eq!(
        seen_names,
        vec![
            "filter[from]",
            "filter[query]",
            "filter[to]",
            "page[cursor]",
            "page[limit]",
            "page[offset]",
            "page[size]",
            "sort"
        ]
    );
}

#[test]
fn the_incident_page_size_respects_the_documented_maximum() {
    let spec = spec();
    let incidents = operation(&spec, "GET", "/api/v2/incidents");
    let size = incidents["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "page[size]").unwrap();
    assert!(size["description"].as_str().unwrap().contains("The maximum allowed value is 100."));
    let query = conforms(&spec, &requests(&["incidents"])[0]);
    let asked: i64 = query.iter().find(|(name, _)| name == "page[size]").unwrap().1.parse().unwrap();
    assert!(asked <= 100);
    assert_eq!(incidents["x-pagination"]["limitParam"], "page[size]");
    assert_eq!(incidents["x-pagination"]["pageOffsetParam"], "page[offset]");
    let events = operation(&spec, "GET", "/api/v2/events");
    assert_eq!(events["x-pagination"]["cursorParam"], "page[cursor]");
    assert_eq!(events["x-pagination"]["cursorPath"], "meta.page.after");
}

#[test]
fn the_fields_the_connector_reads_are_documented() {
    let spec = spec();
    let has = |schema: &str, fields: &[&str]| {
        let properties = spec["schemas"][schema]["properties"].as_array().unwrap();
        for field in fields {
            assert!(properties.iter().any(|p| p == field), "{schema} has no `{field}`");
        }
    };
    has("IncidentsResponse", &["data", "meta"]);
    has("IncidentResponseData", &["id", "attributes"]);
    has(
        "IncidentResponseAttributes",
        &[
            "public_id",
            "title",
            "created",
            "modified",
            "resolved",
            "severity",
            "state",
            "customer_impact_scope",
            "fields",
        ],
    );
    has("IncidentResponseMeta", &["pagination"]);
    has("IncidentResponseMetaPagination", &["offset", "size", "next_offset"]);
    has("IncidentFieldAttributesSingleValue", &["value"]);
    has("IncidentFieldAttributesMultipleValue", &["value"]);
    has("EventsListResponse", &["data", "meta"]);
    has("EventsResponseMetadata", &["page"]);
    has("EventsResponseMetadataPage", &["after"]);
    has("EventResponse", &["id", "attributes"]);
    has("EventResponseAttributes", &["attributes", "message", "timestamp"]);
    has("EventAttributes", &["monitor_id", "monitor_groups", "monitor", "status", "service", "title", "timestamp"]);
    has("MonitorType", &["name"]);
    let severities = spec["enums"]["IncidentSeverity"].as_array().unwrap();
    for severity in ["UNKNOWN", "SEV-0", "SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5"] {
        assert!(severities.iter().any(|s| s == severity), "{severity}");
    }
    let statuses = spec["enums"]["EventStatusType"].as_array().unwrap();
    for status in ["failure", "error", "warning", "success"] {
        assert!(statuses.iter().any(|s| s == status), "{status}");
    }
}

#[test]
fn every_documented_site_has_an_app_host_for_links() {
    let spec = spec();
    let sites = spec["servers"][0]["variables"]["site"]["enum"].as_array().unwrap();
    assert!(sites.len() >= 7);
    for site in sites {
        let base = format!("https://api.{}", site.as_str().unwrap());
        assert!(app_host(&base).is_some(), "no app host for {base}");
    }
}
