//! Engine state and pattern records, one contract on both adapters: the embedded SQLite store
//! and DynamoDB as served by moto (started by `scripts/test.sh`, which exports `MOTO_ENDPOINT`).

#![cfg(all(feature = "embedded", feature = "aws"))]

use causeloop_domain::ids::PatternId;
use causeloop_domain::ingest::normalize_record;
use causeloop_domain::issue::Issue;
use causeloop_domain::pattern::PatternRecord;
use causeloop_domain::{IssueId, WorkspaceId};
use causeloop_storage::engine_state::CHUNK_CHARS;
use causeloop_storage::patterns::{PatternFilter, PatternSort};
use causeloop_storage::schema::{engine_chunks_pk, workspace_pk, ENGINE_STATE_SK};
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::{Index, Query, Store, StoreError};
use serde_json::json;
use std::sync::Arc;

mod common;

fn workspace() -> WorkspaceId {
    WorkspaceId::random(1, rand::random())
}

fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Chunk items stored for the workspace, live or not (DynamoDB pages at 1 MB: follow the pages).
async fn chunk_items(store: &Store, workspace: &WorkspaceId) -> usize {
    let mut query = Query::new(Index::Primary, engine_chunks_pk(workspace.as_str())).limit(100);
    let mut count = 0;
    loop {
        let page = store.table().query(&query).await.unwrap();
        count += page.items.len();
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return count,
        }
    }
}

async fn versions_are_conditional(store: Store) {
    let ws = workspace();
    assert_eq!(store.engine_state(&ws).await.unwrap(), None);
    let first = store.save_engine_state(&ws, b"state one", None, &[]).await.unwrap();
    assert_eq!(first.version, 1);
    let again = store.save_engine_state(&ws, b"a second first state", None, &[]).await;
    assert!(matches!(again, Err(StoreError::ConditionFailed)), "{again:?}");

    let loaded = store.engine_state(&ws).await.unwrap().unwrap();
    assert_eq!((loaded.bytes.as_slice(), loaded.version.version), (&b"state one"[..], 1));
    assert_eq!(loaded.pending_merges, []);
    let second = store.save_engine_state(&ws, b"state two", Some(&loaded.version), &[(3, 1), (4, 1)]).await.unwrap();
    assert_eq!(second.version, 2);
    let stale = store.save_engine_state(&ws, b"from a stale read", Some(&loaded.version), &[]).await;
    assert!(matches!(stale, Err(StoreError::ConditionFailed)), "{stale:?}");
    let reloaded = store.engine_state(&ws).await.unwrap().unwrap();
    assert_eq!(reloaded.bytes, b"state two");
    assert_eq!(reloaded.pending_merges, [(3, 1), (4, 1)], "merges travel with the version that made them");
    assert_eq!(store.engine_state(&workspace()).await.unwrap(), None, "states are per workspace");
}
both_adapters!(engine_state_versions_are_conditional, versions_are_conditional);

async fn large_states_are_chunked_and_superseded_chunks_removed(store: Store) {
    let ws = workspace();
    // Three or more chunks: the base64 text is 4/3 of the bytes.
    let big = pseudo_random_bytes(CHUNK_CHARS * 2, 7);
    let written = store.save_engine_state(&ws, &big, None, &[]).await.unwrap();
    assert!(written.chunk_count() >= 3, "{} chunks", written.chunk_count());
    let loaded = store.engine_state(&ws).await.unwrap().unwrap();
    assert!(loaded.bytes == big, "the chunks reassemble to the state");
    assert_eq!(chunk_items(&store, &ws).await, written.chunk_count());

    let bigger = pseudo_random_bytes(CHUNK_CHARS * 3, 8);
    let replaced = store.save_engine_state(&ws, &bigger, Some(&loaded.version), &[]).await.unwrap();
    assert!(store.engine_state(&ws).await.unwrap().unwrap().bytes == bigger);
    assert_eq!(chunk_items(&store, &ws).await, replaced.chunk_count(), "the old version's chunks are gone");

    // A loser removes its own chunks and leaves the winner's intact.
    let lost = store.save_engine_state(&ws, &big, Some(&loaded.version), &[]).await;
    assert!(matches!(lost, Err(StoreError::ConditionFailed)), "{lost:?}");
    assert_eq!(chunk_items(&store, &ws).await, replaced.chunk_count());
    assert!(store.engine_state(&ws).await.unwrap().unwrap().bytes == bigger);

    let small = store.save_engine_state(&ws, b"small again", Some(&replaced), &[]).await.unwrap();
    assert_eq!(small.chunk_count(), 0, "small states live inline in the head");
    assert_eq!(chunk_items(&store, &ws).await, 0);
    assert_eq!(store.engine_state(&ws).await.unwrap().unwrap().bytes, b"small again");
}
both_adapters!(engine_state_large_states_are_chunked, large_states_are_chunked_and_superseded_chunks_removed);

