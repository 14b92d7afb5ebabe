//! Outbound event envelopes (`docs/api-contract.md`, "Events").

use crate::ids::{EventId, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "issue.ingested")]
    IssueIngested,
    #[serde(rename = "issue.batch_ingested")]
    IssueBatchIngested,
    #[serde(rename = "issue.resolved")]
    IssueResolved,
    #[serde(rename = "issue.triaged")]
    IssueTriaged,
    #[serde(rename = "pattern.detected")]
    PatternDetected,
    #[serde(rename = "pattern.recurring")]
    PatternRecurring,
    #[serde(rename = "connector.sync.completed")]
    ConnectorSyncCompleted,
    #[serde(rename = "connector.sync.failed")]
    ConnectorSyncFailed,
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::IssueIngested,
        EventType::IssueBatchIngested,
        EventType::IssueResolved,
        EventType::IssueTriaged,
        EventType::PatternDetected,
        EventType::PatternRecurring,
        EventType::ConnectorSyncCompleted,
        EventType::ConnectorSyncFailed,
        EventType::Ping,
    ];

    /// The wire name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::IssueIngested => "issue.ingested",
            EventType::IssueBatchIngested => "issue.batch_ingested",
            EventType::IssueResolved => "issue.resolved",
            EventType::IssueTriaged => "issue.triaged",
            EventType::PatternDetected => "pattern.detected",
            EventType::PatternRecurring => "pattern.recurring",
            EventType::ConnectorSyncCompleted => "connector.sync.completed",
            EventType::ConnectorSyncFailed => "connector.sync.failed",
            EventType::Ping => "ping",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub id: EventId,
    pub event_type: EventType,
    pub created_at: String,
    pub workspace_id: WorkspaceId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<String>,
    pub data: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_names_match_serde() {
        for event_type in EventType::ALL {
            assert_eq!(serde_json::to_value(event_type).unwrap(), event_type.as_str());
        }
    }

    #[test]
    fn envelope_has_the_documented_shape() {
        let envelope = EventEnvelope {
            id: EventId::random(1, [0; 10]),
            event_type: EventType::IssueBatchIngested,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            workspace_id: WorkspaceId::random(1, [1; 10]),
            connector_id: None,
            data: json!({"job_id": "job_x"}),
        };
        let value = serde_json::to_value(&envelope).unwrap();
        assert_eq!(value["event_type"], "issue.batch_ingested");
        assert!(value["id"].as_str().unwrap().starts_with("evt_"));
        assert!(value.get("connector_id").is_none());
        let back: EventEnvelope = serde_json::from_value(value).unwrap();
        assert_eq!(back, envelope);
    }
}
