//! The canonical Issue and the rules for creating, repeating and resolving it.

use crate::ids::{IssueId, WorkspaceId};
use crate::ingest::NormalizedRecord;
use crate::limits::MAX_METADATA_BYTES;
use crate::severity::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How many recent ingest-event ids an Issue remembers to recognise a replayed request.
pub const REMEMBERED_EVENTS: usize = 32;
/// Status changes an Issue keeps (the newest): its timeline, bounded like every aggregate.
pub const MAX_STATUS_CHANGES: usize = 20;
/// A fix as the timeline quotes it (the whole text stays in `resolution`).
const TIMELINE_FIX_CHARS: usize = 200;

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

/// One step of an Issue's timeline: it opened, was resolved, or came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// When Causeloop applied it (RFC 3339).
    pub at: String,
    pub status: IssueStatus,
    /// For a resolution: the fix it gave, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When Causeloop saw the Issue resolved.
    pub resolved_at: String,
    /// When the source says it was resolved (a backfill's own history), if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_resolved_at: Option<String>,
}

impl Resolution {
    /// The resolution's time for statistics: the source's, else when Causeloop saw it.
    pub fn effective_at(&self) -> &str {
        self.source_resolved_at.as_deref().unwrap_or(&self.resolved_at)
    }
}

/// The recurrence prediction shown on an Issue: how likely its Pattern is to come back within 7
/// and 30 days of this Issue's resolution (made at the resolution; for an open Issue, as if it
/// were resolved at `computed_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuePrediction {
    pub recur_7d: f64,
    pub recur_30d: f64,
    pub computed_at: String,
}

/// What of an Issue's history Insights has counted: its openings (the first and each
/// recurrence) and its resolutions. The cluster worker compares them with the Issue's own counts
/// to find what is new, so a redelivered message counts nothing twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsightsApplied {
    pub openings: u64,
    pub resolutions: u64,
}

/// One step of an Issue's history for Insights, at the record's own time (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEvent {
    Opened { at: i64 },
    Resolved { at: i64, fix: Option<String> },
}

impl HistoryEvent {
    pub fn at(&self) -> i64 {
        match self {
            HistoryEvent::Opened { at } | HistoryEvent::Resolved { at, .. } => *at,
        }
    }
}

fn millis(text: &str) -> i64 {
    crate::time_fmt::parse_unix_millis(text).map_or(0, |ms| ms as i64)
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
    /// When it last came back after a resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_recurred_at: Option<String>,
    /// How often it was resolved (each time it went from open to resolved).
    #[serde(default)]
    pub resolutions: u64,
    pub pattern_id: Option<String>,
    pub resolution: Option<Resolution>,
    /// How its status changed, oldest first: created, resolved, reopened (the newest
    /// [`MAX_STATUS_CHANGES`]; Issues stored before it was kept start empty).
    #[serde(default)]
    pub status_changes: Vec<StatusChange>,
    /// Set by the cluster worker once the Issue is clustered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<IssuePrediction>,
    /// Set by the cluster worker once the Issue is clustered: its Pattern, similar past Issues,
    /// the recommended fix and the recurrence prediction (`docs/api-contract.md`, "Triage").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<Value>,
    pub metadata: Map<String, Value>,
    pub updated_at: String,
    /// The ingest event that created the Issue, so a replay of it still answers `created`.
    pub created_by_event: String,
    /// Ingest events already applied, newest last (bounded by [`REMEMBERED_EVENTS`]).
    #[serde(default)]
    pub applied_events: Vec<String>,
    /// What of this Issue's history Insights has counted (bookkeeping of the cluster worker).
    #[serde(default)]
    pub insights_applied: InsightsApplied,
}

/// What applying a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    /// The record changed the Issue, which had status `was` before.
    Updated {
        was: IssueStatus,
    },
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
            Applied::Updated { .. } | Applied::Replayed { created: false } => "updated",
        }
    }

    pub fn changed(self) -> bool {
        !matches!(self, Applied::Replayed { .. })
    }

    /// Whether this application resolved an open Issue (`issue` as it came out): the moment
    /// `issue.resolved` announces, whichever way the resolution came in.
    pub fn resolved(self, issue: &Issue) -> bool {
        matches!(self, Applied::Updated { was: IssueStatus::Open }) && issue.status == IssueStatus::Resolved
    }

    /// Whether `issue.resolved` is to be emitted: this application resolved the Issue, or it
    /// replays an earlier one and the Issue is resolved — the retry of a request that crashed
    /// between its write and its queue send emits what the crash lost (the event's id derives
    /// from the resolution, so a copy of one already sent is the same event).
    pub fn announces_resolution(self, issue: &Issue) -> bool {
        self.resolved(issue) || (matches!(self, Applied::Replayed { .. }) && issue.resolved_from_open())
    }
}

