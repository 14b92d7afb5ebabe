//! CPU per Insights operation, without I/O: `cargo run --release -p causeloop-insights --example bench`.
//!
//! A synthetic workspace (200 Patterns with Poisson openings at rates from one per 200 days to one
//! per 5 days, each Issue resolved a few hours after it opens, 80% with a fix from a vocabulary of
//! short texts and long status-page-like ones) is replayed; every operation is timed in a loop
//! and reported as nanoseconds per operation (the best of 5 runs).

use causeloop_insights::replay::{events, HistoryIssue};
use causeloop_insights::{recommend, triage, PatternInsights, Settings, SimilarIssue, WorkspaceInsights, DAY_MS};
use std::hint::black_box;
use std::time::Instant;

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
}

const LONG_FIX: &str = "The issue with Google Cloud Networking experiencing increased packet loss to instances in \
the us-east1 region has been resolved for all affected users as of Thursday, 2019-01-17 08:46 US/Pacific. We \
will conduct an internal investigation of this issue and make appropriate improvements to our systems to help \
prevent or minimize future recurrence. We will provide a more detailed analysis of this incident once we have \
completed our internal investigation.";

fn history(rng: &mut Rng, patterns: u32, days: f64) -> Vec<HistoryIssue<'static>> {
    const FIXES: [&str; 6] = [
        "restarted the pods",
        "rolled back the deploy",
        "increased the pool size",
        "pod restart",
        LONG_FIX,
        "flushed the cache",
    ];
    let mut out = Vec::new();
    for pattern in 0..patterns {
        let rate = [1.0 / 200.0, 1.0 / 60.0, 1.0 / 20.0, 1.0 / 5.0][(pattern % 4) as usize];
        let mut t = -(1.0 - rng.uniform()).ln() / rate;
        while t < days {
            let opened_at = 1_600_000_000_000 + (t * DAY_MS as f64) as i64;
            let resolved_at = opened_at + (rng.uniform() * 6.0 * 3_600_000.0) as i64;
            let fix = (rng.uniform() < 0.8).then(|| FIXES[(rng.next() % 6) as usize]);
            out.push(HistoryIssue { pattern, opened_at, resolved_at: Some(resolved_at), fix });
            t += -(1.0 - rng.uniform()).ln() / rate;
        }
    }
    out.sort_by_key(|i| i.opened_at);
    out
}

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let started = Instant::now();
        let ops = f();
        best = best.min(started.elapsed().as_nanos() as f64 / ops as f64);
    }
    best
}

fn main() {
    let mut rng = Rng(1);
    let history = history(&mut rng, 200, 1500.0);
    let order = events(&history);
    let resolutions = history.iter().filter(|i| i.resolved_at.is_some()).count();
    println!("synthetic history: {} Issues, {} events, 200 Patterns, 1,500 days", history.len(), order.len());

    // Full replay: every opening and resolution through the state, the prediction included.
    let replay_all = |history: &[HistoryIssue<'_>]| {
        let mut patterns = vec![PatternInsights::new(); 200];
        let mut ws = WorkspaceInsights::new(Settings::default());
        for &(at, kind, i) in &order {
            let issue = &history[i];
            let p = &mut patterns[issue.pattern as usize];
            if kind == 0 {
                ws.issue_opened(p, u64::from(issue.pattern), at);
            } else {
                black_box(ws.issue_resolved(p, u64::from(issue.pattern), at, issue.fix));
            }
        }
        (ws, patterns)
    };
    let mut final_state = None;
    let per_event = best_of(5, || {
        final_state = Some(replay_all(&history));
        order.len()
    });
    println!("replay, per event (opening or resolution):   {per_event:>8.0} ns");
    println!(
        "replay, per Issue (opening + resolution):     {:>8.0} ns",
        per_event * order.len() as f64 / history.len() as f64
    );
    // The same replay with one kind of fix text on every resolution.
    for (name, fix) in [("no fix", None), ("short fix", Some("restarted the api pods")), ("long fix", Some(LONG_FIX))] {
        let same: Vec<HistoryIssue<'_>> = history.iter().map(|i| HistoryIssue { fix, ..i.clone() }).collect();
        let per_event = best_of(5, || {
            black_box(replay_all(&same));
            order.len()
        });
        println!(
            "replay, {name:<10} on every resolution, per Issue: {:>8.0} ns",
            per_event * order.len() as f64 / history.len() as f64
        );
    }

    let (ws, patterns) = final_state.expect("ran");
    let now = history.iter().filter_map(|i| i.resolved_at).max().unwrap_or(0) + 1;
    let predict = best_of(5, || {
        for _ in 0..50 {
            for p in &patterns {
                black_box(ws.predict(p, now));
            }
        }
        50 * patterns.len()
    });
    println!("predict (pure read):                          {predict:>8.0} ns");

    let rec = best_of(5, || {
        for p in &patterns {
            black_box(recommend(&ws, p, now));
        }
        patterns.len()
    });
    println!("recommend (all fix groups of a Pattern):      {rec:>8.0} ns");
    let similar: Vec<SimilarIssue> = (0..5)
        .map(|i| SimilarIssue {
            issue_id: format!("iss_{i}"),
            title: "db timeout".into(),
            similarity: 0.9 - f64::from(i) / 10.0,
            resolved_at: Some(now - i64::from(i) * DAY_MS),
            fix: Some("restarted the pods".into()),
            fix_id: None,
            fix_hold_rate: None,
        })
        .collect();
    let tri = best_of(5, || {
        for p in &patterns {
            let prediction = ws.predict(p, now);
            let best = recommend(&ws, p, now).into_iter().next();
            black_box(triage(p, &similar, best.as_ref(), &prediction, now));
        }
        patterns.len()
    });
    println!("triage (predict + recommend + triage):        {tri:>8.0} ns");
    let sizes: Vec<usize> = patterns.iter().map(|p| serde_json::to_vec(p).map_or(0, |v| v.len())).collect();
    println!(
        "state: workspace {} bytes of JSON; Pattern median {} / max {} bytes; {} resolutions",
        serde_json::to_vec(&ws).map_or(0, |v| v.len()),
        {
            let mut s = sizes.clone();
            s.sort_unstable();
            s[s.len() / 2]
        },
        sizes.iter().max().copied().unwrap_or(0),
        resolutions
    );
}
