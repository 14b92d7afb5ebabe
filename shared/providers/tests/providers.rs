//! Black-box tests of the provider layer against the sample bodies in `events/alerts/`.

#[path = "providers/support.rs"]
mod support;

#[path = "providers/alertmanager_grafana.rs"]
mod alertmanager_grafana;
#[path = "providers/custom.rs"]
mod custom;
#[path = "providers/datadog.rs"]
mod datadog;
#[path = "providers/extras.rs"]
mod extras;
#[path = "providers/registry.rs"]
mod registry;
#[path = "providers/sentry.rs"]
mod sentry;
#[path = "providers/signatures.rs"]
mod signatures;
#[path = "providers/sns_cloudwatch.rs"]
mod sns_cloudwatch;
