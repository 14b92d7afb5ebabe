use crate::support::{parse, parse_one, sample, with, without};
use causeloop_providers::{AlertState, ParseError, DATADOG_RECOMMENDED_TEMPLATE};
use serde_json::{json, Value};

const DEFAULT_PAYLOAD: &str = sample!("datadog-default.json");
const TEMPLATED: &str = sample!("datadog-template.json");
const TEMPLATE_FILE: &str = include_str!("../../datadog-template.json");

#[test]
fn default_payload_fires_with_the_bare_title() {
    let alert = parse_one("datadog", DEFAULT_PAYLOAD);
    assert_eq!(alert.title, "Disk usage high");
    assert_eq!(alert.state, AlertState::Firing);
    assert!(alert.description.contains("Disk usage on db-primary-2"));
    assert_eq!(alert.started_at.as_deref(), Some("2025-03-04T10:20:11Z"));
    assert_eq!(alert.ended_at, None);
    assert!(alert.source_alert_id.starts_with("sha256:"));
}

#[test]
fn default_payload_recovery_resolves_the_same_alert() {
    let fired = parse_one("datadog", DEFAULT_PAYLOAD);
    let recovered = parse_one(
        "datadog",
        &with(DEFAULT_PAYLOAD, "/title", json!("[Recovered on {host:db-primary-2}] Disk usage high")),
    );
    let renotified = parse_one(
        "datadog",
        &with(DEFAULT_PAYLOAD, "/title", json!("[P1] [Re-Triggered on {host:db-primary-2}] Disk usage high")),
    );
    let other_host = parse_one(
        "datadog",
        &with(DEFAULT_PAYLOAD, "/title", json!("[Triggered on {host:db-primary-3}] Disk usage high")),
    );
    assert_eq!(recovered.state, AlertState::Resolved);
    assert_eq!(recovered.ended_at.as_deref(), Some("2025-03-04T10:20:11Z"));
    assert_eq!(recovered.source_alert_id, fired.source_alert_id);
    assert_eq!(renotified.state, AlertState::Firing);
    assert_eq!(renotified.source_alert_id, fired.source_alert_id);
    assert_ne!(other_host.source_alert_id, fired.source_alert_id);
}

#[test]
fn templated_payload_uses_transition_priority_tags_and_cycle_key() {
    let alert = parse_one("datadog", TEMPLATED);
    assert_eq!(alert.title, "Checkout error rate");
    assert_eq!(alert.state, AlertState::Resolved);
    assert_eq!(alert.severity.as_deref(), Some("P2"));
    assert_eq!(alert.source_alert_id, "7731950012345678901");
    assert_eq!(alert.service.as_deref(), Some("checkout"));
    assert_eq!(alert.environment.as_deref(), Some("production"));
    assert_eq!(alert.tags["team"], "payments");
    assert_eq!(alert.tags["monitor"], "");
    assert_eq!(alert.ended_at.as_deref(), Some("2025-03-04T10:35:11Z"));
    assert_eq!(alert.url.as_deref(), Some("https://app.datadoghq.com/event/event?id=7731956240581239044"));
}

#[test]
fn a_hand_written_payload_keeps_its_text_and_priority() {
    // The shape of the walkthrough's monitoring-tool example: `text` for the message and
    // `priority` rather than `alert_priority`.
    let payload = json!({
        "alert_id": "1234567", "title": "[Triggered] High error rate on checkout",
        "text": "Error rate 7.2% over the last 5 minutes (threshold 5%)",
        "alert_type": "error", "priority": "P1", "tags": "service:checkout,env:production"
    });
    let alert = parse_one("datadog", &payload.to_string());
    assert_eq!(alert.title, "High error rate on checkout");
    assert_eq!(alert.description, "Error rate 7.2% over the last 5 minutes (threshold 5%)");
    assert_eq!(alert.severity.as_deref(), Some("P1"));
    assert_eq!(alert.service.as_deref(), Some("checkout"));
    assert_eq!(alert.state, AlertState::Firing);
}

#[test]
fn transitions_decide_the_state() {
    let cases = [
        ("Triggered", AlertState::Firing),
        ("Re-Triggered", AlertState::Firing),
        ("Warn", AlertState::Firing),
        ("Renotify", AlertState::Firing),
        ("Recovered", AlertState::Resolved),
        ("No Data", AlertState::Other("No Data".into())),
    ];
    for (transition, state) in cases {
        let body = with(TEMPLATED, "/alert_transition", json!(transition));
        assert_eq!(parse_one("datadog", &body).state, state, "{transition}");
    }
}

