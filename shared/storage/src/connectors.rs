//! Connectors, their sync history, and webhook registrations (outbound endpoints and the inbound
//! enablement of a connector), stored through the [`Table`] port like every other repository.
//!
//! Secrets and credentials arrive here already sealed (encrypted) by the API layer: this crate
//! stores opaque strings and never sees a plaintext secret.

use crate::repo::{Store, Versioned};
use crate::schema::*;
use crate::table::{Condition, Cursor, Index, Item, Query, SkRange, StoreError, Write};
use crate::update::update_with_retries;
use causeloop_domain::delivery::Circuit;
use causeloop_domain::sync::{SyncRun, SyncState, SyncStatus};
use causeloop_domain::time_fmt::format_unix_millis;
use causeloop_domain::{ConnectorId, SyncId, WebhookId, WorkspaceId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How long sync history (including every inbound delivery) is kept before TTL removes it.
pub const SYNC_HISTORY_RETENTION_SECONDS: i64 = 90 * 24 * 3600;
/// How long the signed bytes of an applied inbound delivery are remembered: a replay within it
/// changes nothing.
pub const INBOUND_REPLAY_WINDOW_SECONDS: i64 = 7 * 24 * 3600;

/// What an applied inbound delivery did, kept by the digest of its signed bytes so that a replay
/// gets the same answer and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundApplied {
    pub issue_id: String,
    /// `created` or `updated`: the first application's answer.
    pub status: String,
}

/// A connector of one workspace. The API never serializes this type directly: it builds a view
/// without `sealed_credentials`, so credentials stay write-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    pub id: ConnectorId,
    pub workspace_id: WorkspaceId,
    /// A catalog type: `custom_api`, `cloudwatch`, `jira`, ...
    pub connector_type: String,
    pub display_name: String,
    /// `connected`, `needs_auth` (a polling connector without credentials or a live OAuth grant),
    /// `error` (its last sync failed) or `disabled`.
    pub status: String,
    pub enabled: bool,
    /// Type-specific settings, e.g. cloudwatch `{"topic_arns": [...]}`, custom_api
    /// `{"field_mapping": {"title": "/summary"}}`.
    pub config: serde_json::Value,
    /// The credentials object, sealed by the API layer with the service's master key.
    #[serde(default)]
    pub sealed_credentials: Option<String>,
    /// Names of the credential fields that are set: safe to show, unlike their values.
    #[serde(default)]
    pub credential_fields: Vec<String>,
    /// The webhook registration that enables inbound delivery for this connector, if any.
    #[serde(default)]
    pub inbound_webhook_id: Option<WebhookId>,
    /// A polling connector's syncs: watermark, the running (or last failed) sync and its checkpoint.
    #[serde(default)]
    pub sync: SyncState,
    /// A polling connector's OAuth grant and any flow in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthGrant>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a connector holds of OAuth. Tokens and the PKCE verifier are sealed by the API layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthGrant {
    /// The sealed token set (access token, refresh token, expiry) of a completed flow.
    #[serde(default)]
    pub sealed_tokens: Option<String>,
    /// The API base the grant reaches, when the vendor routes OAuth calls through a gateway
    /// (Jira: `https://api.atlassian.com/ex/jira/<cloudId>`).
    #[serde(default)]
    pub api_base: Option<String>,
    /// A flow started and not finished yet.
    #[serde(default)]
    pub pending: Option<PendingOAuth>,
}

/// An OAuth flow in progress: single-use (cleared by its callback) and expiring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOAuth {
    /// SHA-256 (hex) of the `state` handed out; the state itself is never stored.
    pub state_hash: String,
    /// The PKCE code verifier, sealed.
    pub sealed_verifier: String,
    pub redirect_uri: String,
    pub expires_at_millis: i64,
}

