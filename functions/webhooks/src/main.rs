//! The `webhooks` family on Lambda: the same router `causeloop serve` mounts, served by
//! lambda_http. Needs `CAUSELOOP_SECRET_KEY` to seal signing secrets.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    causeloop_http::telemetry::init();
    let state = causeloop_http::aws::state_from_env().await?;
    lambda_http::run(causeloop_http::app(causeloop_api::webhooks::routes(), state)).await
}
