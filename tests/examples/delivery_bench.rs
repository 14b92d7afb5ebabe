//! Deliveries per second from one delivery worker to a local receiver: N events of about 1 KiB
//! for one subscribed endpoint go onto the delivery queue of an on-disk SQLite store (as
//! `causeloop serve` keeps it), and one worker — `poll_queue` batches of ten, the SQS batch size,
//! each batch handled with the worker's bounded concurrency — fans them out and posts them to a
//! receiver on 127.0.0.1 that answers 200. Timed from the first receive to the last delivery.
//!
//! ```text
//! cargo run --release -p causeloop-tests --example delivery_bench -- 5000
//! ```

use causeloop_api::events::{emit, envelope};
use causeloop_api::outbound::OutboundClient;
use causeloop_api::provisioning::create_key;
use causeloop_api::secrets::{new_signing_secret, seal_signing_secret};
use causeloop_api::state::{AppState, Settings};
use causeloop_api::workers::deliver::DeliverWorker;
use causeloop_api::workers::poll_queue;
use causeloop_domain::delivery::DeliveryStatus;
use causeloop_domain::events::EventType;
use causeloop_domain::sealed::SecretBox;
use causeloop_domain::{ScopeSet, WebhookId};
use causeloop_storage::clock::{now_millis, now_rfc3339};
use causeloop_storage::connectors::{Webhook, WebhookDirection};
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::QueueName;
use causeloop_tests::receiver::Receiver;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("causeloop.db")).unwrap();
    let secret_box = SecretBox::new(rand::random());
    let settings =
        Settings { allow_private_targets: true, secret_box: Some(secret_box.clone()), ..Settings::default() };
    let state = AppState::new(Arc::new(sqlite.clone()), Arc::new(sqlite), settings);
    let workspace = create_key(&state.store, "bench", ScopeSet::all()).await.unwrap().workspace_id;
    let receiver = Receiver::start().await;
    let now = now_rfc3339();
    let id = WebhookId::random(now_millis(), rand::random());
    state
        .store
        .insert_webhook(&Webhook {
            id: id.clone(),
            workspace_id: workspace.clone(),
            direction: WebhookDirection::Outbound,
            url: receiver.url.clone(),
            event_types: vec!["issue.ingested".into()],
            connector_id: None,
            description: None,
            enabled: true,
            signing_secret: seal_signing_secret(&secret_box, &workspace, &id, &new_signing_secret(), &now),
            previous_secrets: Vec::new(),
            failing_since: None,
            disabled_reason: None,
            circuit: Default::default(),
            created_at: now.clone(),
            updated_at: now.clone(),
        })
        .await
        .unwrap();
    let detail = "x".repeat(900);
    let envelopes = (0..events)
        .map(|n| {
            let data = json!({"issue": {"id": format!("iss_{n}"), "title": "Deploy failed", "body": detail}});
            envelope(EventType::IssueIngested, &workspace, &format!("bench-{n}"), None, data, &now)
        })
        .collect();
    emit(state.queue.as_ref(), envelopes).await.unwrap();

    let worker = DeliverWorker::new(state.clone(), OutboundClient::new(true).unwrap());
    let started = Instant::now();
    tokio::spawn(poll_queue(state.queue.clone(), QueueName::Delivery, move |batch| {
        let worker = worker.clone();
        async move { worker.handle_batch(batch).await }
    }));
    while receiver.requests().len() < events {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (deliveries, _) = state.store.list_deliveries(&workspace, &id, None, events + 1, None).await.unwrap();
    let succeeded = deliveries.iter().filter(|d| d.status == DeliveryStatus::Succeeded).count();
    let mut latencies: Vec<u64> = deliveries.iter().flat_map(|d| d.attempts.iter().map(|a| a.latency_ms)).collect();
    latencies.sort_unstable();
    let body = receiver.requests()[0].body.len();
    println!(
        "{events} events of {body} bytes: {succeeded} delivered in {elapsed:.2} s = {:.0} deliveries/s; attempt latency p50 {} ms, p99 {} ms",
        events as f64 / elapsed,
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    );
    assert_eq!(succeeded, events, "every event delivered once");
}
