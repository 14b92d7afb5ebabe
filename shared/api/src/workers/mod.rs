//! Queue workers and the in-process driver that runs them for `causeloop serve`.

pub mod cluster;
pub mod deliver;
pub mod insights;
#[cfg(feature = "lambda")]
pub mod sqs_event;
pub mod sync;

use causeloop_storage::{Queue, QueueName, Received};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// One message of a batch handed to a worker; `id` is what a partial-batch failure reports.
#[derive(Debug, Clone)]
pub struct WorkMessage {
    pub id: String,
    pub body: String,
    pub receive_count: u32,
    /// The receipt handle, through which a worker postpones a message (changes its visibility).
    pub receipt: String,
}

impl From<&Received> for WorkMessage {
    fn from(message: &Received) -> Self {
        Self {
            id: message.message_id.clone(),
            body: message.body.clone(),
            receive_count: message.receive_count,
            receipt: message.receipt.clone(),
        }
    }
}

/// How long a received message stays hidden from other receivers while a worker handles it.
const LOCAL_VISIBILITY_SECONDS: u32 = 30;

/// Drives a worker from a queue until the process ends: the local equivalent of Lambda's SQS
/// event source mapping, including partial batch failures (failed messages are not deleted and
/// come back after the visibility timeout, then go to the dead-letter queue).
pub async fn poll_queue<F, Fut>(queue: Arc<dyn Queue>, name: QueueName, handler: F)
where
    F: Fn(Vec<WorkMessage>) -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    loop {
        let received = match queue.receive(name, 10, LOCAL_VISIBILITY_SECONDS).await {
            Ok(received) => received,
            Err(err) => {
                tracing::warn!(queue = name.as_str(), error = %err, "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if received.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let failed = handler(received.iter().map(WorkMessage::from).collect()).await;
        for message in &received {
            if !failed.contains(&message.message_id) {
                if let Err(err) = queue.delete(name, &message.receipt).await {
                    tracing::warn!(queue = name.as_str(), error = %err, "delete failed; the message will be redelivered");
                }
            }
        }
    }
}
