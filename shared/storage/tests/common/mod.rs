//! Setup shared by the storage suites: each case runs on the embedded SQLite store and on
//! DynamoDB/SQS as served by moto (`MOTO_ENDPOINT`, exported by `scripts/test.sh`).

#![allow(dead_code)] // Each suite uses a different part of this module.

use causeloop_storage::dynamo::DynamoTable;
use causeloop_storage::sqs::SqsQueues;
use causeloop_storage::{Queue, Table};
use std::sync::Arc;

/// The moto endpoint, or `None` when running outside the test script. Under the test script
/// (`CAUSELOOP_REQUIRE_MOTO=1`) a missing endpoint fails instead of skipping.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var("MOTO_ENDPOINT") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CAUSELOOP_REQUIRE_MOTO").is_ok() => {
            panic!("MOTO_ENDPOINT must be set by scripts/test.sh")
        }
        Err(_) => {
            eprintln!("MOTO_ENDPOINT not set: skipping the AWS adapter half of this case (run scripts/test.sh)");
            None
        }
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

/// A fresh table in moto, created as template.yaml declares it.
pub async fn dynamo(endpoint: &str) -> Arc<dyn Table> {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "moto"))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let name = unique("storage");
    DynamoTable::create_table(&client, &name).await.expect("create table in moto");
    Arc::new(DynamoTable::new(client, name))
}

/// Fresh queues (with their DLQs) in moto.
pub async fn sqs(endpoint: &str) -> Arc<dyn Queue> {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "moto"))
        .build();
    let client = aws_sdk_sqs::Client::from_conf(config);
    let urls = SqsQueues::create_queues(&client, &unique("storage")).await.expect("create queues in moto");
    Arc::new(SqsQueues::new(client, urls))
}

/// Runs a repository case, `async fn(Store)`, once on each adapter.
#[macro_export]
macro_rules! both_adapters {
    ($name:ident, $case:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $case(Store::new(Arc::new(SqliteStore::in_memory().unwrap()))).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb() {
                if let Some(endpoint) = common::moto_endpoint() {
                    $case(Store::new(common::dynamo(&endpoint).await)).await;
                }
            }
        }
    };
}
