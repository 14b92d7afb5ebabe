//! The canonical Issue and the rules for creating, repeating and resolving it.

use crate::ids::{IssueId, WorkspaceId};
use crate::ingest::NormalizedRecord;
use crate::severity::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How many recent ingest-event ids an Issue remembers to recognise a replayed request.
pub const REMEMBERED_EVENTS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueStatus {
    Open,
    Resolved,
}

impl IssueStatus {
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "open" => Some(Self::Open),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub resolved_at: String,
}

/// The stored Issue. [`Issue::to_api`] is what clients see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: IssueId,
    pub workspace_id: WorkspaceId,
    pub source: String,
    pub external_id: String,
    pub title: String,
    pub body: Option<String>,
    pub severity: Severity,
    pub status: IssueStatus,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub team: Option<String>,
    pub external_url: Option<String>,
    pub connector_id: Option<String>,
    pub source_created_at: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub occurrences: u64,
    /// How often the Issue came back after being resolved.
    #[serde(default)]
    pub recurrences: u64,
    pub pattern_id: Option<String>,
    pub resolution: Option<Resolution>,
    pub metadata: Map<String, Value>,
    pub updated_at: String,
    /// The ingest event that created the Issue, so a replay of it still answers `created`.
    pub created_by_event: String,
    /// Ingest events already applied, newest last (bounded by [`REMEMBERED_EVENTS`]).
    #[serde(default)]
    pub applied_events: Vec<String>,
}

/// What applying a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    /// This exact ingest event was applied before; nothing changed. `created` says what the
    /// first application did, so that a retried request gets the same answer.
    Replayed {
        created: bool,
    },
}

impl Applied {
    pub fn answer(self) -> &'static str {
        match self {
            Applied::Created | Applied::Replayed { created: true } => "created",
            Applied::Updated | Applied::Replayed { created: false } => "updated",
        }
    }

    pub fn changed(self) -> bool {
        !matches!(self, Applied::Replayed { .. })
    }
}

impl Issue {
    /// Applies `record` (already validated) to the Issue it deduplicates onto, or creates it.
    /// `event_id` identifies this delivery of the record: the same id twice is a replay.
    pub fn apply(
        existing: Option<Issue>,
        workspace: &WorkspaceId,
        record: &NormalizedRecord,
        event_id: &str,
        now: &str,
    ) -> (Issue, Applied) {
        let Some(mut issue) = existing else {
            let issue = Issue {
                id: IssueId::derive(workspace, &record.source, &record.external_id),
                workspace_id: workspace.clone(),
                source: record.source.clone(),
                external_id: record.external_id.clone(),
                title: record.title.clone(),
                body: record.body.clone(),
                severity: record.severity.unwrap_or_default(),
                status: record.status.unwrap_or(IssueStatus::Open),
                service: record.service.clone(),
                environment: record.environment.clone(),
                team: record.team.clone(),
                external_url: record.external_url.clone(),
                connector_id: record.connector_id.clone(),
                source_created_at: record.source_created_at.clone(),
                first_seen: now.to_string(),
                last_seen: now.to_string(),
                occurrences: 1,
                recurrences: 0,
                pattern_id: None,
                resolution: (record.status == Some(IssueStatus::Resolved)).then(|| Resolution {
                    fix: None,
                    note: None,
                    resolved_at: now.to_string(),
                }),
                metadata: record.metadata.clone(),
                updated_at: now.to_string(),
                created_by_event: event_id.to_string(),
                applied_events: vec![event_id.to_string()],
            };
            return (issue, Applied::Created);
        };
        if issue.applied_events.iter().any(|seen| seen == event_id) {
            let created = issue.created_by_event == event_id;
            return (issue, Applied::Replayed { created });
        }

        issue.occurrences += 1;
        if now > issue.last_seen.as_str() {
            issue.last_seen = now.to_string();
        }
        issue.title = record.title.clone();
        replace_if_some(&mut issue.body, &record.body);
        if let Some(severity) = record.severity {
            issue.severity = severity;
        }
        replace_if_some(&mut issue.service, &record.service);
        replace_if_some(&mut issue.environment, &record.environment);
        replace_if_some(&mut issue.team, &record.team);
        replace_if_some(&mut issue.external_url, &record.external_url);
        replace_if_some(&mut issue.connector_id, &record.connector_id);
        replace_if_some(&mut issue.source_created_at, &record.source_created_at);
        for (key, value) in &record.metadata {
            issue.metadata.insert(key.clone(), value.clone());
        }
        match record.status {
            Some(IssueStatus::Resolved) => issue.resolve(None, None, now),
            // A repeat of a resolved Issue means the fix did not hold: it recurs. The old
            // resolution is kept, because knowing which fixes failed feeds recommendations.
            Some(IssueStatus::Open) | None => {
                if issue.status == IssueStatus::Resolved {
                    issue.status = IssueStatus::Open;
                    issue.recurrences += 1;
                }
            }
        }
        issue.updated_at = now.to_string();
        issue.applied_events.push(event_id.to_string());
        if issue.applied_events.len() > REMEMBERED_EVENTS {
            let excess = issue.applied_events.len() - REMEMBERED_EVENTS;
            issue.applied_events.drain(..excess);
        }
        (issue, Applied::Updated)
    }

