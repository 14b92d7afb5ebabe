//! The notification shape Prometheus Alertmanager (webhook version "4") and Grafana unified
//! alerting (webhook version "1") share: a group with `alerts[]`, each carrying `status`,
//! `labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL` and `fingerprint`.

use crate::json::{derived_id, first_label, parse_object, scalar, string_map};
use crate::time_fmt::normalize;
use crate::{AlertState, CanonicalAlert, ParseError};
use serde_json::Value;

const SERVICE_LABELS: &[&str] = &["service", "service_name", "app", "application", "job"];
const ENVIRONMENT_LABELS: &[&str] = &["environment", "env"];

fn state_of(status: Option<String>) -> AlertState {
    match status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("firing") => AlertState::Firing,
        Some("resolved") => AlertState::Resolved,
        Some(other) => AlertState::Other(other.to_owned()),
        None => AlertState::Firing,
    }
}

/// The group's `truncatedAlerts`, when positive.
pub(crate) fn truncated_alerts(raw_body: &[u8]) -> Option<u64> {
    let body: Value = serde_json::from_slice(raw_body).ok()?;
    body.get("truncatedAlerts").and_then(Value::as_u64).filter(|n| *n > 0)
}

/// Alerts one notification may carry. Each becomes an Issue write within the request, so the
/// work per request stays far inside the function's timeout; the tools cap their own
/// notifications with `max_alerts` (Alertmanager) or "Max alerts" (Grafana).
pub const MAX_ALERTS_PER_NOTIFICATION: usize = 100;
/// The group-wide labels and annotations are copied into every alert: this bounds the copies.
const MAX_COPIED_COMMON_BYTES: usize = 4 * 1024 * 1024;

/// One canonical alert per entry of `alerts[]`. Alerts cut by `max_alerts`
/// (`truncatedAlerts` > 0) are not in the body and cannot be recovered; they come back on the
/// tool's next notification for the group. A group over [`MAX_ALERTS_PER_NOTIFICATION`] is
/// refused whole (nothing applied), which a tool does not retry.
pub(crate) fn parse_group(raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
    let body = parse_object(raw_body)?;
    let alerts = match body.get("alerts") {
        Some(Value::Array(alerts)) => alerts,
        Some(_) => return Err(ParseError::invalid("alerts", "must be an array")),
        None => return Err(ParseError::missing("alerts")),
    };
    if alerts.len() > MAX_ALERTS_PER_NOTIFICATION {
        return Err(ParseError::invalid(
            "alerts",
            format!(
                "holds {} alerts; a notification may hold at most {MAX_ALERTS_PER_NOTIFICATION} (set max_alerts in the receiver)",
                alerts.len()
            ),
        ));
    }
    let common_bytes: usize = ["groupLabels", "commonLabels", "commonAnnotations"]
        .iter()
        .filter_map(|key| body.get(*key))
        .map(|value| value.to_string().len())
        .sum();
    if common_bytes.saturating_mul(alerts.len()) > MAX_COPIED_COMMON_BYTES {
        return Err(ParseError::invalid(
            "commonAnnotations",
            format!(
                "the group's labels and annotations ({common_bytes} bytes) copied into each of {} alerts pass {MAX_COPIED_COMMON_BYTES} bytes",
                alerts.len()
            ),
        ));
    }
    let group_status = scalar(body.get("status"));
    let mut shared_labels = string_map(body.get("groupLabels"), "groupLabels")?;
    shared_labels.extend(string_map(body.get("commonLabels"), "commonLabels")?);
    let common_annotations = string_map(body.get("commonAnnotations"), "commonAnnotations")?;

    alerts
        .iter()
        .enumerate()
        .map(|(i, alert)| {
            let at = |field: &str| format!("alerts[{i}].{field}");
            if !alert.is_object() {
                return Err(ParseError::invalid(format!("alerts[{i}]"), "must be an object"));
            }
            let mut labels = shared_labels.clone();
            labels.extend(string_map(alert.get("labels"), &at("labels"))?);
            let mut annotations = common_annotations.clone();
            annotations.extend(string_map(alert.get("annotations"), &at("annotations"))?);

            let summary = first_label(&annotations, &["summary", "title"]);
            let title = summary
                .clone()
                .or_else(|| first_label(&labels, &["alertname"]))
                .ok_or_else(|| ParseError::missing(at("labels.alertname")))?;
            let description =
                first_label(&annotations, &["description", "message"]).or(summary).unwrap_or_else(|| title.clone());
            let source_alert_id = scalar(alert.get("fingerprint")).unwrap_or_else(|| {
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let parts: Vec<&str> = pairs.iter().map(String::as_str).collect();
                derived_id(&parts)
            });
            let state = state_of(scalar(alert.get("status")).or_else(|| group_status.clone()));
            let ended_at = match state {
                AlertState::Resolved => scalar(alert.get("endsAt")).and_then(|t| normalize(&t)),
                _ => None,
            };

            let mut canonical = CanonicalAlert::new(title, description, source_alert_id, state, alert.clone());
            canonical.severity = first_label(&labels, &["severity"]);
            canonical.service = first_label(&labels, SERVICE_LABELS);
            canonical.environment = first_label(&labels, ENVIRONMENT_LABELS);
            canonical.started_at = scalar(alert.get("startsAt")).and_then(|t| normalize(&t));
            canonical.ended_at = ended_at;
            canonical.url = ["generatorURL", "panelURL", "dashboardURL"].iter().find_map(|k| scalar(alert.get(*k)));
            canonical.tags = labels;
            Ok(canonical)
        })
        .collect()
}
