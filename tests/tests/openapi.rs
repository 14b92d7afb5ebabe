//! `openapi.yaml` and the router agree: every documented operation is routed, and every routed
//! operation is documented.

use causeloop_tests::{spawn_app, Backend};
use std::collections::BTreeSet;

/// (METHOD, path) pairs of the document. The file keeps paths at two spaces of indent and
/// methods at four, which this reads without a YAML dependency.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    let mut operations = BTreeSet::new();
    let mut in_paths = false;
    let mut path = None;
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(rest) = line.strip_prefix("  /") {
            path = Some(format!("/{}", rest.trim_end().trim_end_matches(':')));
        } else if let Some(rest) = line.strip_prefix("    ").filter(|rest| !rest.starts_with(' ')) {
            let method = rest.trim_end().trim_end_matches(':');
            if ["get", "post", "put", "patch", "delete"].contains(&method) {
                operations.insert((method.to_uppercase(), path.clone().expect("method under a path")));
            }
        }
    }
    operations
}

#[tokio::test]
async fn the_document_and_the_router_agree() {
    let routed: BTreeSet<(String, String)> = causeloop_api::app::route_table()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(documented(), routed);

    // And each one is really routed: a request never reaches the router's fallback.
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    for (method, path) in routed {
        let concrete = path.replace("{job_id}", "job_x").replace("{id}", "x");
        let request = app.http.request(method.parse().unwrap(), app.url(&concrete));
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert_ne!(status, 405, "{method} {path}");
        assert!(!(status == 404 && body["message"] == "no such route"), "{method} {path} is not routed");
    }
}
