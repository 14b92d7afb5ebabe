//! A Pattern as the product shows it: the statistics of the Issues that the clustering engine put
//! together, kept up to date by the cluster worker one Issue at a time.
//!
//! The engine (crate `causeloop-patterns`) decides *which* pattern an Issue belongs to; this
//! record says *what is known about* that pattern (template, counts, services, sources, first
//! and last seen, samples), and decides when a pattern recurs. Everything here is bounded so that
//! one record always fits in one store item, however many Issues the pattern gathers.

use crate::ids::{IssueId, PatternId, WorkspaceId};
use crate::issue::{Issue, IssueStatus};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Distinct services (and, separately, sources) listed per pattern; later ones are not listed.
pub const MAX_FACET_VALUES: usize = 20;
/// Sample Issues kept per pattern: the first ones it gathered.
pub const MAX_SAMPLE_ISSUES: usize = 5;
/// Open Issues remembered per pattern for the recurrence rule. Beyond it the record only notes
/// that more are open (`open_overflow`), and whoever needs the exact answer scans the members.
/// Every Issue rewrites the record (twice the units, in a transaction), so it stays near 1 KB.
pub const MAX_TRACKED_OPEN: usize = 32;
/// Merged-away ids remembered per pattern (the clustering engine keeps as many).
pub const MAX_ALIASES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternRecord {
    pub id: PatternId,
    pub workspace_id: WorkspaceId,
    /// The clustering engine's id of this pattern; [`PatternId::for_engine_id`] of it is `id`.
    pub engine_id: u64,
    /// Constant tokens and typed slots, e.g. `Disk <*> full on <*>`.
    pub template: String,
    /// Distinct Issues counted into the pattern (each once, however often it repeats).
    pub issue_count: u64,
    pub services: Vec<String>,
    pub sources: Vec<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub sample_issue_ids: Vec<IssueId>,
    /// Members that were open when last observed, oldest first. An id here may have been resolved
    /// since (resolving does not go through the worker); [`PatternRecord::forget_open`] prunes.
    pub open_issue_ids: Vec<IssueId>,
    /// More members were open than [`MAX_TRACKED_OPEN`] could hold.
    pub open_overflow: bool,
    /// How often the pattern came back after all its Issues had been resolved.
    pub recurrences: u64,
    /// Ids of patterns merged into this one (newest last); each still answers as this pattern.
    pub aliases: Vec<PatternId>,
    pub created_at: String,
    pub updated_at: String,
}

/// What counting a new Issue into a pattern means for the outside world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gained {
    /// The pattern's first Issue: `pattern.detected`.
    FirstIssue,
    /// Every earlier Issue was resolved: `pattern.recurring`.
    Recurred,
    /// An ordinary new member.
    Member,
}

fn push_bounded(values: &mut Vec<String>, value: &str) -> bool {
    if values.len() >= MAX_FACET_VALUES || values.iter().any(|v| v == value) {
        return false;
    }
    values.push(value.to_string());
    true
}

impl PatternRecord {
    /// An empty record for the engine's pattern `engine_id`; [`PatternRecord::gain`] fills it.
    pub fn new(workspace: &WorkspaceId, engine_id: u64, template: &str, now: &str) -> Self {
        Self {
            id: PatternId::for_engine_id(workspace, engine_id),
            workspace_id: workspace.clone(),
            engine_id,
            template: template.to_string(),
            issue_count: 0,
            services: Vec::new(),
            sources: Vec::new(),
            first_seen: String::new(),
            last_seen: String::new(),
            sample_issue_ids: Vec::new(),
            open_issue_ids: Vec::new(),
            open_overflow: false,
            recurrences: 0,
            aliases: Vec::new(),
            created_at: now.to_string(),
            updated_at: now.to_string(),
        }
    }

    /// True when the pattern has Issues and none of them is known to be open. Callers first
    /// prune `open_issue_ids` of members resolved since (see [`PatternRecord::forget_open`]).
    pub fn all_issues_resolved(&self) -> bool {
        self.issue_count > 0 && self.open_issue_ids.is_empty() && !self.open_overflow
    }

