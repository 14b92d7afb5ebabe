//! The connector catalog: every connector type the product knows, what it needs to be created
//! (credentials and config), how it authenticates and what it can do — and the validation of a
//! creation or update request against it.
//!
//! Honesty rule: a type whose data path is not built yet is listed with `available: false` and a
//! reason, and cannot be created; its credential and config requirements are still validated
//! first, so a client learns everything wrong with its request in one round trip. The polling
//! types (Jira, GitHub, PagerDuty, ServiceNow, Datadog) are synced by the sync worker through
//! `causeloop-connectors`; Sentry, CloudWatch and PagerDuty also push through the provider webhooks.
//!
//! Credentials of a type that offers OAuth may be left out at creation: the connector is then
//! `needs_auth` until its OAuth flow completes. Given, they must be complete.

use crate::inbound::parse_field_mapping;
use crate::validation::FieldError;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    None,
    /// A token or key the user pastes (sent as a header).
    ApiToken,
    /// A user name (or email) and password (or API token), sent as HTTP basic auth.
    Basic,
    Oauth2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    String,
    /// An https URL (http is accepted only where private targets are, for local test servers).
    Url,
    /// A whole number within the field's bounds.
    Minutes,
    StringList,
    /// `{canonical_field: "/json/pointer"}`; see [`crate::inbound`].
    FieldMapping,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// Secret values are write-only (credentials always are; this marks which ones are keys).
    pub secret: bool,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The source can push events to Causeloop (inbound or provider webhooks).
    pub push: bool,
    /// Causeloop can poll the source on a schedule.
    pub poll: bool,
    /// Causeloop can import historical records.
    pub backfill: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConnectorType {
    #[serde(rename = "type")]
    pub id: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    /// The primary way it authenticates.
    pub auth: AuthKind,
    /// Every way it can authenticate (`oauth2` means `POST /v1/connectors/{id}/oauth/start`).
    pub auth_kinds: &'static [AuthKind],
    pub credential_fields: &'static [FieldSpec],
    pub config_fields: &'static [FieldSpec],
    pub capabilities: Capabilities,
    pub available: bool,
    /// Why an unavailable type cannot be created yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable_reason: Option<&'static str>,
}

const fn field(
    name: &'static str,
    kind: FieldKind,
    required: bool,
    secret: bool,
    description: &'static str,
) -> FieldSpec {
    FieldSpec { name, kind, required, secret, description }
}

/// The signing secret of a tool that signs its webhooks with a secret of its own (Sentry's
/// Client Secret, PagerDuty's subscription secret), used by the provider-webhooks family.
const PROVIDER_WEBHOOK_SECRET: FieldSpec = field(
    "webhook_secret",
    FieldKind::String,
    true,
    true,
    "The secret the tool signs its webhooks with (Sentry: the integration's Client Secret; PagerDuty: the subscription's secret).",
);

/// Every polling type's schedule.
const SCHEDULE_MINUTES: FieldSpec = field(
    "schedule_minutes",
    FieldKind::Minutes,
    false,
    false,
    "Minutes between scheduled incremental syncs: 15 if absent, at least 1, at most 1440.",
);

/// The default schedule of a polling connector, and its bounds.
pub const DEFAULT_SCHEDULE_MINUTES: u64 = 15;
pub const MIN_SCHEDULE_MINUTES: u64 = 1;
pub const MAX_SCHEDULE_MINUTES: u64 = 1440;

