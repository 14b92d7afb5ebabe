use crate::support::{parse, sample, with, without};
use causeloop_providers::{AlertState, ParseError, MAX_ALERTS_PER_NOTIFICATION};
use serde_json::json;

const GROUP: &str = sample!("alertmanager.json");
const RESOLVED_GROUP: &str = sample!("alertmanager-resolved.json");
const GRAFANA: &str = sample!("grafana.json");

#[test]
fn alertmanager_yields_one_alert_per_fingerprint_in_a_mixed_truncated_group() {
    let alerts = parse("alertmanager", GROUP).unwrap();
    assert_eq!(alerts.len(), 2, "the two alerts present; truncatedAlerts are not in the body");
    let (firing, resolved) = (&alerts[0], &alerts[1]);

    assert_eq!(firing.source_alert_id, "5c2b7f1a9e0d4c33");
    assert_eq!(firing.state, AlertState::Firing);
    assert_eq!(firing.title, "Pod shop/cart-7d9c8b6f5-x2k4q is crash looping");
    assert!(firing.description.contains("restarted 5 times"));
    assert_eq!(firing.severity.as_deref(), Some("critical"));
    assert_eq!(firing.service.as_deref(), Some("cart"), "service label wins over job");
    assert_eq!(firing.environment.as_deref(), Some("production"));
    assert_eq!(firing.started_at.as_deref(), Some("2025-03-04T10:15:30.123Z"));
    assert_eq!(firing.ended_at, None);
    assert!(firing.url.as_deref().unwrap().starts_with("http://prometheus.monitoring:9090/graph"));
    assert_eq!(firing.tags["pod"], "cart-7d9c8b6f5-x2k4q");
    assert_eq!(firing.tags["namespace"], "shop");
    assert_eq!(firing.raw["fingerprint"], "5c2b7f1a9e0d4c33");

    assert_eq!(resolved.source_alert_id, "a81f3c2d7b6e5f40");
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.service.as_deref(), Some("search"), "app label");
    assert_eq!(resolved.ended_at.as_deref(), Some("2025-03-04T10:12:00Z"));
}

#[test]
fn alertmanager_resolved_only_group_resolves_and_uses_common_annotations() {
    let alerts = parse("alertmanager", RESOLVED_GROUP).unwrap();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.state, AlertState::Resolved);
    assert_eq!(alert.title, "5xx ratio above 5% on api");
    assert_eq!(alert.description, alert.title);
    assert_eq!(alert.service.as_deref(), Some("api"), "job label as the last resort");
    assert_eq!(alert.severity.as_deref(), Some("warning"));
    assert_eq!(alert.ended_at.as_deref(), Some("2025-03-04T08:25:00Z"));
}

#[test]
fn alerts_without_status_take_the_group_status() {
    let body = without(RESOLVED_GROUP, "/alerts/0", "status");
    assert_eq!(parse("alertmanager", &body).unwrap()[0].state, AlertState::Resolved);
}

#[test]
fn a_missing_fingerprint_is_derived_from_the_label_set() {
    let body = without(GROUP, "/alerts/0", "fingerprint");
    let first = parse("alertmanager", &body).unwrap().remove(0);
    let again =
        parse("alertmanager", &with(&body, "/alerts/0/startsAt", json!("2025-03-05T00:00:00Z"))).unwrap().remove(0);
    let other_pod = parse("alertmanager", &with(&body, "/alerts/0/labels/pod", json!("cart-2"))).unwrap().remove(0);
    assert!(first.source_alert_id.starts_with("sha256:"));
    assert_eq!(first.source_alert_id, again.source_alert_id);
    assert_ne!(first.source_alert_id, other_pod.source_alert_id);
}

