//! The alerts function's router: provider webhooks (CloudWatch over SNS among them) and the
//! inbound receiver. One definition for the Lambda binary and for the tests that replay
//! `events/alerts/apigw-*.json` through it.

use axum::Router;
use causeloop_http::AppState;

pub fn routes() -> Router<AppState> {
    causeloop_api::alerts::routes().merge(causeloop_api::inbound::routes())
}
