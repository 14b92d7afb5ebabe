//! Causeloop's route families and queue workers.
//!
//! Each family is one `axum::Router` served by its own Lambda function and, side by side with
//! the others, by `causeloop serve`; [`app`] says which function serves which families.
//! Workers are plain async functions over a batch of queue messages; Lambda drives them from SQS
//! events ([`lambda`]), `causeloop serve` from [`workers::poll_queue`].

pub mod alerts;
pub mod app;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod connectors;
pub mod console;
pub mod deliveries;
pub mod events;
mod fields;
pub mod inbound;
pub mod ingest;
pub mod insights_view;
pub mod issues;
pub mod keys;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod messages;
pub mod oauth;
pub mod outbound;
pub mod patterns;
pub mod predictions;
pub mod provisioning;
pub mod secrets;
pub mod state;
pub mod telemetry;
pub mod webhooks;
pub mod workers;