/// The head stays within one read unit however large the state, so the per-batch version check
/// is cheap.
async fn the_head_stays_small(store: Store) {
    let ws = workspace();
    let state = pseudo_random_bytes(130_000, 9);
    let written = store.save_engine_state(&ws, &state, None, &[(7, 2)]).await.unwrap();
    assert!(written.chunk_count() >= 1, "a mid-size state lives in chunks, not in the head");
    let head = store.table().get(&workspace_pk(ws.as_str()), ENGINE_STATE_SK).await.unwrap().unwrap();
    assert!(head.data.len() < 1_024, "head of {} bytes", head.data.len());
    assert!(store.engine_state(&ws).await.unwrap().unwrap().bytes == state);
    assert_eq!(store.engine_state_version(&ws).await.unwrap(), Some(written.version));
}
both_adapters!(engine_state_head_stays_small, the_head_stays_small);

/// Chunk items whose key says that `version` wrote them.
async fn chunks_written_by(store: &Store, workspace: &WorkspaceId, version: u64) -> usize {
    let mut query = Query::new(Index::Primary, engine_chunks_pk(workspace.as_str())).limit(100);
    let mut count = 0;
    loop {
        let page = store.table().query(&query).await.unwrap();
        count += page.items.iter().filter(|item| item.sk.starts_with(&format!("{version:020}#"))).count();
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return count,
        }
    }
}

/// A save rewrites only the chunks around what changed; the others are named again as they are.
async fn a_save_writes_only_the_chunks_that_changed(store: Store) {
    let ws = workspace();
    let mut state = pseudo_random_bytes(1_000_000, 11);
    let first = store.save_engine_state(&ws, &state, None, &[]).await.unwrap();
    assert!(first.chunk_count() >= 8, "{} chunks", first.chunk_count());
    // A few bytes change in the middle, a few are inserted near the start, some are appended.
    state[500_000..500_010].copy_from_slice(b"0123456789");
    state.splice(100_000..100_000, b"inserted".iter().copied());
    state.extend_from_slice(b"appended at the end");
    let loaded = store.engine_state(&ws).await.unwrap().unwrap();
    let second = store.save_engine_state(&ws, &state, Some(&loaded.version), &[]).await.unwrap();
    let rewritten = chunks_written_by(&store, &ws, second.version).await;
    assert!(rewritten <= 5, "{rewritten} of {} chunks rewritten", second.chunk_count());
    assert_eq!(chunk_items(&store, &ws).await, second.chunk_count(), "no chunk left behind or lost");
    assert!(store.engine_state(&ws).await.unwrap().unwrap().bytes == state);
    // Unchanged, a save writes no chunk at all.
    let third = store.save_engine_state(&ws, &state, Some(&second), &[]).await.unwrap();
    assert_eq!(chunks_written_by(&store, &ws, third.version).await, 0);
    assert!(store.engine_state(&ws).await.unwrap().unwrap().bytes == state);
}
both_adapters!(engine_state_saves_write_only_changed_chunks, a_save_writes_only_the_chunks_that_changed);

/// Appends `entry` to the state (a list of entries after a filler that makes it chunked), the
/// way a worker applies an assignment: read, apply, conditional write, and on a lost race read
/// again and re-apply.
async fn append_with_retry(store: &Store, ws: &WorkspaceId, entry: u32) -> usize {
    let mut lost_races = 0;
    loop {
        let current = store.engine_state(ws).await.unwrap();
        let mut bytes = match &current {
            Some(state) => state.bytes.clone(),
            None => pseudo_random_bytes(CHUNK_CHARS, 1),
        };
        bytes.extend_from_slice(&entry.to_be_bytes());
        match store.save_engine_state(ws, &bytes, current.as_ref().map(|state| &state.version), &[]).await {
            Ok(_) => return lost_races,
            Err(StoreError::ConditionFailed) => lost_races += 1,
            Err(err) => panic!("{err}"),
        }
    }
}

