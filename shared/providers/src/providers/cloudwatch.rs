//! `cloudwatch`: CloudWatch alarm state changes delivered by an Amazon SNS HTTPS subscription.
//!
//! No API key can ride along, so requests are authenticated by the SNS message signature
//! (see [`crate::sns`]) plus the workspace's topic allow-list; [`Provider::verify`] therefore
//! refuses, failing closed for any caller that skips the SNS path.
//!
//! The alarm is the JSON string in the envelope's `Message`: metric alarms carry `Trigger`,
//! composite alarms carry `AlarmRule` and `TriggeringChildren`. `ALARM` fires, `OK` resolves,
//! `INSUFFICIENT_DATA` is neither.

use crate::json::{first_scalar, scalar};
use crate::sns::{parse_sns_message, SnsMessageType};
use crate::time_fmt::normalize;
use crate::{AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};
use serde_json::Value;

pub struct CloudWatch;

fn state_of(value: &str) -> AlertState {
    match value {
        "ALARM" => AlertState::Firing,
        "OK" => AlertState::Resolved,
        other => AlertState::Other(other.to_owned()),
    }
}

/// Only the characters an alarm name may hold that are unsafe in a URL fragment are escaped.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn console_url(partition: &str, region: &str, alarm_name: &str) -> Option<String> {
    let host = match partition {
        "aws" => "console.aws.amazon.com",
        "aws-cn" => "console.amazonaws.cn",
        _ => return None,
    };
    Some(format!("https://{host}/cloudwatch/home?region={region}#alarmsV2:alarm/{}", percent_encode(alarm_name)))
}

/// Reads the CloudWatch alarm JSON that SNS carries in `Message`.
pub fn parse_alarm_message(message: &str) -> Result<Vec<CanonicalAlert>, ParseError> {
    let alarm: Value = serde_json::from_str(message)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ParseError::invalid("Message", "is not a CloudWatch alarm JSON object"))?;
    let name = scalar(alarm.get("AlarmName")).ok_or_else(|| ParseError::missing("Message.AlarmName"))?;
    let new_state = scalar(alarm.get("NewStateValue")).ok_or_else(|| ParseError::missing("Message.NewStateValue"))?;
    let arn = scalar(alarm.get("AlarmArn"));
    let arn_parts: Vec<&str> = arn.as_deref().map(|a| a.split(':').collect()).unwrap_or_default();
    let partition = arn_parts.get(1).copied().unwrap_or("aws");
    let region = arn_parts.get(3).filter(|r| !r.is_empty()).map(|r| r.to_string());
    let account =
        scalar(alarm.get("AWSAccountId")).or_else(|| arn_parts.get(4).filter(|a| !a.is_empty()).map(|a| a.to_string()));
    let region_or_display = region.clone().or_else(|| scalar(alarm.get("Region")));
    let source_alert_id = arn.clone().unwrap_or_else(|| {
        format!("{}:{}:{}", account.as_deref().unwrap_or(""), region_or_display.as_deref().unwrap_or(""), name)
    });

    let reason = scalar(alarm.get("NewStateReason"));
    let description = match (scalar(alarm.get("AlarmDescription")), reason) {
        (Some(about), Some(reason)) => format!("{about}\n\n{reason}"),
        (Some(text), None) | (None, Some(text)) => text,
        (None, None) => format!("{name} is {new_state}"),
    };

    let mut alert =
        CanonicalAlert::new(name.clone(), description, source_alert_id, state_of(&new_state), alarm.clone());
    let tags = &mut alert.tags;
    if let Some(account) = &account {
        tags.insert("aws_account_id".into(), account.clone());
    }
    if let Some(region) = &region_or_display {
        tags.insert("aws_region".into(), region.clone());
    }
    if let Some(old) = scalar(alarm.get("OldStateValue")) {
        tags.insert("previous_state".into(), old);
    }
    if let Some(rule) = scalar(alarm.get("AlarmRule")) {
        tags.insert("alarm_type".into(), "composite".into());
        tags.insert("alarm_rule".into(), rule);
        let children: Vec<String> = match alarm.get("TriggeringChildren") {
            Some(Value::Array(children)) => {
                children.iter().filter_map(|child| scalar(Some(child)).or_else(|| scalar(child.get("Arn")))).collect()
            }
            _ => vec![],
        };
        if !children.is_empty() {
            tags.insert("triggering_children".into(), children.join(","));
        }
    } else {
        tags.insert("alarm_type".into(), "metric".into());
    }
    if let Some(trigger) = alarm.get("Trigger") {
        for (tag, field) in [("namespace", "Namespace"), ("metric_name", "MetricName")] {
            if let Some(value) = scalar(trigger.get(field)) {
                tags.insert(tag.into(), value);
            }
        }
        if let Some(Value::Array(dimensions)) = trigger.get("Dimensions") {
            for dimension in dimensions {
                let name = first_scalar(dimension, &["name", "Name"]);
                let value = first_scalar(dimension, &["value", "Value"]);
                if let (Some(name), Some(value)) = (name, value) {
                    tags.insert(format!("dimension.{name}"), value);
                }
            }
        }
    }

    let changed_at = scalar(alarm.get("StateChangeTime")).and_then(|t| normalize(&t));
    if alert.state == AlertState::Resolved {
        alert.ended_at = changed_at;
    } else {
        alert.started_at = changed_at;
    }
    alert.url = region.as_deref().and_then(|r| console_url(partition, r, &name));
    Ok(vec![alert])
}

impl Provider for CloudWatch {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::SnsSignature
    }

    fn verify(&self, _: &Headers, _: &[u8], _: &[u8], _: i64) -> Result<(), VerifyError> {
        Err(VerifyError::SnsCertificateRequired)
    }

    /// A `Notification` yields its alarm; subscription and unsubscribe confirmations yield
    /// nothing (the HTTP layer confirms them through [`crate::sns`]).
    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let envelope = parse_sns_message(raw_body)?;
        match envelope.message_type() {
            SnsMessageType::Notification => parse_alarm_message(&envelope.message),
            SnsMessageType::SubscriptionConfirmation | SnsMessageType::UnsubscribeConfirmation => Ok(vec![]),
        }
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_links_escape_the_alarm_name() {
        assert_eq!(
            console_url("aws", "eu-west-1", "a b/c").as_deref(),
            Some("https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/a%20b%2Fc")
        );
        assert_eq!(console_url("aws-us-gov", "us-gov-west-1", "x"), None);
    }
}
