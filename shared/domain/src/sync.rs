//! The life of a managed connector's syncs: when one is due, the window it reads, its checkpoint
//! after each page, and how it ends. Pure: the sync worker passes the clock and stores the state
//! on the connector with a version condition, so two workers never both advance one sync.
//!
//! A sync reads the vendor's records updated in `[since, until)`; `until` is when it started.
//! - An incremental sync starts [`INCREMENTAL_OVERLAP_MS`] before the watermark (the `until` of
//!   the last completed sync): a record updated while the previous sync ran is read again and
//!   recognised by its revision, never missed.
//! - A backfill starts at the date asked for; a connector's first sync is a backfill of
//!   [`DEFAULT_BACKFILL_DAYS`].
//! - After each page the cursor is checkpointed. A crash, a timeout or a redelivered message
//!   resumes at the last checkpoint; a failed sync keeps its checkpoint and the next schedule
//!   resumes it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How far before the watermark an incremental sync starts.
pub const INCREMENTAL_OVERLAP_MS: i64 = 5 * 60 * 1000;
/// What a connector's first sync imports when nobody asked for a backfill.
pub const DEFAULT_BACKFILL_DAYS: i64 = 90;
/// The earliest a backfill may start: vendors keep no useful history beyond.
pub const MAX_BACKFILL_DAYS: i64 = 5 * 365;
/// A running sync whose checkpoint is older than this (and that is not waiting on the vendor)
/// lost its worker: the scheduler queues it again.
pub const STALLED_AFTER_MS: i64 = 10 * 60 * 1000;
/// Transient failures (5xx, timeouts) of one page retried before the sync fails.
pub const MAX_PAGE_RETRIES: u32 = 5;

const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    Incremental,
    Backfill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Running,
    Completed,
    Failed,
}

/// What a sync did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    pub pages: u64,
    pub records_seen: u64,
    /// Records the ingest rules refused (logged with the reason); the sync goes on.
    pub records_skipped: u64,
    pub issues_created: u64,
    pub issues_updated: u64,
    pub issues_resolved: u64,
}

impl SyncCounts {
    pub fn add(&mut self, other: &SyncCounts) {
        self.pages += other.pages;
        self.records_seen += other.records_seen;
        self.records_skipped += other.records_skipped;
        self.issues_created += other.issues_created;
        self.issues_updated += other.issues_updated;
        self.issues_resolved += other.issues_resolved;
    }
}

/// One sync: its window, where it is, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    /// A time-ordered `syn_` id; also the id of its history entry.
    pub id: String,
    pub mode: SyncMode,
    pub status: SyncStatus,
    pub since_millis: i64,
    pub until_millis: i64,
    /// The vendor position of the next page (`null`: the first).
    pub cursor: Value,
    pub counts: SyncCounts,
    pub started_at_millis: i64,
    /// When the last checkpoint was written.
    pub checkpoint_at_millis: i64,
    pub finished_at_millis: Option<i64>,
    /// Transient failures of the current page so far.
    pub retries: u32,
    /// The vendor asked to wait until then (rate limit) or a retry backs off until then.
    pub resume_after_millis: Option<i64>,
    pub error: Option<String>,
}

/// What a connector remembers of its syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The `until` of the latest completed sync: everything before it has been read.
    pub watermark_millis: Option<i64>,
    /// The running sync, or the last one that failed (kept to resume from its checkpoint).
    pub run: Option<SyncRun>,
    /// When the latest sync started, for the schedule.
    pub last_started_millis: Option<i64>,
}

/// Why a sync cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRefused {
    /// One is running; its id.
    InProgress(String),
    /// A backfill's `since` is not before now, or further back than [`MAX_BACKFILL_DAYS`].
    BadSince(String),
}

/// What the next sync should be when none is asked for explicitly.
pub fn scheduled_mode(state: &SyncState) -> SyncMode {
    if state.watermark_millis.is_none() {
        SyncMode::Backfill
    } else {
        SyncMode::Incremental
    }
}

