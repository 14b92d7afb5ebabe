//! The delivery worker on Lambda, driven by the delivery queue's event source mapping. The state
//! and the HTTP client (its connection pool) are built once per container.

use aws_lambda_events::event::sqs::SqsEvent;
use causeloop_api::outbound::OutboundClient;
use causeloop_api::workers::deliver::DeliverWorker;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    causeloop_http::telemetry::init();
    let state = causeloop_http::aws::state_from_env().await?;
    let worker = DeliverWorker::new(state.clone(), OutboundClient::new(state.settings.allow_private_targets)?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, lambda_runtime::Error>(deliver::handle(&worker, event.payload).await) }
    }))
    .await
}
