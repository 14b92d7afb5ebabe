//! The cluster worker on Lambda, driven by the FIFO cluster queue's event source mapping.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    causeloop_http::telemetry::init();
    let state = causeloop_http::aws::state_from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move { Ok::<_, lambda_runtime::Error>(cluster::handle(&state, event.payload).await) }
    }))
    .await
}
