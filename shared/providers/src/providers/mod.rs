//! One module per provider. Register a new one in `crate::REGISTRY`.

pub mod alertmanager;
pub mod azure;
pub mod cloudwatch;
pub mod custom;
pub mod datadog;
pub mod gcp;
pub mod grafana;
pub mod newrelic;
pub mod opsgenie;
pub mod pagerduty;
pub(crate) mod prometheus_style;
pub mod sentry;
