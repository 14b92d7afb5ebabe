//! The insights core end to end: no leakage, calibration on synthetic histories, bounded state,
//! fix recommendation under uncertainty, and triage.

use causeloop_insights::replay::{replay, HistoryIssue};
use causeloop_insights::{
    recommend, recommended_fix, triage, Advice, Assessment, Model, PatternInsights, Settings, SimilarIssue,
    WorkspaceInsights, DAY_MS, HOLD_DAYS, MAX_FIX_GROUPS, MAX_PATTERN_PENDING, MAX_WORKSPACE_PENDING,
};

/// xorshift64*: deterministic test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn exp_days(&mut self, rate_per_day: f64) -> f64 {
        -(1.0 - self.uniform()).ln() / rate_per_day
    }
}

const T0: i64 = 1_600_000_000_000;

fn true_rate(pattern: u32) -> f64 {
    [1.0 / 200.0, 1.0 / 60.0, 1.0 / 20.0, 1.0 / 5.0][(pattern % 4) as usize]
}

/// Patterns with Poisson openings at rates from 1/200 to 1/5 per day, each Issue resolved a few
/// hours after it opens, fixes from a small vocabulary.
fn synthetic_history(rng: &mut Rng, patterns: u32, days: f64) -> Vec<HistoryIssue<'static>> {
    const FIXES: [&str; 4] = ["restarted the pods", "rolled back the deploy", "increased the pool size", "pod restart"];
    let mut history = Vec::new();
    for pattern in 0..patterns {
        let rate = true_rate(pattern);
        let mut t = rng.exp_days(rate);
        while t < days {
            let opened_at = T0 + (t * DAY_MS as f64) as i64;
            let resolved_at = opened_at + (rng.uniform() * 6.0 * 3_600_000.0) as i64;
            let fix = (rng.uniform() < 0.8).then(|| FIXES[(rng.next() % 4) as usize]);
            history.push(HistoryIssue { pattern, opened_at, resolved_at: Some(resolved_at), fix });
            t += rng.exp_days(rate);
        }
    }
    history.sort_by_key(|i| i.opened_at);
    history
}

