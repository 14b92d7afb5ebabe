//! Records per second of a managed connector's backfill, and the store operations it costs per
//! record: N Jira issues in the local Jira server of the tests (`tests/src/vendors/jira.rs`, 100
//! per page, Jira's `maxResults` cap), a `jira` connector on an on-disk SQLite store (as
//! `causeloop serve` keeps it), and one sync worker polling the sync queue. Timed from the sync's
//! start to its completion; the counting wrappers of `tests/src/counting.rs` count every table
//! call and queue send. The cluster worker is not running, so the figure is the sync path alone.
//!
//! ```text
//! cargo run --release -p causeloop-tests --example backfill_bench -- 5000
//! ```

use causeloop_api::provisioning::create_key;
use causeloop_api::secrets::seal_credentials;
use causeloop_api::state::{AppState, Settings};
use causeloop_api::workers::poll_queue;
use causeloop_api::workers::sync::{start_sync, SyncWorker};
use causeloop_domain::sealed::SecretBox;
use causeloop_domain::sync::{SyncMode, SyncStatus};
use causeloop_domain::{ConnectorId, ScopeSet};
use causeloop_storage::clock::{now_millis, now_rfc3339};
use causeloop_storage::connectors::Connector;
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::QueueName;
use causeloop_tests::counting::{CountingQueue, CountingTable, Counts};
use causeloop_tests::vendors::{self, FakeVendor, Ticket};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let records: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let fake = FakeVendor::start(vendors::jira::routes()).await;
    fake.lock().page_size = 100;
    let credential = format!("Basic {}", base64_basic("ops@example.com", "token"));
    fake.accept(&credential);
    let now = now_millis() as i64;
    for n in 0..records {
        let created = now - 80 * 24 * 3_600_000 + n as i64 * 60_000;
        let mut ticket =
            Ticket::new(&format!("OPS-{}", n + 1), &format!("checkout fails with error {}", n % 40), created);
        ticket.body = "x".repeat(600);
        if n % 3 == 0 {
            ticket = ticket.resolved_at(created + 3_600_000, "rolled back the release");
        }
        fake.put(ticket);
    }

    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("causeloop.db")).unwrap();
    let counts = Arc::new(Counts::default());
    let table = Arc::new(CountingTable { inner: Arc::new(sqlite.clone()), counts: counts.clone() });
    let queue = Arc::new(CountingQueue { inner: Arc::new(sqlite), counts: counts.clone() });
    let secret_box = SecretBox::new(rand::random());
    let settings =
        Settings { allow_private_targets: true, secret_box: Some(secret_box.clone()), ..Settings::default() };
    let state = AppState::new(table, queue, settings);
    let workspace = create_key(&state.store, "bench", ScopeSet::all()).await.unwrap().workspace_id;
    let id = ConnectorId::random(now_millis(), rand::random());
    let credentials = json!({"email": "ops@example.com", "api_token": "token"});
    let stamp = now_rfc3339();
    let connector = Connector {
        id: id.clone(),
        workspace_id: workspace.clone(),
        connector_type: "jira".into(),
        display_name: "bench".into(),
        status: "connected".into(),
        enabled: true,
        config: json!({"base_url": fake.base_url, "jql": "project = OPS"}),
        sealed_credentials: Some(seal_credentials(&secret_box, &workspace, &id, credentials.as_object().unwrap())),
        credential_fields: vec!["api_token".into(), "email".into()],
        inbound_webhook_id: None,
        sync: Default::default(),
        oauth: None,
        created_at: stamp.clone(),
        updated_at: stamp,
    };
    state.store.insert_connector(&connector).await.unwrap();

    let worker = SyncWorker::new(state.clone());
    tokio::spawn(poll_queue(state.queue.clone(), QueueName::Sync, move |batch| {
        let worker = worker.clone();
        async move { worker.handle_batch(batch).await }
    }));
    let before = counts.snapshot();
    let started = Instant::now();
    start_sync(&state, &workspace, &id, SyncMode::Backfill, None, now_millis() as i64).await.unwrap();
    let run = loop {
        let stored = state.store.connector(&workspace, &id).await.unwrap().unwrap().value;
        let run = stored.sync.run.clone().unwrap();
        if run.status != SyncStatus::Running {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = started.elapsed();
    // The polling above reads the connector too; those reads are not the sync's.
    let cost = counts.snapshot() - before;
    assert_eq!(run.status, SyncStatus::Completed, "{run:?}");
    assert_eq!(run.counts.issues_created as usize, records, "{run:?}");
    let per = |n: usize| n as f64 / records as f64;
    println!(
        "{records} records, {} pages in {:.2} s: {:.0} records/s",
        run.counts.pages,
        elapsed.as_secs_f64(),
        records as f64 / elapsed.as_secs_f64()
    );
    println!(
        "per record: {:.3} batched reads, {:.3} writes (transactions count one), {:.3} queue send calls, {:.2} messages; \
         {} connector reads in all (the sync's and the bench's polling)",
        per(cost.batch_reads),
        per(cost.writes),
        per(cost.send_calls),
        per(cost.messages_sent),
        cost.reads
    );
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
