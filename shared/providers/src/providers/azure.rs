//! `azure`: Azure Monitor action-group webhooks with the common alert schema
//! (`schemaId: "azureMonitorCommonAlertSchema"`, `data.essentials`, `data.alertContext`,
//! `data.customProperties`). Action groups cannot sign or add headers.

use crate::json::{first_scalar, parse_body, required_scalar, scalar, string_map};
use crate::time_fmt::normalize;
use crate::{AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};
use serde_json::Value;

pub struct AzureMonitor;

const COMMON_SCHEMA: &str = "azureMonitorCommonAlertSchema";

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(|i| scalar(Some(i))).collect(),
        _ => vec![],
    }
}

impl Provider for AzureMonitor {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyOnly
    }

    fn verify(&self, _: &Headers, _: &[u8], _: &[u8], _: i64) -> Result<(), VerifyError> {
        Ok(())
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let body = parse_body(raw_body)?;
        match scalar(body.get("schemaId")) {
            Some(schema) if schema == COMMON_SCHEMA => {}
            Some(other) => {
                return Err(ParseError::invalid(
                    "schemaId",
                    format!("{other:?} is not supported; enable the common alert schema on the action group"),
                ))
            }
            None => return Err(ParseError::missing("schemaId")),
        }
        let essentials = body.pointer("/data/essentials").ok_or_else(|| ParseError::missing("data.essentials"))?;
        let field = |name: &str| {
            required_scalar(essentials, name).map_err(|_| ParseError::missing(format!("data.essentials.{name}")))
        };
        let alert_id = field("alertId")?;
        let rule = field("alertRule")?;
        let condition = field("monitorCondition")?;
        let state = match condition.as_str() {
            "Fired" => AlertState::Firing,
            "Resolved" => AlertState::Resolved,
            other => AlertState::Other(other.to_owned()),
        };
        let targets = strings(essentials.get("configurationItems"));
        let description = scalar(essentials.get("description")).unwrap_or_else(|| {
            if targets.is_empty() {
                format!("{rule}: {condition}")
            } else {
                format!("{rule}: {condition} on {}", targets.join(", "))
            }
        });
        let mut alert = CanonicalAlert::new(rule, description, alert_id, state, body.clone());
        // Sev0 (critical) .. Sev4 (verbose), kept in Azure's own word.
        alert.severity = scalar(essentials.get("severity"));
        alert.service = targets.first().cloned();
        alert.tags =
            string_map(body.pointer("/data/customProperties").filter(|v| v.is_object()), "data.customProperties")
                .unwrap_or_default();
        for (tag, key) in [
            ("signal_type", "signalType"),
            ("monitoring_service", "monitoringService"),
            ("target_resource_type", "targetResourceType"),
            ("target_resource_group", "targetResourceGroup"),
        ] {
            if let Some(value) = scalar(essentials.get(key)) {
                alert.tags.insert(tag.into(), value);
            }
        }
        if let Some(target) = strings(essentials.get("alertTargetIDs")).first() {
            alert.tags.insert("target_resource_id".into(), target.clone());
        }
        alert.started_at = scalar(essentials.get("firedDateTime")).and_then(|t| normalize(&t));
        if alert.state == AlertState::Resolved {
            alert.ended_at = scalar(essentials.get("resolvedDateTime")).and_then(|t| normalize(&t));
        }
        alert.url = first_scalar(&body, &["data/alertContext/condition/allOf/0/linkToSearchResultsUI"]);
        Ok(vec![alert])
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }
}