/// Merges a record's metadata into the Issue's, newest keys winning, and keeps the result within
/// the record limit ([`MAX_METADATA_BYTES`]): past it the Issue keeps only the newest record's
/// metadata (itself within the limit), so an Issue updated forever never outgrows its item.
fn merge_metadata(issue: &mut Map<String, Value>, record: &Map<String, Value>) {
    let mut merged = issue.clone();
    merged.extend(record.iter().map(|(key, value)| (key.clone(), value.clone())));
    *issue = if serde_json::to_vec(&merged).map_or(usize::MAX, |bytes| bytes.len()) <= MAX_METADATA_BYTES {
        merged
    } else {
        record.clone()
    };
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
            let resolved = record.status == Some(IssueStatus::Resolved);
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
                last_recurred_at: None,
                resolutions: u64::from(resolved),
                pattern_id: None,
                resolution: resolved.then(|| Resolution {
                    fix: record.fix.clone(),
                    note: record.note.clone(),
                    resolved_at: now.to_string(),
                    source_resolved_at: record.resolved_at.clone(),
                }),
                status_changes: vec![StatusChange {
                    at: now.to_string(),
                    status: record.status.unwrap_or(IssueStatus::Open),
                    fix: resolved
                        .then(|| record.fix.as_deref().map(|fix| crate::text::cut_chars(fix, TIMELINE_FIX_CHARS)))
                        .flatten(),
                }],
                prediction: None,
                triage: None,
                metadata: record.metadata.clone(),
                updated_at: now.to_string(),
                created_by_event: event_id.to_string(),
                applied_events: vec![event_id.to_string()],
                insights_applied: InsightsApplied::default(),
            };
            return (issue, Applied::Created);
        };
        if issue.applied_events.iter().any(|seen| seen == event_id) {
            let created = issue.created_by_event == event_id;
            return (issue, Applied::Replayed { created });
        }

        let was = issue.status;
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
        merge_metadata(&mut issue.metadata, &record.metadata);
        match record.status {
            Some(IssueStatus::Resolved) => {
                issue.resolve(record.fix.clone(), record.note.clone(), record.resolved_at.clone(), now)
            }
            // A repeat of a resolved Issue means the fix did not hold: it recurs. The old
            // resolution is kept, because knowing which fixes failed feeds recommendations.
            Some(IssueStatus::Open) | None => {
                if issue.status == IssueStatus::Resolved {
                    issue.status = IssueStatus::Open;
                    issue.recurrences += 1;
                    issue.last_recurred_at = Some(now.to_string());
                    issue.note_status(now, None);
                }
            }
        }
        issue.updated_at = now.to_string();
        issue.applied_events.push(event_id.to_string());
        if issue.applied_events.len() > REMEMBERED_EVENTS {
            let excess = issue.applied_events.len() - REMEMBERED_EVENTS;
            issue.applied_events.drain(..excess);
        }
        (issue, Applied::Updated { was })
    }

    /// Marks the Issue resolved, keeping an earlier fix, note or source time unless new ones
    /// are given. `source_resolved_at` is when the source says it was resolved.
    pub fn resolve(
        &mut self,
        fix: Option<String>,
        note: Option<String>,
        source_resolved_at: Option<String>,
        now: &str,
    ) {
        let previous = self.resolution.take();
        let keep = |new: Option<String>, old: Option<String>| new.or(old);
        let already = self.status == IssueStatus::Resolved;
        let (old_fix, old_note, old_at, old_source_at) = match previous {
            Some(Resolution { fix, note, resolved_at, source_resolved_at }) if already => {
                (fix, note, Some(resolved_at), source_resolved_at)
            }
            _ => (None, None, None, None),
        };
        if !already {
            self.resolutions += 1;
        }
        let fix = keep(fix, old_fix);
        if !already {
            self.status = IssueStatus::Resolved;
            self.note_status(now, fix.clone());
        }
        self.resolution = Some(Resolution {
            fix,
            note: keep(note, old_note),
            // A repeated "resolved" is the same resolution: it keeps its time.
            resolved_at: old_at.unwrap_or_else(|| now.to_string()),
            source_resolved_at: keep(source_resolved_at, old_source_at),
        });
        self.status = IssueStatus::Resolved;
        self.updated_at = now.to_string();
    }

    /// The Issue's resolutions so far (a resolved Issue stored before they were counted has one).
    pub fn resolution_count(&self) -> u64 {
        self.resolutions.max(u64::from(self.resolution.is_some()))
    }

    /// The steps of this Issue's history that Insights has not counted yet, oldest first, at the
    /// records' own times: it opened at `source_created_at` (else `first_seen`), came back at
    /// `last_recurred_at`, and was resolved at the source's resolution time (else when Causeloop saw
    /// it). Several resolutions between two looks are one (only the latest is kept).
    pub fn unapplied_history(&self) -> Vec<HistoryEvent> {
        let mut events = Vec::new();
        let openings = 1 + self.recurrences;
        for n in self.insights_applied.openings..openings {
            let at = match n {
                0 => self.source_created_at.as_deref().unwrap_or(&self.first_seen),
                _ => self.last_recurred_at.as_deref().unwrap_or(&self.last_seen),
            };
            events.push(HistoryEvent::Opened { at: millis(at) });
        }
        if self.resolution_count() > self.insights_applied.resolutions {
            if let Some(resolution) = &self.resolution {
                events.push(HistoryEvent::Resolved {
                    at: millis(resolution.effective_at()),
                    fix: resolution.fix.clone(),
                });
            }
        }
        // Stable: at equal times the opening comes first.
        events.sort_by_key(HistoryEvent::at);
        events
    }

    /// Notes that everything [`Issue::unapplied_history`] returned has been counted.
    pub fn mark_history_applied(&mut self) {
        self.insights_applied =
            InsightsApplied { openings: 1 + self.recurrences, resolutions: self.resolution_count() };
    }

    pub fn reopen(&mut self, now: &str) {
        if self.status == IssueStatus::Resolved {
            self.status = IssueStatus::Open;
            self.updated_at = now.to_string();
            self.note_status(now, None);
        }
    }

    /// Whether the Issue is resolved and got there from open — the state `issue.resolved`
    /// announces (an Issue that arrived resolved is not announced). Issues stored before their
    /// status changes were kept count as resolved from open.
    pub fn resolved_from_open(&self) -> bool {
        self.status == IssueStatus::Resolved
            && (self.status_changes.len() != 1 || self.status_changes[0].status != IssueStatus::Resolved)
    }

    /// Appends the status the Issue now has to its timeline, keeping the newest
    /// [`MAX_STATUS_CHANGES`].
    fn note_status(&mut self, now: &str, fix: Option<String>) {
        let fix = fix.map(|fix| crate::text::cut_chars(&fix, TIMELINE_FIX_CHARS));
        self.status_changes.push(StatusChange { at: now.to_string(), status: self.status, fix });
        if self.status_changes.len() > MAX_STATUS_CHANGES {
            let excess = self.status_changes.len() - MAX_STATUS_CHANGES;
            self.status_changes.drain(..excess);
        }
    }

    /// The public representation: everything but the replay bookkeeping.
    pub fn to_api(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("Issue serializes");
        if let Value::Object(map) = &mut value {
            map.remove("created_by_event");
            map.remove("applied_events");
            map.remove("insights_applied");
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
    fn the_timeline_keeps_each_status_change_bounded() {
        let base = json!({"source": "custom_api", "external_id": "d-1", "title": "Deploy failed"});
        let mut resolving = base.clone();
        resolving["resolution"] = json!({"fix": "x".repeat(300)});
        let (mut issue, _) = Issue::apply(None, &ws(), &record(base.clone()), "e0", "2026-01-01T00:00:00.000Z");
        for n in 1..=30 {
            let (body, at) = (if n % 2 == 1 { &resolving } else { &base }, format!("2026-01-02T00:00:{n:02}.000Z"));
            issue = Issue::apply(Some(issue), &ws(), &record(body.clone()), &format!("e{n}"), &at).0;
            // A repeat of the same status is no change.
            issue = Issue::apply(Some(issue), &ws(), &record(body.clone()), &format!("r{n}"), &at).0;
        }
        let statuses: Vec<IssueStatus> = issue.status_changes.iter().map(|change| change.status).collect();
        assert_eq!(statuses.len(), MAX_STATUS_CHANGES, "newest kept");
        assert!(statuses.windows(2).all(|pair| pair[0] != pair[1]), "{statuses:?}");
        assert_eq!(issue.status_changes.last().unwrap().at, "2026-01-02T00:00:30.000Z");
        let resolved = issue.status_changes.iter().find(|change| change.status == IssueStatus::Resolved).unwrap();
        assert_eq!(resolved.fix.as_ref().map(|fix| fix.chars().count()), Some(TIMELINE_FIX_CHARS));

        issue.reopen("2026-01-03T00:00:00.000Z");
        issue.reopen("2026-01-03T00:00:01.000Z");
        let last: Vec<&StatusChange> = issue.status_changes.iter().rev().take(2).collect();
        assert_eq!((last[0].status, last[1].status), (IssueStatus::Open, IssueStatus::Resolved));
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
        assert_eq!(applied, Applied::Updated { was: IssueStatus::Open });
        assert_eq!(issue.occurrences, 2);
        assert_eq!(issue.title, "disk full on db-2");
        assert_eq!(issue.severity, Severity::P2, "absent severity keeps the stored one");
        assert_eq!(issue.first_seen, "2026-01-01T00:00:00.000Z");
        assert_eq!(issue.last_seen, "2026-01-01T00:05:00.000Z");
        assert_eq!(issue.id, IssueId::derive(&ws, "s", "e"));
    }

    #[test]
    fn merged_metadata_stays_within_the_record_limit() {
        let ws = ws();
        let mut issue = None;
        // Each update brings a new 1 KiB key: merged forever, the metadata would grow without end.
        for n in 0..100 {
            let record = record(json!({"source": "s", "external_id": "e", "title": "t",
                "metadata": {format!("k{n}"): "v".repeat(1024)}}));
            let (applied_to, _) = Issue::apply(issue.take(), &ws, &record, &format!("evt{n}"), "2026-01-01T00:00:00Z");
            assert!(serde_json::to_vec(&applied_to.metadata).unwrap().len() <= MAX_METADATA_BYTES);
            assert!(applied_to.metadata.contains_key(&format!("k{n}")), "the newest key is kept");
            issue = Some(applied_to);
        }
        assert!(issue.unwrap().metadata.len() > 1, "small metadata merges");
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
        issue.resolve(Some("raised pool size".into()), None, None, "2026-01-02T00:00:00.000Z");
        let (issue, _) = Issue::apply(Some(issue), &ws, &rec, "evt-2", "2026-01-03T00:00:00.000Z");
        assert_eq!(issue.status, IssueStatus::Open);
        assert_eq!(issue.recurrences, 1);
        assert_eq!(issue.resolution.unwrap().fix.as_deref(), Some("raised pool size"), "failed fix is remembered");
    }

    #[test]
    fn history_is_counted_once_at_the_records_times() {
        let ws = ws();
        let rec = record(json!({"source": "s", "external_id": "e", "title": "t",
            "source_created_at": "2025-06-01T00:00:00Z", "resolved_at": "2025-06-02T00:00:00Z",
            "resolution": {"fix": "restarted the pods"}}));
        let (mut issue, _) = Issue::apply(None, &ws, &rec, "evt-1", "2026-01-01T00:00:00.000Z");
        let day = 86_400_000;
        let opened = millis("2025-06-01T00:00:00Z");
        assert_eq!(
            issue.unapplied_history(),
            vec![
                HistoryEvent::Opened { at: opened },
                HistoryEvent::Resolved { at: opened + day, fix: Some("restarted the pods".into()) }
            ]
        );
        assert_eq!(issue.resolution.as_ref().unwrap().resolved_at, "2026-01-01T00:00:00.000Z", "seen at");
        issue.mark_history_applied();
        assert!(issue.unapplied_history().is_empty());

        let resolved_again = record(json!({"source": "s", "external_id": "e", "title": "t", "status": "resolved"}));
        let (issue, _) = Issue::apply(Some(issue), &ws, &resolved_again, "evt-2", "2026-01-01T01:00:00.000Z");
        assert!(issue.unapplied_history().is_empty(), "a repeated resolve is the same resolution");
        assert_eq!(issue.resolution.as_ref().unwrap().source_resolved_at.as_deref(), Some("2025-06-02T00:00:00.000Z"));

        let repeat = record(json!({"source": "s", "external_id": "e", "title": "t"}));
        let (issue, _) = Issue::apply(Some(issue), &ws, &repeat, "evt-3", "2026-01-02T00:00:00.000Z");
        let (mut issue, _) = Issue::apply(Some(issue), &ws, &resolved_again, "evt-4", "2026-01-03T00:00:00.000Z");
        assert_eq!(
            issue.unapplied_history(),
            vec![
                HistoryEvent::Opened { at: millis("2026-01-02T00:00:00Z") },
                HistoryEvent::Resolved { at: millis("2026-01-03T00:00:00Z"), fix: None }
            ],
            "the recurrence, then its resolution (seen by Causeloop, the source gave no time)"
        );
        issue.mark_history_applied();
        assert_eq!(issue.insights_applied, InsightsApplied { openings: 2, resolutions: 2 });
        assert!(issue.to_api().get("insights_applied").is_none());
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
