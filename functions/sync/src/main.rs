//! Managed connectors' syncs: the sync worker on the sync queue, and the scheduler on EventBridge.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    causeloop_api::lambda::run_sync().await
}
