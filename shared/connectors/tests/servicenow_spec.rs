//! Every request the ServiceNow connector builds, checked against the Table API excerpt
//! (`tests/specs/servicenow-table.json`, hand-written from ServiceNow's Table API reference,
//! since ServiceNow publishes no OpenAPI file): path template, each query parameter's name and
//! value, the authentication headers of its security schemes, and the OAuth token path.

use causeloop_connectors::servicenow::{ServiceNow, OAUTH};
use causeloop_connectors::{oauth, Auth, Connection, Request, Vendor, Window};
use serde_json::{json, Map, Value};

fn spec() -> Value {
    serde_json::from_str(include_str!("specs/servicenow-table.json")).expect("the excerpt is JSON")
}

const BASE: &str = "https://instance.service-now.com";
const WINDOW: Window = Window { since_millis: 1_704_153_600_000, until_millis: 1_704_240_000_000 };

fn conforms(spec: &Value, request: &Request) -> Vec<(String, String)> {
    let operation = &spec["operations"][0];
    let url = url::Url::parse(&request.url).unwrap();
    let template: Vec<&str> = operation["path"].as_str().unwrap().split('/').collect();
    let actual: Vec<&str> = url.path().split('/').collect();
    assert_eq!(template.len(), actual.len(), "{} is not {}", url.path(), operation["path"]);
    for (t, a) in template.iter().zip(&actual) {
        assert!((t.starts_with('{') && !a.is_empty()) || t == a, "{} is not {}", url.path(), operation["path"]);
    }
    assert_eq!(actual.last(), Some(&"incident"));
    let parameters = operation["parameters"].as_array().unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    for (name, value) in &query {
        let parameter = parameters
            .iter()
            .find(|parameter| parameter["in"] == "query" && parameter["name"] == name.as_str())
            .unwrap_or_else(|| panic!("`{name}` is not a documented Table API parameter"));
        let schema = &parameter["schema"];
        match schema["type"].as_str() {
            Some("integer") => {
                let number: i64 = value.parse().unwrap_or_else(|_| panic!("`{name}={value}` is not an integer"));
                assert!(
                    number >= schema["minimum"].as_i64().unwrap_or(i64::MIN),
                    "`{name}={value}` is below the minimum"
                );
            }
            Some("boolean") => assert!(value == "true" || value == "false", "`{name}={value}` is not a boolean"),
            Some("string") => {
                if let Some(allowed) = schema["enum"].as_array() {
                    assert!(allowed.iter().any(|v| v == value.as_str()), "`{name}={value}` is not one of {allowed:?}");
                }
            }
            other => panic!("unexpected parameter type {other:?} for `{name}`"),
        }
    }
    for required in parameters.iter().filter(|p| p["required"] == true && p["in"] == "query") {
        assert!(query.iter().any(|(name, _)| required["name"] == name.as_str()), "missing {}", required["name"]);
    }
    query
}

fn connection<'a>(config: &'a Map<String, Value>, auth: &'a Auth) -> Connection<'a> {
    Connection { api_base: BASE, config, auth }
}

#[test]
fn every_request_uses_documented_parameters_and_an_accepted_authorization() {
    let spec = spec();
    let schemes = spec["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["basicAuth"]["scheme"], "basic");
    assert_eq!(schemes["oauth2"]["type"], "oauth2");
    let mut config = Map::new();
    config.insert("query".into(), json!("active=true^priority<=2"));
    let basic = Auth::Basic { user: "integration".into(), password: "pw".into() };
    let bearer = Auth::Bearer("token".into());
    let mut names: Vec<String> = Vec::new();
    for (auth, prefix) in [(&basic, "Basic "), (&bearer, "Bearer ")] {
        for cursor in
            [Value::Null, json!({"from": 1_704_160_000, "skip": 0}), json!({"from": 1_704_160_000, "skip": 300})]
        {
            let request = ServiceNow.request(&connection(&config, auth), &WINDOW, &cursor).unwrap();
            assert!(request.header("authorization").unwrap().starts_with(prefix), "{:?}", request.headers);
            names.extend(conforms(&spec, &request).into_iter().map(|(name, _)| name));
        }
    }
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        vec![
            "sysparm_display_value",
            "sysparm_exclude_reference_link",
            "sysparm_fields",
            "sysparm_limit",
            "sysparm_no_count",
            "sysparm_offset",
            "sysparm_query"
        ]
    );
}

#[test]
fn the_paging_keys_and_the_oauth_token_path_are_documented() {
    let spec = spec();
    let documented = spec["resultItemProperties"].as_array().unwrap();
    for field in ["sys_id", "number", "sys_updated_on"] {
        assert!(documented.iter().any(|p| p == field), "{field}");
        assert!(
            causeloop_connectors::servicenow::FIELDS.split(',').any(|asked| asked == field),
            "{field} is not asked for"
        );
    }
    let token_url = spec["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"].as_str().unwrap();
    let server = spec["servers"][0]["url"].as_str().unwrap();
    assert_eq!(oauth::expand(OAUTH.token_url, server), token_url);
    assert!(spec["responseHeaders"].as_array().unwrap().iter().any(|h| h == "Link"));
}
