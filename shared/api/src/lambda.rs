//! The Lambda host: each function's `main` is one call here. Configuration, logs and the AWS
//! clients are set up once per container, before the first event.

use crate::config::Config;
use crate::outbound::OutboundClient;
use crate::state::AppState;
use crate::workers::deliver::DeliverWorker;
use crate::workers::sync::{run_schedule, SyncWorker};
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

/// Runs the sync worker on the sync queue's event source mapping, and the scheduler when
/// EventBridge's schedule invokes the function (an event without `Records`).
pub async fn run_sync() -> Result<(), Error> {
    let state = start().await?;
    let worker = SyncWorker::new(state.clone());
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (state, worker) = (state.clone(), worker.clone());
        async move { sync_event(&state, &worker, event.payload).await }
    }))
    .await
}

/// One invocation of the sync function: an SQS batch for the worker, else a scheduled tick.
pub async fn sync_event(
    state: &AppState,
    worker: &SyncWorker,
    payload: serde_json::Value,
) -> Result<serde_json::Value, Error> {
    if payload.get("Records").is_some() {
        let event: SqsEvent = serde_json::from_value(payload)?;
        let response = sqs_event::batch_response(worker.handle_batch(sqs_event::work_messages(event)).await);
        return Ok(serde_json::to_value(response)?);
    }
    let report = run_schedule(state, causeloop_storage::clock::now_millis() as i64).await?;
    Ok(serde_json::json!({"started": report.started, "requeued": report.requeued}))
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
