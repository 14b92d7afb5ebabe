//! The test harness: `spawn_app` starts the real router on 127.0.0.1 on a free port, on a fresh
//! store — embedded SQLite, or DynamoDB + SQS served by moto — with the cluster worker polling
//! its queue, exactly as `causeloop serve` runs.

use causeloop_api::app::{self, Families};
use causeloop_api::outbound::OutboundClient;
use causeloop_api::provisioning::{create_key, CreatedKey};
use causeloop_api::state::{AppState, Settings};
use causeloop_api::workers::deliver::DeliverWorker;
use causeloop_api::workers::WorkMessage;
use causeloop_domain::ScopeSet;
use causeloop_storage::dynamo::DynamoTable;
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::sqs::SqsQueues;
use causeloop_storage::{Queue, QueueName, Table};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub mod counting;
pub mod events;
pub mod faults;
pub mod integrations;
pub mod receiver;
pub mod vendors;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Moto,
}

/// The moto endpoint exported by `scripts/test.sh`; `None` (skip) only outside that script.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var("MOTO_ENDPOINT") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CAUSELOOP_REQUIRE_MOTO").is_ok() => {
            panic!("MOTO_ENDPOINT must be set by scripts/test.sh")
        }
        Err(_) => None,
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

pub struct Stores {
    pub table: Arc<dyn Table>,
    pub queue: Arc<dyn Queue>,
    /// Keeps the SQLite file alive for the test's duration.
    pub _dir: Option<tempfile::TempDir>,
}

pub async fn stores(backend: Backend) -> Option<Stores> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let sqlite = SqliteStore::open(&dir.path().join("causeloop.db")).expect("open sqlite");
            Some(Stores { table: Arc::new(sqlite.clone()), queue: Arc::new(sqlite), _dir: Some(dir) })
        }
        Backend::Moto => {
            let endpoint = moto_endpoint()?;
            let dynamo = aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::Config::builder()
                    .behavior_version_latest()
                    .endpoint_url(&endpoint)
                    .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                    .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                        "test", "test", None, None, "moto",
                    ))
                    .build(),
            );
            let sqs = aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::Config::builder()
                    .behavior_version_latest()
                    .endpoint_url(&endpoint)
                    .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                    .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "moto"))
                    .build(),
            );
            let table_name = unique("causeloop");
            DynamoTable::create_table(&dynamo, &table_name).await.expect("create table");
            let urls = SqsQueues::create_queues(&sqs, &unique("causeloop")).await.expect("create queues");
            Some(Stores {
                table: Arc::new(DynamoTable::new(dynamo, table_name)),
                queue: Arc::new(SqsQueues::new(sqs, urls)),
                _dir: None,
            })
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    /// An all-scope key of the first workspace, and that workspace's slug.
    pub owner: CreatedKey,
    pub owner_slug: String,
    _stores: Stores,
}

/// Starts the app on `stores`; `None` when the backend is unavailable outside the test script.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let stores = stores(backend).await?;
    Some(spawn_on(stores).await)
}

pub async fn spawn_on(stores: Stores) -> TestApp {
    spawn_on_with(stores, |state| state).await
}

/// Starts the app on `backend` after `configure` adjusted its state (settings, SNS confirmer).
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(AppState) -> AppState) -> Option<TestApp> {
    let stores = stores(backend).await?;
    Some(spawn_on_with(stores, configure).await)
}

pub async fn spawn_on_with(stores: Stores, configure: impl FnOnce(AppState) -> AppState) -> TestApp {
    // A fresh master key per app: sealed secrets never outlive their test.
    let settings = Settings {
        allow_private_targets: true,
        secret_box: Some(causeloop_domain::sealed::SecretBox::new(rand::random())),
        ..Settings::default()
    };
    let state = configure(AppState::new(stores.table.clone(), stores.queue.clone(), settings));
    let owner_slug = unique("owner");
    let owner = create_key(&state.store, &owner_slug, ScopeSet::all()).await.expect("create owner key");
    app::spawn_cluster_worker(&state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = app::serve(Families::ALL, state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    TestApp { base, http: reqwest::Client::new(), state, owner, owner_slug, _stores: stores }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn key(&self, workspace_slug: &str, scopes: &str) -> CreatedKey {
        create_key(&self.state.store, workspace_slug, ScopeSet::parse_list(scopes).unwrap()).await.unwrap()
    }

    /// POSTs JSON with a key; returns status and parsed body.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let response = self.http.post(self.url(path)).bearer_auth(key).json(body).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).bearer_auth(key).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits for an ingest job to complete (the cluster worker runs asynchronously). This is a
    /// liveness wait with a generous ceiling, not a timing assertion.
    pub async fn wait_for_job(&self, job_id: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..600 {
            let (status, body) = self.get(&format!("/v1/ingest/status/{job_id}"), &self.owner.key).await;
            assert_eq!(status, 200, "{body}");
            if body["status"] == "completed" {
                return body;
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job never completed: {last}");
    }

    /// A delivery worker on this app's state, its client allowed to reach loopback receivers
    /// (`allow_private`) or not, with attempts timing out after two seconds.
    pub fn deliver_worker(&self, allow_private: bool) -> DeliverWorker {
        let client = OutboundClient::with_timeout(allow_private, Duration::from_secs(2)).expect("client");
        DeliverWorker::new(self.state.clone(), client)
    }

    /// Runs a delivery worker over the delivery queue, as `causeloop serve` does.
    pub fn start_delivery_worker(&self) {
        let client = OutboundClient::with_timeout(true, Duration::from_secs(2)).expect("client");
        app::spawn_delivery_worker(&self.state, client);
    }

    /// Every message visible on the delivery queue now, received (hidden for 30 s, not deleted).
    pub async fn delivery_messages(&self) -> Vec<WorkMessage> {
        let mut messages = Vec::new();
        loop {
            let batch = self.state.queue.receive(QueueName::Delivery, 10, 30).await.expect("receive");
            if batch.is_empty() {
                return messages;
            }
            messages.extend(batch.iter().map(WorkMessage::from));
        }
    }

    /// Every event envelope currently on the delivery queue (consumed).
    pub async fn drain_events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let batch = self.state.queue.receive(QueueName::Delivery, 10, 30).await.expect("receive");
            if batch.is_empty() {
                return events;
            }
            for message in batch {
                events.push(serde_json::from_str(&message.body).expect("envelope is JSON"));
                self.state.queue.delete(QueueName::Delivery, &message.receipt).await.expect("delete");
            }
        }
    }
}

/// Declares an async test that runs once per backend.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $case:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::spawn_app($crate::Backend::Sqlite).await.expect("sqlite always available");
                $case(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn moto() {
                if let Some(app) = $crate::spawn_app($crate::Backend::Moto).await {
                    $case(app).await;
                }
            }
        }
    };
}