impl SyncState {
    /// Starts a sync at `now_millis` with id `id`. A failed sync (incremental or backfill) is
    /// resumed instead by an incremental request — the schedule's — (same id, same window, its
    /// checkpoint), so nothing it had not read yet is skipped; an explicit backfill replaces it. `since_millis` is a backfill's start (default
    /// [`DEFAULT_BACKFILL_DAYS`] ago).
    pub fn start(
        &mut self,
        mode: SyncMode,
        since_millis: Option<i64>,
        now_millis: i64,
        id: String,
    ) -> Result<&SyncRun, StartRefused> {
        if let Some(run) = &self.run {
            if run.status == SyncStatus::Running {
                return Err(StartRefused::InProgress(run.id.clone()));
            }
        }
        let resumable = self.run.as_ref().is_some_and(|run| run.status == SyncStatus::Failed);
        if mode == SyncMode::Incremental && resumable {
            let run = self.run.as_mut().expect("checked");
            run.status = SyncStatus::Running;
            run.error = None;
            run.retries = 0;
            run.resume_after_millis = None;
            run.finished_at_millis = None;
            run.checkpoint_at_millis = now_millis;
            self.last_started_millis = Some(now_millis);
            return Ok(self.run.as_ref().expect("set"));
        }
        let since = match (mode, self.watermark_millis) {
            (SyncMode::Incremental, Some(watermark)) => watermark - INCREMENTAL_OVERLAP_MS,
            _ => {
                let since = since_millis.unwrap_or(now_millis - DEFAULT_BACKFILL_DAYS * DAY_MS);
                if since >= now_millis {
                    return Err(StartRefused::BadSince("`since` must lie in the past".into()));
                }
                if since < now_millis - MAX_BACKFILL_DAYS * DAY_MS {
                    return Err(StartRefused::BadSince(format!(
                        "`since` lies more than {MAX_BACKFILL_DAYS} days in the past"
                    )));
                }
                since
            }
        };
        // An incremental sync of a connector never synced is its first backfill.
        let mode = if self.watermark_millis.is_none() { SyncMode::Backfill } else { mode };
        self.run = Some(SyncRun {
            id,
            mode,
            status: SyncStatus::Running,
            since_millis: since,
            until_millis: now_millis,
            cursor: Value::Null,
            counts: SyncCounts::default(),
            started_at_millis: now_millis,
            checkpoint_at_millis: now_millis,
            finished_at_millis: None,
            retries: 0,
            resume_after_millis: None,
            error: None,
        });
        self.last_started_millis = Some(now_millis);
        Ok(self.run.as_ref().expect("set"))
    }

    /// The running sync with id `id`, if it is the one running.
    pub fn running(&self, id: &str) -> Option<&SyncRun> {
        self.run.as_ref().filter(|run| run.status == SyncStatus::Running && run.id == id)
    }

    /// Records a page read and applied: the next cursor (`None`: the sync is complete) and what
    /// the page did. Returns whether the sync completed.
    pub fn checkpoint(&mut self, next: Option<Value>, page: &SyncCounts, now_millis: i64) -> bool {
        let Some(run) = self.run.as_mut() else { return false };
        run.counts.add(page);
        run.checkpoint_at_millis = now_millis;
        run.retries = 0;
        run.resume_after_millis = None;
        match next {
            Some(cursor) => {
                run.cursor = cursor;
                false
            }
            None => {
                run.cursor = Value::Null;
                run.status = SyncStatus::Completed;
                run.finished_at_millis = Some(now_millis);
                self.watermark_millis = Some(self.watermark_millis.unwrap_or(i64::MIN).max(run.until_millis));
                true
            }
        }
    }

    /// The vendor asked to wait `seconds` before the same page.
    pub fn wait(&mut self, seconds: u64, now_millis: i64) {
        if let Some(run) = self.run.as_mut() {
            run.checkpoint_at_millis = now_millis;
            run.resume_after_millis = Some(now_millis + seconds as i64 * 1000);
        }
    }

