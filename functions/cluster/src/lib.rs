//! The cluster worker's Lambda adapter: an SQS event in, a partial batch failure response out.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use causeloop_api::workers::{cluster, sqs_event};
use causeloop_http::AppState;

pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    sqs_event::batch_response(cluster::handle_batch(state, sqs_event::work_messages(event)).await)
}
