//! The `issues` family (Issues and Patterns) on Lambda: the same routers `causeloop serve` mounts,
//! served by lambda_http.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    causeloop_http::telemetry::init();
    let state = causeloop_http::aws::state_from_env().await?;
    lambda_http::run(causeloop_http::app(
        causeloop_api::issues::routes().merge(causeloop_api::patterns::routes()),
        state,
    ))
    .await
}