pub const CATALOG: &[ConnectorType] = &[
    ConnectorType {
        id: "custom_api",
        display_name: "Custom API",
        description: "Any system you control: push through the ingestion API or a signed inbound webhook.",
        auth: AuthKind::None,
        auth_kinds: &[AuthKind::None],
        credential_fields: &[],
        config_fields: &[field(
            "field_mapping",
            FieldKind::FieldMapping,
            false,
            false,
            "Per canonical field (title, body, external_id, severity, status, service, environment, team, external_url, source_created_at), a JSON pointer into inbound events that overrides the default mapping.",
        )],
        capabilities: Capabilities { push: true, poll: false, backfill: false },
        available: true,
        unavailable_reason: None,
    },
    ConnectorType {
        id: "cloudwatch",
        display_name: "Amazon CloudWatch (via SNS)",
        description: "CloudWatch alarms delivered by an SNS topic to /v1/webhooks/{workspace_id}/cloudwatch; authenticated by the SNS message signature and this allow-list of topics.",
        auth: AuthKind::None,
        auth_kinds: &[AuthKind::None],
        credential_fields: &[],
        config_fields: &[field(
            "topic_arns",
            FieldKind::StringList,
            true,
            false,
            "The SNS topic ARNs allowed to post alarms for this workspace.",
        )],
        capabilities: Capabilities { push: true, poll: false, backfill: false },
        available: true,
        unavailable_reason: None,
    },
    ConnectorType {
        id: "jira",
        display_name: "Jira Cloud",
        description: "Issues of a JQL query, backfilled and then polled on a schedule.",
        auth: AuthKind::Oauth2,
        auth_kinds: &[AuthKind::Oauth2, AuthKind::Basic],
        credential_fields: &[
            field("email", FieldKind::String, true, false, "The Atlassian account email the API token belongs to (basic auth instead of OAuth)."),
            field("api_token", FieldKind::String, true, true, "An Atlassian API token of that account."),
        ],
        config_fields: &[
            field("base_url", FieldKind::Url, true, false, "https://<your-site>.atlassian.net"),
            field("jql", FieldKind::String, false, false, "The JQL of the issues to import; `order by updated` (every issue the account can see) if absent."),
            SCHEDULE_MINUTES,
        ],
        capabilities: Capabilities { push: false, poll: true, backfill: true },
        available: true,
        unavailable_reason: None,
    },
    ConnectorType {
        id: "pagerduty",
        display_name: "PagerDuty",
        description: "Incidents, polled on a schedule and backfilled through the REST API, and pushed by a \
                      webhook subscription to /v1/webhooks/{workspace_id}/pagerduty (verified with the \
                      subscription's signing secret).",
        auth: AuthKind::Oauth2,
        auth_kinds: &[AuthKind::Oauth2, AuthKind::ApiToken],
        credential_fields: &[
            field("api_key", FieldKind::String, false, true, "A REST API key (read-only is enough), instead of OAuth."),
            field(
                "webhook_secret",
                FieldKind::String,
                false,
                true,
                "The secret the webhook subscription signs with, to receive pushed incidents.",
            ),
        ],
        config_fields: &[
            field("base_url", FieldKind::Url, false, false, "https://api.pagerduty.com if absent (https://api.eu.pagerduty.com for the EU service region)."),
            field("service_ids", FieldKind::StringList, false, false, "Import only these services' incidents; all if absent."),
            SCHEDULE_MINUTES,
        ],
        capabilities: Capabilities { push: true, poll: true, backfill: true },
        available: true,
        unavailable_reason: None,
    },
    ConnectorType {
        id: "github",
        display_name: "GitHub",
        description: "Issues of the listed repositories (pull requests skipped), backfilled and then polled on a schedule.",
        auth: AuthKind::Oauth2,
        auth_kinds: &[AuthKind::Oauth2, AuthKind::ApiToken],
        credential_fields: &[field("token", FieldKind::String, true, true, "A fine-grained or classic personal access token, or an installation token, that can read the repositories' issues (instead of OAuth).")],
        config_fields: &[
            field("base_url", FieldKind::Url, false, false, "https://api.github.com if absent; GitHub Enterprise Server: https://<host>/api/v3"),
            field("repositories", FieldKind::StringList, true, false, "owner/name of each repository to import."),
            SCHEDULE_MINUTES,
        ],
        capabilities: Capabilities { push: false, poll: true, backfill: true },
        available: true,
        unavailable_reason: None,
    },
    ConnectorType {
        id: "servicenow",
        display_name: "ServiceNow",
        description: "Rows of the incident table, backfilled and then polled on a schedule.",
        auth: AuthKind::Oauth2,
        auth_kinds: &[AuthKind::Oauth2, AuthKind::Basic],
        credential_fields: &[
            field("username", FieldKind::String, true, false, "An integration user with read access to the incident table (basic auth instead of OAuth)."),
            field("password", FieldKind::String, true, true, "That user's password."),
        ],
        config_fields: &[
            field("base_url", FieldKind::Url, true, false, "https://<instance>.service-now.com"),
            field("query", FieldKind::String, false, false, "An encoded query ANDed into every read, e.g. assignment_group=<sys_id>."),
            SCHEDULE_MINUTES,
        ],
        capabilities: Capabilities { push: false, poll: true, backfill: true },
        available: true,
        unavailable_reason: None,
    },
    ConnectorType {
        id: "datadog",
        display_name: "Datadog",
        description: "Incidents (and, if asked, monitor alert events), backfilled and then polled on a schedule; \
                      monitor notifications can also be pushed to /v1/webhooks/{workspace_id}/datadog.",
        auth: AuthKind::ApiToken,
        auth_kinds: &[AuthKind::ApiToken],
        credential_fields: &[
            field("api_key", FieldKind::String, true, true, "A Datadog API key."),
            field("application_key", FieldKind::String, true, true, "An application key with incident_read (and events_read for monitor events)."),
        ],
        config_fields: &[
            field("base_url", FieldKind::Url, false, false, "The API of your Datadog site: https://api.datadoghq.com if absent; https://api.datadoghq.eu, https://api.us3.datadoghq.com, ..."),
            field("sources", FieldKind::StringList, false, false, "What to import: `incidents` (the default) and/or `monitor_events`."),
            SCHEDULE_MINUTES,
        ],
        capabilities: Capabilities { push: true, poll: true, backfill: true },
        available: true,
        unavailable_reason: None,
    },
    ConnectorType {
        id: "sentry",
        display_name: "Sentry",
        description: "Issues and alerts pushed by a Sentry integration to /v1/webhooks/{workspace_id}/sentry, \
                      verified with the integration's Client Secret. Polling and backfill are not built yet.",
        auth: AuthKind::None,
        auth_kinds: &[AuthKind::None],
        credential_fields: &[PROVIDER_WEBHOOK_SECRET],
        config_fields: &[],
        capabilities: Capabilities { push: true, poll: false, backfill: false },
        available: true,
        unavailable_reason: None,
    },
];

