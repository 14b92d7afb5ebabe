//! `openapi.yaml` and the router agree: every documented operation is routed, and every routed
//! operation is documented.

use causeloop_tests::{spawn_app, Backend};
use saphyr::{LoadableYamlNode, Yaml};
use std::collections::BTreeSet;

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// (METHOD, path) pairs of the document, read with a YAML 1.2 parser that also refuses a
/// duplicated key (a second `/v1/...:` or `get:` would otherwise hide the first).
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    let docs = Yaml::load_from_str(&text).unwrap_or_else(|err| panic!("openapi.yaml is not valid YAML: {err}"));
    assert_eq!(docs.len(), 1, "openapi.yaml holds one document");
    let document = &docs[0];
    assert_eq!(document["openapi"].as_str(), Some("3.1.0"));
    let paths = document["paths"].as_mapping().expect("`paths` is a mapping");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("a path is a string");
        let item = item.as_mapping().unwrap_or_else(|| panic!("{path} is a mapping"));
        for (key, operation) in item {
            let key = key.as_str().expect("a path item's key is a string");
            if METHODS.contains(&key) {
                assert!(operation.is_mapping(), "{key} {path} is an operation object");
                operations.insert((key.to_uppercase(), path.to_string()));
            } else {
                assert!(
                    ["parameters", "summary", "description", "servers"].contains(&key),
                    "{path}: unexpected `{key}`"
                );
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