/// The labels of the benchmark: another Issue of the Pattern opens in (resolved, resolved + H];
/// `None` when the history ends before the horizon does.
fn labels(history: &[HistoryIssue<'_>], horizon_days: i64) -> Vec<Option<bool>> {
    let last = history.iter().map(|x| x.opened_at).max().unwrap_or(0);
    let mut opens: std::collections::HashMap<u32, Vec<i64>> = std::collections::HashMap::new();
    for x in history {
        opens.entry(x.pattern).or_default().push(x.opened_at);
    }
    for v in opens.values_mut() {
        v.sort_unstable();
    }
    history
        .iter()
        .map(|x| {
            let resolved = x.resolved_at?;
            let end = resolved + horizon_days * DAY_MS;
            if end > last {
                return None;
            }
            let t = &opens[&x.pattern];
            let mut k = t.partition_point(|&o| o <= end) - t.partition_point(|&o| o <= resolved);
            if resolved < x.opened_at && x.opened_at <= end {
                k -= 1;
            }
            Some(k > 0)
        })
        .collect()
}

fn auc(scored: &[(f64, bool)]) -> f64 {
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for &(p, y) in scored {
        if y {
            pos.push(p)
        } else {
            neg.push(p)
        }
    }
    let mut wins = 0.0;
    for &a in &pos {
        for &b in &neg {
            wins += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

fn ece(scored: &[(f64, bool)]) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0.0f64); 10];
    for &(p, y) in scored {
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += p;
        bins[b].2 += f64::from(u8::from(y));
    }
    let n = scored.len() as f64;
    bins.iter().filter(|b| b.0 > 0).map(|b| b.0 as f64 / n * (b.1 / b.0 as f64 - b.2 / b.0 as f64).abs()).sum()
}

#[test]
fn a_prediction_never_changes_when_later_events_are_appended() {
    let mut rng = Rng(7);
    let full = synthetic_history(&mut rng, 12, 400.0);
    let cut = T0 + 200 * DAY_MS;
    // The prefix: everything that happened up to `cut` (a resolution after it is not yet known).
    let prefix: Vec<HistoryIssue<'_>> = full
        .iter()
        .filter(|i| i.opened_at <= cut)
        .map(|i| HistoryIssue { resolved_at: i.resolved_at.filter(|&r| r <= cut), ..i.clone() })
        .collect();
    for model in [Model::Outcomes, Model::Logistic, Model::Rate { half_life_days: 30 }] {
        for calibrate in [false, true] {
            let settings = Settings { model, calibrate };
            let short = replay(settings, &prefix).predictions;
            let long = replay(settings, &full).predictions;
            let long_by_issue: std::collections::HashMap<usize, _> = long.into_iter().collect();
            assert!(short.len() > 50);
            for (i, p) in short {
                // Input indexes agree: `prefix` keeps `full`'s order up to the cut.
                assert_eq!(Some(&p), long_by_issue.get(&i), "{model:?} calibrate={calibrate} issue {i}");
            }
        }
    }
}

#[test]
fn outcomes_are_learned_only_once_determined() {
    let mut ws = WorkspaceInsights::default();
    let mut p = PatternInsights::new();
    ws.issue_opened(&mut p, 1, T0);
    let first = ws.issue_resolved(&mut p, 1, T0 + 3_600_000, Some("restart pods"));
    // It recurs two days later: known now, but the 7-day outcome is determined only after 7 days.
    ws.issue_opened(&mut p, 1, T0 + 2 * DAY_MS);
    let second = ws.issue_resolved(&mut p, 1, T0 + 2 * DAY_MS + 3_600_000, None);
    assert_eq!((second.outcomes_7d, second.outcomes_30d), (0, 0));
    assert_eq!(ws.outcomes()[0].n, 0);
    // After 7 days (strictly) the first resolution's 7-day outcome counts, the 30-day one not.
    let later = ws.predict(&p, T0 + 3_600_000 + 7 * DAY_MS + 1);
    assert_eq!((later.outcomes_7d, later.outcomes_30d), (1, 0));
    let at_edge = ws.predict(&p, T0 + 3_600_000 + 7 * DAY_MS);
    assert_eq!(at_edge.outcomes_7d, 0, "an opening at the horizon's last instant could still count");
    assert!(first.p_7d > 0.0 && first.p_7d < 1.0);
}

#[test]
fn predictions_are_calibrated_and_rank_patterns_by_how_often_they_come_back() {
    let mut rng = Rng(42);
    let history = synthetic_history(&mut rng, 40, 1500.0);
    let replayed = replay(Settings::default(), &history);
    for (h, max_ece) in [(7, 0.04), (30, 0.05)] {
        let label = labels(&history, h);
        let scored: Vec<(f64, bool)> = replayed
            .predictions
            .iter()
            .filter(|(i, _)| history[*i].opened_at > T0 + 365 * DAY_MS)
            .filter_map(|(i, p)| label[*i].map(|y| (p.p(h).unwrap(), y)))
            .collect();
        assert!(scored.len() > 3000, "{}", scored.len());
        let oracle: Vec<(f64, bool)> = replayed
            .predictions
            .iter()
            .filter(|(i, _)| history[*i].opened_at > T0 + 365 * DAY_MS)
            .filter_map(|(i, _)| label[*i].map(|y| (true_rate(history[*i].pattern), y)))
            .collect();
        let (a, e, best) = (auc(&scored), ece(&scored), auc(&oracle));
        let mean_p = scored.iter().map(|s| s.0).sum::<f64>() / scored.len() as f64;
        let rate = scored.iter().filter(|s| s.1).count() as f64 / scored.len() as f64;
        assert!(e < max_ece, "H={h}: ECE {e:.3}, mean p {mean_p:.3}, positive rate {rate:.3}");
        assert!(a > best - 0.03, "H={h}: AUC {a:.3}, knowing the true rates {best:.3}");
        assert!((mean_p - rate).abs() < 0.02, "H={h}: mean p {mean_p:.3}, positive rate {rate:.3}");
    }
}

#[test]
fn a_pattern_seen_once_gets_the_workspace_prior() {
    let mut rng = Rng(3);
    let history = synthetic_history(&mut rng, 20, 600.0);
    let mut replayed = replay(Settings::default(), &history);
    let ws = &mut replayed.workspace;
    let now = history.iter().filter_map(|i| i.resolved_at).max().unwrap() + DAY_MS;
    let mut fresh = PatternInsights::new();
    ws.issue_opened(&mut fresh, 999, now);
    let p = ws.issue_resolved(&mut fresh, 999, now + 3_600_000, None);
    let rate = ws.rate_per_day(now);
    assert!((p.rate_per_day - rate).abs() / rate < 0.01, "{} vs {rate}", p.rate_per_day);
    // Gamma(1, 1/rate) predictive: 1 - 1/(1 + rate·H).
    let expected = 1.0 - 1.0 / (1.0 + rate * 7.0);
    assert!((p.p_7d - expected).abs() < 0.01, "{} vs {expected}", p.p_7d);
    assert_eq!(p.outcomes_7d, 0);
    // A busy pattern of the same workspace gets a higher probability than the newcomer.
    let busy = &replayed.patterns[3];
    assert!(replayed.workspace.predict(busy, now).p_7d > p.p_7d);
}

#[test]
fn state_stays_bounded_under_many_patterns_fixes_and_resolutions() {
    // (settings, bound on the workspace's JSON): the logistic model keeps features per pending
    // prediction.
    for (settings, ws_bound) in
        [(Settings::default(), 64_000), (Settings { model: Model::Logistic, calibrate: true }, 128_000)]
    {
        let mut ws = WorkspaceInsights::new(settings);
        let mut patterns: Vec<PatternInsights> = vec![PatternInsights::new(); 100];
        // 5,000 resolutions within a day, each with a new fix text of 60 words.
        for i in 0..5_000u64 {
            let key = i % 100;
            let at = T0 + (i as i64) * 10_000;
            let p = &mut patterns[key as usize];
            ws.issue_opened(p, key, at);
            let fix: String = (0..60).map(|w| format!("step{i}x{w} ")).collect();
            ws.issue_resolved(p, key, at + 1_000, Some(&fix));
        }
        let big = patterns.iter().map(|p| serde_json::to_vec(p).unwrap().len()).max().unwrap();
        for p in &patterns {
            assert!(p.fixes.len() <= MAX_FIX_GROUPS);
            assert!(p.fixes.iter().all(|g| g.variants.len() <= causeloop_insights::fixes::MAX_VARIANTS));
        }
        assert!(big < 16_000, "a pattern's state serializes to {big} bytes");
        let ws_bytes = serde_json::to_vec(&ws).unwrap().len();
        assert!(ws_bytes < ws_bound, "the workspace state serializes to {ws_bytes} bytes");
        assert_eq!(ws.untracked_predictions, 5_000 - MAX_WORKSPACE_PENDING as u64);
        // The state round-trips.
        // The state round-trips (compared as JSON: decimal floats need not round-trip bit for bit).
        let json = serde_json::to_string(&ws).unwrap();
        let back: WorkspaceInsights = serde_json::from_str(&json).unwrap();
        assert!(serde_json::to_string(&back).unwrap() == json);
        let json = serde_json::to_string(&patterns[0]).unwrap();
        let back: PatternInsights = serde_json::from_str(&json).unwrap();
        assert!(serde_json::to_string(&back).unwrap() == json);
    }
    // One Pattern resolved 1,000 times with no opening in between: the pending list is bounded.
    let mut ws = WorkspaceInsights::default();
    let mut one = PatternInsights::new();
    ws.issue_opened(&mut one, 5_000, T0);
    for i in 0..1_000 {
        ws.issue_resolved(&mut one, 5_000, T0 + i, Some("restart pods"));
    }
    assert_eq!(one.untracked_resolutions, 1_000 - MAX_PATTERN_PENDING as u64);
    assert!(serde_json::to_vec(&one).unwrap().len() < 4_000);
}

/// Resolves one Issue of `pattern` at `at` with `fix`; the next Issue opens after `gap_days`.
fn resolve_then_open(
    ws: &mut WorkspaceInsights,
    p: &mut PatternInsights,
    at: i64,
    fix: Option<&str>,
    gap_days: f64,
) -> i64 {
    ws.issue_resolved(p, 1, at, fix);
    let next = at + (gap_days * DAY_MS as f64) as i64;
    ws.issue_opened(p, 1, next);
    next + 3_600_000
}

#[test]
fn the_truly_better_fix_is_recommended_not_the_most_frequent_one() {
    // "restart" is used 70% of the time and holds 40%; "raise the pool size" is used 30% and
    // holds 90%. After a failure the Pattern comes back within 30 days; after a hold, later.
    let mut rng = Rng(11);
    let mut ws = WorkspaceInsights::default();
    let mut p = PatternInsights::new();
    ws.issue_opened(&mut p, 1, T0);
    let mut at = T0 + 3_600_000;
    let mut used = [0u32; 2];
    for i in 0..300 {
        let better = rng.uniform() < 0.3;
        let (fix, hold) = if better {
            (["raised the pool size", "increase pool size", "pool size raised to 50"][i % 3], 0.9)
        } else {
            (["Restarted the pods", "pod restart", "restart of api pods"][i % 3], 0.4)
        };
        used[usize::from(better)] += 1;
        let gap = if rng.uniform() < hold { 31.0 + rng.uniform() * 20.0 } else { 1.0 + rng.uniform() * 25.0 };
        at = resolve_then_open(&mut ws, &mut p, at, Some(fix), gap);
    }
    let now = at + 60 * DAY_MS;
    let ranked = recommend(&ws, &p, now);
    assert_eq!(ranked.len(), 2, "three spellings each make one group: {ranked:?}");
    let best = &ranked[0];
    assert!(best.key.contains("pool"), "{ranked:#?}");
    let most_frequent = ranked.iter().max_by_key(|f| f.resolutions).unwrap();
    assert!(most_frequent.key.contains("restart"));
    assert!(used[0] > used[1]);
    assert_eq!(recommended_fix(&ws, &p, now).unwrap().fix_id, best.fix_id);
    assert!(best.hold_rate.unwrap() > 0.8 && most_frequent.hold_rate.unwrap() < 0.5);
}

#[test]
fn two_of_two_is_not_surely_better_than_forty_five_of_fifty() {
    let mut ws = WorkspaceInsights::default();
    let mut p = PatternInsights::new();
    ws.issue_opened(&mut p, 1, T0);
    let mut at = T0 + 3_600_000;
    for i in 0..50 {
        let gap = if i < 45 { 40.0 } else { 5.0 };
        at = resolve_then_open(&mut ws, &mut p, at, Some("roll back the deploy"), gap);
    }
    for _ in 0..2 {
        at = resolve_then_open(&mut ws, &mut p, at, Some("flush the cache"), 40.0);
    }
    let ranked = recommend(&ws, &p, at + 40 * DAY_MS);
    assert_eq!((ranked[0].key.as_str(), ranked[0].held, ranked[0].failed), ("deploy rollback", 45, 5));
    assert_eq!((ranked[1].held, ranked[1].failed), (2, 0));
    assert_eq!(ranked[1].hold_rate, Some(1.0));
    assert!(ranked[1].posterior_mean < 1.0 && ranked[1].lower_bound < ranked[0].lower_bound);
}

#[test]
fn pending_outcomes_count_neither_way_and_fixless_resolutions_count_only_for_recurrence() {
    let mut ws = WorkspaceInsights::default();
    let mut p = PatternInsights::new();
    ws.issue_opened(&mut p, 1, T0);
    ws.issue_resolved(&mut p, 1, T0 + 1, Some("restart the pods"));
    let f = &recommend(&ws, &p, T0 + 10 * DAY_MS)[0];
    assert_eq!((f.resolutions, f.held, f.failed, f.pending, f.hold_rate), (1, 0, 0, 1, None));
    // 30 days on, no recurrence: it held.
    let f = &recommend(&ws, &p, T0 + 1 + HOLD_DAYS * DAY_MS + 1)[0];
    assert_eq!((f.held, f.failed, f.pending), (1, 0, 0));
    assert!(recommended_fix(&ws, &p, T0 + 10 * DAY_MS).is_none(), "nothing determined yet");
    // A resolution without a fix, then a recurrence: a failure for no fix group.
    ws.issue_opened(&mut p, 1, T0 + 40 * DAY_MS);
    ws.issue_resolved(&mut p, 1, T0 + 40 * DAY_MS + 1, None);
    ws.issue_resolved(&mut p, 1, T0 + 40 * DAY_MS + 2, Some("   "));
    ws.issue_opened(&mut p, 1, T0 + 45 * DAY_MS);
    assert_eq!((p.unfixed.resolutions, p.unfixed.failed), (2, 2));
    assert_eq!(p.fixes.len(), 1);
    assert_eq!(p.fixes[0].resolutions, 1);
    assert_eq!(p.recurrences, 1);
}

#[test]
fn fix_groups_per_pattern_are_bounded_and_the_weakest_gives_way() {
    let mut ws = WorkspaceInsights::default();
    let mut p = PatternInsights::new();
    ws.issue_opened(&mut p, 1, T0);
    for _ in 0..5 {
        ws.issue_resolved(&mut p, 1, T0 + 1, Some("restart pods"));
    }
    for i in 0..100 {
        ws.issue_resolved(&mut p, 1, T0 + 2 + i, Some(&format!("alpha{i}x beta{i}y")));
    }
    assert_eq!(p.fixes.len(), MAX_FIX_GROUPS);
    assert!(p.fixes.iter().any(|g| g.key == "pod restart" && g.resolutions == 5));
}

#[test]
fn triage_puts_the_pieces_together() {
    let mut ws = WorkspaceInsights::default();
    let mut p = PatternInsights::new();
    ws.issue_opened(&mut p, 1, T0);
    let mut at = T0 + 3_600_000;
    for i in 0..12 {
        let (fix, gap) = if i % 2 == 0 { ("restart the pods", 3.0) } else { ("rolled back the deploy", 45.0) };
        at = resolve_then_open(&mut ws, &mut p, at, Some(fix), gap);
    }
    let now = at;
    let prediction = ws.predict(&p, now);
    let best = recommended_fix(&ws, &p, now);
    let similar: Vec<SimilarIssue> = (0..8)
        .map(|i| SimilarIssue {
            issue_id: format!("iss_{}", i % 7),
            title: format!("db timeout {i}"),
            similarity: f64::from(i) / 10.0,
            resolved_at: Some(T0 + i64::from(i) * DAY_MS),
            fix: Some(if i % 2 == 0 { "pod restart" } else { "something else entirely" }.to_string()),
            fix_id: Some(77),
            fix_hold_rate: Some(0.123),
        })
        .collect();
    let t = triage(&p, &similar, best.as_ref(), &prediction, now);
    assert_eq!(t.similar.len(), 5);
    assert_eq!(t.similar[0].issue_id, "iss_0", "iss_0 appears twice (0.0 and 0.7): once, at its best score");
    assert!(t.similar.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    let restart = p.fixes.iter().find(|g| g.key == "pod restart").unwrap();
    for s in &t.similar {
        if s.fix.as_deref() == Some("pod restart") {
            assert_eq!(s.fix_id, Some(restart.id));
            assert!(s.fix_hold_rate.unwrap() < 0.2);
        } else {
            assert_eq!((s.fix_id, s.fix_hold_rate), (None, None));
        }
    }
    assert_eq!(t.recommended_fix.as_ref().unwrap().key, "deploy rollback");
    assert_eq!(t.advice, Advice::ApplyRecommendedFix, "held 6 of 6 where the other fix failed 6 of 6");
    assert_eq!(t.pattern.issues_opened, 13);
    assert!(matches!(t.assessment, Assessment::Recurring | Assessment::Chronic));
    let json = serde_json::to_value(&t).unwrap();
    assert!(json["recurrence"]["p_7d"].is_f64() && json["advice"].is_string());
    let back: causeloop_insights::Triage = serde_json::from_value(json).unwrap();
    assert_eq!(back, t);

    let mut lone = PatternInsights::new();
    ws.issue_opened(&mut lone, 2, now);
    let t = triage(&lone, &[], None, &ws.predict(&lone, now), now);
    assert_eq!((t.assessment, t.advice), (Assessment::New, Advice::Monitor));
    assert!(t.similar.is_empty() && t.recommended_fix.is_none());
}

#[test]
fn a_late_opening_counts_no_second_recurrence_and_learned_outcomes_stay() {
    let mut ws = WorkspaceInsights::default();
    let mut p = PatternInsights::new();
    ws.issue_opened(&mut p, 1, T0);
    ws.issue_resolved(&mut p, 1, T0 + 1, Some("restart pods"));
    ws.issue_opened(&mut p, 1, T0 + 20 * DAY_MS);
    // Reported after the one above, though it opened on day 3. The 7-day outcome was learned
    // (no recurrence) when day 20 was reported, and is not revisited; the fix failed once.
    ws.issue_opened(&mut p, 1, T0 + 3 * DAY_MS);
    assert_eq!((p.recurrences, p.fixes[0].failed, p.opened), (1, 1, 3));
    let later = T0 + 40 * DAY_MS;
    let outcomes = p.outcomes_at(later);
    assert_eq!((outcomes[0].n, outcomes[0].k, outcomes[1].n, outcomes[1].k), (1, 0, 1, 1));
    ws.issue_opened(&mut p, 1, later);
    assert_eq!(ws.outcomes(), outcomes);
}

#[test]
fn merged_patterns_keep_their_history_and_pending_outcomes() {
    let mut ws = WorkspaceInsights::default();
    let (mut a, mut b) = (PatternInsights::new(), PatternInsights::new());
    ws.issue_opened(&mut a, 1, T0);
    ws.issue_resolved(&mut a, 1, T0 + 1, Some("restart pods"));
    ws.issue_opened(&mut b, 2, T0 + DAY_MS);
    ws.issue_resolved(&mut b, 2, T0 + DAY_MS + 1, Some("pod restart"));
    ws.merge_patterns(&mut a, 1, b, 2);
    assert_eq!((a.opened, a.resolved, a.fixes.len()), (2, 2, 1));
    assert_eq!(a.fixes[0].resolutions, 2);
    assert_eq!(ws.patterns, 1);
    // An opening of the merged Pattern is a recurrence for both earlier resolutions.
    ws.issue_opened(&mut a, 1, T0 + 3 * DAY_MS);
    assert_eq!(a.fixes[0].failed, 2);
    let later = ws.predict(&a, T0 + 40 * DAY_MS);
    assert_eq!(later.outcomes_7d, 2);
    ws.issue_opened(&mut a, 1, T0 + 40 * DAY_MS);
    assert_eq!(ws.outcomes()[0].k, 2, "the workspace's pending predictions of b now follow a");
}