async fn two_concurrent_writers_lose_no_update(store: Store) {
    let ws = workspace();
    let writer = |tag: u32| {
        let (store, ws) = (store.clone(), ws.clone());
        async move {
            let mut lost = 0;
            for n in 0..6 {
                lost += append_with_retry(&store, &ws, tag * 1000 + n).await;
            }
            lost
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(writer(1)), tokio::spawn(writer(2)));
    eprintln!("lost races: {} and {}", a.unwrap(), b.unwrap());
    let state = store.engine_state(&ws).await.unwrap().unwrap();
    assert_eq!(state.version.version, 12, "one version per update");
    let mut entries: Vec<u32> =
        state.bytes[CHUNK_CHARS..].chunks(4).map(|chunk| u32::from_be_bytes(chunk.try_into().unwrap())).collect();
    entries.sort();
    let expected: Vec<u32> = (0..6).map(|n| 1000 + n).chain((0..6).map(|n| 2000 + n)).collect();
    assert_eq!(entries, expected, "every update of both writers is in the final state");
    assert_eq!(chunk_items(&store, &ws).await, state.version.chunk_count(), "no chunk left behind");
}
both_adapters!(engine_state_two_concurrent_writers, two_concurrent_writers_lose_no_update);

fn issue(ws: &WorkspaceId, external_id: &str, service: &str, at: &str) -> Issue {
    let record = normalize_record(&json!({
        "source": "pagerduty", "external_id": external_id, "title": "disk full", "service": service,
    }))
    .unwrap();
    Issue::apply(None, ws, &record, "evt", at).0
}

async fn pattern_records_count_members_once_and_aliases_resolve(store: Store) {
    let ws = workspace();
    let now = "2026-01-01T00:00:00.000Z";
    let a = issue(&ws, "a", "db", "2026-01-01T00:00:00.000Z");
    let mut one = PatternRecord::new(&ws, 1, "disk full on <*>", now);
    one.gain(&a, now);
    let v1 = store.save_pattern(&one, None, Some(&a.id)).await.unwrap();
    assert!(store.is_pattern_member(&ws, &one.id, &a.id).await.unwrap());
    // Counting the same Issue again fails as a whole: the record is not written either.
    let mut twice = one.clone();
    twice.gain(&a, now);
    let again = store.save_pattern(&twice, Some(v1), Some(&a.id)).await;
    assert!(matches!(again, Err(StoreError::ConditionFailed)), "{again:?}");
    assert_eq!(store.pattern(&ws, &one.id).await.unwrap().unwrap().value.issue_count, 1);

    let b = issue(&ws, "b", "api", "2026-01-03T00:00:00.000Z");
    let c = issue(&ws, "c", "api", "2026-01-02T00:00:00.000Z");
    let mut two = PatternRecord::new(&ws, 2, "timeout calling <*>", now);
    two.gain(&b, now);
    let v2 = store.save_pattern(&two, None, Some(&b.id)).await.unwrap();
    two.gain(&c, now);
    store.save_pattern(&two, Some(v2), Some(&c.id)).await.unwrap();

    let (by_time, next) =
        store.list_patterns(&ws, &PatternFilter::default(), PatternSort::LastSeen, 10, None).await.unwrap();
    assert_eq!(by_time.iter().map(|p| p.engine_id).collect::<Vec<_>>(), [2, 1]);
    assert!(next.is_none());
    let (first, next) = store.list_patterns(&ws, &PatternFilter::default(), PatternSort::Count, 1, None).await.unwrap();
    assert_eq!(first[0].engine_id, 2, "two issues rank first");
    let (rest, last) = store.list_patterns(&ws, &PatternFilter::default(), PatternSort::Count, 1, next).await.unwrap();
    assert_eq!((rest[0].engine_id, last), (1, None));
    let db_only = PatternFilter { service: Some("db".into()), ..PatternFilter::default() };
    let (db, _) = store.list_patterns(&ws, &db_only, PatternSort::LastSeen, 10, None).await.unwrap();
    assert_eq!(db.iter().map(|p| p.engine_id).collect::<Vec<_>>(), [1]);
    let recent = PatternFilter { since: Some("2026-01-02T12:00:00.000Z".into()), ..PatternFilter::default() };
    let (recent, _) = store.list_patterns(&ws, &recent, PatternSort::LastSeen, 10, None).await.unwrap();
    assert_eq!(recent.iter().map(|p| p.engine_id).collect::<Vec<_>>(), [2]);

    // Pattern 2 merges into pattern 1: the record moves, the id stays answerable.
    store.copy_pattern_members(&ws, &two.id, &one.id).await.unwrap();
    let survivor = store.pattern(&ws, &one.id).await.unwrap().unwrap();
    let victim = store.pattern(&ws, &two.id).await.unwrap().unwrap();
    let mut merged = survivor.value.clone();
    merged.absorb(&victim.value, now);
    store.merge_pattern(&merged, Some(survivor.version), &two.id, Some(victim.version), &[]).await.unwrap();
    let resolved = store.resolve_pattern(&ws, &two.id).await.unwrap().unwrap().value;
    assert_eq!((resolved.id.clone(), resolved.issue_count), (one.id.clone(), 3));
    assert!(store.pattern(&ws, &two.id).await.unwrap().is_none());
    let (members, _) = store.pattern_members(&ws, &one.id, 10, None).await.unwrap();
    let mut expected: Vec<IssueId> = vec![a.id.clone(), b.id.clone(), c.id.clone()];
    expected.sort();
    assert_eq!(members, expected);
    let (listed, _) =
        store.list_patterns(&ws, &PatternFilter::default(), PatternSort::LastSeen, 10, None).await.unwrap();
    assert_eq!(listed.len(), 1, "merged-away patterns are not listed");
    let unknown = PatternId::for_engine_id(&ws, 99);
    assert!(store.resolve_pattern(&ws, &unknown).await.unwrap().is_none());
    assert!(store.resolve_pattern(&workspace(), &one.id).await.unwrap().is_none(), "other workspaces see nothing");
}
both_adapters!(pattern_records, pattern_records_count_members_once_and_aliases_resolve);
