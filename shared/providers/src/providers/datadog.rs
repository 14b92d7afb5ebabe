//! `datadog`: the Datadog Webhooks integration.
//!
//! Reads both the default payload (`id`, `title`, `body`, `event_type`, `date`, `last_updated`,
//! `org`) and the `$`-variable template we recommend (`datadog-template.json`, which adds
//! `alert_transition`, `alert_cycle_key`, `alert_priority`, `tags`, `link`, ...), and the
//! hand-written shape many teams configure (`alert_id`, `title`, `text`, `alert_type`,
//! `priority`, `tags`). Datadog cannot sign; it authenticates with the workspace API key in a
//! custom header.

use crate::json::{derived_id, parse_object, scalar};
use crate::time_fmt::{from_unix_millis, from_unix_seconds};
use crate::{AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct Datadog;

/// A field's value, treating a `$VARIABLE` Datadog left unsubstituted as absent.
fn field(body: &Map<String, Value>, key: &str) -> Option<String> {
    scalar(body.get(key)).filter(|v| !is_placeholder(v))
}

fn first_field(body: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| field(body, k))
}

fn is_placeholder(value: &str) -> bool {
    value.len() > 1
        && value.starts_with('$')
        && value[1..].chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `$ALERT_TRANSITION` values: Triggered/Re-Triggered, Warn/Re-Warn, Recovered,
/// No Data/Re-No Data, Renotify.
fn state_of_transition(transition: &str) -> AlertState {
    let word = transition.trim().to_ascii_lowercase();
    let word = word.strip_prefix("re-").unwrap_or(&word);
    match word {
        "triggered" | "warn" | "warning" | "renotify" | "alert" => AlertState::Firing,
        "recovered" | "resolved" | "success" => AlertState::Resolved,
        _ => AlertState::Other(transition.trim().to_owned()),
    }
}

/// Splits `[P2] [Triggered on {host:a}] Disk full` into the transition word it starts with, the
/// scope that follows that word, and the bare title.
fn split_title(title: &str) -> (Option<&str>, &str, &str) {
    const TRANSITIONS: &[&str] =
        &["Re-Triggered", "Triggered", "Re-Warn", "Warn", "Recovered", "Re-No Data", "No Data", "Renotify"];
    let mut rest = title.trim_start();
    let mut transition = None;
    let mut scope = "";
    while let Some(inner_and_rest) = rest.strip_prefix('[') {
        let Some(close) = inner_and_rest.find(']') else {
            break;
        };
        let inner = &inner_and_rest[..close];
        if let Some(word) = TRANSITIONS.iter().find(|w| inner.starts_with(**w)) {
            transition = Some(*word);
            scope = inner[word.len()..].trim();
        }
        rest = inner_and_rest[close + 1..].trim_start();
    }
    (transition, scope, rest)
}

/// `$TAGS` and `$ALERT_SCOPE` are comma-separated `key:value` (or bare `key`) lists.
fn parse_tag_list(list: &str, tags: &mut BTreeMap<String, String>) {
    for tag in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match tag.split_once(':') {
            Some((key, value)) => tags.insert(key.trim().to_owned(), value.trim().to_owned()),
            None => tags.insert(tag.to_owned(), String::new()),
        };
    }
}

fn tags_of(body: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for key in ["tags", "alert_scope"] {
        match body.get(key) {
            Some(Value::Array(items)) => {
                items.iter().filter_map(|item| scalar(Some(item))).for_each(|tag| parse_tag_list(&tag, &mut tags))
            }
            _ => {
                if let Some(list) = field(body, key) {
                    parse_tag_list(&list, &mut tags);
                }
            }
        }
    }
    tags
}

/// `$DATE` is epoch milliseconds; accept seconds too, which some relays send.
fn epoch_to_rfc3339(text: &str) -> Option<String> {
    let number: i64 = text.trim().parse().ok()?;
    if number.abs() < 100_000_000_000 {
        from_unix_seconds(number)
    } else {
        from_unix_millis(number)
    }
}

