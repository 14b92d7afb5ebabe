//! Queue message bodies. Every field a worker needs is in the message, so a worker never has to
//! guess and a redelivered message is handled exactly like the first delivery.

use causeloop_domain::ids::derived_body;
use causeloop_domain::{IssueId, JobId, WorkspaceId};
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