/// One entry of a connector's sync history: a sync run, or one delivery received for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    /// A time-ordered `syn_` id (`SyncId::random`), so that history sorts by id.
    pub id: String,
    pub at: String,
    /// `inbound`, `sync`, `provider_webhook`, `sns_confirmation`, ...
    pub kind: String,
    /// `success` or `failure`.
    pub outcome: String,
    pub issue_id: Option<String>,
    pub error: Option<String>,
    /// For a push of records through the ingest API: how many were this connector's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// For a sync run: its mode, window, progress and counts (the cursor left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncRun>,
}

impl SyncRecord {
    /// The history entry of one delivery received for the connector (a push, an inbound or
    /// provider webhook, an SNS message): what it did to an Issue, or why it failed.
    pub fn received(id: SyncId, kind: &str, result: Result<Option<String>, String>) -> Self {
        let (outcome, issue_id, error) = match result {
            Ok(issue_id) => ("success", issue_id, None),
            Err(error) => ("failure", None, Some(error)),
        };
        SyncRecord {
            id: id.to_string(),
            at: crate::clock::now_rfc3339(),
            kind: kind.to_string(),
            outcome: outcome.to_string(),
            issue_id,
            error,
            records: None,
            sync: None,
        }
    }

    /// The history entry of a sync run as it stands.
    pub fn of_run(run: &SyncRun) -> Self {
        let outcome = match run.status {
            SyncStatus::Running => "running",
            SyncStatus::Completed => "success",
            SyncStatus::Failed => "failure",
        };
        let mut shown = run.clone();
        shown.cursor = serde_json::Value::Null;
        SyncRecord {
            id: run.id.clone(),
            at: format_unix_millis(run.started_at_millis.max(0) as u64),
            kind: "sync".to_string(),
            outcome: outcome.to_string(),
            issue_id: None,
            error: run.error.clone(),
            records: None,
            sync: Some(shown),
        }
    }
}

/// What the id-only lookup item holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ConnectorLookup {
    workspace_id: WorkspaceId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookDirection {
    /// Causeloop posts events to `url`.
    Outbound,
    /// A source posts to this service's `/v1/webhooks/inbound/{connector_id}`, signed with the secret.
    Inbound,
}

/// A signing secret, sealed by the API layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSecret {
    pub sealed: String,
    pub created_at: String,
    /// RFC 3339; set on a previous secret that remains valid until then after a rotation.
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl StoredSecret {
    /// Times use the fixed-width format of `time_fmt::format_rfc3339`, so they compare as strings.
    pub fn is_valid_at(&self, now: &str) -> bool {
        self.expires_at.as_deref().is_none_or(|expires| expires > now)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: WebhookId,
    pub workspace_id: WorkspaceId,
    pub direction: WebhookDirection,
    pub url: String,
    pub event_types: Vec<String>,
    pub connector_id: Option<ConnectorId>,
    pub description: Option<String>,
    pub enabled: bool,
    pub signing_secret: StoredSecret,
    /// Secrets replaced by a rotation and still inside their grace period, newest first.
    #[serde(default)]
    pub previous_secrets: Vec<StoredSecret>,
    /// RFC 3339: since when every delivery attempt to this endpoint has failed; cleared by a
    /// success. The delivery worker disables the endpoint when this is five days old.
    #[serde(default)]
    pub failing_since: Option<String>,
    /// Why the delivery worker disabled the endpoint; cleared when it is re-enabled.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// The delivery worker's circuit breaker for the endpoint.
    #[serde(default)]
    pub circuit: Circuit,
    pub created_at: String,
    pub updated_at: String,
}

impl Webhook {
    /// Every secret that verifies a signature at `now`: the current one, then unexpired previous ones.
    pub fn secrets_valid_at<'a>(&'a self, now: &'a str) -> impl Iterator<Item = &'a StoredSecret> + 'a {
        std::iter::once(&self.signing_secret).chain(self.previous_secrets.iter().filter(move |s| s.is_valid_at(now)))
    }
}

/// What the inbound receiver needs, read from the connector id alone.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundTarget {
    pub connector: Connector,
    pub webhook: Option<Webhook>,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("entities serialize")
}

