//! What one request costs in storage operations and queue sends, as stated in BENCHMARKS.md.
//! Counted on the request path only; the cluster worker is not started, so its own reads and
//! writes do not mix in.

use causeloop_api::provisioning::create_key;
use causeloop_api::state::{AppState, Settings};
use causeloop_domain::ScopeSet;
use causeloop_storage::sqlite::SqliteStore;
use causeloop_tests::counting::{CountingQueue, CountingTable, Counts, Snapshot};
use serde_json::json;
use std::sync::Arc;

async fn counted_app() -> (String, String, Arc<Counts>) {
    let sqlite = SqliteStore::in_memory().unwrap();
    let counts = Arc::new(Counts::default());
    let table = Arc::new(CountingTable { inner: Arc::new(sqlite.clone()), counts: counts.clone() });
    let queue = Arc::new(CountingQueue { inner: Arc::new(sqlite), counts: counts.clone() });
    let state = AppState::new(table, queue, Settings::default());
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
    assert_eq!(cost, Snapshot { reads: 2, queries: 0, writes: 1, send_calls: 2, messages_sent: 2 });
}

#[tokio::test]
async fn a_batch_of_500_costs_one_read_and_write_per_issue_and_batched_sends() {
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
    // Reads: key + 500 Issues. Writes: 500 Issues + the job. Sends: 500 cluster messages in one
    // call (the adapter batches by ten) and one issue.batch_ingested event.
    assert_eq!(cost, Snapshot { reads: 501, queries: 0, writes: 501, send_calls: 2, messages_sent: 501 });
}