    /// A transient failure of the current page: the delay before retrying it (exponential from
    /// 30 s), or `None` once [`MAX_PAGE_RETRIES`] are spent (then [`SyncState::fail`]).
    pub fn retry(&mut self, now_millis: i64) -> Option<u64> {
        let run = self.run.as_mut()?;
        if run.retries >= MAX_PAGE_RETRIES {
            return None;
        }
        let delay = 30u64 << run.retries;
        run.retries += 1;
        run.checkpoint_at_millis = now_millis;
        run.resume_after_millis = Some(now_millis + delay as i64 * 1000);
        Some(delay)
    }

    /// Ends the running sync as failed, keeping its checkpoint.
    pub fn fail(&mut self, error: String, now_millis: i64) {
        if let Some(run) = self.run.as_mut() {
            run.status = SyncStatus::Failed;
            run.error = Some(error);
            run.finished_at_millis = Some(now_millis);
            run.checkpoint_at_millis = now_millis;
            run.resume_after_millis = None;
        }
    }

    /// What the scheduler should do at `now_millis` for a connector syncing every
    /// `schedule_minutes`.
    pub fn due(&self, schedule_minutes: u64, now_millis: i64) -> Due {
        if let Some(run) = self.run.as_ref().filter(|run| run.status == SyncStatus::Running) {
            let waiting = run.resume_after_millis.is_some_and(|at| at > now_millis);
            let stalled = now_millis - run.checkpoint_at_millis >= STALLED_AFTER_MS;
            return if stalled && !waiting { Due::Requeue(run.id.clone()) } else { Due::No };
        }
        let every = schedule_minutes as i64 * 60 * 1000;
        match self.last_started_millis {
            Some(last) if now_millis - last < every => Due::No,
            _ => Due::Start,
        }
    }
}

