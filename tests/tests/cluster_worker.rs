//! The cluster worker on both backends, driven directly (no poller): two workers with their own
//! engine caches race on one workspace's engine state and pattern records, and a redelivered
//! batch changes nothing.

use causeloop_api::ingest::upsert_issue;
use causeloop_api::messages::ClusterRequest;
use causeloop_api::state::{AppState, Settings};
use causeloop_api::workers::cluster::ClusterWorker;
use causeloop_api::workers::WorkMessage;
use causeloop_domain::ids::PatternId;
use causeloop_domain::ingest::normalize_record;
use causeloop_domain::{IssueId, WorkspaceId};
use causeloop_patterns::Engine;
use causeloop_storage::patterns::{PatternFilter, PatternSort};
use causeloop_tests::faults::{CrashAfterWrites, LoseNextTransactionRace};
use causeloop_tests::{stores, Backend, Stores};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const NAMES: [&str; 12] =
    ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"];

fn title(cause: usize, n: usize) -> String {
    match cause {
        0 => format!("Disk full on db-{n} volume /var/lib/data{n}"),
        1 => format!("Timeout after {}ms calling payments-api", 100 * n + 7),
        _ => format!("User {} failed login from 10.0.{n}.1", NAMES[n]),
    }
}

fn message(workspace: &WorkspaceId, issue: &IssueId) -> WorkMessage {
    let request = ClusterRequest { workspace_id: workspace.clone(), issue_id: issue.clone(), job_id: None };
    WorkMessage {
        id: format!("m-{issue}"),
        body: serde_json::to_string(&request).unwrap(),
        receive_count: 1,
        receipt: String::new(),
    }
}

/// How the two workers meet.
#[derive(Clone, Copy, PartialEq)]
enum Race {
    /// At the same time. On SQLite only: moto rolls a failed transaction back by restoring a
    /// snapshot of the whole table, which drops the other worker's writes made meanwhile (moto's
    /// defect; DynamoDB transactions are isolated).
    Concurrent,
    /// Their batches alternate, and before each batch another writer wins the race for the
    /// first record the batch's transaction conditions on: every batch loses once, re-reads and
    /// decides again, and each worker's cached engine goes stale under the other's saves.
    Interleaved,
}

