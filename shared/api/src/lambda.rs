//! The Lambda host: each function's `main` is one call here. Configuration, logs and the AWS
//! clients are set up once per container, before the first event.

use crate::config::Config;
use crate::outbound::OutboundClient;
use crate::state::AppState;
use crate::workers::deliver::DeliverWorker;
use crate::workers::{cluster, sqs_event};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use lambda_runtime::{service_fn, LambdaEvent};

type Error = lambda_runtime::Error;

/// Serves a function's routes behind API Gateway (HTTP API, payload v2). A `main` passes
/// `FAMILIES.routes()` for a constant `FAMILIES = Function::X.families()`, so the binary links
/// only its own handlers (see [`Families::routes`]).
pub async fn serve_http(routes: Router<AppState>) -> Result<(), Error> {
    let state = start().await?;
    lambda_http::run(causeloop_http::app(routes, state)).await
}

/// Runs the cluster worker on the cluster queue's event source mapping.
pub async fn run_cluster() -> Result<(), Error> {
    let state = start().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move { Ok::<_, Error>(cluster_batch(&state, event.payload).await) }
    }))
    .await
}

/// Runs the delivery worker on the delivery queue's event source mapping. Its HTTP client (and
/// connection pool) lives as long as the container.
pub async fn run_deliver() -> Result<(), Error> {
    let state = start().await?;
    let worker = DeliverWorker::new(state.clone(), OutboundClient::new(state.settings.allow_private_targets)?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, Error>(deliver_batch(&worker, event.payload).await) }
    }))
    .await
}

/// An SQS event through the cluster worker, as a partial batch failure response.
pub async fn cluster_batch(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    sqs_event::batch_response(cluster::handle_batch(state, sqs_event::work_messages(event)).await)
}

/// An SQS event through the delivery worker, as a partial batch failure response.
pub async fn deliver_batch(worker: &DeliverWorker, event: SqsEvent) -> SqsBatchResponse {
    sqs_event::batch_response(worker.handle_batch(sqs_event::work_messages(event)).await)
}

async fn start() -> Result<AppState, Error> {
    let config = Config::from_env()?;
    crate::telemetry::init(&config);
    Ok(crate::aws::state_from_config(&config).await?)
}
