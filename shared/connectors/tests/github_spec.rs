//! Every request the GitHub module builds, checked against GitHub's own OpenAPI description
//! (the excerpt in `specs/github-excerpt.json`, taken from `@octokit/openapi`): the path is a
//! documented operation's template, each query parameter is one of that operation's, with a
//! value its schema allows, and the documented headers are sent.

use causeloop_connectors::github::GitHub;
use causeloop_connectors::{Auth, Connection, Method, Request, Vendor, Window};
use serde_json::{json, Map, Value};

fn excerpt() -> Value {
    let text = include_str!("specs/github-excerpt.json");
    serde_json::from_str(text).expect("the excerpt is JSON")
}

/// The operation whose path template matches `path` (`{name}` matches one segment).
fn find_operation<'a>(spec: &'a Value, path: &str) -> Option<(&'a str, &'a Value)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    spec["paths"].as_object()?.iter().find_map(|(template, item)| {
        let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        let matches = parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(part, segment)| {
                (part.starts_with('{') && part.ends_with('}') && !segment.is_empty()) || part == segment
            });
        matches.then(|| (template.as_str(), &item["get"]))
    })
}

/// Whether `value` is allowed by a parameter's `schema`.
fn allowed(schema: &Value, value: &str) -> bool {
    if let Some(choices) = schema["enum"].as_array() {
        return choices.iter().any(|choice| choice == value);
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => value.parse::<i64>().is_ok(),
        (Some("string"), Some("date-time")) => causeloop_domain::time_fmt::parse_rfc3339(value).is_some(),
        (Some("string"), _) => true,
        _ => false,
    }
}

fn check(spec: &Value, base: &str, request: &Request) {
    assert_eq!(request.method, Method::Get);
    let url = url::Url::parse(&request.url).expect("absolute url");
    let base_path = url::Url::parse(base).expect("base").path().trim_end_matches('/').to_string();
    let path = url.path().strip_prefix(&base_path).expect("under the API base");
    let (template, operation) =
        find_operation(spec, path).unwrap_or_else(|| panic!("{path} is no operation of the excerpt"));
    assert_eq!(template, "/repos/{owner}/{repo}/issues");
    let parameters = operation["parameters"].as_array().expect("parameters");
    for (name, value) in url.query_pairs() {
        let parameter = parameters
            .iter()
            .find(|parameter| parameter["in"] == "query" && parameter["name"] == *name)
            .unwrap_or_else(|| panic!("query parameter {name} is not documented for {template}"));
        assert!(allowed(&parameter["schema"], &value), "{name}={value} does not fit {}", parameter["schema"]);
    }
    // `per_page` is documented as "max 100".
    let per_page: u32 = url.query_pairs().find(|(name, _)| name == "per_page").expect("per_page").1.parse().unwrap();
    assert!((1..=100).contains(&per_page));
    for parameter in parameters.iter().filter(|parameter| parameter["required"] == true && parameter["in"] == "query") {
        let name = parameter["name"].as_str().unwrap();
        assert!(url.query_pairs().any(|(sent, _)| sent == name), "required {name} missing");
    }
    for (name, header) in spec["x-not-in-spec"]["headers"].as_object().expect("headers") {
        assert_eq!(request.header(name), header["value"].as_str(), "header {name}");
    }
    assert!(request.header("authorization").is_some_and(|value| value.starts_with("Bearer ")));
}

#[test]
fn every_request_fits_githubs_description() {
    let spec = excerpt();
    assert_eq!(spec["x-provenance"]["licence"], "MIT");
    let config: Map<String, Value> =
        json!({"repositories": ["octocat/Hello-World", "acme/api.v2"]}).as_object().cloned().unwrap();
    let auth = Auth::Bearer("ghp_x".into());
    let window = Window { since_millis: 1_705_312_800_123, until_millis: 1_705_399_200_000 };
    let cursors = [
        Value::Null,
        json!({"repository": 0, "since": "2024-01-15T11:59:59Z"}),
        json!({"repository": 1, "since": "2024-01-15T09:59:59Z"}),
    ];
    for base in ["https://api.github.com", "https://ghe.example/api/v3"] {
        let connection = Connection { api_base: base, config: &config, auth: &auth };
        for cursor in &cursors {
            let request = GitHub.request(&connection, &window, cursor).expect("request");
            check(&spec, base, &request);
        }
    }
}

#[test]
fn the_check_refuses_what_the_description_does_not_have() {
    let spec = excerpt();
    let (_, operation) = find_operation(&spec, "/repos/octocat/Hello-World/issues").expect("operation");
    let state = operation["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "state").unwrap();
    assert!(!allowed(&state["schema"], "everything"));
    assert!(find_operation(&spec, "/repos/octocat/Hello-World/pulls").is_none());
    let since = operation["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "since").unwrap();
    assert!(!allowed(&since["schema"], "yesterday"));
}
