use crate::support::{headers, parse_with, sample};
use causeloop_providers::{registry, AlertState, Headers};

/// One real-format sample per registered provider; a provider added without one fails here.
fn sample_for(name: &str) -> (&'static str, Headers) {
    match name {
        "custom" => (sample!("custom.json"), Headers::new()),
        "datadog" => (sample!("datadog-default.json"), Headers::new()),
        "grafana" => (sample!("grafana.json"), Headers::new()),
        "alertmanager" => (sample!("alertmanager.json"), Headers::new()),
        "cloudwatch" => (sample!("cloudwatch-alarm.json"), headers(&[("Content-Type", "text/plain; charset=UTF-8")])),
        "sentry" => (sample!("sentry-event-alert.json"), headers(&[("Sentry-Hook-Resource", "event_alert")])),
        "pagerduty" => (sample!("pagerduty.json"), Headers::new()),
        "opsgenie" => (sample!("opsgenie.json"), Headers::new()),
        "newrelic" => (sample!("newrelic.json"), Headers::new()),
        "azure" => (sample!("azure.json"), Headers::new()),
        "gcp" => (sample!("gcp.json"), Headers::new()),
        other => panic!("no sample for provider {other}: add one under events/alerts/"),
    }
}

#[test]
fn every_provider_reads_its_sample_into_complete_alerts() {
    for p in registry() {
        let (body, headers) = sample_for(p.name());
        let alerts = parse_with(p.name(), &headers, body).unwrap_or_else(|e| panic!("{}: {e}", p.name()));
        assert!(!alerts.is_empty(), "{}", p.name());
        for alert in alerts {
            assert!(!alert.title.trim().is_empty(), "{}", p.name());
            assert!(!alert.description.trim().is_empty(), "{}", p.name());
            assert!(!alert.source_alert_id.trim().is_empty(), "{}", p.name());
            assert!(alert.raw.is_object(), "{}", p.name());
            if alert.state == AlertState::Firing {
                assert_eq!(alert.ended_at, None, "{}", p.name());
            }
        }
    }
}

#[test]
fn every_provider_refuses_bodies_that_are_not_json() {
    for p in registry() {
        assert!(p.parse(&Headers::new(), b"<html>").is_err(), "{}", p.name());
        assert!(p.parse(&Headers::new(), b"").is_err(), "{}", p.name());
    }
}
