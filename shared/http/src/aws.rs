//! Building the AWS-backed state once per Lambda container.

use crate::state::{AppState, Settings};
use causeloop_storage::dynamo::DynamoTable;
use causeloop_storage::sqs::SqsQueues;
use std::sync::Arc;

/// Reads `TABLE_NAME`, the queue URLs, `ALLOW_PRIVATE_TARGETS` and `CAUSELOOP_SECRET_KEY`; the SDK reads region,
/// credentials and (for tests) `AWS_ENDPOINT_URL` from the usual environment.
pub async fn state_from_env() -> Result<AppState, String> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set".to_string())?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let settings = Settings {
        allow_private_targets: std::env::var("ALLOW_PRIVATE_TARGETS").is_ok_and(|v| v == "true"),
        secret_box: crate::state::secret_box_from_env()?,
        ..Settings::default()
    };
    Ok(AppState::new(Arc::new(DynamoTable::new(dynamo, table)), Arc::new(SqsQueues::from_env(sqs)), settings))
}