pub fn connector_type(id: &str) -> Option<&'static ConnectorType> {
    CATALOG.iter().find(|entry| entry.id == id)
}

impl ConnectorType {
    /// Whether a sync can poll it (and so whether it is scheduled).
    pub fn polls(&self) -> bool {
        self.available && self.capabilities.poll
    }

    pub fn offers_oauth(&self) -> bool {
        self.auth_kinds.contains(&AuthKind::Oauth2)
    }
}

/// A polling connector's minutes between scheduled syncs (its config, validated, else the default).
pub fn schedule_minutes(config: &Map<String, Value>) -> u64 {
    config.get("schedule_minutes").and_then(whole_number).unwrap_or(DEFAULT_SCHEDULE_MINUTES)
}

/// A JSON number that is a whole, non-negative number (`45` or `45.0`, as JSON Schema's
/// `integer` admits both).
fn whole_number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 1e15).map(|f| f as u64))
}

/// Longest credential or config string accepted.
pub const MAX_FIELD_VALUE_CHARS: usize = 4_096;
const MAX_LIST_ITEMS: usize = 100;

/// Checks `credentials` against the type: every required field present, no unknown field, each
/// value a non-empty string. Errors name the field as `credentials.<name>` — never its value.
/// A type that offers OAuth may have none (it authorizes through its OAuth flow instead).
pub fn validate_credentials(kind: &ConnectorType, credentials: &Map<String, Value>) -> Result<(), FieldError> {
    if credentials.is_empty() && kind.offers_oauth() {
        return Ok(());
    }
    // A credential is a value or absent: a null would be listed as set while holding nothing.
    if let Some((name, _)) = credentials.iter().find(|(_, value)| value.is_null()) {
        return Err(FieldError::wrong_type(&format!("credentials.{name}"), "a string"));
    }
    validate_fields("credentials", kind.credential_fields, credentials, false)
}

