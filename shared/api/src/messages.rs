//! Queue message bodies. Every field a worker needs is in the message, so a worker never has to
//! guess and a redelivered message is handled exactly like the first delivery.

use causeloop_domain::events::EventEnvelope;
use causeloop_domain::ids::derived_body;
use causeloop_domain::{DeliveryId, IssueId, JobId, WebhookId, WorkspaceId};
use causeloop_storage::OutMessage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRequest {
    pub workspace_id: WorkspaceId,
    pub issue_id: IssueId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
}

impl ClusterRequest {
    /// One FIFO message group per workspace; the dedup id makes a retried ingest of the same
    /// event a no-op on the queue, while a new event for the same Issue still gets clustered.
    pub fn to_message(&self, ingest_event: &str) -> OutMessage {
        let body = serde_json::to_string(self).expect("cluster request serializes");
        let dedup = derived_body("causeloop/cluster-dedup/v1", &[self.issue_id.as_str(), ingest_event]);
        OutMessage::fifo(body, self.workspace_id.as_str(), dedup)
    }
}

/// On the delivery queue beside event envelopes: "make the due attempt of this delivery". The
/// delivery record holds the payload and the schedule, so the message stays a pointer and a
/// duplicate or early copy is recognized by the record's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryTask {
    pub workspace_id: WorkspaceId,
    pub webhook_id: WebhookId,
    pub delivery_id: DeliveryId,
}

impl DeliveryTask {
    pub fn to_message(&self) -> OutMessage {
        OutMessage::standard(serde_json::to_string(self).expect("delivery task serializes"))
    }
}

/// What a delivery-queue message is: an event to fan out, or one delivery's next attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryQueueMessage {
    Event(EventEnvelope),
    Task(DeliveryTask),
}

impl DeliveryQueueMessage {
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str::<DeliveryTask>(body) {
            Ok(task) => Ok(Self::Task(task)),
            Err(_) => serde_json::from_str::<EventEnvelope>(body).map(Self::Event),
        }
    }
}
