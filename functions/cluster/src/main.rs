//! The cluster worker, on the FIFO cluster queue's event source mapping.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    causeloop_api::lambda::run_cluster().await
}
