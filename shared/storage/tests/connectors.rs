//! The connector, sync-history and webhook repositories on both adapters: embedded SQLite and
//! DynamoDB as served by moto (`MOTO_ENDPOINT`, exported by `scripts/test.sh`).

#![cfg(all(feature = "embedded", feature = "aws"))]

use causeloop_domain::{ConnectorId, SyncId, WebhookId, WorkspaceId};
use causeloop_storage::connectors::{Connector, StoredSecret, SyncRecord, Webhook, WebhookDirection};
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::{Store, StoreError};
use serde_json::json;
use std::sync::Arc;

mod common;

fn workspace() -> WorkspaceId {
    WorkspaceId::random(1_700_000_000_000, rand::random())
}

fn connector(ws: &WorkspaceId, connector_type: &str, millis: u64) -> Connector {
    Connector {
        id: ConnectorId::random(millis, rand::random()),
        workspace_id: ws.clone(),
        connector_type: connector_type.into(),
        display_name: format!("{connector_type} connector"),
        status: "connected".into(),
        enabled: true,
        config: json!({"topic_arns": ["arn:aws:sns:us-east-1:123456789012:alarms"]}),
        sealed_credentials: None,
        credential_fields: Vec::new(),
        inbound_webhook_id: None,
        sync: Default::default(),
        oauth: None,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
    }
}

fn webhook(ws: &WorkspaceId, direction: WebhookDirection, connector: Option<&ConnectorId>) -> Webhook {
    Webhook {
        id: WebhookId::random(1_700_000_000_000, rand::random()),
        workspace_id: ws.clone(),
        direction,
        url: "https://8.8.8.8/hook".into(),
        event_types: vec!["issue.ingested".into()],
        connector_id: connector.cloned(),
        description: None,
        enabled: true,
        signing_secret: StoredSecret {
            sealed: "v1.sealed".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            expires_at: None,
        },
        previous_secrets: Vec::new(),
        failing_since: None,
        disabled_reason: None,
        circuit: Default::default(),
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
    }
}

async fn connectors_round_trip(store: Store) {
    let (ws, other_ws) = (workspace(), workspace());
    let custom = connector(&ws, "custom_api", 1_700_000_000_001);
    let cloudwatch = connector(&ws, "cloudwatch", 1_700_000_000_002);
    let foreign = connector(&other_ws, "cloudwatch", 1_700_000_000_003);
    for c in [&custom, &cloudwatch, &foreign] {
        store.insert_connector(c).await.unwrap();
    }
    assert!(matches!(store.insert_connector(&custom).await, Err(StoreError::ConditionFailed)), "ids are unique");

    let read = store.connector(&ws, &custom.id).await.unwrap().unwrap();
    assert_eq!((read.value.clone(), read.version), (custom.clone(), 1));
    assert!(store.connector(&other_ws, &custom.id).await.unwrap().is_none(), "another workspace sees nothing");

    let of_type = store.connectors_of_type(&ws, "cloudwatch").await.unwrap();
    assert_eq!(of_type, vec![cloudwatch.clone()]);
    assert_eq!(store.connectors_of_type(&other_ws, "cloudwatch").await.unwrap(), vec![foreign.clone()]);

    let (first, next) = store.list_connectors(&ws, 1, None).await.unwrap();
    assert_eq!(first, vec![custom.clone()]);
    let (second, next) = store.list_connectors(&ws, 1, next).await.unwrap();
    assert_eq!(second, vec![cloudwatch.clone()]);
    if let Some(cursor) = next {
        assert!(store.list_connectors(&ws, 1, Some(cursor)).await.unwrap().0.is_empty());
    }
    assert_eq!(store.all_connectors(&ws).await.unwrap().len(), 2);

    let mut renamed = read.value.clone();
    renamed.display_name = "renamed".into();
    assert_eq!(store.save_connector(&renamed, read.version).await.unwrap(), 2);
    assert!(
        matches!(store.save_connector(&renamed, read.version).await, Err(StoreError::ConditionFailed)),
        "stale version"
    );

    let target = store.inbound_target(&custom.id).await.unwrap().unwrap();
    assert_eq!((target.connector.display_name.as_str(), target.webhook), ("renamed", None));

    assert_eq!(store.delete_connector(&ws, &custom.id).await.unwrap().unwrap().id, custom.id);
    assert!(store.connector(&ws, &custom.id).await.unwrap().is_none());
    assert!(store.inbound_target(&custom.id).await.unwrap().is_none(), "the id lookup goes with it");
    assert!(store.delete_connector(&ws, &custom.id).await.unwrap().is_none());
}
both_adapters!(connectors_round_trip_and_stay_in_their_workspace, connectors_round_trip);

