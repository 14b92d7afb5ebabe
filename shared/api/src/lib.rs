//! Causeloop's route families and queue workers.
//!
//! Each family is one `axum::Router` served by its own Lambda function and, side by side with
//! the others, by `causeloop serve`. Workers are plain async functions over a batch of queue
//! messages; Lambda drives them from SQS events, `causeloop serve` from [`workers::poll_queue`].

pub mod alerts;
pub mod connectors;
pub mod deliveries;
pub mod events;
mod fields;
pub mod inbound;
pub mod ingest;
pub mod issues;
pub mod messages;
pub mod outbound;
pub mod patterns;
pub mod provisioning;
pub mod secrets;
pub mod webhooks;
pub mod workers;

use axum::Router;
use causeloop_http::AppState;

/// Every (method, path) served by [`all_routes`], plus `/health` from the HTTP layer.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    let mut routes = vec![("GET", "/health")];
    routes.extend_from_slice(ingest::ROUTES);
    routes.extend_from_slice(issues::ROUTES);
    routes.extend_from_slice(patterns::ROUTES);
    routes.extend_from_slice(alerts::ROUTES);
    routes.extend_from_slice(connectors::ROUTES);
    routes.extend_from_slice(webhooks::ROUTES);
    routes.extend_from_slice(inbound::ROUTES);
    routes
}

/// Every route family, for hosts that serve them all in one process.
pub fn all_routes() -> Router<AppState> {
    Router::new()
        .merge(ingest::routes())
        .merge(issues::routes())
        .merge(patterns::routes())
        .merge(alerts::routes())
        .merge(connectors::routes())
        .merge(webhooks::routes())
        .merge(inbound::routes())
}
