//! Emitting outbound events: an envelope onto the delivery queue, where the deliver worker fans
//! it out to subscribed endpoints.

use causeloop_domain::events::{EventEnvelope, EventType};
use causeloop_domain::ids::{derived_body, EventId};
use causeloop_domain::issue::Issue;
use causeloop_domain::WorkspaceId;
use causeloop_storage::{OutMessage, Queue, QueueName, StoreError};
use serde_json::Value;

/// An event whose id derives from what caused it, so re-emitting after a crash yields the same
/// event and the deliver worker can deliver it once per endpoint.
pub fn envelope(
    event_type: EventType,
    workspace: &WorkspaceId,
    cause: &str,
    connector_id: Option<String>,
    data: Value,
    now: &str,
) -> EventEnvelope {
    EventEnvelope {
        id: EventId::from_body(derived_body("causeloop/event/v1", &[workspace.as_str(), event_type.as_str(), cause])),
        event_type,
        created_at: now.to_string(),
        workspace_id: workspace.clone(),
        connector_id,
        data,
    }
}

/// `issue.resolved` for a resolved Issue. The cause is the Issue and the moment Causeloop saw
/// it resolved (`resolution.resolved_at`, which a repeated "resolved" keeps), so one resolution
/// is one event whichever way it came in (PATCH, ingest, an inbound event, a provider alert, a
/// sync) and however often it is emitted: a retry that finds the Issue resolved emits it again,
/// completing what a failed queue send left undone, and the copy is the same event.
pub fn issue_resolved(issue: &Issue, now: &str) -> EventEnvelope {
    let resolved_at = issue.resolution.as_ref().map_or(issue.updated_at.as_str(), |r| r.resolved_at.as_str());
    envelope(
        EventType::IssueResolved,
        &issue.workspace_id,
        &format!("{}@{resolved_at}", issue.id),
        issue.connector_id.clone(),
        serde_json::json!({"issue": issue.to_api()}),
        now,
    )
}

pub async fn emit(queue: &dyn Queue, events: Vec<EventEnvelope>) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let messages = events
        .iter()
        .map(|event| OutMessage::standard(serde_json::to_string(event).expect("envelope serializes")))
        .collect();
    queue.send_batch(QueueName::Delivery, messages).await
}
