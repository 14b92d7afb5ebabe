use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where an alert stands according to the tool that sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
    /// A state that neither opens nor resolves, kept in the tool's own word
    /// (CloudWatch `INSUFFICIENT_DATA`, Datadog `No Data`, PagerDuty `acknowledged`, ...).
    Other(String),
}

/// One alert in the provider-neutral shape the domain normalizes into an Issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalAlert {
    pub title: String,
    pub description: String,
    /// The provider's own severity word ("critical", "warning", "P2", "error", ...); the domain
    /// maps words onto p1..p5.
    pub severity: Option<String>,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Stable deduplication id: the tool's own id, or a hash of identifying fields when the tool
    /// gives none.
    pub source_alert_id: String,
    pub state: AlertState,
    /// RFC 3339, UTC.
    pub started_at: Option<String>,
    /// RFC 3339, UTC; only set once the tool says the alert ended.
    pub ended_at: Option<String>,
    pub url: Option<String>,
    /// This alert's own part of the provider payload, kept as metadata.
    pub raw: Value,
}

impl CanonicalAlert {
    pub(crate) fn new(
        title: String,
        description: String,
        source_alert_id: String,
        state: AlertState,
        raw: Value,
    ) -> Self {
        CanonicalAlert {
            title,
            description,
            severity: None,
            service: None,
            environment: None,
            tags: BTreeMap::new(),
            source_alert_id,
            state,
            started_at: None,
            ended_at: None,
            url: None,
            raw,
        }
    }
}
