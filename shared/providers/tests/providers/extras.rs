use crate::support::{parse, parse_one, sample, with};
use causeloop_providers::AlertState;
use serde_json::json;

const PAGERDUTY: &str = sample!("pagerduty.json");
const OPSGENIE: &str = sample!("opsgenie.json");
const NEWRELIC: &str = sample!("newrelic.json");
const AZURE: &str = sample!("azure.json");
const GCP: &str = sample!("gcp.json");

#[test]
fn pagerduty_incident_events() {
    let fired = parse_one("pagerduty", PAGERDUTY);
    assert_eq!(fired.source_alert_id, "Q2M5RZJ8FRK3B1");
    assert_eq!(fired.title, "Checkout API error rate above 5%");
    assert_eq!(fired.state, AlertState::Firing);
    assert_eq!(fired.severity.as_deref(), Some("P2"));
    assert_eq!(fired.service.as_deref(), Some("Checkout API"));
    assert_eq!(fired.url.as_deref(), Some("https://example.pagerduty.com/incidents/Q2M5RZJ8FRK3B1"));
    assert_eq!(fired.tags["urgency"], "high");

    let resolved = parse_one("pagerduty", &with(PAGERDUTY, "/event/event_type", json!("incident.resolved")));
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.ended_at.as_deref(), Some("2025-03-04T10:50:12.271Z"));
    let acknowledged = parse_one("pagerduty", &with(PAGERDUTY, "/event/event_type", json!("incident.acknowledged")));
    assert_eq!(acknowledged.state, AlertState::Other("acknowledged".into()));
    assert!(parse("pagerduty", &with(PAGERDUTY, "/event/event_type", json!("incident.annotated"))).unwrap().is_empty());
    let no_priority = with(PAGERDUTY, "/event/data/priority", json!(null));
    assert_eq!(parse_one("pagerduty", &no_priority).severity.as_deref(), Some("high"));
    assert_eq!(parse("pagerduty", "{}").unwrap_err().field(), Some("event"));
}

#[test]
fn opsgenie_alert_actions() {
    let created = parse_one("opsgenie", OPSGENIE);
    assert_eq!(created.source_alert_id, "6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b-1741085470661");
    assert_eq!(created.title, "Inventory DB replication lag above 60 s");
    assert_eq!(created.description, "Replica inventory-db-2 is 94 s behind the primary.");
    assert_eq!(created.severity.as_deref(), Some("P1"));
    assert_eq!(created.service.as_deref(), Some("inventory"));
    assert_eq!(created.environment.as_deref(), Some("production"));
    assert_eq!(created.tags["database"], "");
    assert_eq!(created.started_at.as_deref(), Some("2025-03-04T10:51:10.661Z"));
    let closed = parse_one("opsgenie", &with(OPSGENIE, "/action", json!("Close")));
    assert_eq!(closed.state, AlertState::Resolved);
    assert_eq!(closed.source_alert_id, created.source_alert_id);
    assert!(parse("opsgenie", &with(OPSGENIE, "/action", json!("AddNote"))).unwrap().is_empty());
}

#[test]
fn newrelic_issue_states() {
    let activated = parse_one("newrelic", NEWRELIC);
    assert_eq!(activated.source_alert_id, "0ea2df1c-adab-45d2-aae0-042b609d2322");
    assert_eq!(activated.state, AlertState::Firing);
    assert_eq!(activated.severity.as_deref(), Some("CRITICAL"));
    assert_eq!(activated.service.as_deref(), Some("inventory-worker"));
    assert_eq!(activated.tags["alert_policies"], "Inventory");
    assert_eq!(activated.started_at.as_deref(), Some("2025-03-04T10:58:01.442Z"));
    let closed = parse_one("newrelic", &with(NEWRELIC, "/state", json!("CLOSED")));
    assert_eq!(closed.state, AlertState::Resolved);
    let acknowledged = parse_one("newrelic", &with(NEWRELIC, "/state", json!("ACKNOWLEDGED")));
    assert_eq!(acknowledged.state, AlertState::Other("acknowledged".into()));
    assert_eq!(parse("newrelic", &with(NEWRELIC, "/id", json!(null))).unwrap_err().field(), Some("id"));
}

#[test]
fn azure_common_alert_schema() {
    let fired = parse_one("azure", AZURE);
    assert!(fired.source_alert_id.ends_with("/alerts/6b1e4c2a-9d3f-4a7b-8c5e-1f2a3b4c5d6e"));
    assert_eq!(fired.title, "orders-vm-high-cpu");
    assert_eq!(fired.description, "CPU above 85% for 5 minutes on orders-vm-1");
    assert_eq!(fired.severity.as_deref(), Some("Sev2"));
    assert_eq!(fired.state, AlertState::Firing);
    assert_eq!(fired.service.as_deref(), Some("orders-vm-1"));
    assert_eq!(fired.tags["team"], "orders");
    assert_eq!(fired.tags["signal_type"], "Metric");
    assert_eq!(fired.started_at.as_deref(), Some("2025-03-04T11:02:19.8129393Z"));
    let resolved_body = with(AZURE, "/data/essentials/monitorCondition", json!("Resolved"));
    let resolved_body = with(&resolved_body, "/data/essentials/firedDateTime", json!("2025-03-04T11:02:19Z"));
    let resolved = parse_one("azure", &resolved_body);
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.source_alert_id, fired.source_alert_id);
    let legacy = with(AZURE, "/schemaId", json!("Microsoft.Insights/activityLogs"));
    assert_eq!(parse("azure", &legacy).unwrap_err().field(), Some("schemaId"));
}

#[test]
fn google_cloud_monitoring_incidents() {
    let open = parse_one("gcp", GCP);
    assert_eq!(open.source_alert_id, "0.nx3b5q1k2p7w");
    assert_eq!(open.title, "Frontend CPU high");
    assert!(open.description.starts_with("CPU utilization for shop-prod-41872 frontend-7"));
    assert_eq!(open.severity.as_deref(), Some("Critical"));
    assert_eq!(open.state, AlertState::Firing);
    assert_eq!(open.service.as_deref(), Some("frontend-7"));
    assert_eq!(open.environment.as_deref(), Some("production"));
    assert_eq!(open.tags["resource.zone"], "europe-west1-b");
    assert_eq!(open.started_at.as_deref(), Some("2025-03-04T11:01:40Z"));
    let closed_body = with(GCP, "/incident/state", json!("closed"));
    let closed = parse_one("gcp", &with(&closed_body, "/incident/ended_at", json!(1741086700)));
    assert_eq!(closed.state, AlertState::Resolved);
    assert_eq!(closed.ended_at.as_deref(), Some("2025-03-04T11:11:40Z"));
    assert_eq!(parse("gcp", r#"{"version":"1.2"}"#).unwrap_err().field(), Some("incident"));
}
