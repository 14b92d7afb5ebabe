//! The insights repository on both adapters: the workspace state, the Pattern states and the
//! Issues of one step are written all or nothing, each on the version read.

#![cfg(all(feature = "embedded", feature = "aws"))]

use causeloop_domain::ids::PatternId;
use causeloop_domain::ingest::normalize_record;
use causeloop_domain::issue::Issue;
use causeloop_domain::WorkspaceId;
use causeloop_insights::WorkspaceInsights;
use causeloop_storage::insights::{pattern_key, InsightsChanges, PatternInsightsRecord};
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::{Store, StoreError, Table};
use std::sync::Arc;

mod common;
use common::{dynamo, moto_endpoint};

async fn states_and_issues_are_written_together(table: Arc<dyn Table>) {
    let store = Store::new(table);
    let ws = WorkspaceId::random(1, [4; 10]);
    let record = normalize_record(&serde_json::json!({"source": "s", "external_id": "e", "title": "t"})).unwrap();
    let (issue, _) = Issue::apply(None, &ws, &record, "evt", "2026-01-01T00:00:00.000Z");
    let issue_version = store.save_issue(&issue, None).await.unwrap();
    let (a, b) = (PatternId::for_engine_id(&ws, 1), PatternId::for_engine_id(&ws, 2));
    assert_ne!(pattern_key(&a), pattern_key(&b));

    let (workspace, patterns) = store.insights_state(&ws, &[a.clone(), b.clone()]).await.unwrap();
    assert!(workspace.is_none() && patterns.iter().all(Option::is_none), "nothing yet");
    let mut insights = WorkspaceInsights::default();
    let (mut first, second) = (
        PatternInsightsRecord::new(a.clone(), pattern_key(&a)),
        PatternInsightsRecord::new(b.clone(), pattern_key(&b)),
    );
    insights.issue_opened(&mut first.insights, first.key, 1_000);
    let mut marked = issue.clone();
    marked.mark_history_applied();
    let changes = InsightsChanges {
        workspace: Some((insights.clone(), None)),
        patterns: vec![(first.clone(), None), (second.clone(), None)],
        removed_patterns: vec![],
        issues: vec![(marked.clone(), issue_version)],
    };
    store.save_insights(&ws, &changes).await.unwrap();
    let (workspace, patterns) = store.insights_state(&ws, &[a.clone(), b.clone()]).await.unwrap();
    let workspace = workspace.unwrap();
    assert_eq!((workspace.value.opened, workspace.version), (1, 1));
    assert_eq!(patterns[0].as_ref().unwrap().value, first);
    assert_eq!(store.issue(&ws, &issue.id).await.unwrap().unwrap().value, marked);

    // A stale version anywhere (here the Issue, changed by an ingest meanwhile) fails the whole
    // step: neither state moves.
    store.save_issue(&issue, Some(issue_version + 1)).await.unwrap();
    let stale = InsightsChanges {
        workspace: Some((insights.clone(), Some(1))),
        patterns: vec![],
        removed_patterns: vec![(b.clone(), 1)],
        issues: vec![(marked.clone(), issue_version + 1)],
    };
    assert!(matches!(store.save_insights(&ws, &stale).await, Err(StoreError::ConditionFailed)));
    assert!(store.pattern_insights(&ws, &b).await.unwrap().is_some(), "the merged-away state is still there");
    assert_eq!(store.workspace_insights(&ws).await.unwrap().unwrap().version, 1);

    // With the versions read, the merged-away Pattern's state goes.
    let fresh = InsightsChanges {
        workspace: Some((insights, Some(1))),
        patterns: vec![],
        removed_patterns: vec![(b.clone(), 1)],
        issues: vec![(marked, issue_version + 2)],
    };
    store.save_insights(&ws, &fresh).await.unwrap();
    assert!(store.pattern_insights(&ws, &b).await.unwrap().is_none());
    assert_eq!(store.workspace_insights(&ws).await.unwrap().unwrap().version, 2);
}

#[tokio::test]
async fn sqlite() {
    states_and_issues_are_written_together(Arc::new(SqliteStore::in_memory().unwrap())).await;
}

#[tokio::test]
async fn dynamodb() {
    if let Some(endpoint) = moto_endpoint() {
        states_and_issues_are_written_together(dynamo(&endpoint).await).await;
    }
}