impl Provider for Datadog {
    fn name(&self) -> &'static str {
        "datadog"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyOnly
    }

    fn verify(&self, _: &Headers, _: &[u8], _: &[u8], _: i64) -> Result<(), VerifyError> {
        Ok(())
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let body = parse_object(raw_body)?;
        let event_title =
            first_field(&body, &["title", "alert_title", "event_title"]).ok_or_else(|| ParseError::missing("title"))?;
        let (title_transition, title_scope, bare_title) = split_title(&event_title);
        let bare_title = if bare_title.is_empty() { event_title.clone() } else { bare_title.to_owned() };
        let alert_type = field(&body, "alert_type").map(|t| t.to_ascii_lowercase());

        let state = match first_field(&body, &["alert_transition", "transition"]) {
            Some(transition) => state_of_transition(&transition),
            None => match (title_transition, alert_type.as_deref()) {
                (Some(word), _) => state_of_transition(word),
                (None, Some("success")) => AlertState::Resolved,
                _ => AlertState::Firing,
            },
        };
        let severity = first_field(&body, &["alert_priority", "priority"]).or_else(|| match alert_type.as_deref() {
            Some("error") | Some("warning") | Some("info") => alert_type.clone(),
            _ => None,
        });

        let mut tags = tags_of(&body);
        if let Some(host) = field(&body, "hostname") {
            tags.entry("host".into()).or_insert(host);
        }
        let org_id =
            scalar(body.get("org").and_then(|org| org.get("id"))).filter(|v| !is_placeholder(v)).unwrap_or_default();
        // $ALERT_CYCLE_KEY links a trigger to its recovery; $AGGREG_KEY groups a monitor's events;
        // the default payload has neither, so the monitor is recognised by its bare title and
        // the scope Datadog writes into the title's brackets.
        let source_alert_id = first_field(&body, &["alert_cycle_key", "aggreg_key"])
            .or_else(|| {
                field(&body, "alert_id").map(|monitor| {
                    let scope = field(&body, "alert_scope").unwrap_or_default();
                    if scope.is_empty() {
                        monitor
                    } else {
                        format!("{monitor}:{scope}")
                    }
                })
            })
            .unwrap_or_else(|| derived_id(&[&org_id, &bare_title, title_scope]));
        let description = first_field(&body, &["body", "text", "text_only_msg", "alert_status"])
            .unwrap_or_else(|| event_title.clone());
        let occurred_at = first_field(&body, &["date", "last_updated"]).as_deref().and_then(epoch_to_rfc3339);

        let mut alert =
            CanonicalAlert::new(bare_title, description, source_alert_id, state, Value::Object(body.clone()));
        alert.severity = severity;
        alert.service = tags.get("service").filter(|s| !s.is_empty()).cloned();
        alert.environment = ["env", "environment"].iter().find_map(|k| tags.get(*k).filter(|s| !s.is_empty()).cloned());
        if alert.state == AlertState::Resolved {
            alert.ended_at = occurred_at;
        } else {
            alert.started_at = occurred_at;
        }
        alert.url = first_field(&body, &["link", "url"]);
        alert.tags = tags;
        Ok(vec![alert])
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_datadog_title_prefixes() {
        assert_eq!(
            split_title("[P2] [Triggered on {host:a}] Disk full"),
            (Some("Triggered"), "on {host:a}", "Disk full")
        );
        assert_eq!(split_title("[Re-Triggered] CPU"), (Some("Re-Triggered"), "", "CPU"));
        assert_eq!(split_title("No prefix"), (None, "", "No prefix"));
        assert_eq!(split_title("[unclosed title"), (None, "", "[unclosed title"));
    }

    #[test]
    fn transitions_map_to_states() {
        assert_eq!(state_of_transition("Recovered"), AlertState::Resolved);
        assert_eq!(state_of_transition("Re-Triggered"), AlertState::Firing);
        assert_eq!(state_of_transition("Warn"), AlertState::Firing);
        assert_eq!(state_of_transition("No Data"), AlertState::Other("No Data".into()));
    }

    #[test]
    fn placeholders_are_recognised() {
        assert!(is_placeholder("$ALERT_ID"));
        assert!(!is_placeholder("$"));
        assert!(!is_placeholder("$5 spent"));
    }
}
