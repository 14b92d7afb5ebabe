//! Property tests of the engine's promises (see the crate documentation).

use std::collections::BTreeSet;

use causeloop_patterns::{Assignment, Engine, PatternId};
use proptest::prelude::*;

/// Message shapes with a few variable positions (`#` = number, `@` = word from a small pool, so
/// that words repeat and sometimes reach the variable threshold), to exercise merges.
const SHAPES: &[&str] = &[
    "Received block # of size # from #",
    "session opened for user @ by uid=#",
    "VM @ (Lifecycle Event)",
    "@ startup succeeded",
    "connection from # ( @ ) at #",
    "Took # seconds to @ the instance",
    "disk @ is full on node-#",
    "@",
];
const WORDS: &[&str] = &["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];

fn record() -> impl Strategy<Value = String> {
    (0..SHAPES.len(), prop::collection::vec((0u32..100_000, 0..WORDS.len()), 4)).prop_map(|(shape, fills)| {
        let mut fills = fills.into_iter();
        SHAPES[shape]
            .split(' ')
            .map(|t| {
                let (n, w) = fills.next().unwrap_or((7, 0));
                match t {
                    "#" => n.to_string(),
                    "@" => WORDS[w].to_string(),
                    "node-#" => format!("node-{n}"),
                    other => other.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Assigns `records`, which start at position `offset` of the whole stream (issue ids and times
/// follow the position, so a stream cut in two gets the same ones).
fn run_from(engine: &mut Engine, records: &[String], offset: usize) -> Vec<Assignment> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let n = offset + i;
            engine.assign(r, None, Some(&format!("i{n}")), n as i64)
        })
        .collect()
}

fn run(engine: &mut Engine, records: &[String]) -> Vec<Assignment> {
    run_from(engine, records, 0)
}

fn mask_digits(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn reload_continues_identically(records in prop::collection::vec(record(), 1..120), split in 0usize..120, cap in 2usize..20) {
        let split = split.min(records.len());
        let mut straight = Engine::with_capacity_limit(cap);
        let expected = run(&mut straight, &records);

        let mut first = Engine::with_capacity_limit(cap);
        let mut got = run(&mut first, &records[..split]);
        let mut reloaded = Engine::from_bytes(&first.to_bytes()).expect("decodes");
        got.extend(run_from(&mut reloaded, &records[split..], split));

        prop_assert_eq!(got, expected);
        prop_assert_eq!(reloaded.to_bytes(), straight.to_bytes());
    }

    #[test]
    fn deterministic(records in prop::collection::vec(record(), 1..150)) {
        let (mut a, mut b) = (Engine::new(), Engine::new());
        prop_assert_eq!(run(&mut a, &records), run(&mut b, &records));
        prop_assert_eq!(a.to_bytes(), b.to_bytes());
    }

    /// Without eviction, every id ever returned keeps resolving, to a live pattern, and merges are
    /// reported: an id stops being live only by appearing in some `merged_from`.
    #[test]
    fn ids_keep_resolving_after_merges(records in prop::collection::vec(record(), 1..200)) {
        let mut engine = Engine::new();
        let mut returned: BTreeSet<PatternId> = BTreeSet::new();
        let mut merged: BTreeSet<PatternId> = BTreeSet::new();
        for (n, r) in records.iter().enumerate() {
            let a = engine.assign(r, None, None, n as i64);
            returned.insert(a.pattern_id);
            for m in &a.merged_from {
                prop_assert!(returned.contains(m), "merged id {} was returned before", m);
                prop_assert_eq!(engine.resolve(*m), Some(a.pattern_id));
                merged.insert(*m);
            }
            for id in &returned {
                let resolved = engine.resolve(*id);
                prop_assert!(resolved.is_some(), "id {} no longer resolves", id);
                prop_assert_eq!(engine.pattern(*id).map(|p| p.id), resolved);
                prop_assert_eq!(resolved == Some(*id), !merged.contains(id));
            }
        }
        let total: u64 = engine.patterns().map(|p| p.count).sum();
        prop_assert_eq!(total, records.len() as u64, "merges keep every count");
    }

    /// Under a small cap: the number of live patterns never exceeds it, ids returned as new
    /// always exceed every id returned before (never reused), and an evicted id never comes back.
    #[test]
    fn bounded_under_cap_and_ids_never_reused(records in prop::collection::vec(record(), 1..300), cap in 1usize..8) {
        let mut engine = Engine::with_capacity_limit(cap);
        let mut highest = PatternId(0);
        let mut dead: BTreeSet<PatternId> = BTreeSet::new();
        let mut returned: BTreeSet<PatternId> = BTreeSet::new();
        for (n, r) in records.iter().enumerate() {
            let a = engine.assign(r, None, None, n as i64);
            prop_assert!(engine.len() <= cap);
            prop_assert!(engine.alias_count() <= cap * causeloop_patterns::MAX_ALIASES_PER_PATTERN);
            if a.is_new {
                prop_assert!(a.pattern_id > highest);
            }
            prop_assert!(!dead.contains(&a.pattern_id));
            highest = highest.max(a.pattern_id);
            returned.insert(a.pattern_id);
            for id in &returned {
                if engine.resolve(*id).is_none() {
                    dead.insert(*id);
                }
            }
            for id in &dead {
                prop_assert_eq!(engine.resolve(*id), None);
            }
        }
        prop_assert!(engine.to_bytes().len() < 64 + cap * 1024);
    }

    /// The promised order-independence: records with the same masked signature share a pattern
    /// whatever the arrival order.
    #[test]
    fn same_signature_same_pattern_in_any_order(records in prop::collection::vec(record(), 2..80), seed in any::<u64>()) {
        let mut order: Vec<usize> = (0..records.len()).collect();
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let shuffled: Vec<String> = order.iter().map(|&i| records[i].clone()).collect();
        let mut engine = Engine::new();
        let ids: Vec<PatternId> = run(&mut engine, &shuffled).into_iter().map(|a| a.pattern_id).collect();
        for i in 0..shuffled.len() {
            for j in 0..i {
                if mask_digits(&shuffled[i]) == mask_digits(&shuffled[j]) {
                    prop_assert_eq!(engine.resolve(ids[i]), engine.resolve(ids[j]),
                        "{:?} and {:?}", &shuffled[i], &shuffled[j]);
                }
            }
        }
    }
}