/// The scheduler's verdict for one connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    No,
    /// Start the next sync (resuming a failed one).
    Start,
    /// The running sync lost its worker: queue it again.
    Requeue(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;
    const MINUTE: i64 = 60_000;

    fn page(records: u64) -> SyncCounts {
        SyncCounts { pages: 1, records_seen: records, issues_created: records, ..Default::default() }
    }

    #[test]
    fn the_first_sync_is_a_backfill_and_later_ones_overlap_the_watermark() {
        let mut state = SyncState::default();
        let run = state.start(SyncMode::Incremental, None, NOW, "syn_1".into()).unwrap();
        assert_eq!(run.mode, SyncMode::Backfill);
        assert_eq!(run.since_millis, NOW - DEFAULT_BACKFILL_DAYS * DAY_MS);
        assert_eq!(
            state.start(SyncMode::Incremental, None, NOW, "syn_2".into()),
            Err(StartRefused::InProgress("syn_1".into()))
        );
        assert!(!state.checkpoint(Some(json!({"page": 2})), &page(2), NOW + 1));
        assert_eq!(state.run.as_ref().unwrap().cursor, json!({"page": 2}));
        assert!(state.checkpoint(None, &page(1), NOW + 2));
        assert_eq!(state.watermark_millis, Some(NOW));
        assert_eq!(state.run.as_ref().unwrap().counts.records_seen, 3);

        let later = NOW + 15 * MINUTE;
        let run = state.start(SyncMode::Incremental, None, later, "syn_3".into()).unwrap();
        assert_eq!(
            (run.mode, run.since_millis, run.until_millis),
            (SyncMode::Incremental, NOW - INCREMENTAL_OVERLAP_MS, later)
        );
    }

    #[test]
    fn a_failed_incremental_sync_resumes_from_its_checkpoint_and_a_backfill_replaces_it() {
        let mut state = SyncState { watermark_millis: Some(NOW - MINUTE), ..Default::default() };
        state.start(SyncMode::Incremental, None, NOW, "syn_1".into()).unwrap();
        state.checkpoint(Some(json!("c2")), &page(5), NOW + 1);
        state.fail("jira answered 500".into(), NOW + 2);
        assert_eq!(state.run.as_ref().unwrap().status, SyncStatus::Failed);
        let resumed = state.start(SyncMode::Incremental, None, NOW + 10 * MINUTE, "syn_2".into()).unwrap();
        assert_eq!((resumed.id.as_str(), &resumed.cursor, resumed.until_millis), ("syn_1", &json!("c2"), NOW));
        assert_eq!(resumed.error, None);
        state.fail("again".into(), NOW + 11 * MINUTE);
        let backfill =
            state.start(SyncMode::Backfill, Some(NOW - 400 * DAY_MS), NOW + 12 * MINUTE, "syn_3".into()).unwrap();
        assert_eq!((backfill.id.as_str(), &backfill.cursor), ("syn_3", &Value::Null));
    }

    #[test]
    fn a_failed_first_backfill_is_resumed_by_the_schedule() {
        let mut state = SyncState::default();
        state.start(SyncMode::Incremental, None, NOW, "syn_1".into()).unwrap();
        state.checkpoint(Some(json!("page-2")), &page(2), NOW + 1);
        state.fail("500".into(), NOW + 2);
        let resumed = state.start(SyncMode::Incremental, None, NOW + MINUTE, "syn_2".into()).unwrap();
        assert_eq!(
            (resumed.id.as_str(), resumed.mode, &resumed.cursor),
            ("syn_1", SyncMode::Backfill, &json!("page-2"))
        );
        assert_eq!(resumed.counts.records_seen, 2, "the counts carry on");
    }

    #[test]
    fn backfill_dates_are_bounded() {
        let mut state = SyncState::default();
        assert!(matches!(
            state.start(SyncMode::Backfill, Some(NOW + 1), NOW, "s".into()),
            Err(StartRefused::BadSince(_))
        ));
        let too_old = NOW - (MAX_BACKFILL_DAYS + 1) * DAY_MS;
        assert!(matches!(
            state.start(SyncMode::Backfill, Some(too_old), NOW, "s".into()),
            Err(StartRefused::BadSince(_))
        ));
        assert!(state.run.is_none());
    }

    #[test]
    fn retries_back_off_and_run_out() {
        let mut state = SyncState::default();
        state.start(SyncMode::Backfill, None, NOW, "s".into()).unwrap();
        let delays: Vec<Option<u64>> = (0..=MAX_PAGE_RETRIES).map(|_| state.retry(NOW)).collect();
        assert_eq!(delays, vec![Some(30), Some(60), Some(120), Some(240), Some(480), None]);
        // A page that succeeds resets the count.
        state.checkpoint(Some(json!(1)), &page(1), NOW);
        assert_eq!(state.retry(NOW), Some(30));
    }

    #[test]
    fn the_schedule_starts_due_syncs_and_requeues_stalled_ones() {
        let mut state = SyncState::default();
        assert_eq!(state.due(15, NOW), Due::Start);
        state.start(SyncMode::Backfill, None, NOW, "s1".into()).unwrap();
        assert_eq!(state.due(15, NOW + MINUTE), Due::No);
        assert_eq!(state.due(15, NOW + STALLED_AFTER_MS), Due::Requeue("s1".into()));
        state.wait(900, NOW + STALLED_AFTER_MS);
        assert_eq!(state.due(15, NOW + STALLED_AFTER_MS + MINUTE), Due::No, "waiting on the vendor is not stalled");
        state.checkpoint(None, &page(0), NOW + 20 * MINUTE);
        assert_eq!(state.due(15, NOW + 14 * MINUTE + 59_000), Due::No, "measured from the start");
        assert_eq!(state.due(15, NOW + 15 * MINUTE), Due::Start);
        assert_eq!(state.due(1, NOW + MINUTE), Due::Start);
    }
}
