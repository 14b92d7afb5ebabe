//! The cluster worker: takes `ClusterRequest`s from the FIFO queue (one group per workspace).
//!
//! Pattern assignment arrives with the clustering engine; until then the worker records that
//! each Issue went through clustering so that ingest job status stays truthful.

use super::WorkMessage;
use crate::messages::ClusterRequest;
use causeloop_http::AppState;
use causeloop_storage::StoreError;

/// Handles a batch; returns the ids of messages that failed (to be redelivered). On a FIFO
/// queue a failure must also fail every later message of the same group, or they would be
/// processed out of order.
pub async fn handle_batch(state: &AppState, messages: Vec<WorkMessage>) -> Vec<String> {
    let mut failed_groups = std::collections::HashSet::new();
    let mut failed = Vec::new();
    for message in messages {
        let request: ClusterRequest = match serde_json::from_str(&message.body) {
            Ok(request) => request,
            Err(err) => {
                // A body that can never parse is dropped rather than retried into the DLQ.
                tracing::error!(message_id = %message.id, error = %err, "malformed cluster message dropped");
                continue;
            }
        };
        if failed_groups.contains(request.workspace_id.as_str()) {
            failed.push(message.id);
            continue;
        }
        if let Err(err) = handle_one(state, &request).await {
            tracing::warn!(message_id = %message.id, error = %err, "cluster message failed; will be retried");
            failed_groups.insert(request.workspace_id.as_str().to_string());
            failed.push(message.id);
        }
    }
    failed
}

async fn handle_one(state: &AppState, request: &ClusterRequest) -> Result<(), StoreError> {
    if let Some(job) = &request.job_id {
        state.store.mark_clustered(&request.workspace_id, job, &request.issue_id).await?;
    }
    Ok(())
}