    /// Marks the Issue resolved, keeping an earlier fix or note unless new ones are given.
    pub fn resolve(&mut self, fix: Option<String>, note: Option<String>, now: &str) {
        let previous = self.resolution.take();
        let keep = |new: Option<String>, old: Option<String>| new.or(old);
        let (old_fix, old_note) = match previous {
            Some(Resolution { fix, note, .. }) if self.status == IssueStatus::Resolved => (fix, note),
            _ => (None, None),
        };
        self.resolution =
            Some(Resolution { fix: keep(fix, old_fix), note: keep(note, old_note), resolved_at: now.to_string() });
        self.status = IssueStatus::Resolved;
        self.updated_at = now.to_string();
    }

    pub fn reopen(&mut self, now: &str) {
        if self.status == IssueStatus::Resolved {
            self.status = IssueStatus::Open;
            self.updated_at = now.to_string();
        }
    }

    /// The public representation: everything but the replay bookkeeping.
    pub fn to_api(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("Issue serializes");
        if let Value::Object(map) = &mut value {
            map.remove("created_by_event");
            map.remove("applied_events");
        }
        value
    }
}

fn replace_if_some(slot: &mut Option<String>, new: &Option<String>) {
    if new.is_some() {
        slot.clone_from(new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::normalize_record;
    use serde_json::json;

    fn ws() -> WorkspaceId {
        WorkspaceId::random(1, [1; 10])
    }

    fn record(value: Value) -> NormalizedRecord {
        normalize_record(&value).unwrap()
    }

    #[test]
    fn a_repeat_updates_the_same_issue() {
        let ws = ws();
        let first = record(json!({"source": "s", "external_id": "e", "title": "disk full", "severity": "high"}));
        let (issue, applied) = Issue::apply(None, &ws, &first, "evt-1", "2026-01-01T00:00:00.000Z");
        assert_eq!(applied, Applied::Created);
        let again =
            record(json!({"source": "s", "external_id": "e", "title": "disk full on db-2", "metadata": {"n": 2}}));
        let (issue, applied) = Issue::apply(Some(issue), &ws, &again, "evt-2", "2026-01-01T00:05:00.000Z");
        assert_eq!(applied, Applied::Updated);
        assert_eq!(issue.occurrences, 2);
        assert_eq!(issue.title, "disk full on db-2");
        assert_eq!(issue.severity, Severity::P2, "absent severity keeps the stored one");
        assert_eq!(issue.first_seen, "2026-01-01T00:00:00.000Z");
        assert_eq!(issue.last_seen, "2026-01-01T00:05:00.000Z");
        assert_eq!(issue.id, IssueId::derive(&ws, "s", "e"));
    }

    #[test]
    fn a_replayed_event_changes_nothing_and_answers_as_before() {
        let ws = ws();
        let rec = record(json!({"source": "s", "external_id": "e", "title": "t"}));
        let (issue, _) = Issue::apply(None, &ws, &rec, "evt-1", "2026-01-01T00:00:00.000Z");
        let (replayed, applied) = Issue::apply(Some(issue.clone()), &ws, &rec, "evt-1", "2026-01-01T01:00:00.000Z");
        assert_eq!(applied, Applied::Replayed { created: true });
        assert_eq!(applied.answer(), "created");
        assert_eq!(replayed, issue);
        let (updated, _) = Issue::apply(Some(issue), &ws, &rec, "evt-2", "2026-01-01T02:00:00.000Z");
        let (_, applied) = Issue::apply(Some(updated), &ws, &rec, "evt-2", "2026-01-01T03:00:00.000Z");
        assert_eq!(applied.answer(), "updated");
    }

    #[test]
    fn remembered_events_are_bounded() {
        let ws = ws();
        let rec = record(json!({"source": "s", "external_id": "e", "title": "t"}));
        let (mut issue, _) = Issue::apply(None, &ws, &rec, "evt-0", "2026-01-01T00:00:00.000Z");
        for n in 1..100 {
            issue = Issue::apply(Some(issue), &ws, &rec, &format!("evt-{n}"), "2026-01-01T00:00:00.000Z").0;
        }
        assert_eq!(issue.applied_events.len(), REMEMBERED_EVENTS);
        assert_eq!(issue.occurrences, 100);
    }

    #[test]
    fn a_repeat_after_resolution_reopens_and_counts_a_recurrence() {
        let ws = ws();
        let rec = record(json!({"source": "s", "external_id": "e", "title": "t"}));
        let (mut issue, _) = Issue::apply(None, &ws, &rec, "evt-1", "2026-01-01T00:00:00.000Z");
        issue.resolve(Some("raised pool size".into()), None, "2026-01-02T00:00:00.000Z");
        let (issue, _) = Issue::apply(Some(issue), &ws, &rec, "evt-2", "2026-01-03T00:00:00.000Z");
        assert_eq!(issue.status, IssueStatus::Open);
        assert_eq!(issue.recurrences, 1);
        assert_eq!(issue.resolution.unwrap().fix.as_deref(), Some("raised pool size"), "failed fix is remembered");
    }

    #[test]
    fn api_view_hides_replay_bookkeeping() {
        let rec = record(json!({"source": "s", "external_id": "e", "title": "t"}));
        let (issue, _) = Issue::apply(None, &ws(), &rec, "evt-1", "2026-01-01T00:00:00.000Z");
        let view = issue.to_api();
        assert!(view.get("applied_events").is_none());
        assert!(view.get("created_by_event").is_none());
        assert_eq!(view["status"], "open");
        assert_eq!(view["severity"], "p3");
    }
}
