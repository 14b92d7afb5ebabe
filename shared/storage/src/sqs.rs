//! The SQS adapter of the queue port.

use crate::queue::{OutMessage, Queue, QueueName, QueueUrls, Received, MAX_BATCH};
use crate::table::StoreError;
use async_trait::async_trait;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;
use std::collections::HashMap;

#[derive(Clone)]
pub struct SqsQueues {
    client: Client,
    urls: HashMap<QueueName, QueueUrls>,
}

fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(err: SdkError<E>) -> StoreError {
    match err.code() {
        Some("ThrottlingException" | "RequestThrottled" | "AWS.SimpleQueueService.RequestThrottled") => {
            StoreError::Throttled
        }
        _ => StoreError::Backend(format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&err))),
    }
}

impl SqsQueues {
    pub fn new(client: Client, urls: HashMap<QueueName, QueueUrls>) -> Self {
        Self { client, urls }
    }

    fn url(&self, queue: QueueName) -> Result<&QueueUrls, StoreError> {
        self.urls
            .get(&queue)
            .ok_or_else(|| StoreError::Backend(format!("no URL configured for the {} queue", queue.as_str())))
    }

    /// Creates the queues as template.yaml declares them, each with its DLQ and redrive policy.
    /// Used by tests and local tooling; in AWS the stack owns the queues.
    pub async fn create_queues(client: &Client, prefix: &str) -> Result<HashMap<QueueName, QueueUrls>, StoreError> {
        let mut urls = HashMap::new();
        for queue in QueueName::ALL {
            let suffix = if queue.is_fifo() { ".fifo" } else { "" };
            let mut dlq = client.create_queue().queue_name(format!("{prefix}-{}-dlq{suffix}", queue.as_str()));
            if queue.is_fifo() {
                dlq = dlq.attributes(QueueAttributeName::FifoQueue, "true");
            }
            let dlq_url = dlq.send().await.map_err(classify)?.queue_url.unwrap_or_default();
            let dlq_arn = client
                .get_queue_attributes()
                .queue_url(&dlq_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(classify)?
                .attributes
                .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
                .unwrap_or_default();
            let mut main = client
                .create_queue()
                .queue_name(format!("{prefix}-{}{suffix}", queue.as_str()))
                .attributes(QueueAttributeName::VisibilityTimeout, "60")
                .attributes(
                    QueueAttributeName::RedrivePolicy,
                    format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{}"}}"#, queue.max_receives()),
                );
            if queue.is_fifo() {
                main = main.attributes(QueueAttributeName::FifoQueue, "true");
            }
            let main_url = main.send().await.map_err(classify)?.queue_url.unwrap_or_default();
            urls.insert(queue, QueueUrls { main: main_url, dead_letter: Some(dlq_url) });
        }
        Ok(urls)
    }
}

#[async_trait]
impl Queue for SqsQueues {
    async fn send_batch(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), StoreError> {
        let url = &self.url(queue)?.main;
        for chunk in messages.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(index, message)| {
                    let mut entry =
                        SendMessageBatchRequestEntry::builder().id(index.to_string()).message_body(&message.body);
                    if queue.is_fifo() {
                        entry = entry
                            .set_message_group_id(message.group.clone())
                            .set_message_deduplication_id(message.dedup_id.clone());
                    } else if message.delay_seconds > 0 {
                        entry = entry.delay_seconds(message.delay_seconds.min(900) as i32);
                    }
                    entry.build().map_err(|err| StoreError::Backend(err.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(classify)?;
            if let Some(failed) = output.failed().first() {
                return Err(StoreError::Backend(format!(
                    "SQS refused {} of {} messages: {} {}",
                    output.failed().len(),
                    chunk.len(),
                    failed.code(),
                    failed.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility_seconds: u32,
    ) -> Result<Vec<Received>, StoreError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url(queue)?.main)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .visibility_timeout(visibility_seconds as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(classify)?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| Received {
                receive_count: message
                    .attributes()
                    .and_then(|attributes| attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1),
                message_id: message.message_id.unwrap_or_default(),
                receipt: message.receipt_handle.unwrap_or_default(),
                body: message.body.unwrap_or_default(),
            })
            .collect())
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), StoreError> {
        self.client
            .delete_message()
            .queue_url(&self.url(queue)?.main)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue: QueueName,
        receipt: &str,
        visibility_seconds: u32,
    ) -> Result<(), StoreError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url(queue)?.main)
            .receipt_handle(receipt)
            .visibility_timeout(visibility_seconds as i32)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn dead_letter_count(&self, queue: QueueName) -> Result<usize, StoreError> {
        let Some(dlq) = &self.url(queue)?.dead_letter else {
            return Ok(0);
        };
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(dlq)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(classify)?
            .attributes
            .unwrap_or_default();
        Ok(attributes.get(&QueueAttributeName::ApproximateNumberOfMessages).and_then(|n| n.parse().ok()).unwrap_or(0))
    }
}
