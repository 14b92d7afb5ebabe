//! CPU cost of the ingest handler's own work — body checks, JSON parse, validation,
//! normalization, dedup key, and applying the record to an Issue — without storage or network.
//! `cargo bench -p causeloop-api --bench ingest_cpu`

use axum::http::{header, HeaderMap, HeaderValue};
use causeloop_domain::ingest::normalize_record;
use causeloop_domain::issue::Issue;
use causeloop_domain::{IssueId, WorkspaceId};
use causeloop_http::body::json_object;
use serde_json::{json, Value};
use std::hint::black_box;

mod common;
use common::measure;

fn record(n: usize) -> Value {
    json!({
        "source": "custom_api",
        "external_id": format!("deploy-{n}"),
        "title": format!("Deploy failed: payment-service build {n}"),
        "body": "exit code 137: OOMKilled while running migrations on db-7 (10.0.3.7)",
        "severity": "p1",
        "external_url": format!("https://deploys.example.com/{n}"),
        "team": "payments",
        "source_created_at": "2026-11-24T07:00:00Z",
        "metadata": {"service": "payment-service", "deploy_id": n.to_string(), "region": "eu-west-1"},
    })
}

/// The single-event handler's work minus I/O: it also renders the Issue for the
/// `issue.ingested` event.
fn handle_single(headers: &HeaderMap, body: &[u8], workspace: &WorkspaceId) {
    let object = json_object(headers, body, 1 << 20).expect("valid");
    let normalized = normalize_record(&Value::Object(object)).expect("valid record");
    let id = IssueId::derive(workspace, &normalized.source, &normalized.external_id);
    let (issue, _) = Issue::apply(None, workspace, &normalized, "evt:bench", "2026-11-24T07:00:00.000Z");
    black_box((id, serde_json::to_string(&issue.to_api()).unwrap()));
}

/// The batch handler's work minus I/O: every record is applied and serialized for storage.
fn handle_batch(headers: &HeaderMap, body: &[u8], workspace: &WorkspaceId) {
    let object = json_object(headers, body, 6_000_000).expect("valid");
    let Some(Value::Array(records)) = object.get("records") else { panic!("records") };
    for value in records {
        let normalized = normalize_record(value).expect("valid record");
        let id = IssueId::derive(workspace, &normalized.source, &normalized.external_id);
        let (issue, _) = Issue::apply(None, workspace, &normalized, "evt:bench", "2026-11-24T07:00:00.000Z");
        black_box((id, serde_json::to_string(&issue).unwrap()));
    }
}

fn main() {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let workspace = WorkspaceId::random(1_795_507_200_000, [7; 10]);
    let single = serde_json::to_vec(&record(1)).unwrap();
    let batch = serde_json::to_vec(&json!({"records": (0..500).map(record).collect::<Vec<_>>()})).unwrap();
    println!("single body: {} bytes; batch body: {} bytes", single.len(), batch.len());
    measure("single event", 20_000, || {
        handle_single(&headers, &single, &workspace);
    });
    measure("500-record batch", 200, || {
        handle_batch(&headers, &batch, &workspace);
    });
}
