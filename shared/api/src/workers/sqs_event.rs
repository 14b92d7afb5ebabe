//! Lambda's SQS event in, its partial batch failure response out: the shape every worker
//! function speaks with the event source mapping (`ReportBatchItemFailures`).

use super::WorkMessage;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

pub fn work_messages(event: SqsEvent) -> Vec<WorkMessage> {
    event
        .records
        .into_iter()
        .map(|record| WorkMessage {
            id: record.message_id.unwrap_or_default(),
            body: record.body.unwrap_or_default(),
            receive_count: record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1),
            receipt: record.receipt_handle.unwrap_or_default(),
        })
        .collect()
}

/// The messages not to delete; Lambda returns them to the queue.
pub fn batch_response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}
