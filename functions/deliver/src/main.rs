//! The delivery worker, on the delivery queue's event source mapping.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    causeloop_api::lambda::run_deliver().await
}