/// Checks `config` against the type, as [`validate_credentials`] does, plus each kind's shape.
/// `allow_http` admits http URLs (a deployment that allows private targets, for local servers).
pub fn validate_config(kind: &ConnectorType, config: &Map<String, Value>, allow_http: bool) -> Result<(), FieldError> {
    validate_fields("config", kind.config_fields, config, allow_http)
}

fn validate_fields(
    group: &str,
    specs: &[FieldSpec],
    values: &Map<String, Value>,
    allow_http: bool,
) -> Result<(), FieldError> {
    for name in values.keys() {
        if !specs.iter().any(|spec| spec.name == name) {
            let known: Vec<&str> = specs.iter().map(|spec| spec.name).collect();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(FieldError::new(
                format!("{group}.{name}"),
                "unknown_field",
                format!("`{group}.{name}` is not a field of this connector type (known: {known})"),
            ));
        }
    }
    for spec in specs {
        let path = format!("{group}.{}", spec.name);
        match values.get(spec.name) {
            None | Some(Value::Null) if spec.required => return Err(FieldError::missing(&path)),
            None | Some(Value::Null) => {}
            Some(value) => validate_value(&path, spec.kind, value, allow_http)?,
        }
    }
    Ok(())
}

fn validate_value(path: &str, kind: FieldKind, value: &Value, allow_http: bool) -> Result<(), FieldError> {
    let text = |value: &Value| -> Result<(), FieldError> {
        let Value::String(text) = value else { return Err(FieldError::wrong_type(path, "a string")) };
        if text.trim().is_empty() {
            return Err(FieldError::empty(path));
        }
        if text.chars().count() > MAX_FIELD_VALUE_CHARS {
            return Err(FieldError::too_long(path, MAX_FIELD_VALUE_CHARS, "characters"));
        }
        Ok(())
    };
    match kind {
        FieldKind::String => text(value),
        FieldKind::Url => {
            text(value)?;
            let url = value.as_str().unwrap_or_default();
            let scheme_ok = url.starts_with("https://") || (allow_http && url.starts_with("http://"));
            let rest = url.split_once("://").map_or("", |(_, rest)| rest);
            if !scheme_ok || rest.is_empty() || rest.contains(['?', '#', ' ']) {
                return Err(FieldError::new(
                    path,
                    "invalid_value",
                    format!("`{path}` must be an https URL without query or fragment"),
                ));
            }
            Ok(())
        }
        FieldKind::Minutes => match whole_number(value) {
            Some(minutes) if (MIN_SCHEDULE_MINUTES..=MAX_SCHEDULE_MINUTES).contains(&minutes) => Ok(()),
            _ => Err(FieldError::new(
                path,
                "invalid_value",
                format!(
                    "`{path}` must be a whole number of minutes from {MIN_SCHEDULE_MINUTES} to {MAX_SCHEDULE_MINUTES}"
                ),
            )),
        },
        FieldKind::StringList => {
            let Value::Array(items) = value else { return Err(FieldError::wrong_type(path, "an array of strings")) };
            if items.len() > MAX_LIST_ITEMS {
                return Err(FieldError::new(
                    path,
                    "too_many_items",
                    format!("`{path}` holds at most {MAX_LIST_ITEMS} items"),
                ));
            }
            items.iter().try_for_each(text)
        }
        FieldKind::FieldMapping => parse_field_mapping(path, value).map(|_| ()),
    }
}

/// The strings of a list field of `config` (absent: none).
fn list<'a>(config: &'a Map<String, Value>, name: &str) -> impl Iterator<Item = &'a str> {
    config.get(name).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// `owner/name`, as GitHub spells repositories.
