//! `alertmanager`: Prometheus Alertmanager `webhook_config` (payload version "4").
//!
//! Alertmanager cannot sign its requests; it authenticates with the workspace API key sent
//! through `http_config.authorization` (`Authorization: Bearer <key>`).

use super::prometheus_style::{parse_group, truncated_alerts};
use crate::{AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};

pub struct Alertmanager;

impl Provider for Alertmanager {
    fn name(&self) -> &'static str {
        "alertmanager"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyOnly
    }

    fn verify(&self, _: &Headers, _: &[u8], _: &[u8], _: i64) -> Result<(), VerifyError> {
        Ok(())
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        parse_group(raw_body)
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }

    fn truncated_alerts(&self, raw_body: &[u8]) -> Option<u64> {
        truncated_alerts(raw_body)
    }
}
