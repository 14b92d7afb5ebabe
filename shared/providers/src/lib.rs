//! The provider layer behind `POST /v1/webhooks/{workspaceId}/{provider}`.
//!
//! Each monitoring tool is one [`Provider`]: it names its path segment, says how a request is
//! authenticated, verifies the tool's own signature, and turns the raw body into
//! [`CanonicalAlert`]s. Everything here is pure: no network, no files, no clock (callers pass
//! `now_unix`), no AWS SDK types. CloudWatch arrives over Amazon SNS; the envelope, the
//! signing-certificate URL check and the RSA signature check live in [`sns`].
//!
//! Adding a provider is one file under `src/providers/` (declared in `providers/mod.rs`) and one
//! line in the registry behind [`registry`], plus a sample body under `events/alerts/`.

mod alert;
mod error;
mod headers;
mod hmac_sig;
mod json;
mod providers;
pub mod sns;
mod time_fmt;

pub use alert::{AlertState, CanonicalAlert};
pub use error::{ParseError, VerifyError};
pub use headers::Headers;
pub use providers::cloudwatch::parse_alarm_message as parse_cloudwatch_alarm;
pub use providers::prometheus_style::MAX_ALERTS_PER_NOTIFICATION;
pub use providers::{
    alertmanager::Alertmanager, azure::AzureMonitor, cloudwatch::CloudWatch, custom::Custom, datadog::Datadog,
    gcp::GoogleCloudMonitoring, grafana::Grafana, newrelic::NewRelic, opsgenie::Opsgenie, pagerduty::PagerDuty,
    sentry::Sentry,
};

/// The Datadog webhook payload template we recommend customers paste into the Webhooks tile.
pub const DATADOG_RECOMMENDED_TEMPLATE: &str = include_str!("../datadog-template.json");

/// How the HTTP layer authenticates a request for a provider, before [`Provider::verify`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRequirement {
    /// Workspace API key (`X-API-Key` or `Authorization: Bearer`) plus `X-Webhook-Signature`,
    /// the hex HMAC-SHA256 of the raw body with that key's webhook secret.
    ApiKeyAndHmac,
    /// Workspace API key only: the tool cannot sign (Datadog, Prometheus Alertmanager).
    ApiKeyOnly,
    /// Workspace API key plus the tool's own signature scheme, checked by [`Provider::verify`]
    /// with the secret the tool was configured with.
    ApiKeyAndOwnSignature,
    /// No API key can be sent: the Amazon SNS message signature authenticates the request
    /// (see [`sns::verify_sns_message`]) and the topic ARN must be on the workspace allow-list.
    SnsSignature,
}

/// What a repeat of an alert that is still open means for the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// `custom`: its documented contract promises `409 duplicate_alert` while the Issue is open.
    ConflictWhileOpen,
    /// Tools that re-send firing alerts on a timer: `202 {"status": "duplicate"}`, because a
    /// 4xx would be logged by the tool as a failed notification.
    AcceptAsDuplicate,
}

/// Whose secret a tool's own signature is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningSecret {
    /// The workspace key's webhook secret, which the customer pastes into the tool.
    KeyWebhookSecret,
    /// A secret the tool issues itself (Sentry's integration Client Secret, PagerDuty's webhook
    /// subscription secret), stored as the `webhook_secret` credential of a connector of the
    /// provider's type; the key's webhook secret is accepted too (relays that re-sign).
    ToolIssued,
}

/// The credential field of a connector that holds a [`SigningSecret::ToolIssued`] secret.
pub const TOOL_SECRET_FIELD: &str = "webhook_secret";

/// One monitoring tool's wire format and authentication.
pub trait Provider: Sync {
    /// The `{provider}` path segment: `custom`, `datadog`, `grafana`, ...
    fn name(&self) -> &'static str;

    fn auth(&self) -> AuthRequirement;

    /// Verifies the tool's own signature over `raw_body` with the workspace key's webhook secret.
    /// Fails closed: a missing, malformed or mismatching signature is an error, and so is an
    /// empty secret. Providers that cannot sign return `Ok(())`.
    fn verify(&self, headers: &Headers, raw_body: &[u8], secret: &[u8], now_unix: i64) -> Result<(), VerifyError>;

    /// Raw body to canonical alerts. `Ok(vec![])` means a well-formed notification that carries
    /// no alert (for example an SNS subscription confirmation or a Sentry comment); a body the
    /// provider cannot read is a [`ParseError`] naming the field at fault.
    fn parse(&self, headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError>;

    fn resend_semantics(&self) -> Resend;

    /// Whose secret [`Provider::verify`] checks against.
    fn signing_secret(&self) -> SigningSecret {
        SigningSecret::KeyWebhookSecret
    }

    /// How many alerts the tool left out of this notification (Alertmanager and Grafana cut
    /// groups at `max_alerts` and say so); `None` when it cut nothing or cannot say.
    fn truncated_alerts(&self, _raw_body: &[u8]) -> Option<u64> {
        None
    }
}

static REGISTRY: &[&dyn Provider] = &[
    &Custom,
    &Datadog,
    &Grafana,
    &Alertmanager,
    &CloudWatch,
    &Sentry,
    &PagerDuty,
    &Opsgenie,
    &NewRelic,
    &AzureMonitor,
    &GoogleCloudMonitoring,
];

/// Every provider, in a stable order.
pub fn registry() -> &'static [&'static dyn Provider] {
    REGISTRY
}

/// The provider for a `{provider}` path segment (exact, lowercase match).
pub fn provider(name: &str) -> Option<&'static dyn Provider> {
    REGISTRY.iter().copied().find(|p| p.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn provider_names_are_unique_lowercase_path_segments() {
        let names: BTreeSet<_> = registry().iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), registry().len());
        for name in names {
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{name}");
            assert_eq!(provider(name).map(|p| p.name()), Some(name));
        }
        assert!(provider("Custom").is_none());
        assert!(provider("nope").is_none());
    }

    #[test]
    fn only_custom_answers_conflict_on_resend() {
        for p in registry() {
            let expected = if p.name() == "custom" { Resend::ConflictWhileOpen } else { Resend::AcceptAsDuplicate };
            assert_eq!(p.resend_semantics(), expected, "{}", p.name());
        }
    }
}
