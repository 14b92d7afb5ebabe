//! Repositories: the product's entities stored through the [`Table`] port. Written once, they
//! run unchanged on DynamoDB and on SQLite.

use crate::schema::*;
use crate::table::{transaction_chunks, Condition, Cursor, Index, Item, Key, Query, SkRange, StoreError, Table, Write};
use causeloop_domain::issue::Issue;
use causeloop_domain::{IssueId, IssueStatus, JobId, KeyId, ScopeSet, Severity, WorkspaceId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: String,
    pub created_at: String,
}

/// A stored API key: its hash, never the key. The same record is stored under the hash for the
/// one-read lookup that authenticates each request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: KeyId,
    pub workspace_id: WorkspaceId,
    pub scopes: ScopeSet,
    pub hint: String,
    pub key_hash: String,
    pub wrapped_webhook_secret: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// One rejected record of a batch, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRecord {
    pub index: usize,
    pub external_id: Option<String>,
    pub error: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub workspace_id: WorkspaceId,
    pub accepted: usize,
    pub rejected: Vec<RejectedRecord>,
    pub created: usize,
    pub updated: usize,
    /// The Issue of each accepted record, in record order (repeats possible).
    pub record_issue_ids: Vec<IssueId>,
    pub created_at: String,
}

/// A value with the version it was read at, for conditional write-back.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueFilter {
    pub status: Option<IssueStatus>,
    pub severity: Option<Severity>,
    pub source: Option<String>,
    pub service: Option<String>,
    pub pattern_id: Option<String>,
    /// RFC 3339; Issues last seen at or after it.
    pub since: Option<String>,
}

impl IssueFilter {
    fn admits(&self, issue: &Issue) -> bool {
        self.status.is_none_or(|status| issue.status == status)
            && self.severity.is_none_or(|severity| issue.severity == severity)
            && self.source.as_ref().is_none_or(|source| &issue.source == source)
            && self.service.as_ref().is_none_or(|service| issue.service.as_ref() == Some(service))
            && self.pattern_id.as_ref().is_none_or(|pattern| issue.pattern_id.as_ref() == Some(pattern))
    }
}

/// Pages of the underlying index read per list request before answering with what was found,
/// so that a very selective filter cannot make one request scan a whole workspace.
const MAX_PAGES_PER_LIST: usize = 10;

#[derive(Clone)]
pub struct Store {
    table: Arc<dyn Table>,
}

fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("entities serialize")
}

fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(&item.data).map_err(|err| StoreError::Corrupt(format!("{} {}: {err}", item.pk, item.sk)))
}

impl Store {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    pub fn table(&self) -> &Arc<dyn Table> {
        &self.table
    }

    async fn get_as<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> Result<Option<Versioned<T>>, StoreError> {
        match self.table.get(pk, sk).await? {
            None => Ok(None),
            Some(item) => Ok(Some(Versioned { value: decode(&item)?, version: item.version })),
        }
    }

    // --- workspaces -------------------------------------------------------------------------

    /// Returns the workspace with `slug`, creating it with `new_id` if there is none. Two racing
    /// creators agree on one workspace: the slug item is written only if absent.
    pub async fn ensure_workspace(&self, slug: &str, new_id: WorkspaceId, now: &str) -> Result<Workspace, StoreError> {
        if let Some(existing) = self.workspace_by_slug(slug).await? {
            return Ok(existing);
        }
        let workspace = Workspace { id: new_id, slug: slug.to_string(), created_at: now.to_string() };
        let writes = vec![
            Write::Put { item: Item::new(slug_pk(slug), SLUG_SK, encode(&workspace)), condition: Condition::NotExists },
            Write::Put {
                item: Item::new(workspace_pk(workspace.id.as_str()), WORKSPACE_SK, encode(&workspace))
                    .with_gsi1(WORKSPACES_INDEX_PK, slug),
                condition: Condition::NotExists,
            },
        ];
        match self.table.transact(writes).await {
            Ok(()) => Ok(workspace),
            Err(StoreError::ConditionFailed) => self
                .workspace_by_slug(slug)
                .await?
                .ok_or_else(|| StoreError::Backend("workspace slug raced and vanished".into())),
            Err(err) => Err(err),
        }
    }