async fn sync_history_is_newest_first(store: Store) {
    let ws = workspace();
    let con = ConnectorId::random(1, [1; 10]);
    let at = |millis: u64, outcome: &str| SyncRecord {
        id: SyncId::random(millis, rand::random()).to_string(),
        at: format!("t{millis}"),
        kind: "inbound".into(),
        outcome: outcome.into(),
        issue_id: None,
        error: (outcome == "failure").then(|| "invalid_json: ...".into()),
        records: None,
        sync: None,
    };
    let records = [at(1_000, "success"), at(2_000, "failure"), at(3_000, "success")];
    for record in &records {
        store.record_sync(&ws, &con, record).await.unwrap();
    }
    store.record_sync(&ws, &con, &records[0]).await.unwrap();

    let (page, next) = store.sync_records(&ws, &con, 2, None).await.unwrap();
    assert_eq!(page, vec![records[2].clone(), records[1].clone()]);
    let (rest, _) = store.sync_records(&ws, &con, 2, next).await.unwrap();
    assert_eq!(rest, vec![records[0].clone()], "a re-recorded entry is not duplicated");

    let since = SyncId::random(1_500, [0; 10]).to_string();
    let recent = store.sync_records_since(&ws, &con, &since, 100).await.unwrap();
    assert_eq!(recent, vec![records[2].clone(), records[1].clone()]);
    assert!(store.sync_records(&workspace(), &con, 10, None).await.unwrap().0.is_empty());
}
both_adapters!(sync_history_is_newest_first_and_bounded_by_time, sync_history_is_newest_first);

async fn sync_checkpoints_are_conditional_and_carry_their_history(store: Store) {
    use causeloop_domain::sync::SyncMode;
    let ws = workspace();
    let mut stored = connector(&ws, "jira", 1_000);
    store.insert_connector(&stored).await.unwrap();
    let now = 1_800_000_000_000;
    stored.sync.start(SyncMode::Backfill, None, now, SyncId::random(now as u64, [7; 10]).to_string()).unwrap();
    let version = store.checkpoint_sync(&stored, 1).await.unwrap();
    let (history, _) = store.sync_records(&ws, &stored.id, 10, None).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].kind.as_str(), history[0].outcome.as_str()), ("sync", "running"));
    assert_eq!(history[0].sync.as_ref().unwrap().cursor, serde_json::Value::Null, "the cursor stays internal");

    // A checkpoint from a stale read writes neither the connector nor its history entry.
    let mut stale = stored.clone();
    stale.sync.checkpoint(None, &Default::default(), now + 1);
    assert!(matches!(store.checkpoint_sync(&stale, 1).await, Err(StoreError::ConditionFailed)));
    let (history, _) = store.sync_records(&ws, &stored.id, 10, None).await.unwrap();
    assert_eq!(history[0].outcome, "running");
    assert_eq!(store.connector(&ws, &stored.id).await.unwrap().unwrap().value.sync, stored.sync);

    stored.sync.checkpoint(None, &Default::default(), now + 2);
    store.checkpoint_sync(&stored, version).await.unwrap();
    let (history, _) = store.sync_records(&ws, &stored.id, 10, None).await.unwrap();
    assert_eq!((history.len(), history[0].outcome.as_str()), (1, "success"), "one entry per run, updated in place");
    assert_eq!(store.connector_by_id(&stored.id).await.unwrap().unwrap().value.sync.watermark_millis, Some(now));
}
both_adapters!(
    sync_checkpoints_are_conditional_and_carry_their_history,
    sync_checkpoints_are_conditional_and_carry_their_history
);