pub(crate) fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(&item.data).map_err(|err| StoreError::Corrupt(format!("{} {}: {err}", item.pk, item.sk)))
}

fn connector_item(connector: &Connector, version: u64) -> Item {
    Item::new(workspace_pk(connector.workspace_id.as_str()), connector_sk(connector.id.as_str()), encode(connector))
        .with_version(version)
}

fn sync_record_item(ws: &WorkspaceId, connector: &ConnectorId, record: &SyncRecord) -> Item {
    Item::new(sync_records_pk(ws.as_str(), connector.as_str()), record.id.clone(), encode(record))
        .expiring_at(crate::unix_now() + SYNC_HISTORY_RETENTION_SECONDS)
}

fn webhook_item(webhook: &Webhook, version: u64) -> Item {
    Item::new(workspace_pk(webhook.workspace_id.as_str()), webhook_sk(webhook.id.as_str()), encode(webhook))
        .with_version(version)
}

impl Store {
    pub(crate) async fn read<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        match self.table().get(pk, sk).await? {
            None => Ok(None),
            Some(item) => Ok(Some(Versioned { value: decode(&item)?, version: item.version })),
        }
    }

    /// Up to `limit` items of `query` and the cursor after the last one, if more may follow.
    pub(crate) async fn page_of<T: DeserializeOwned>(
        &self,
        query: Query,
        limit: usize,
    ) -> Result<(Vec<T>, Option<Cursor>), StoreError> {
        self.page_where(query, limit, |_: &T| true).await
    }

    /// Like [`Self::page_of`], keeping only the items `keep` accepts. The cursor points after
    /// the last item *examined*, so the next page neither repeats nor skips anything.
    pub(crate) async fn page_where<T: DeserializeOwned>(
        &self,
        query: Query,
        limit: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<(Vec<T>, Option<Cursor>), StoreError> {
        // Expired and filtered items are dropped after the limit, so a page may come back short
        // while more exist; keep reading until the page is full or the partition ends.
        let limit = limit.max(1);
        let mut query = query;
        let index = query.index;
        let mut found = Vec::new();
        loop {
            query.limit = limit;
            let page = self.table().query(&query).await?;
            for (position, item) in page.items.iter().enumerate() {
                let value: T = decode(item)?;
                if keep(&value) {
                    found.push(value);
                }
                if found.len() == limit {
                    let more = position + 1 < page.items.len() || page.next.is_some();
                    return Ok((found, more.then(|| Cursor::after_item(item, index))));
                }
            }
            match page.next {
                None => return Ok((found, None)),
                Some(next) => query.cursor = Some(next),
            }
        }
    }

    async fn all_of<T: DeserializeOwned>(&self, query: Query) -> Result<Vec<T>, StoreError> {
        let mut query = query.limit(100);
        let mut all = Vec::new();
        loop {
            let page = self.table().query(&query).await?;
            for item in &page.items {
                all.push(decode(item)?);
            }
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    // --- connectors -------------------------------------------------------------------------

    /// Creates a connector and its id lookup together; `ConditionFailed` if the id exists.
    pub async fn insert_connector(&self, connector: &Connector) -> Result<(), StoreError> {
        let lookup = ConnectorLookup { workspace_id: connector.workspace_id.clone() };
        self.table()
            .transact(vec![
                Write::Put { item: connector_item(connector, 1), condition: Condition::NotExists },
                Write::Put {
                    item: Item::new(connector_id_pk(connector.id.as_str()), CONNECTOR_LOOKUP_SK, encode(&lookup)),
                    condition: Condition::NotExists,
                },
            ])
            .await
    }

    /// The workspace's connector `id`; a connector of another workspace is `None`, like an unknown one.
    pub async fn connector(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
    ) -> Result<Option<Versioned<Connector>>, StoreError> {
        self.read(&workspace_pk(ws.as_str()), &connector_sk(id.as_str())).await
    }

    /// Writes `connector` if the stored version is still `read_version`; returns the new version.
    pub async fn save_connector(&self, connector: &Connector, read_version: u64) -> Result<u64, StoreError> {
        let version = read_version + 1;
        self.table()
            .write(Write::Put { item: connector_item(connector, version), condition: Condition::Version(read_version) })
            .await?;
        Ok(version)
    }

    /// Writes `connector` (whose sync state changed) if the stored version is still
    /// `read_version`, together with its running sync's history entry: one round trip, and the
    /// history never shows progress the checkpoint lost. Returns the new version.
    pub async fn checkpoint_sync(&self, connector: &Connector, read_version: u64) -> Result<u64, StoreError> {
        let version = read_version + 1;
        let mut writes =
            vec![Write::Put { item: connector_item(connector, version), condition: Condition::Version(read_version) }];
        if let Some(run) = &connector.sync.run {
            writes.push(Write::Put {
                item: sync_record_item(&connector.workspace_id, &connector.id, &SyncRecord::of_run(run)),
                condition: Condition::Always,
            });
        }
        self.table().transact(writes).await?;
        Ok(version)
    }

    /// The connector `id` of any workspace, by the id alone (the OAuth callback names no
    /// workspace; its signed state names the connector).
    pub async fn connector_by_id(&self, id: &ConnectorId) -> Result<Option<Versioned<Connector>>, StoreError> {
        let Some(lookup) = self.read::<ConnectorLookup>(&connector_id_pk(id.as_str()), CONNECTOR_LOOKUP_SK).await?
        else {
            return Ok(None);
        };
        self.connector(&lookup.value.workspace_id, id).await
    }

    /// Deletes a connector, its id lookup (so its inbound URL stops authenticating at once) and
    /// its inbound webhook registration. Returns the deleted connector, `None` if unknown.
    pub async fn delete_connector(&self, ws: &WorkspaceId, id: &ConnectorId) -> Result<Option<Connector>, StoreError> {
        let Some(Versioned { value: connector, version }) = self.connector(ws, id).await? else {
            return Ok(None);
        };
        let mut writes = vec![
            Write::Delete {
                pk: workspace_pk(ws.as_str()),
                sk: connector_sk(id.as_str()),
                condition: Condition::Version(version),
            },
            Write::Delete {
                pk: connector_id_pk(id.as_str()),
                sk: CONNECTOR_LOOKUP_SK.into(),
                condition: Condition::Always,
            },
        ];
        if let Some(webhook) = &connector.inbound_webhook_id {
            writes.push(Write::Delete {
                pk: workspace_pk(ws.as_str()),
                sk: webhook_sk(webhook.as_str()),
                condition: Condition::Always,
            });
        }
        self.table().transact(writes).await?;
        Ok(Some(connector))
    }

    /// The workspace's connectors, oldest first (ids are time-ordered), one page.
    pub async fn list_connectors(
        &self,
        ws: &WorkspaceId,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<Connector>, Option<Cursor>), StoreError> {
        let query = Query::new(Index::Primary, workspace_pk(ws.as_str()))
            .sk(SkRange::Prefix(CONNECTOR_SK_PREFIX.into()))
            .after(cursor);
        self.page_of(query, limit).await
    }

    /// Every connector of the workspace (for health reports).
    pub async fn all_connectors(&self, ws: &WorkspaceId) -> Result<Vec<Connector>, StoreError> {
        self.all_of(
            Query::new(Index::Primary, workspace_pk(ws.as_str())).sk(SkRange::Prefix(CONNECTOR_SK_PREFIX.into())),
        )
        .await
    }

    /// Every connector of one type in the workspace, enabled or not, oldest first. Read
    /// consistently from the workspace's partition (a workspace holds a bounded number of
    /// connectors), not from the by-type index: an allow-list or a provider secret saved a moment
    /// ago must already count, as when SNS confirms a subscription right after it is made.
    pub async fn connectors_of_type(
        &self,
        ws: &WorkspaceId,
        connector_type: &str,
    ) -> Result<Vec<Connector>, StoreError> {
        let mut connectors = self.all_connectors(ws).await?;
        connectors.retain(|connector| connector.connector_type == connector_type);
        Ok(connectors)
    }

    /// Resolves a bare connector id (the inbound URL names no workspace) to the connector and its
    /// inbound webhook registration. `None` for an unknown or deleted connector.
    pub async fn inbound_target(&self, id: &ConnectorId) -> Result<Option<InboundTarget>, StoreError> {
        let Some(lookup) = self.read::<ConnectorLookup>(&connector_id_pk(id.as_str()), CONNECTOR_LOOKUP_SK).await?
        else {
            return Ok(None);
        };
        let Some(connector) = self.connector(&lookup.value.workspace_id, id).await? else {
            return Ok(None);
        };
        let connector = connector.value;
        let webhook = match &connector.inbound_webhook_id {
            Some(webhook) => self.webhook(&connector.workspace_id, webhook).await?.map(|v| v.value),
            None => None,
        };
        Ok(Some(InboundTarget { connector, webhook }))
    }

    // --- sync history -----------------------------------------------------------------------

    /// Appends one entry to the connector's history. Idempotent per record id; kept for
    /// [`SYNC_HISTORY_RETENTION_SECONDS`].
    pub async fn record_sync(
        &self,
        ws: &WorkspaceId,
        connector: &ConnectorId,
        record: &SyncRecord,
    ) -> Result<(), StoreError> {
        let item = sync_record_item(ws, connector, record);
        self.table().write(Write::Put { item, condition: Condition::Always }).await
    }

    /// The connector's history, newest first, one page.
    pub async fn sync_records(
        &self,
        ws: &WorkspaceId,
        connector: &ConnectorId,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<SyncRecord>, Option<Cursor>), StoreError> {
        let query =
            Query::new(Index::Primary, sync_records_pk(ws.as_str(), connector.as_str())).descending().after(cursor);
        self.page_of(query, limit).await
    }

    /// Entries whose id is at or after `since_id` (a `SyncId` built for a point in time), newest
    /// first, at most `max`.
    pub async fn sync_records_since(
        &self,
        ws: &WorkspaceId,
        connector: &ConnectorId,
        since_id: &str,
        max: usize,
    ) -> Result<Vec<SyncRecord>, StoreError> {
        let query = Query::new(Index::Primary, sync_records_pk(ws.as_str(), connector.as_str()))
            .sk(SkRange::AtLeast(since_id.to_string()))
            .descending();
        Ok(self.page_of(query, max).await?.0)
    }

    // --- inbound replays ---------------------------------------------------------------------

    /// What the inbound delivery whose signed bytes have `digest` did, if it was applied within
    /// [`INBOUND_REPLAY_WINDOW_SECONDS`]. Read consistently: a replay right after is caught.
    pub async fn inbound_applied(
        &self,
        ws: &WorkspaceId,
        connector: &ConnectorId,
        digest: &str,
    ) -> Result<Option<InboundApplied>, StoreError> {
        Ok(self
            .read::<InboundApplied>(&inbound_seen_pk(ws.as_str(), connector.as_str()), digest)
            .await?
            .map(|v| v.value))
    }

    /// Remembers an applied inbound delivery for [`INBOUND_REPLAY_WINDOW_SECONDS`]. Written after
    /// the delivery took effect, so a crash in between leaves a retry to apply it (a replay at
    /// the Issue, which remembers the delivery's ingest event) and then remember it.
    pub async fn remember_inbound(
        &self,
        ws: &WorkspaceId,
        connector: &ConnectorId,
        digest: &str,
        applied: &InboundApplied,
    ) -> Result<(), StoreError> {
        let item = Item::new(inbound_seen_pk(ws.as_str(), connector.as_str()), digest.to_string(), encode(applied))
            .expiring_at(crate::unix_now() + INBOUND_REPLAY_WINDOW_SECONDS);
        self.table().write(Write::Put { item, condition: Condition::Always }).await
    }

    // --- webhooks ---------------------------------------------------------------------------

    /// Registers an outbound endpoint; `ConditionFailed` if the id exists.
    pub async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.table().write(Write::Put { item: webhook_item(webhook, 1), condition: Condition::NotExists }).await
    }

    /// Registers the inbound enablement `webhook` for `connector` (read at `connector_version`),
    /// linking the two in one transaction. `ConditionFailed` if the connector changed meanwhile
    /// (for example another registration won the race).
    pub async fn enable_inbound(
        &self,
        webhook: &Webhook,
        connector: &Connector,
        connector_version: u64,
    ) -> Result<(), StoreError> {
        let mut linked = connector.clone();
        linked.inbound_webhook_id = Some(webhook.id.clone());
        linked.updated_at = webhook.created_at.clone();
        self.table()
            .transact(vec![
                Write::Put { item: webhook_item(webhook, 1), condition: Condition::NotExists },
                Write::Put {
                    item: connector_item(&linked, connector_version + 1),
                    condition: Condition::Version(connector_version),
                },
            ])
            .await
    }

    pub async fn webhook(&self, ws: &WorkspaceId, id: &WebhookId) -> Result<Option<Versioned<Webhook>>, StoreError> {
        self.read(&workspace_pk(ws.as_str()), &webhook_sk(id.as_str())).await
    }

    /// Writes `webhook` if the stored version is still `read_version`; returns the new version.
    pub async fn save_webhook(&self, webhook: &Webhook, read_version: u64) -> Result<u64, StoreError> {
        let version = read_version + 1;
        self.table()
            .write(Write::Put { item: webhook_item(webhook, version), condition: Condition::Version(read_version) })
            .await?;
        Ok(version)
    }

    /// The workspace's registrations, oldest first, one page.
    pub async fn list_webhooks(
        &self,
        ws: &WorkspaceId,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<Webhook>, Option<Cursor>), StoreError> {
        let query = Query::new(Index::Primary, workspace_pk(ws.as_str()))
            .sk(SkRange::Prefix(WEBHOOK_SK_PREFIX.into()))
            .after(cursor);
        self.page_of(query, limit).await
    }

    /// Every registration of the workspace (for fan-out of events and health reports).
    pub async fn all_webhooks(&self, ws: &WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
        self.all_of(Query::new(Index::Primary, workspace_pk(ws.as_str())).sk(SkRange::Prefix(WEBHOOK_SK_PREFIX.into())))
            .await
    }

    /// Deletes a registration. Deleting an inbound enablement also unlinks it from its connector
    /// in the same transaction, so the connector's inbound URL answers 401 from then on.
    pub async fn delete_webhook(&self, ws: &WorkspaceId, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        // The webhook or its connector may change between the reads and the write: re-read.
        update_with_retries(|| async move {
            let Some(Versioned { value: webhook, version }) = self.webhook(ws, id).await? else {
                return Ok(None);
            };
            let mut writes = vec![Write::Delete {
                pk: workspace_pk(ws.as_str()),
                sk: webhook_sk(id.as_str()),
                condition: Condition::Version(version),
            }];
            if let (WebhookDirection::Inbound, Some(connector_id)) = (webhook.direction, &webhook.connector_id) {
                if let Some(Versioned { value: mut connector, version: connector_version }) =
                    self.connector(ws, connector_id).await?
                {
                    if connector.inbound_webhook_id.as_ref() == Some(id) {
                        connector.inbound_webhook_id = None;
                        writes.push(Write::Put {
                            item: connector_item(&connector, connector_version + 1),
                            condition: Condition::Version(connector_version),
                        });
                    }
                }
            }
            self.table().transact(writes).await?;
            Ok(Some(webhook))
        })
        .await
    }
}
