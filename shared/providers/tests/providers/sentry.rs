use crate::support::{headers, parse_with, sample, with, without};
use causeloop_providers::{AlertState, CanonicalAlert, Headers};
use serde_json::json;

const EVENT_ALERT: &str = sample!("sentry-event-alert.json");
const METRIC_ALERT: &str = sample!("sentry-metric-alert.json");
const ISSUE_RESOLVED: &str = sample!("sentry-issue-resolved.json");
const LEGACY: &str = sample!("sentry-legacy-plugin.json");

fn parse(resource: Option<&str>, body: &str) -> Vec<CanonicalAlert> {
    let h = match resource {
        Some(r) => headers(&[("Sentry-Hook-Resource", r)]),
        None => Headers::new(),
    };
    parse_with("sentry", &h, body).unwrap()
}

#[test]
fn issue_alert_fires_keyed_by_the_issue() {
    let alerts = parse(Some("event_alert"), EVENT_ALERT);
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.title, "KeyError: 'currency'");
    assert_eq!(alert.source_alert_id, "issue:4412209931");
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.severity.as_deref(), Some("error"));
    assert_eq!(alert.environment.as_deref(), Some("production"));
    assert_eq!(alert.service.as_deref(), Some("checkout"));
    assert_eq!(alert.description, "New errors in checkout: 'currency'");
    assert_eq!(alert.tags["sentry_rule"], "New errors in checkout");
    assert_eq!(alert.started_at.as_deref(), Some("2025-03-04T10:31:07.412Z"));
    assert!(alert.url.as_deref().unwrap().contains("/issues/4412209931/events/"));
    assert_eq!(parse(None, EVENT_ALERT), alerts, "recognised without the resource header");
}

#[test]
fn metric_alert_actions_map_to_states() {
    let critical = parse(Some("metric_alert"), METRIC_ALERT).remove(0);
    assert_eq!(critical.state, AlertState::Firing);
    assert_eq!(critical.severity.as_deref(), Some("critical"));
    assert_eq!(critical.source_alert_id, "metric_alert:9031");
    assert_eq!(critical.title, "Critical: Too many errors in checkout");
    assert_eq!(critical.environment.as_deref(), Some("production"));
    assert_eq!(critical.service.as_deref(), Some("checkout"));
    assert_eq!(critical.started_at.as_deref(), Some("2025-03-04T10:38:00Z"));

    let warning = parse(Some("metric_alert"), &with(METRIC_ALERT, "/action", json!("warning"))).remove(0);
    assert_eq!(warning.severity.as_deref(), Some("warning"));
    assert_eq!(warning.source_alert_id, critical.source_alert_id);

    let closed = with(METRIC_ALERT, "/data/metric_alert/date_closed", json!("2025-03-04T11:00:00.000000Z"));
    let resolved = parse(None, &with(&closed, "/action", json!("resolved"))).remove(0);
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.source_alert_id, critical.source_alert_id);
    assert_eq!(resolved.ended_at.as_deref(), Some("2025-03-04T11:00:00Z"));
}

#[test]
fn a_resolved_issue_resolves_the_issue_alert() {
    let fired = parse(Some("event_alert"), EVENT_ALERT).remove(0);
    let resolved = parse(Some("issue"), ISSUE_RESOLVED).remove(0);
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.source_alert_id, fired.source_alert_id);
    assert_eq!(resolved.service.as_deref(), Some("checkout"));
    assert_eq!(resolved.tags["sentry_short_id"], "CHECKOUT-2K");
    assert_eq!(resolved.ended_at.as_deref(), Some("2025-03-04T11:02:44Z"));
    let reopened = parse(Some("issue"), &with(ISSUE_RESOLVED, "/action", json!("unresolved"))).remove(0);
    assert_eq!(reopened.state, AlertState::Firing);
}

#[test]
fn resources_without_alert_meaning_yield_nothing() {
    assert!(parse(Some("issue"), &with(ISSUE_RESOLVED, "/action", json!("assigned"))).is_empty());
    assert!(parse(Some("installation"), r#"{"action":"created","data":{}}"#).is_empty());
    assert!(parse(Some("comment"), r#"{"action":"created","data":{}}"#).is_empty());
}

#[test]
fn legacy_plugin_payload_fires_keyed_by_the_issue() {
    let alert = parse(None, LEGACY).remove(0);
    assert_eq!(alert.source_alert_id, "issue:4412209931");
    assert_eq!(alert.title, "KeyError: 'currency'");
    assert_eq!(alert.description, "checkout.views.submit_order");
    assert_eq!(alert.severity.as_deref(), Some("error"));
    assert_eq!(alert.service.as_deref(), Some("checkout"));
    assert_eq!(alert.environment.as_deref(), Some("production"));
    assert!(alert.url.as_deref().unwrap().contains("referrer=webhooks_plugin"));
}

#[test]
fn malformed_sentry_bodies_name_the_field() {
    let h = headers(&[("Sentry-Hook-Resource", "event_alert")]);
    let body = without(EVENT_ALERT, "/data/event", "issue_id");
    assert_eq!(parse_with("sentry", &h, &body).unwrap_err().field(), Some("data.event.issue_id"));
    let h = headers(&[("Sentry-Hook-Resource", "metric_alert")]);
    let body = without(METRIC_ALERT, "/data/metric_alert", "id");
    assert_eq!(parse_with("sentry", &h, &body).unwrap_err().field(), Some("data.metric_alert.id"));
    assert_eq!(parse_with("sentry", &Headers::new(), "{}").unwrap_err().field(), Some("id"));
}