async fn inbound_enablement_links_and_unlinks(store: Store) {
    let ws = workspace();
    let con = connector(&ws, "custom_api", 1_700_000_000_001);
    store.insert_connector(&con).await.unwrap();
    let read = store.connector(&ws, &con.id).await.unwrap().unwrap();
    let inbound = webhook(&ws, WebhookDirection::Inbound, Some(&con.id));
    store.enable_inbound(&inbound, &read.value, read.version).await.unwrap();
    let rival = webhook(&ws, WebhookDirection::Inbound, Some(&con.id));
    assert!(
        matches!(store.enable_inbound(&rival, &read.value, read.version).await, Err(StoreError::ConditionFailed)),
        "a second registration from the same read loses"
    );
    assert!(store.webhook(&ws, &rival.id).await.unwrap().is_none(), "nothing partial is written");

    let target = store.inbound_target(&con.id).await.unwrap().unwrap();
    assert_eq!(target.connector.inbound_webhook_id.as_ref(), Some(&inbound.id));
    assert_eq!(target.webhook.as_ref().map(|w| &w.id), Some(&inbound.id));

    let outbound = webhook(&ws, WebhookDirection::Outbound, None);
    store.insert_webhook(&outbound).await.unwrap();
    assert_eq!(store.all_webhooks(&ws).await.unwrap().len(), 2);
    let (page, _) = store.list_webhooks(&ws, 10, None).await.unwrap();
    assert_eq!(page.len(), 2);
    assert!(store.webhook(&workspace(), &outbound.id).await.unwrap().is_none());

    assert_eq!(store.delete_webhook(&ws, &inbound.id).await.unwrap().unwrap().id, inbound.id);
    let target = store.inbound_target(&con.id).await.unwrap().unwrap();
    assert_eq!((target.connector.inbound_webhook_id, target.webhook), (None, None));

    // Deleting a connector deletes its inbound registration too.
    let read = store.connector(&ws, &con.id).await.unwrap().unwrap();
    let again = webhook(&ws, WebhookDirection::Inbound, Some(&con.id));
    store.enable_inbound(&again, &read.value, read.version).await.unwrap();
    store.delete_connector(&ws, &con.id).await.unwrap();
    assert!(store.webhook(&ws, &again.id).await.unwrap().is_none());
    assert_eq!(store.all_webhooks(&ws).await.unwrap(), vec![outbound]);
}
both_adapters!(inbound_enablement_links_and_unlinks_its_connector, inbound_enablement_links_and_unlinks);

#[test]
fn previous_secrets_verify_only_until_they_expire() {
    let ws = workspace();
    let mut hook = webhook(&ws, WebhookDirection::Inbound, None);
    let old = |expires: &str| StoredSecret {
        sealed: format!("v1.old-{expires}"),
        created_at: "2026-01-01T00:00:00.000Z".into(),
        expires_at: Some(expires.into()),
    };
    hook.previous_secrets = vec![old("2026-01-02T00:00:00.000Z"), old("2026-01-01T12:00:00.000Z")];
    let valid = |now: &str| hook.secrets_valid_at(now).count();
    assert_eq!(valid("2026-01-01T06:00:00.000Z"), 3);
    assert_eq!(valid("2026-01-01T12:00:00.000Z"), 2, "expiry is exclusive");
    assert_eq!(valid("2026-01-03T00:00:00.000Z"), 1, "the current secret never expires");
}