    pub async fn workspace_by_slug(&self, slug: &str) -> Result<Option<Workspace>, StoreError> {
        Ok(self.get_as(&slug_pk(slug), SLUG_SK).await?.map(|v| v.value))
    }

    pub async fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        Ok(self.get_as(&workspace_pk(id.as_str()), WORKSPACE_SK).await?.map(|v| v.value))
    }

    pub async fn workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.table.query(&Query::new(Index::Gsi1, WORKSPACES_INDEX_PK).limit(100).after(cursor)).await?;
            for item in &page.items {
                all.push(decode(item)?);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    // --- API keys ---------------------------------------------------------------------------

    pub async fn insert_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let data = encode(record);
        self.table
            .transact(vec![
                Write::Put {
                    item: Item::new(
                        workspace_pk(record.workspace_id.as_str()),
                        key_sk(record.key_id.as_str()),
                        data.clone(),
                    )
                    .with_gsi1(KEYS_INDEX_PK, format!("{}#{}", record.workspace_id, record.key_id)),
                    condition: Condition::NotExists,
                },
                Write::Put {
                    item: Item::new(key_hash_pk(&record.key_hash), KEY_LOOKUP_SK, data.clone()),
                    condition: Condition::NotExists,
                },
                Write::Put {
                    item: Item::new(key_id_pk(record.key_id.as_str()), KEY_LOOKUP_SK, data),
                    condition: Condition::NotExists,
                },
            ])
            .await
    }

    /// The live key with this hash; revoked keys are not found.
    pub async fn key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self
            .get_as::<ApiKeyRecord>(&key_hash_pk(key_hash), KEY_LOOKUP_SK)
            .await?
            .map(|v| v.value)
            .filter(|k| k.revoked_at.is_none()))
    }

    pub async fn list_keys(&self, workspace: Option<&WorkspaceId>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let range = match workspace {
            Some(ws) => SkRange::Prefix(format!("{ws}#")),
            None => SkRange::All,
        };
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .table
                .query(&Query::new(Index::Gsi1, KEYS_INDEX_PK).sk(range.clone()).limit(100).after(cursor))
                .await?;
            for item in &page.items {
                all.push(decode(item)?);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// One workspace's key record (live or revoked), by a strongly consistent read of its item
    /// in the workspace's partition: a key of another workspace is `None`, like an unknown one.
    pub async fn workspace_key(
        &self,
        workspace: &WorkspaceId,
        key_id: &KeyId,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.get_as(&workspace_pk(workspace.as_str()), &key_sk(key_id.as_str())).await?.map(|v| v.value))
    }

    /// One page of a workspace's keys (live and revoked), oldest first, read from the workspace's
    /// partition rather than the `KEYS` index so that a key just created or revoked shows as such
    /// (the index is eventually consistent on DynamoDB).
    pub async fn workspace_keys(
        &self,
        workspace: &WorkspaceId,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<ApiKeyRecord>, Option<Cursor>), StoreError> {
        let page = self
            .table
            .query(
                &Query::new(Index::Primary, workspace_pk(workspace.as_str()))
                    .sk(SkRange::Prefix(key_sk("")))
                    .limit(limit)
                    .after(cursor),
            )
            .await?;
        let keys = page.items.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok((keys, page.next))
    }

    /// Revokes a key: from this write on, its hash no longer authenticates. `None` if unknown.
    pub async fn revoke_key(&self, key_id: &KeyId, now: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let Some(Versioned { value: mut record, version }) =
            self.get_as::<ApiKeyRecord>(&key_id_pk(key_id.as_str()), KEY_LOOKUP_SK).await?
        else {
            return Ok(None);
        };
        if record.revoked_at.is_some() {
            return Ok(Some(record));
        }
        record.revoked_at = Some(now.to_string());
        let data = encode(&record);
        self.table
            .transact(vec![
                Write::Put {
                    item: Item::new(workspace_pk(record.workspace_id.as_str()), key_sk(key_id.as_str()), data.clone())
                        .with_gsi1(KEYS_INDEX_PK, format!("{}#{}", record.workspace_id, record.key_id)),
                    condition: Condition::Exists,
                },
                Write::Delete {
                    pk: key_hash_pk(&record.key_hash),
                    sk: KEY_LOOKUP_SK.into(),
                    condition: Condition::Always,
                },
                Write::Put {
                    item: Item::new(key_id_pk(key_id.as_str()), KEY_LOOKUP_SK, data).with_version(version + 1),
                    condition: Condition::Version(version),
                },
            ])
            .await?;
        Ok(Some(record))
    }

    // --- issues -----------------------------------------------------------------------------

    pub async fn issue(&self, workspace: &WorkspaceId, id: &IssueId) -> Result<Option<Versioned<Issue>>, StoreError> {
        self.get_as(&workspace_pk(workspace.as_str()), &issue_sk(id.as_str())).await
    }

    /// Many Issues of one workspace, one round trip per [`crate::MAX_BATCH_GET_KEYS`], aligned
    /// with `ids`.
    pub async fn issues(
        &self,
        workspace: &WorkspaceId,
        ids: &[IssueId],
    ) -> Result<Vec<Option<Versioned<Issue>>>, StoreError> {
        let pk = workspace_pk(workspace.as_str());
        let keys: Vec<Key> = ids.iter().map(|id| (pk.clone(), issue_sk(id.as_str()))).collect();
        let items = self.table.get_many(&keys).await?;
        items
            .into_iter()
            .map(|item| item.map(|item| Ok(Versioned { value: decode(&item)?, version: item.version })).transpose())
            .collect()
    }

    /// The write [`Store::save_issue`] makes, for callers that put it into a larger transaction.
    pub fn issue_write(issue: &Issue, read_version: Option<u64>) -> (Write, u64) {
        let (condition, version) = match read_version {
            None => (Condition::NotExists, 1),
            Some(read) => (Condition::Version(read), read + 1),
        };
        (Write::Put { item: Self::issue_item(issue, version), condition }, version)
    }

    /// Writes many Issues, each on the condition of [`Store::save_issue`], in as few
    /// transactions as DynamoDB's limits allow ([`transaction_chunks`]), one after another. The
    /// answer is aligned with `issues`: the new version, or why that Issue's transaction failed
    /// (`ConditionFailed`: some Issue of it changed meanwhile; none of that transaction was
    /// written, so the caller re-reads and re-applies those Issues).
    pub async fn save_issues(&self, issues: &[(&Issue, Option<u64>)]) -> Vec<Result<u64, StoreError>> {
        let mut versions = Vec::with_capacity(issues.len());
        let mut writes = Vec::with_capacity(issues.len());
        for (issue, read_version) in issues {
            let (write, version) = Self::issue_write(issue, *read_version);
            writes.push(write);
            versions.push(version);
        }
        let chunks = transaction_chunks(writes);
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        // One after another: a few round trips for a whole batch, and no transaction of this
        // request ever overlaps another of it.
        let mut outcomes = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            outcomes.push(self.table.transact(chunk).await);
        }
        let mut answer = Vec::with_capacity(issues.len());
        let mut versions = versions.into_iter();
        for (size, outcome) in sizes.into_iter().zip(outcomes) {
            for version in versions.by_ref().take(size) {
                answer.push(outcome.clone().map(|()| version));
            }
        }
        answer
    }

    fn issue_item(issue: &Issue, version: u64) -> Item {
        Item::new(workspace_pk(issue.workspace_id.as_str()), issue_sk(issue.id.as_str()), encode(issue))
            .with_gsi1(
                issues_index_pk(issue.workspace_id.as_str()),
                issues_index_sk(&issue.last_seen, issue.id.as_str()),
            )
            .with_version(version)
    }

    /// Writes `issue` if the stored version is still `read_version` (`None`: it must not exist).
    /// Returns the new version; `ConditionFailed` means another writer got there first.
    pub async fn save_issue(&self, issue: &Issue, read_version: Option<u64>) -> Result<u64, StoreError> {
        let (write, version) = Self::issue_write(issue, read_version);
        self.table.write(write).await?;
        Ok(version)
    }

    /// Newest activity first (by `last_seen`), filtered, one page.
    pub async fn list_issues(
        &self,
        workspace: &WorkspaceId,
        filter: &IssueFilter,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<Issue>, Option<Cursor>), StoreError> {
        let mut query =
            Query::new(Index::Gsi1, issues_index_pk(workspace.as_str())).descending().limit(limit + 1).after(cursor);
        if let Some(since) = &filter.since {
            query = query.sk(SkRange::AtLeast(since.clone()));
        }
        let mut found: Vec<(Issue, Item)> = Vec::new();
        for _ in 0..MAX_PAGES_PER_LIST {
            let page = self.table.query(&query).await?;
            let scanned_to = page.items.last().cloned();
            for item in page.items {
                let issue: Issue = decode(&item)?;
                if filter.admits(&issue) {
                    found.push((issue, item));
                    if found.len() > limit {
                        found.truncate(limit);
                        let next = found.last().map(|(_, item)| Cursor::after_item(item, Index::Gsi1));
                        return Ok((found.into_iter().map(|(issue, _)| issue).collect(), next));
                    }
                }
            }
            match page.next {
                None => return Ok((found.into_iter().map(|(issue, _)| issue).collect(), None)),
                Some(next) => {
                    query.cursor = Some(next);
                    // Continue from the last scanned item if we must stop scanning early.
                    if let Some(item) = scanned_to {
                        query.cursor = Some(Cursor::after_item(&item, Index::Gsi1));
                    }
                }
            }
        }
        Ok((found.into_iter().map(|(issue, _)| issue).collect(), query.cursor))
    }

    // --- ingest jobs ------------------------------------------------------------------------

    pub async fn put_job(&self, job: &Job) -> Result<(), StoreError> {
        let item = Item::new(workspace_pk(job.workspace_id.as_str()), job_sk(job.id.as_str()), encode(job));
        self.table.write(Write::Put { item, condition: Condition::Always }).await
    }

    pub async fn job(&self, workspace: &WorkspaceId, id: &JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.get_as(&workspace_pk(workspace.as_str()), &job_sk(id.as_str())).await?.map(|v| v.value))
    }

    /// Records that `issue` of `job` went through clustering. Idempotent.
    pub async fn mark_clustered(
        &self,
        workspace: &WorkspaceId,
        job: &JobId,
        issue: &IssueId,
    ) -> Result<(), StoreError> {
        self.table.write(Self::clustered_write(workspace, job, issue)).await
    }

    /// The write of [`Store::mark_clustered`], for callers that put it into a larger transaction.
    pub fn clustered_write(workspace: &WorkspaceId, job: &JobId, issue: &IssueId) -> Write {
        let item = Item::new(
            job_markers_pk(workspace.as_str(), job.as_str()),
            clustered_marker_sk(issue.as_str()),
            "{}".into(),
        );
        Write::Put { item, condition: Condition::Always }
    }

    pub async fn clustered_issues(&self, workspace: &WorkspaceId, job: &JobId) -> Result<HashSet<String>, StoreError> {
        let mut seen = HashSet::new();
        let mut cursor = None;
        loop {
            let page = self
                .table
                .query(
                    &Query::new(Index::Primary, job_markers_pk(workspace.as_str(), job.as_str()))
                        .limit(500)
                        .after(cursor),
                )
                .await?;
            for item in &page.items {
                if let Some(issue) = item.sk.strip_prefix("CL#") {
                    seen.insert(issue.to_string());
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(seen),
            }
        }
    }
}
