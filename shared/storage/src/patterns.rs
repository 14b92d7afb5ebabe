//! Patterns as the API lists them: one record per pattern (statistics, see
//! [`PatternRecord`]), one alias item per merged-away id, and one member item per Issue counted
//! into a pattern (which makes counting idempotent and lists a pattern's Issues).
//!
//! Listing by `last_seen` reads the GSI1 ordering `WS#<ws>#PATTERNS` / `<last_seen>#<pat_id>`.
//! Listing by count or by recurrence risk has no index (both change with every Issue, risk also
//! with time, and a second ordering would double the write cost of every assignment): it ranks
//! the [`MAX_PATTERNS_RANKED_BY_COUNT`] most recently active patterns that pass the filter (for
//! risk the [`MAX_PATTERNS_RANKED_BY_RISK`] most recent, with their Insights states in batched
//! reads of 100).

use crate::repo::{Store, Versioned};
use crate::schema::*;
use crate::table::{Condition, Cursor, Index, Item, Key, Query, SkRange, StoreError, Write};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use causeloop_domain::ids::PatternId;
use causeloop_domain::pattern::PatternRecord;
use causeloop_domain::{IssueId, WorkspaceId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Patterns read (newest activity first) to rank by count; older ones are not ranked.
pub const MAX_PATTERNS_RANKED_BY_COUNT: usize = 1_000;
/// Patterns ranked by recurrence risk: each needs its Insights state (up to some 20 KB) read as
/// well, so fewer, the most recently active.
pub const MAX_PATTERNS_RANKED_BY_RISK: usize = 200;
/// Index pages read per list request before answering with what was found, so that a very
/// selective filter cannot make one request scan a whole workspace.
const MAX_PAGES_PER_LIST: usize = 10;
/// Alias hops followed; aliases are rewritten to the final survivor on every merge, so one hop
/// is the norm and more means a merge was interrupted.
const MAX_ALIAS_HOPS: usize = 4;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PatternSort {
    /// Most recently seen first.
    #[default]
    LastSeen,
    /// Most Issues first (ties: older pattern id first).
    Count,
    /// Most likely to recur within 7 days first (the Insights prediction at `now_millis`; a
    /// pattern Insights has not seen yet ranks as 0; ties: older pattern id first).
    Risk { now_millis: i64 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternFilter {
    pub service: Option<String>,
    pub source: Option<String>,
    /// RFC 3339; patterns last seen at or after it.
    pub since: Option<String>,
}

impl PatternFilter {
    fn admits(&self, record: &PatternRecord) -> bool {
        self.service.as_ref().is_none_or(|service| record.services.contains(service))
            && self.source.as_ref().is_none_or(|source| record.sources.contains(source))
            && self.since.as_ref().is_none_or(|since| &record.last_seen >= since)
    }
}

/// What a batch of the cluster worker needs to know of one pattern id it counts into.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternLookup {
    /// The record with exactly this id, if there is one.
    pub record: Option<Versioned<PatternRecord>>,
    /// The id is an alias (merged away): the live record is elsewhere, and `members` is empty.
    pub aliased: bool,
    /// Which of the asked Issues the record has counted.
    pub members: HashSet<IssueId>,
}

#[derive(Serialize, Deserialize)]
struct Alias {
    alias_of: PatternId,
}

/// Position in a by-count listing: the last (count, id) returned.
#[derive(Serialize, Deserialize)]
struct RankPosition {
    score: u64,
    id: PatternId,
}

fn decode<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(&item.data).map_err(|err| StoreError::Corrupt(format!("{} {}: {err}", item.pk, item.sk)))
}

fn pattern_item(record: &PatternRecord, version: u64) -> Item {
    let ws = record.workspace_id.as_str();
    Item::new(workspace_pk(ws), pattern_sk(record.id.as_str()), serde_json::to_string(record).expect("serializes"))
        .with_gsi1(patterns_index_pk(ws), patterns_index_sk(&record.last_seen, record.id.as_str()))
        .with_version(version)
}

fn alias_item(workspace: &WorkspaceId, alias: &PatternId, survivor: &PatternId) -> Item {
    let data = serde_json::to_string(&Alias { alias_of: survivor.clone() }).expect("serializes");
    Item::new(workspace_pk(workspace.as_str()), pattern_alias_sk(alias.as_str()), data)
}

fn member_item(workspace: &WorkspaceId, pattern: &PatternId, issue: &IssueId) -> Item {
    Item::new(
        pattern_members_pk(workspace.as_str(), pattern.as_str()),
        pattern_member_sk(issue.as_str()),
        "{}".to_string(),
    )
}

fn condition_for(read_version: Option<u64>) -> (Condition, u64) {
    match read_version {
        None => (Condition::NotExists, 1),
        Some(read) => (Condition::Version(read), read + 1),
    }
}

impl Store {
    /// The live record with exactly this id (an alias id is not found here).
    pub async fn pattern(
        &self,
        workspace: &WorkspaceId,
        id: &PatternId,
    ) -> Result<Option<Versioned<PatternRecord>>, StoreError> {
        match self.table().get(&workspace_pk(workspace.as_str()), &pattern_sk(id.as_str())).await? {
            None => Ok(None),
            Some(item) => Ok(Some(Versioned { value: decode(&item)?, version: item.version })),
        }
    }

    /// The pattern that `id` names: itself, or the survivor it was merged into.
    pub async fn resolve_pattern(
        &self,
        workspace: &WorkspaceId,
        id: &PatternId,
    ) -> Result<Option<Versioned<PatternRecord>>, StoreError> {
        let mut current = id.clone();
        for _ in 0..=MAX_ALIAS_HOPS {
            if let Some(found) = self.pattern(workspace, &current).await? {
                return Ok(Some(found));
            }
            let alias =
                self.table().get(&workspace_pk(workspace.as_str()), &pattern_alias_sk(current.as_str())).await?;
            match alias {
                Some(item) => current = decode::<Alias>(&item)?.alias_of,
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// For each pattern id with some Issues: its record, whether the id is an alias, and which
    /// of the Issues it has counted, in one batched read (one round trip per 100 items).
    pub async fn pattern_lookups(
        &self,
        workspace: &WorkspaceId,
        wanted: &[(PatternId, Vec<IssueId>)],
    ) -> Result<Vec<PatternLookup>, StoreError> {
        let pk = workspace_pk(workspace.as_str());
        let mut keys: Vec<Key> = Vec::new();
        for (pattern, issues) in wanted {
            keys.push((pk.clone(), pattern_sk(pattern.as_str())));
            keys.push((pk.clone(), pattern_alias_sk(pattern.as_str())));
            let members_pk = pattern_members_pk(workspace.as_str(), pattern.as_str());
            keys.extend(issues.iter().map(|issue| (members_pk.clone(), pattern_member_sk(issue.as_str()))));
        }
        let mut found = self.table().get_many(&keys).await?.into_iter();
        let mut lookups = Vec::with_capacity(wanted.len());
        for (_, issues) in wanted {
            let record =
                found.next().flatten().map(|item| Ok(Versioned { value: decode(&item)?, version: item.version }));
            let aliased = found.next().flatten().is_some();
            let members =
                issues.iter().zip(found.by_ref()).filter(|(_, item)| item.is_some()).map(|(issue, _)| issue.clone());
            lookups.push(PatternLookup { record: record.transpose()?, aliased, members: members.collect() });
        }
        Ok(lookups)
    }

    /// The writes of [`Store::save_pattern`] with any number of new members, for callers that
    /// commit them in a larger transaction (they belong in one transaction together).
    pub fn pattern_writes(record: &PatternRecord, read_version: Option<u64>, new_members: &[IssueId]) -> Vec<Write> {
        let (condition, version) = condition_for(read_version);
        let mut writes = vec![Write::Put { item: pattern_item(record, version), condition }];
        if read_version.is_none() {
            // A record is never created for an id that a merge already turned into an alias:
            // the writer must re-resolve and count into the survivor instead.
            writes.push(Write::Check {
                pk: workspace_pk(record.workspace_id.as_str()),
                sk: pattern_alias_sk(record.id.as_str()),
                condition: Condition::NotExists,
            });
        }
        writes.extend(new_members.iter().map(|issue| Write::Put {
            item: member_item(&record.workspace_id, &record.id, issue),
            condition: Condition::NotExists,
        }));
        writes
    }

    pub async fn is_pattern_member(
        &self,
        workspace: &WorkspaceId,
        pattern: &PatternId,
        issue: &IssueId,
    ) -> Result<bool, StoreError> {
        let pk = pattern_members_pk(workspace.as_str(), pattern.as_str());
        Ok(self.table().get(&pk, &pattern_member_sk(issue.as_str())).await?.is_some())
    }

    /// Writes `record` if its stored version is still `read_version` (`None`: it must not
    /// exist) and, atomically with it, records `new_member` as counted (it must not have been).
    /// `ConditionFailed` means either changed: re-read and re-apply.
    pub async fn save_pattern(
        &self,
        record: &PatternRecord,
        read_version: Option<u64>,
        new_member: Option<&IssueId>,
    ) -> Result<u64, StoreError> {
        let new_members: Vec<IssueId> = new_member.into_iter().cloned().collect();
        let writes = Self::pattern_writes(record, read_version, &new_members);
        self.table().transact(writes).await?;
        Ok(read_version.map_or(1, |read| read + 1))
    }

    /// Records that `victim` was merged into `survivor` (already holding the victim's history),
    /// atomically: the survivor is written, the victim's record is replaced by an alias, and
    /// every id in `realiased` (the victim's own aliases) now points at the survivor.
    pub async fn merge_pattern(
        &self,
        survivor: &PatternRecord,
        survivor_read: Option<u64>,
        victim: &PatternId,
        victim_read: Option<u64>,
        realiased: &[PatternId],
    ) -> Result<(), StoreError> {
        let workspace = &survivor.workspace_id;
        let (condition, version) = condition_for(survivor_read);
        let mut writes = vec![Write::Put { item: pattern_item(survivor, version), condition }];
        writes.push(match victim_read {
            Some(read) => Write::Delete {
                pk: workspace_pk(workspace.as_str()),
                sk: pattern_sk(victim.as_str()),
                condition: Condition::Version(read),
            },
            None => Write::Check {
                pk: workspace_pk(workspace.as_str()),
                sk: pattern_sk(victim.as_str()),
                condition: Condition::NotExists,
            },
        });
        writes.push(Write::Put { item: alias_item(workspace, victim, &survivor.id), condition: Condition::Always });
        for alias in realiased.iter().filter(|alias| *alias != victim && *alias != &survivor.id) {
            writes.push(Write::Put { item: alias_item(workspace, alias, &survivor.id), condition: Condition::Always });
        }
        self.table().transact(writes).await
    }

    /// Makes `alias` answer as `survivor`, for a merged-away id that has no record of its own —
    /// atomically with checking that it still has none. `ConditionFailed` means a record appeared
    /// meanwhile (another worker counted an Issue into it): fold that record instead.
    pub async fn alias_pattern(
        &self,
        workspace: &WorkspaceId,
        alias: &PatternId,
        survivor: &PatternId,
    ) -> Result<(), StoreError> {
        self.table()
            .transact(vec![
                Write::Check {
                    pk: workspace_pk(workspace.as_str()),
                    sk: pattern_sk(alias.as_str()),
                    condition: Condition::NotExists,
                },
                Write::Put { item: alias_item(workspace, alias, survivor), condition: Condition::Always },
            ])
            .await
    }

    /// Copies the member items of `from` into `to` (idempotent), so that Issues counted into a
    /// merged-away pattern stay counted, exactly once, in its survivor.
    pub async fn copy_pattern_members(
        &self,
        workspace: &WorkspaceId,
        from: &PatternId,
        to: &PatternId,
    ) -> Result<(), StoreError> {
        let mut cursor = None;
        loop {
            let (members, next) = self.pattern_members(workspace, from, 100, cursor).await?;
            for issue in &members {
                let item = member_item(workspace, to, issue);
                self.table().write(Write::Put { item, condition: Condition::Always }).await?;
            }
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// One page of the Issue ids counted into `pattern`, in id order.
    pub async fn pattern_members(
        &self,
        workspace: &WorkspaceId,
        pattern: &PatternId,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<IssueId>, Option<Cursor>), StoreError> {
        let query = Query::new(Index::Primary, pattern_members_pk(workspace.as_str(), pattern.as_str()))
            .sk(SkRange::Prefix("ISS#".into()))
            .limit(limit)
            .after(cursor);
        let page = self.table().query(&query).await?;
        let members = page
            .items
            .iter()
            .map(|item| {
                item.sk
                    .strip_prefix("ISS#")
                    .and_then(IssueId::parse)
                    .ok_or_else(|| StoreError::Corrupt(format!("{} {}: not a member", item.pk, item.sk)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((members, page.next))
    }

    /// One page of the workspace's live patterns, filtered and sorted.
    pub async fn list_patterns(
        &self,
        workspace: &WorkspaceId,
        filter: &PatternFilter,
        sort: PatternSort,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<PatternRecord>, Option<Cursor>), StoreError> {
        match sort {
            PatternSort::LastSeen => self.patterns_by_last_seen(workspace, filter, limit, cursor).await,
            PatternSort::Count | PatternSort::Risk { .. } => {
                self.ranked_patterns(workspace, filter, sort, limit, cursor).await
            }
        }
    }

    fn patterns_query(workspace: &WorkspaceId, filter: &PatternFilter) -> Query {
        let query = Query::new(Index::Gsi1, patterns_index_pk(workspace.as_str())).descending();
        match &filter.since {
            Some(since) => query.sk(SkRange::AtLeast(since.clone())),
            None => query,
        }
    }

    async fn patterns_by_last_seen(
        &self,
        workspace: &WorkspaceId,
        filter: &PatternFilter,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<PatternRecord>, Option<Cursor>), StoreError> {
        let mut query = Self::patterns_query(workspace, filter).limit(limit + 1).after(cursor);
        let mut found: Vec<(PatternRecord, Item)> = Vec::new();
        for _ in 0..MAX_PAGES_PER_LIST {
            let page = self.table().query(&query).await?;
            let scanned_to = page.items.last().cloned();
            for item in page.items {
                let record: PatternRecord = decode(&item)?;
                if filter.admits(&record) {
                    found.push((record, item));
                    if found.len() > limit {
                        found.truncate(limit);
                        let next = found.last().map(|(_, item)| Cursor::after_item(item, Index::Gsi1));
                        return Ok((found.into_iter().map(|(record, _)| record).collect(), next));
                    }
                }
            }
            match (page.next, scanned_to) {
                (None, _) => return Ok((found.into_iter().map(|(record, _)| record).collect(), None)),
                // Continue after the last item scanned, which is where the next page starts too.
                (Some(_), Some(item)) => query.cursor = Some(Cursor::after_item(&item, Index::Gsi1)),
                (Some(next), None) => query.cursor = Some(next),
            }
        }
        Ok((found.into_iter().map(|(record, _)| record).collect(), query.cursor))
    }

    /// The most recently active patterns that pass the filter ([`MAX_PATTERNS_RANKED_BY_COUNT`],
    /// or [`MAX_PATTERNS_RANKED_BY_RISK`]), ranked by `sort`'s score, highest first, one page.
    /// The cursor is the last position given.
    async fn ranked_patterns(
        &self,
        workspace: &WorkspaceId,
        filter: &PatternFilter,
        sort: PatternSort,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<PatternRecord>, Option<Cursor>), StoreError> {
        let after: Option<RankPosition> = cursor
            .map(|cursor| {
                URL_SAFE_NO_PAD
                    .decode(cursor.as_str())
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .ok_or(StoreError::InvalidCursor)
            })
            .transpose()?;
        let most = match sort {
            PatternSort::Risk { .. } => MAX_PATTERNS_RANKED_BY_RISK,
            PatternSort::Count | PatternSort::LastSeen => MAX_PATTERNS_RANKED_BY_COUNT,
        };
        let candidates = self.recent_patterns(workspace, filter, most).await?;
        let scores: Vec<u64> = match sort {
            PatternSort::Risk { now_millis } => {
                let ids: Vec<PatternId> = candidates.iter().map(|record| record.id.clone()).collect();
                let (workspace_state, states) = self.insights_state(workspace, &ids).await?;
                let model = workspace_state.map(|state| state.value).unwrap_or_default();
                states
                    .iter()
                    .map(|state| {
                        state.as_ref().map_or(0, |state| {
                            // Probabilities as integers, so that positions compare exactly.
                            (model.predict(&state.value.insights, now_millis).p_7d.clamp(0.0, 1.0) * 1e9).round() as u64
                        })
                    })
                    .collect()
            }
            PatternSort::Count | PatternSort::LastSeen => candidates.iter().map(|record| record.issue_count).collect(),
        };
        let mut ranked: Vec<(u64, PatternRecord)> = scores.into_iter().zip(candidates).collect();
        let order = |score: u64, id: &PatternId| (std::cmp::Reverse(score), id.clone());
        ranked.sort_by_key(|(score, record)| order(*score, &record.id));
        let start = match &after {
            None => 0,
            // Everything ranked before the position was on earlier pages.
            Some(position) => ranked
                .partition_point(|(score, record)| order(*score, &record.id) <= order(position.score, &position.id)),
        };
        let mut page: Vec<(u64, PatternRecord)> = ranked.into_iter().skip(start).take(limit + 1).collect();
        if page.len() <= limit {
            return Ok((page.into_iter().map(|(_, record)| record).collect(), None));
        }
        page.truncate(limit);
        let (score, last) = page.last().expect("limit is at least one");
        let position = RankPosition { score: *score, id: last.id.clone() };
        let next = Cursor::from_client(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(&position).expect("serializes")));
        Ok((page.into_iter().map(|(_, record)| record).collect(), Some(next)))
    }

    /// The most recently active patterns that pass the filter, among the `most` most recently
    /// active ones.
    async fn recent_patterns(
        &self,
        workspace: &WorkspaceId,
        filter: &PatternFilter,
        most: usize,
    ) -> Result<Vec<PatternRecord>, StoreError> {
        let mut query = Self::patterns_query(workspace, filter).limit(most.min(200));
        let mut found: Vec<PatternRecord> = Vec::new();
        let mut scanned = 0;
        while scanned < most {
            let page = self.table().query(&query).await?;
            scanned += page.items.len();
            for item in &page.items {
                let record: PatternRecord = decode(item)?;
                if filter.admits(&record) {
                    found.push(record);
                }
            }
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => break,
            }
        }
        Ok(found)
    }
}