    /// Counts `issue` as a new member (the caller guarantees it was not counted before) and says
    /// what that means. The recurrence rule reads the record as it was before this Issue.
    pub fn gain(&mut self, issue: &Issue, now: &str) -> Gained {
        let gained = if self.issue_count == 0 {
            Gained::FirstIssue
        } else if self.all_issues_resolved() {
            self.recurrences += 1;
            Gained::Recurred
        } else {
            Gained::Member
        };
        self.issue_count += 1;
        if self.sample_issue_ids.len() < MAX_SAMPLE_ISSUES && !self.sample_issue_ids.contains(&issue.id) {
            self.sample_issue_ids.push(issue.id.clone());
        }
        self.observe(issue);
        self.updated_at = now.to_string();
        gained
    }

    /// Folds a member's current state (times, service, source, open or resolved) into the
    /// record. Returns whether anything changed, so an unchanged record need not be written.
    pub fn observe(&mut self, issue: &Issue) -> bool {
        let mut changed = false;
        if self.first_seen.is_empty() || issue.first_seen < self.first_seen {
            self.first_seen.clone_from(&issue.first_seen);
            changed = true;
        }
        if issue.last_seen > self.last_seen {
            self.last_seen.clone_from(&issue.last_seen);
            changed = true;
        }
        if let Some(service) = &issue.service {
            changed |= push_bounded(&mut self.services, service);
        }
        changed |= push_bounded(&mut self.sources, &issue.source);
        let tracked = self.open_issue_ids.iter().position(|id| id == &issue.id);
        match (issue.status, tracked) {
            (IssueStatus::Open, None) => {
                if self.open_issue_ids.len() < MAX_TRACKED_OPEN {
                    self.open_issue_ids.push(issue.id.clone());
                } else {
                    self.open_overflow = true;
                }
                changed = true;
            }
            (IssueStatus::Resolved, Some(at)) => {
                self.open_issue_ids.remove(at);
                changed = true;
            }
            _ => {}
        }
        changed
    }

    /// Drops `issue` from the open members: it was found resolved (or gone).
    pub fn forget_open(&mut self, issue: &IssueId) {
        self.open_issue_ids.retain(|id| id != issue);
    }

    /// Replaces the open-member bookkeeping after a full scan of the members found `open`.
    pub fn reset_open(&mut self, open: Vec<IssueId>) {
        self.open_overflow = open.len() > MAX_TRACKED_OPEN;
        self.open_issue_ids = open;
        self.open_issue_ids.truncate(MAX_TRACKED_OPEN);
    }

    /// Takes in the history of `victim`, a pattern the engine merged into this one; `victim`'s
    /// id and its own aliases become aliases of this pattern.
    pub fn absorb(&mut self, victim: &PatternRecord, now: &str) {
        self.issue_count += victim.issue_count;
        self.recurrences += victim.recurrences;
        if self.first_seen.is_empty() || (!victim.first_seen.is_empty() && victim.first_seen < self.first_seen) {
            self.first_seen.clone_from(&victim.first_seen);
        }
        if victim.last_seen > self.last_seen {
            self.last_seen.clone_from(&victim.last_seen);
        }
        for service in &victim.services {
            push_bounded(&mut self.services, service);
        }
        for source in &victim.sources {
            push_bounded(&mut self.sources, source);
        }
        for sample in &victim.sample_issue_ids {
            if self.sample_issue_ids.len() < MAX_SAMPLE_ISSUES && !self.sample_issue_ids.contains(sample) {
                self.sample_issue_ids.push(sample.clone());
            }
        }
        for open in &victim.open_issue_ids {
            if self.open_issue_ids.contains(open) {
                continue;
            }
            if self.open_issue_ids.len() < MAX_TRACKED_OPEN {
                self.open_issue_ids.push(open.clone());
            } else {
                self.open_overflow = true;
            }
        }
        self.open_overflow |= victim.open_overflow;
        for alias in victim.aliases.iter().chain([&victim.id]) {
            if alias != &self.id && !self.aliases.contains(alias) {
                self.aliases.push(alias.clone());
            }
        }
        if self.aliases.len() > MAX_ALIASES {
            let excess = self.aliases.len() - MAX_ALIASES;
            self.aliases.drain(..excess);
        }
        self.updated_at = now.to_string();
    }

