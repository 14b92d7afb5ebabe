//! The `alerts` family on Lambda: the same routers `causeloop serve` mounts, served by
//! lambda_http. SNS signing certificates are fetched over HTTPS and cached per container; the
//! SNS client for `ConfirmSubscription` is built on the first confirmation, not at start-up.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    causeloop_http::telemetry::init();
    let state = causeloop_http::aws::state_from_env().await?;
    lambda_http::run(causeloop_http::app(alerts::routes(), state)).await
}
