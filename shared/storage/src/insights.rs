//! Insights state (`causeloop-insights`): one [`WorkspaceInsights`] item per workspace and one
//! [`PatternInsightsRecord`] per live Pattern, both versioned. The cluster worker is their one
//! writer (the cluster queue is FIFO per workspace); it reads them together
//! ([`Store::insights_state`]) and writes every change of a batch — the states, the Patterns
//! merged away, and the Issues whose prediction, triage and applied-history marker changed — in
//! one all-or-nothing transaction ([`Store::save_insights`]), each write conditioned on the
//! version read. So a crash or a lost race never counts an Issue's history twice: the marker on
//! the Issue and the counts move together.
//!
//! Keys: `WS#<ws>` / `INSIGHTS` and `WS#<ws>` / `PATINS#<pat_id>` (see [`crate::schema`]).

use crate::repo::{Store, Versioned};
use crate::schema::{pattern_insights_sk, workspace_pk, WORKSPACE_INSIGHTS_SK};
use crate::table::{Condition, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use causeloop_domain::ids::PatternId;
use causeloop_domain::issue::Issue;
use causeloop_domain::WorkspaceId;
use causeloop_insights::{PatternInsights, WorkspaceInsights};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Past resolutions kept per Pattern for triage's "similar past Issues" (newest last).
pub const RECENT_RESOLUTIONS: usize = 20;
/// Characters kept of a past Issue's title and fix in [`PastResolution`].
pub const PAST_TEXT_CHARS: usize = 160;

/// A resolved Issue of the Pattern, as triage shows it among similar past Issues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastResolution {
    pub issue_id: String,
    pub title: String,
    /// Unix milliseconds (the source's resolution time when it gave one).
    pub resolved_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The title's canonical token set (`causeloop_insights::fix_key`), computed once here so
    /// that comparing a new Issue with the past ones does not tokenize them all again.
    #[serde(default)]
    pub title_key: String,
}

impl PastResolution {
    pub fn new(issue_id: &str, title: &str, resolved_at: i64, fix: Option<&str>) -> Self {
        let cut = |text: &str| text.chars().take(PAST_TEXT_CHARS).collect::<String>();
        let title = cut(title);
        let title_key = causeloop_insights::fix_key(&title);
        Self { issue_id: issue_id.to_string(), title, resolved_at, fix: fix.map(cut), title_key }
    }
}

/// One Pattern's insights item: the model state and the last few resolutions. Bounded: the
/// state is under 16 KB (`causeloop-insights`), the resolutions under
/// [`RECENT_RESOLUTIONS`] × about 400 bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternInsightsRecord {
    pub pattern_id: PatternId,
    /// The key the workspace state knows this Pattern by (see `causeloop_insights`).
    pub key: u64,
    pub insights: PatternInsights,
    #[serde(default)]
    pub recent: Vec<PastResolution>,
}

impl PatternInsightsRecord {
    pub fn new(pattern_id: PatternId, key: u64) -> Self {
        Self { pattern_id, key, insights: PatternInsights::new(), recent: Vec::new() }
    }

    /// Remembers a resolution for triage, once per Issue (its latest), newest last.
    pub fn remember(&mut self, resolution: PastResolution) {
        self.recent.retain(|r| r.issue_id != resolution.issue_id);
        let at = self.recent.partition_point(|r| r.resolved_at <= resolution.resolved_at);
        self.recent.insert(at, resolution);
        if self.recent.len() > RECENT_RESOLUTIONS {
            let excess = self.recent.len() - RECENT_RESOLUTIONS;
            self.recent.drain(..excess);
        }
    }
}

/// Everything one batch changes, written in one transaction.
#[derive(Debug, Default)]
pub struct InsightsChanges {
    /// The workspace state and the version it was read at (`None`: it did not exist).
    pub workspace: Option<(WorkspaceInsights, Option<u64>)>,
    pub patterns: Vec<(PatternInsightsRecord, Option<u64>)>,
    /// Pattern items merged away, with the version read.
    pub removed_patterns: Vec<(PatternId, u64)>,
    /// Issues with the version read.
    pub issues: Vec<(Issue, u64)>,
}

impl InsightsChanges {
    pub fn writes(&self) -> usize {
        usize::from(self.workspace.is_some()) + self.patterns.len() + self.removed_patterns.len() + self.issues.len()
    }
}

fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(&item.data).map_err(|err| StoreError::Corrupt(format!("{} {}: {err}", item.pk, item.sk)))
}

fn put(pk: String, sk: String, data: String, read_version: Option<u64>) -> Write {
    let (condition, version) = match read_version {
        None => (Condition::NotExists, 1),
        Some(read) => (Condition::Version(read), read + 1),
    };
    Write::Put { item: Item::new(pk, sk, data).with_version(version), condition }
}

impl Store {
    async fn versioned<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> Result<Option<Versioned<T>>, StoreError> {
        match self.table().get(pk, sk).await? {
            None => Ok(None),
            Some(item) => Ok(Some(Versioned { value: decode(&item)?, version: item.version })),
        }
    }

    pub async fn workspace_insights(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Option<Versioned<WorkspaceInsights>>, StoreError> {
        self.versioned(&workspace_pk(workspace.as_str()), WORKSPACE_INSIGHTS_SK).await
    }

    pub async fn pattern_insights(
        &self,
        workspace: &WorkspaceId,
        pattern: &PatternId,
    ) -> Result<Option<Versioned<PatternInsightsRecord>>, StoreError> {
        self.versioned(&workspace_pk(workspace.as_str()), &pattern_insights_sk(pattern.as_str())).await
    }

    /// The workspace state and the states of `patterns` (in order), in one batched read (one
    /// round trip per [`crate::MAX_BATCH_GET_KEYS`] keys).
    #[allow(clippy::type_complexity)]
    pub async fn insights_state(
        &self,
        workspace: &WorkspaceId,
        patterns: &[PatternId],
    ) -> Result<(Option<Versioned<WorkspaceInsights>>, Vec<Option<Versioned<PatternInsightsRecord>>>), StoreError> {
        let pk = workspace_pk(workspace.as_str());
        let mut keys = vec![(pk.clone(), WORKSPACE_INSIGHTS_SK.to_string())];
        keys.extend(patterns.iter().map(|pattern| (pk.clone(), pattern_insights_sk(pattern.as_str()))));
        let mut items = self.table().get_many(&keys).await?.into_iter();
        let versioned =
            |item: Item| -> Result<_, StoreError> { Ok(Versioned { value: decode(&item)?, version: item.version }) };
        let workspace_state = items.next().flatten().map(versioned).transpose()?;
        let pattern_states = items
            .map(|item| item.map(|item| Ok(Versioned { value: decode(&item)?, version: item.version })).transpose())
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((workspace_state, pattern_states))
    }

    /// Writes `changes` all or nothing, each item on the condition that it still has the version
    /// read (`ConditionFailed`: someone else wrote one of them; read again and redo). At most
    /// [`MAX_TRANSACTION_WRITES`] writes.
    pub async fn save_insights(&self, workspace: &WorkspaceId, changes: &InsightsChanges) -> Result<(), StoreError> {
        if changes.writes() > MAX_TRANSACTION_WRITES {
            return Err(StoreError::Backend(format!(
                "{} insights writes exceed one transaction ({MAX_TRANSACTION_WRITES})",
                changes.writes()
            )));
        }
        let pk = workspace_pk(workspace.as_str());
        let mut writes = Vec::with_capacity(changes.writes());
        if let Some((state, read)) = &changes.workspace {
            let data = serde_json::to_string(state).expect("insights serialize");
            writes.push(put(pk.clone(), WORKSPACE_INSIGHTS_SK.to_string(), data, *read));
        }
        for (record, read) in &changes.patterns {
            let data = serde_json::to_string(record).expect("insights serialize");
            writes.push(put(pk.clone(), pattern_insights_sk(record.pattern_id.as_str()), data, *read));
        }
        for (pattern, read) in &changes.removed_patterns {
            writes.push(Write::Delete {
                pk: pk.clone(),
                sk: pattern_insights_sk(pattern.as_str()),
                condition: Condition::Version(*read),
            });
        }
        for (issue, read) in &changes.issues {
            writes.push(Store::issue_write(issue, Some(*read)).0);
        }
        if writes.is_empty() {
            return Ok(());
        }
        self.table().transact(writes).await
    }
}

/// The `u64` a workspace's insights state knows a Pattern by: FNV-1a of its public id (stable,
/// and distinct for the Patterns of one workspace but with negligible chance).
pub fn pattern_key(pattern: &PatternId) -> u64 {
    pattern
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}
