//! The cluster worker's Lambda adapter: an SQS event in, a partial batch failure response out.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use causeloop_api::workers::{cluster, WorkMessage};
use causeloop_http::AppState;

pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let messages = event
        .records
        .into_iter()
        .map(|record| WorkMessage {
            id: record.message_id.unwrap_or_default(),
            body: record.body.unwrap_or_default(),
            receive_count: record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1),
        })
        .collect();
    let failed = cluster::handle_batch(state, messages).await;
    SqsBatchResponse {
        batch_item_failures: failed.into_iter().map(|id| BatchItemFailure { item_identifier: id }).collect(),
    }
}