#[test]
fn the_id_falls_back_from_cycle_key_to_aggregation_key_to_monitor_and_scope() {
    let no_cycle = without(TEMPLATED, "", "alert_cycle_key");
    assert_eq!(parse_one("datadog", &no_cycle).source_alert_id, "9bd4ac313a4d1e8fae2482df7b77628");
    let no_aggregation = without(&no_cycle, "", "aggreg_key");
    assert_eq!(parse_one("datadog", &no_aggregation).source_alert_id, "1234567:env:production,service:checkout");
}

#[test]
fn unsubstituted_variables_count_as_absent() {
    let body = with(TEMPLATED, "/alert_priority", json!("$ALERT_PRIORITY"));
    let body = with(&body, "/alert_cycle_key", json!("$ALERT_CYCLE_KEY"));
    let alert = parse_one("datadog", &body);
    assert_eq!(alert.severity, None, "success alerts carry no severity word");
    assert_eq!(alert.source_alert_id, "9bd4ac313a4d1e8fae2482df7b77628");
    assert_eq!(
        parse("datadog", TEMPLATE_FILE).unwrap_err(),
        ParseError::MissingField("title".into()),
        "a template nobody filled in is not an alert"
    );
}

/// Every `$VARIABLE` the Datadog Webhooks integration documents.
const DOCUMENTED: &[&str] = &[
    "$AGGREG_KEY",
    "$ALERT_CYCLE_KEY",
    "$ALERT_ID",
    "$ALERT_METRIC",
    "$ALERT_PRIORITY",
    "$ALERT_QUERY",
    "$ALERT_SCOPE",
    "$ALERT_STATUS",
    "$ALERT_TITLE",
    "$ALERT_TRANSITION",
    "$ALERT_TYPE",
    "$DATE",
    "$EMAIL",
    "$EVENT_MSG",
    "$EVENT_TITLE",
    "$EVENT_TYPE",
    "$HOSTNAME",
    "$ID",
    "$LAST_UPDATED",
    "$LINK",
    "$ORG_ID",
    "$ORG_NAME",
    "$PRIORITY",
    "$SNAPSHOT",
    "$TAGS",
    "$TEXT_ONLY_MSG",
    "$USER",
    "$USERNAME",
];

fn fill(template: &Value) -> Value {
    match template {
        Value::String(var) => json!(match var.as_str() {
            "$EVENT_TITLE" => "[Triggered on {host:web-1}] Web latency",
            "$ALERT_TITLE" => "[Triggered on {host:web-1}] Web latency",
            "$ALERT_TRANSITION" => "Triggered",
            "$ALERT_TYPE" => "error",
            "$ALERT_PRIORITY" => "P1",
            "$TAGS" => "service:web,env:prod",
            "$DATE" | "$LAST_UPDATED" => "1741084511000",
            "$ALERT_CYCLE_KEY" => "cycle-1",
            other => other.trim_start_matches('$'),
        }),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v))).collect()),
        other => other.clone(),
    }
}

fn variables(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Object(map) => map.values().for_each(|v| variables(v, out)),
        _ => {}
    }
}

#[test]
fn the_recommended_template_uses_documented_variables_and_parses_once_filled() {
    assert_eq!(DATADOG_RECOMMENDED_TEMPLATE, TEMPLATE_FILE);
    let template: Value = serde_json::from_str(TEMPLATE_FILE).expect("template is JSON");
    let mut used = vec![];
    variables(&template, &mut used);
    for var in &used {
        assert!(DOCUMENTED.contains(&var.as_str()), "{var} is not a documented Datadog variable");
    }
    for needed in ["$ALERT_TRANSITION", "$ALERT_CYCLE_KEY", "$ALERT_PRIORITY", "$TAGS", "$LINK"] {
        assert!(used.iter().any(|v| v == needed), "template lacks {needed}");
    }
    let alert = parse_one("datadog", &fill(&template).to_string());
    assert_eq!(alert.title, "Web latency");
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.severity.as_deref(), Some("P1"));
    assert_eq!(alert.source_alert_id, "cycle-1");
    assert_eq!(alert.service.as_deref(), Some("web"));
    assert_eq!(alert.environment.as_deref(), Some("prod"));
}

#[test]
fn a_payload_without_a_title_is_refused() {
    let body = without(DEFAULT_PAYLOAD, "", "title");
    assert_eq!(parse("datadog", &body).unwrap_err().field(), Some("title"));
}