fn is_repository(text: &str) -> bool {
    let part = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    matches!(text.split_once('/'), Some((owner, name)) if part(owner) && part(name))
}

/// Type-specific rules beyond the field shapes.
pub fn check_type_rules(kind: &ConnectorType, config: &Map<String, Value>) -> Result<(), FieldError> {
    if kind.id == "github" {
        if let Some(bad) = list(config, "repositories").find(|repository| !is_repository(repository)) {
            return Err(FieldError::new(
                "config.repositories",
                "invalid_value",
                format!("`{bad}` is not a repository; write owner/name"),
            ));
        }
    }
    if kind.id == "datadog" {
        if let Some(bad) = list(config, "sources").find(|source| !matches!(*source, "incidents" | "monitor_events")) {
            return Err(FieldError::new(
                "config.sources",
                "invalid_value",
                format!("`{bad}` is not a Datadog source; use incidents or monitor_events"),
            ));
        }
    }
    if kind.id == "cloudwatch" {
        let arns = config.get("topic_arns").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if arns.is_empty() {
            return Err(FieldError::new(
                "config.topic_arns",
                "empty_field",
                "`config.topic_arns` must list at least one SNS topic ARN",
            ));
        }
        for arn in arns.iter().filter_map(Value::as_str) {
            if !is_sns_topic_arn(arn) {
                return Err(FieldError::new(
                    "config.topic_arns",
                    "invalid_value",
                    format!("`{arn}` is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"),
                ));
            }
        }
    }
    Ok(())
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<topic name>`.
pub fn is_sns_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    matches!(parts.as_slice(), ["arn", partition, "sns", region, account, topic]
        if partition.starts_with("aws")
            && !region.is_empty()
            && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && !topic.is_empty() && topic.len() <= 256
            && topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_catalog_names_every_documented_tool_and_is_honest_about_availability() {
        for id in ["custom_api", "cloudwatch", "jira", "pagerduty", "github", "servicenow", "datadog", "sentry"] {
            let entry = connector_type(id).unwrap_or_else(|| panic!("{id} missing"));
            assert_eq!(entry.available, entry.unavailable_reason.is_none(), "{id}");
        }
        assert!(connector_type("custom_api").unwrap().available);
        for polling in ["jira", "github", "pagerduty", "servicenow", "datadog"] {
            assert!(connector_type(polling).unwrap().polls(), "{polling}");
        }
        assert!(!connector_type("sentry").unwrap().polls());
        assert!(connector_type("zendesk").is_none());
    }

    #[test]
    fn credentials_name_the_missing_or_unknown_field_never_the_value() {
        let jira = connector_type("jira").unwrap();
        let err = validate_credentials(jira, &object(json!({"email": "a@b.c"}))).unwrap_err();
        assert_eq!((err.field.as_str(), err.error), ("credentials.api_token", "missing_field"));
        let err =
            validate_credentials(jira, &object(json!({"email": "a@b.c", "api_token": "s3cr3t", "extra": "s3cr3t"})))
                .unwrap_err();
        assert_eq!(err.field, "credentials.extra");
        let err = validate_credentials(jira, &object(json!({"email": "a@b.c", "api_token": 42}))).unwrap_err();
        assert_eq!(err.error, "invalid_type");
        let pagerduty = connector_type("pagerduty").unwrap();
        let err =
            validate_credentials(pagerduty, &object(json!({"api_key": "k", "webhook_secret": null}))).unwrap_err();
        assert_eq!((err.field.as_str(), err.error), ("credentials.webhook_secret", "invalid_type"));
        assert!(validate_credentials(jira, &object(json!({"email": "a@b.c", "api_token": "s3cr3t"}))).is_ok());
        // OAuth types may be created without credentials; a type without OAuth may not.
        assert!(validate_credentials(jira, &Map::new()).is_ok());
        let datadog = connector_type("datadog").unwrap();
        assert_eq!(validate_credentials(datadog, &Map::new()).unwrap_err().field, "credentials.api_key");
        let custom = connector_type("custom_api").unwrap();
        assert!(validate_credentials(custom, &Map::new()).is_ok());
        let err = validate_credentials(custom, &object(json!({"token": "s3cr3t"}))).unwrap_err();
        assert!(!err.message.contains("s3cr3t"));
    }

    #[test]
    fn cloudwatch_needs_topic_arns() {
        let cloudwatch = connector_type("cloudwatch").unwrap();
        assert_eq!(validate_config(cloudwatch, &Map::new(), false).unwrap_err().field, "config.topic_arns");
        let good = object(json!({"topic_arns": ["arn:aws:sns:us-east-1:123456789012:alarms"]}));
        assert!(validate_config(cloudwatch, &good, false).is_ok() && check_type_rules(cloudwatch, &good).is_ok());
        let bad = object(json!({"topic_arns": ["arn:aws:sqs:us-east-1:123456789012:q"]}));
        assert_eq!(check_type_rules(cloudwatch, &bad).unwrap_err().error, "invalid_value");
        assert_eq!(check_type_rules(cloudwatch, &object(json!({"topic_arns": []}))).unwrap_err().error, "empty_field");
    }

    #[test]
    fn custom_api_mapping_must_be_pointers_to_known_fields() {
        let custom = connector_type("custom_api").unwrap();
        assert!(validate_config(custom, &object(json!({"field_mapping": {"title": "/alert/summary"}})), false).is_ok());
        let err =
            validate_config(custom, &object(json!({"field_mapping": {"title": "alert.summary"}})), false).unwrap_err();
        assert_eq!(err.field, "config.field_mapping.title");
        let err = validate_config(custom, &object(json!({"field_mapping": {"colour": "/c"}})), false).unwrap_err();
        assert_eq!(err.field, "config.field_mapping.colour");
    }

    #[test]
    fn github_repositories_and_datadog_sources_are_checked() {
        let github = connector_type("github").unwrap();
        assert!(check_type_rules(github, &object(json!({"repositories": ["acme/shop", "a.b/c-d_e"]}))).is_ok());
        for bad in ["acme", "acme/", "/shop", "acme/shop/x", "acme/sh op"] {
            let err = check_type_rules(github, &object(json!({"repositories": [bad]}))).unwrap_err();
            assert_eq!(err.field, "config.repositories", "{bad}");
        }
        let datadog = connector_type("datadog").unwrap();
        assert!(check_type_rules(datadog, &object(json!({"sources": ["incidents", "monitor_events"]}))).is_ok());
        assert_eq!(
            check_type_rules(datadog, &object(json!({"sources": ["logs"]}))).unwrap_err().field,
            "config.sources"
        );
    }

    #[test]
    fn polling_config_checks_urls_and_schedules() {
        let jira = connector_type("jira").unwrap();
        assert_eq!(validate_config(jira, &Map::new(), false).unwrap_err().field, "config.base_url");
        let local = object(json!({"base_url": "http://127.0.0.1:9000"}));
        assert_eq!(validate_config(jira, &local, false).unwrap_err().error, "invalid_value");
        assert!(validate_config(jira, &local, true).is_ok());
        let query = object(json!({"base_url": "https://acme.atlassian.net?x=1"}));
        assert_eq!(validate_config(jira, &query, true).unwrap_err().field, "config.base_url");
        for (minutes, ok) in [
            (json!(0), false),
            (json!(1), true),
            (json!(1440), true),
            (json!(1441), false),
            (json!("5"), false),
            (json!(2.5), false),
        ] {
            let config = object(json!({"base_url": "https://acme.atlassian.net", "schedule_minutes": minutes}));
            assert_eq!(validate_config(jira, &config, false).is_ok(), ok, "{config:?}");
        }
        assert_eq!(schedule_minutes(&Map::new()), DEFAULT_SCHEDULE_MINUTES);
        assert_eq!(schedule_minutes(&object(json!({"schedule_minutes": 5}))), 5);
    }
}