#[test]
fn malformed_groups_name_the_field_at_fault() {
    let no_alerts = without(GROUP, "", "alerts");
    assert_eq!(parse("alertmanager", &no_alerts).unwrap_err(), ParseError::MissingField("alerts".into()));
    assert_eq!(parse("alertmanager", &with(GROUP, "/alerts", json!({}))).unwrap_err().field(), Some("alerts"));
    let nameless = json!({"alerts": [{"status": "firing", "labels": {"severity": "critical"}}]}).to_string();
    assert_eq!(parse("alertmanager", &nameless).unwrap_err().field(), Some("alerts[0].labels.alertname"));
    let bad_labels = with(GROUP, "/alerts/1/labels/pod", json!({"x": 1}));
    assert_eq!(parse("alertmanager", &bad_labels).unwrap_err().field(), Some("alerts[1].labels.pod"));
    assert!(parse("alertmanager", &json!({"alerts": []}).to_string()).unwrap().is_empty());
}

#[test]
fn grafana_notification_yields_each_alert() {
    let alerts = parse("grafana", GRAFANA).unwrap();
    assert_eq!(alerts.len(), 2);
    let memory = &alerts[0];
    assert_eq!(memory.source_alert_id, "c6eadffa33fcdf37");
    assert_eq!(memory.title, "billing-api memory above 90% in zone us-1");
    assert_eq!(memory.description, "Memory usage on billing-api is at 93%.");
    assert_eq!(memory.state, AlertState::Firing);
    assert_eq!(memory.severity.as_deref(), Some("warning"));
    assert_eq!(memory.service.as_deref(), Some("billing-api"));
    assert_eq!(memory.environment.as_deref(), Some("staging"));
    assert_eq!(memory.started_at.as_deref(), Some("2025-02-11T07:51:03.157076Z"));
    assert_eq!(memory.url.as_deref(), Some("https://grafana.example.com/alerting/grafana/cdeqmlhvflz40f/view"));
    assert_eq!(memory.raw["values"]["B"], 93.1);

    let cpu = &alerts[1];
    assert_eq!(cpu.source_alert_id, "bc97ff14869b13e3");
    assert_eq!(cpu.state, AlertState::Resolved);
    assert_eq!(cpu.severity, None);
    assert_eq!(cpu.ended_at.as_deref(), Some("2025-02-11T07:45:00Z"));
}

/// A group with `n` copies of the sample's first alert, each its own fingerprint.
fn group_of(n: usize, common_annotation_bytes: usize) -> String {
    let mut group: serde_json::Value = serde_json::from_str(GROUP).unwrap();
    let alert = group["alerts"][0].clone();
    group["alerts"] = (0..n)
        .map(|i| {
            let mut alert = alert.clone();
            alert["fingerprint"] = json!(format!("fp{i}"));
            alert
        })
        .collect();
    group["commonAnnotations"] = json!({"runbook": "r".repeat(common_annotation_bytes)});
    group.to_string()
}

#[test]
fn a_group_is_bounded_in_alerts_and_in_what_it_copies_into_them() {
    for provider in ["alertmanager", "grafana"] {
        assert_eq!(
            parse(provider, &group_of(MAX_ALERTS_PER_NOTIFICATION, 10)).unwrap().len(),
            MAX_ALERTS_PER_NOTIFICATION
        );
        match parse(provider, &group_of(MAX_ALERTS_PER_NOTIFICATION + 1, 10)) {
            Err(ParseError::InvalidField { field, reason }) => {
                assert_eq!(field, "alerts");
                assert!(reason.contains("max_alerts"), "{reason}");
            }
            other => panic!("{provider}: {other:?}"),
        }
        // 100 alerts each receiving a 64 KiB annotation: 6.4 MiB of copies, refused.
        match parse(provider, &group_of(100, 64 * 1024)) {
            Err(ParseError::InvalidField { field, .. }) => assert_eq!(field, "commonAnnotations"),
            other => panic!("{provider}: {other:?}"),
        }
        assert!(parse(provider, &group_of(10, 64 * 1024)).is_ok(), "ten copies are fine");
    }
}