async fn two_workers_race_and_lose_nothing(stores: Stores, race_kind: Race) {
    let racer = Arc::new(LoseNextTransactionRace::new(stores.table.clone()));
    let table: Arc<dyn causeloop_storage::Table> = racer.clone();
    let state = AppState::new(table, stores.queue.clone(), Settings::default());
    let workspace = WorkspaceId::random(1, rand::random());
    let mut issues: Vec<(usize, IssueId)> = Vec::new();
    for n in 0..12 {
        for cause in 0..3 {
            let record = normalize_record(&json!({
                "source": "custom_api", "external_id": format!("c{cause}-{n}"), "title": title(cause, n),
            }))
            .unwrap();
            let now = causeloop_storage::clock::now_rfc3339();
            let (issue, _) =
                upsert_issue(&state.store, &workspace, &record, &format!("e{cause}-{n}"), &now).await.unwrap();
            issues.push((cause, issue.id));
        }
    }
    // Each worker takes every other Issue, in small batches.
    let mine = |parity: usize| -> Vec<IssueId> {
        issues.iter().enumerate().filter(|(at, _)| at % 2 == parity).map(|(_, (_, id))| id.clone()).collect()
    };
    match race_kind {
        Race::Concurrent => {
            let race = |worker: ClusterWorker, parity: usize| {
                let (state, workspace, mine) = (state.clone(), workspace.clone(), mine(parity));
                tokio::spawn(async move {
                    for batch in mine.chunks(3) {
                        let messages = batch.iter().map(|id| message(&workspace, id)).collect();
                        let failed = worker.handle_batch(&state, messages).await;
                        assert!(failed.is_empty(), "{failed:?}");
                    }
                })
            };
            let (a, b) = tokio::join!(race(ClusterWorker::new(), 0), race(ClusterWorker::new(), 1));
            a.unwrap();
            b.unwrap();
        }
        Race::Interleaved => {
            let workers = [ClusterWorker::new(), ClusterWorker::new()];
            let (even, odd) = (mine(0), mine(1));
            for (a, b) in even.chunks(3).zip(odd.chunks(3)) {
                for (worker, batch) in workers.iter().zip([a, b]) {
                    racer.arm();
                    let messages = batch.iter().map(|id| message(&workspace, id)).collect();
                    let failed = worker.handle_batch(&state, messages).await;
                    assert!(failed.is_empty(), "{failed:?}");
                }
            }
        }
    }

    let check = || async {
        let (patterns, _) = state
            .store
            .list_patterns(&workspace, &PatternFilter::default(), PatternSort::Count, 50, None)
            .await
            .unwrap();
        assert_eq!(patterns.iter().map(|p| p.issue_count).collect::<Vec<_>>(), [12, 12, 12], "{patterns:#?}");
        let mut by_cause: BTreeMap<usize, BTreeSet<PatternId>> = BTreeMap::new();
        for (cause, id) in &issues {
            let issue = state.store.issue(&workspace, id).await.unwrap().unwrap().value;
            let named = PatternId::parse(issue.pattern_id.as_deref().expect("every Issue has its pattern")).unwrap();
            let live = state.store.resolve_pattern(&workspace, &named).await.unwrap().expect("it resolves").value;
            assert!(state.store.is_pattern_member(&workspace, &live.id, id).await.unwrap());
            by_cause.entry(*cause).or_default().insert(live.id);
        }
        assert!(by_cause.values().all(|ids| ids.len() == 1), "one pattern per cause: {by_cause:?}");
        patterns
    };
    let before = check().await;

    // The saved engine state holds every template both workers created.
    let stored = state.store.engine_state(&workspace).await.unwrap().expect("state saved");
    let engine = Engine::from_bytes(&stored.bytes).unwrap();
    assert_eq!(engine.len(), 3, "{:?}", engine.patterns().map(|p| &p.template).collect::<Vec<_>>());

    // Redelivery of everything, by a third worker with a cold cache: nothing counts twice.
    let all: Vec<WorkMessage> = issues.iter().map(|(_, id)| message(&workspace, id)).collect();
    for batch in all.chunks(10) {
        assert!(ClusterWorker::new().handle_batch(&state, batch.to_vec()).await.is_empty());
    }
    let after = check().await;
    assert_eq!(before, after, "a redelivered batch changes no pattern record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_race_sqlite() {
    two_workers_race_and_lose_nothing(stores(Backend::Sqlite).await.unwrap(), Race::Concurrent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_interleave_and_lose_every_race_once_sqlite() {
    two_workers_race_and_lose_nothing(stores(Backend::Sqlite).await.unwrap(), Race::Interleaved).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_interleave_and_lose_every_race_once_moto() {
    if let Some(stores) = stores(Backend::Moto).await {
        two_workers_race_and_lose_nothing(stores, Race::Interleaved).await;
    }
}

/// A worker that saves the engine state with a merge and then dies before the pattern records
/// reflect it: the merge is saved with the state, so the next worker (cold cache) applies it and
/// the merged-away pattern is not left listed on its own.
async fn a_merge_survives_a_crash_after_the_state_is_saved(stores: Stores) {
    let healthy = AppState::new(stores.table.clone(), stores.queue.clone(), Settings::default());
    let workspace = WorkspaceId::random(1, rand::random());
    // Find, with the engine itself, the first Issue of the login cause whose assignment merges.
    let mut engine = Engine::with_capacity_limit(causeloop_api::workers::cluster::PATTERNS_PER_WORKSPACE);
    let merging = (0..NAMES.len())
        .find(|&n| !engine.assign(&title(2, n), None, None, 0).merged_from.is_empty())
        .expect("the login titles differ in a word position, which the engine merges into a slot");
    let mut ids = Vec::new();
    for n in 0..=merging {
        let record = normalize_record(&json!({
            "source": "custom_api", "external_id": format!("login-{n}"), "title": title(2, n),
        }))
        .unwrap();
        let now = causeloop_storage::clock::now_rfc3339();
        ids.push(upsert_issue(&healthy.store, &workspace, &record, &format!("e{n}"), &now).await.unwrap().0.id);
    }
    for id in &ids[..merging] {
        assert!(ClusterWorker::new().handle_batch(&healthy, vec![message(&workspace, id)]).await.is_empty());
    }
    let patterns_before = healthy
        .store
        .list_patterns(&workspace, &PatternFilter::default(), PatternSort::Count, 50, None)
        .await
        .unwrap()
        .0;
    assert!(patterns_before.len() >= 2, "separate patterns until the merge: {patterns_before:#?}");

    // The merging Issue: the state save (one write) succeeds, then the store fails.
    let faulty = Arc::new(CrashAfterWrites::new(stores.table.clone(), 1));
    let crashing = AppState::new(faulty.clone(), stores.queue.clone(), Settings::default());
    let last = message(&workspace, &ids[merging]);
    let failed = ClusterWorker::new().handle_batch(&crashing, vec![last.clone()]).await;
    assert_eq!(failed, std::slice::from_ref(&last.id));
    faulty.heal();

    // Redelivered to another container.
    assert!(ClusterWorker::new().handle_batch(&healthy, vec![last]).await.is_empty());
    let (patterns, _) =
        healthy.store.list_patterns(&workspace, &PatternFilter::default(), PatternSort::Count, 50, None).await.unwrap();
    assert_eq!(patterns.len(), 1, "the merged-away pattern is not listed separately: {patterns:#?}");
    assert_eq!(patterns[0].issue_count, merging as u64 + 1);
    for before in &patterns_before {
        let live = healthy.store.resolve_pattern(&workspace, &before.id).await.unwrap().expect("still resolves");
        assert_eq!(live.value.id, patterns[0].id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_survives_a_crash_sqlite() {
    a_merge_survives_a_crash_after_the_state_is_saved(stores(Backend::Sqlite).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_survives_a_crash_moto() {
    if let Some(stores) = stores(Backend::Moto).await {
        a_merge_survives_a_crash_after_the_state_is_saved(stores).await;
    }
}
