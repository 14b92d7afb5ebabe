//! The delivery worker's Lambda adapter: an SQS event in, a partial batch failure response out.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use causeloop_api::workers::deliver::DeliverWorker;
use causeloop_api::workers::sqs_event;

pub async fn handle(worker: &DeliverWorker, event: SqsEvent) -> SqsBatchResponse {
    sqs_event::batch_response(worker.handle_batch(sqs_event::work_messages(event)).await)
}
