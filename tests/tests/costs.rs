//! What one request, and one cluster worker batch, costs in storage operations and queue sends,
//! as stated in BENCHMARKS.md. Requests are counted on the request path only (the worker is not
//! started, so its reads and writes do not mix in); the worker is driven directly.

use causeloop_api::ingest::upsert_issue;
use causeloop_api::messages::ClusterRequest;
use causeloop_api::provisioning::create_key;
use causeloop_api::state::{AppState, Settings};
use causeloop_api::workers::cluster::ClusterWorker;
use causeloop_api::workers::WorkMessage;
use causeloop_domain::ingest::normalize_record;
use causeloop_domain::ScopeSet;
use causeloop_domain::WorkspaceId;
use causeloop_storage::patterns::{PatternFilter, PatternSort};
use causeloop_storage::sqlite::SqliteStore;
use causeloop_tests::counting::{CountingQueue, CountingTable, Counts, Snapshot};
use serde_json::json;
use std::sync::Arc;

async fn counted_state() -> (AppState, Arc<Counts>) {
    let sqlite = SqliteStore::in_memory().unwrap();
    let counts = Arc::new(Counts::default());
    let table = Arc::new(CountingTable { inner: Arc::new(sqlite.clone()), counts: counts.clone() });
    let queue = Arc::new(CountingQueue { inner: Arc::new(sqlite), counts: counts.clone() });
    (AppState::new(table, queue, Settings::default()), counts)
}

async fn counted_app() -> (String, String, Arc<Counts>) {
    let (state, counts) = counted_state().await;
    let key = create_key(&state.store, "costs", ScopeSet::all()).await.unwrap().key;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = causeloop_api::app::serve(causeloop_api::app::Families::ALL, state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, key, counts)
}

#[tokio::test]
async fn one_event_costs_two_reads_one_write_and_two_sends() {
    let (base, key, counts) = counted_app().await;
    let http = reqwest::Client::new();
    let before = counts.snapshot();
    let response = http
        .post(format!("{base}/v1/ingest/events"))
        .bearer_auth(&key)
        .json(&json!({"source": "s", "external_id": "e", "title": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let cost = counts.snapshot() - before;
    // Reads: the key lookup and the Issue. Write: the Issue. Sends: cluster (FIFO) and the
    // issue.ingested event (delivery).
    assert_eq!(cost, Snapshot { reads: 2, batch_reads: 0, queries: 0, writes: 1, send_calls: 2, messages_sent: 2 });
}

#[tokio::test]
async fn a_batch_of_500_costs_a_round_trip_per_100_issues_and_batched_sends() {
    let (base, key, counts) = counted_app().await;
    let http = reqwest::Client::new();
    let records: Vec<_> =
        (0..500).map(|n| json!({"source": "s", "external_id": n.to_string(), "title": "t"})).collect();
    let before = counts.snapshot();
    let response = http
        .post(format!("{base}/v1/ingest/batch"))
        .bearer_auth(&key)
        .json(&json!({"records": records}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let cost = counts.snapshot() - before;
    // Reads: the key, then the 500 Issues in five batched reads of 100. Writes: the 500 Issues in
    // five transactions of 100, and the job. Sends: 500 cluster messages in one call (the
    // adapter batches by ten) and one issue.batch_ingested event.
    assert_eq!(cost, Snapshot { reads: 1, batch_reads: 5, queries: 0, writes: 6, send_calls: 2, messages_sent: 501 });
}

/// Stores `count` Issues whose titles share one template and returns their cluster messages.
async fn stored_issues(state: &AppState, workspace: &WorkspaceId, from: usize, count: usize) -> Vec<WorkMessage> {
    let mut messages = Vec::new();
    for n in from..from + count {
        let record = normalize_record(
            &json!({"source": "s", "external_id": format!("e{n}"), "title": format!("Disk full on host-{n}")}),
        )
        .unwrap();
        let (issue, _) =
            upsert_issue(&state.store, workspace, &record, &format!("evt{n}"), "2026-01-01T00:00:00Z").await.unwrap();
        let request = ClusterRequest { workspace_id: workspace.clone(), issue_id: issue.id, job_id: None };
        messages.push(WorkMessage {
            id: n.to_string(),
            body: serde_json::to_string(&request).unwrap(),
            receive_count: 1,
            receipt: String::new(),
        });
    }
    messages
}

#[tokio::test]
async fn a_cluster_batch_of_ten_costs_a_handful_of_round_trips() {
    let (state, counts) = counted_state().await;
    let workspace = WorkspaceId::random(1, [3; 10]);
    let worker = ClusterWorker::new();

    // Ten Issues of a pattern nobody has seen: the engine learns it and saves its state.
    let messages = stored_issues(&state, &workspace, 0, 10).await;
    let before = counts.snapshot();
    assert!(worker.handle_batch(&state, messages).await.is_empty());
    let first = counts.snapshot() - before;
    // One batched read of the Issues, one of the pattern (record, alias, members); the engine
    // state looked up once (none yet, and the container caches it from here on) and saved (one
    // write: its head, the state inline); the pattern record and its ten members in one
    // transaction, then `pattern_id` on the ten Issues, sent together; pattern.detected in one
    // send. Then Insights (tests/tests/insights.rs): two batched reads (the Issues; the insights
    // states), one transaction (the states and the ten Issues' prediction and triage), ten
    // issue.triaged in one send.
    assert_eq!(first, Snapshot { reads: 1, batch_reads: 4, queries: 0, writes: 13, send_calls: 2, messages_sent: 11 });

    // Ten more of the same pattern: plain hits.
    let messages = stored_issues(&state, &workspace, 10, 10).await;
    let before = counts.snapshot();
    assert!(worker.handle_batch(&state, messages).await.is_empty());
    let second = counts.snapshot() - before;
    // The engine's stored version (confirming the cached engine is current), the two batched
    // reads, the oldest open member's status (the recurrence rule), one transaction and the ten
    // Issue writes sent together: six sequential round trips. No pattern event. Insights as
    // above (ten new Issues: ten issue.triaged).
    assert_eq!(second, Snapshot { reads: 2, batch_reads: 4, queries: 0, writes: 12, send_calls: 1, messages_sent: 10 });

    let (patterns, _) =
        state.store.list_patterns(&workspace, &PatternFilter::default(), PatternSort::Count, 10, None).await.unwrap();
    assert_eq!(patterns.len(), 1);
    assert_eq!(patterns[0].issue_count, 20, "every Issue counted once");
}