    /// The public representation: everything but the worker's bookkeeping.
    pub fn to_api(&self) -> Value {
        json!({
            "id": self.id,
            "template": self.template,
            "issue_count": self.issue_count,
            "services": self.services,
            "sources": self.sources,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "sample_issue_ids": self.sample_issue_ids,
            "recurrences": self.recurrences,
            "aliases": self.aliases,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::normalize_record;

    fn ws() -> WorkspaceId {
        WorkspaceId::random(1, [3; 10])
    }

    fn issue(external_id: &str, service: &str, at: &str) -> Issue {
        let record = normalize_record(&json!({
            "source": "pagerduty", "external_id": external_id, "title": "disk full", "service": service,
        }))
        .unwrap();
        Issue::apply(None, &ws(), &record, "evt", at).0
    }

    #[test]
    fn the_first_issue_detects_and_later_ones_are_members() {
        let mut record = PatternRecord::new(&ws(), 7, "disk full", "2026-01-01T00:00:00.000Z");
        assert_eq!(record.id, PatternId::for_engine_id(&ws(), 7));
        let a = issue("a", "db", "2026-01-01T00:00:00.000Z");
        let b = issue("b", "api", "2026-01-02T00:00:00.000Z");
        assert_eq!(record.gain(&a, "now"), Gained::FirstIssue);
        assert_eq!(record.gain(&b, "now"), Gained::Member);
        assert_eq!(record.issue_count, 2);
        assert_eq!(record.services, ["db", "api"]);
        assert_eq!(record.sources, ["pagerduty"]);
        assert_eq!((record.first_seen.as_str(), record.last_seen.as_str()), (&a.first_seen[..], &b.last_seen[..]));
        assert_eq!(record.sample_issue_ids, [a.id, b.id]);
    }

    #[test]
    fn a_new_issue_after_every_earlier_one_was_resolved_is_a_recurrence() {
        let mut record = PatternRecord::new(&ws(), 1, "t", "now");
        let mut a = issue("a", "db", "2026-01-01T00:00:00.000Z");
        record.gain(&a, "now");
        a.resolve(None, None, None, "2026-01-01T01:00:00.000Z");
        assert!(!record.all_issues_resolved(), "the record has not seen the resolution yet");
        record.forget_open(&a.id);
        assert!(record.all_issues_resolved());
        assert_eq!(record.gain(&issue("b", "db", "2026-01-02T00:00:00.000Z"), "now"), Gained::Recurred);
        assert_eq!(record.recurrences, 1);
        assert_eq!(record.gain(&issue("c", "db", "2026-01-03T00:00:00.000Z"), "now"), Gained::Member, "b is open");
    }

    #[test]
    fn observing_a_resolved_member_forgets_it_and_reports_changes() {
        let mut record = PatternRecord::new(&ws(), 1, "t", "now");
        let mut a = issue("a", "db", "2026-01-01T00:00:00.000Z");
        record.gain(&a, "now");
        assert!(!record.observe(&a), "nothing new");
        a.resolve(None, None, None, "later");
        assert!(record.observe(&a));
        assert!(record.open_issue_ids.is_empty());
    }

    #[test]
    fn open_tracking_and_facets_are_bounded() {
        let mut record = PatternRecord::new(&ws(), 1, "t", "now");
        for n in 0..(MAX_TRACKED_OPEN + 5) {
            record.gain(&issue(&format!("i{n}"), &format!("svc{n}"), "2026-01-01T00:00:00.000Z"), "now");
        }
        assert_eq!(record.open_issue_ids.len(), MAX_TRACKED_OPEN);
        assert!(record.open_overflow);
        assert_eq!(record.services.len(), MAX_FACET_VALUES);
        assert_eq!(record.sample_issue_ids.len(), MAX_SAMPLE_ISSUES);
        record.reset_open(Vec::new());
        assert!(record.all_issues_resolved());
    }

    #[test]
    fn absorbing_a_merged_pattern_keeps_its_history_and_its_ids() {
        let mut survivor = PatternRecord::new(&ws(), 1, "t", "now");
        let mut victim = PatternRecord::new(&ws(), 2, "t", "now");
        victim.aliases.push(PatternId::for_engine_id(&ws(), 3));
        survivor.gain(&issue("a", "db", "2026-01-02T00:00:00.000Z"), "now");
        victim.gain(&issue("b", "api", "2026-01-01T00:00:00.000Z"), "now");
        survivor.absorb(&victim, "now");
        assert_eq!(survivor.issue_count, 2);
        assert_eq!(survivor.first_seen, "2026-01-01T00:00:00.000Z");
        assert_eq!(survivor.services, ["db", "api"]);
        assert_eq!(survivor.open_issue_ids.len(), 2);
        assert_eq!(survivor.aliases, [PatternId::for_engine_id(&ws(), 3), victim.id.clone()]);
        let view = survivor.to_api();
        assert_eq!(view["issue_count"], 2);
        assert!(view.get("open_issue_ids").is_none());
    }
}
