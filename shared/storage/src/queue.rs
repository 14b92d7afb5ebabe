//! The queue port: SQS's send / receive / delete / change-visibility, nothing more.

use crate::table::StoreError;
use async_trait::async_trait;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// FIFO; message group = workspace, so one workspace's Issues cluster in order.
    Cluster,
    /// Standard queue with a DLQ; outbound webhook deliveries.
    Delivery,
    /// Standard queue with a DLQ; managed connectors' sync steps (started by the API and the
    /// scheduler, continued by the sync worker itself).
    Sync,
}

/// Where a queue and its dead-letter queue live (SQS queue URLs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    pub main: String,
    pub dead_letter: Option<String>,
}

impl QueueName {
    pub const ALL: [QueueName; 3] = [QueueName::Cluster, QueueName::Delivery, QueueName::Sync];

    pub fn is_fifo(self) -> bool {
        matches!(self, QueueName::Cluster)
    }

    /// Receives before a message moves to the dead-letter queue (template.yaml's redrive policies
    /// say the same). Delivery tasks are received once per attempt of their retry schedule (eight)
    /// plus early wake-ups, so that queue allows more than the cluster queue.
    pub fn max_receives(self) -> u32 {
        match self {
            QueueName::Cluster => 5,
            QueueName::Delivery => 20,
            // A sync step is retried by its own follow-ups, not by redelivery; a message that
            // keeps failing is a store outage, and the scheduler requeues a stalled sync anyway.
            QueueName::Sync => 5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Cluster => "cluster",
            QueueName::Delivery => "delivery",
            QueueName::Sync => "sync",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    pub body: String,
    /// FIFO message group (required on FIFO queues).
    pub group: Option<String>,
    /// FIFO deduplication id: a repeat within five minutes is dropped.
    pub dedup_id: Option<String>,
    /// Standard queues only; at most 900 seconds.
    pub delay_seconds: u32,
}

impl OutMessage {
    pub fn fifo(body: String, group: impl Into<String>, dedup_id: impl Into<String>) -> Self {
        Self { body, group: Some(group.into()), dedup_id: Some(dedup_id.into()), delay_seconds: 0 }
    }

    pub fn standard(body: String) -> Self {
        Self { body, group: None, dedup_id: None, delay_seconds: 0 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
    /// 1 on first delivery; grows with each redelivery.
    pub receive_count: u32,
}

/// SQS's batch size limit for send and receive.
pub const MAX_BATCH: usize = 10;

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends all messages (in batches of ten); fails if any message was not accepted.
    async fn send_batch(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), StoreError>;
    /// Up to `max` visible messages, hidden for `visibility_seconds` unless deleted.
    async fn receive(&self, queue: QueueName, max: usize, visibility_seconds: u32)
        -> Result<Vec<Received>, StoreError>;
    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), StoreError>;
    async fn change_visibility(
        &self,
        queue: QueueName,
        receipt: &str,
        visibility_seconds: u32,
    ) -> Result<(), StoreError>;
    /// Messages currently in the queue's dead-letter queue (for tests, health and alarms).
    async fn dead_letter_count(&self, queue: QueueName) -> Result<usize, StoreError>;
}
