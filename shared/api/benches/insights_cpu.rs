//! CPU cost of the cluster worker's Insights step per Issue, without I/O: decoding and encoding
//! the workspace and Pattern states, counting the Issue's opening and resolution, its prediction,
//! its triage, and serializing the Issue for the transaction and the `issue.triaged` event.
//! `cargo bench -p causeloop-api --bench insights_cpu`

use causeloop_api::insights_view::{issue_prediction, triage_view};
use causeloop_domain::ids::PatternId;
use causeloop_domain::WorkspaceId;
use causeloop_insights::WorkspaceInsights;
use causeloop_storage::insights::{pattern_key, PastResolution, PatternInsightsRecord};
use std::hint::black_box;

mod common;
use common::measure;

const DAY_MS: i64 = 86_400_000;
const FIXES: [&str; 4] =
    ["Restarted the api pods", "raised the connection pool size", "rolled back the deploy", "pod restart"];

/// A workspace with `patterns` Patterns, each with `per_pattern` resolved Issues a few days apart.
fn history(
    workspace: &WorkspaceId,
    patterns: usize,
    per_pattern: usize,
) -> (WorkspaceInsights, Vec<PatternInsightsRecord>) {
    let mut insights = WorkspaceInsights::default();
    let mut records: Vec<PatternInsightsRecord> = (0..patterns)
        .map(|p| {
            let id = PatternId::for_engine_id(workspace, p as u64);
            PatternInsightsRecord::new(id.clone(), pattern_key(&id))
        })
        .collect();
    let start = 1_600_000_000_000_i64;
    for n in 0..per_pattern {
        for (p, record) in records.iter_mut().enumerate() {
            let opened = start + (n as i64 * 9 + p as i64 % 7) * DAY_MS;
            let key = record.key;
            insights.issue_opened(&mut record.insights, key, opened);
            let fix = FIXES[(n + p) % FIXES.len()];
            insights.issue_resolved(&mut record.insights, key, opened + 3_600_000, Some(fix));
            record.remember(PastResolution::new(
                &format!("iss_{p}_{n}"),
                "Connection pool exhausted on api-3",
                opened,
                Some(fix),
            ));
        }
    }
    (insights, records)
}

fn main() {
    let workspace = WorkspaceId::random(1_795_507_200_000, [7; 10]);
    let (insights, records) = history(&workspace, 200, 40);
    let workspace_json = serde_json::to_string(&insights).unwrap();
    let pattern_json = serde_json::to_string(&records[0]).unwrap();
    println!("workspace state {} bytes, a Pattern's {} bytes", workspace_json.len(), pattern_json.len());
    let issue = serde_json::json!({"id": "iss_x", "title": "Connection pool exhausted on api-7: 42 waiters"});
    let at = 1_600_000_000_000_i64 + 400 * DAY_MS;

    // One Issue, as the worker handles it when it is alone in its batch: the states are decoded
    // and encoded around it.
    measure("one Issue, states decoded and encoded (batch of 1)", 2_000, || {
        let mut insights: WorkspaceInsights = serde_json::from_str(&workspace_json).unwrap();
        let mut record: PatternInsightsRecord = serde_json::from_str(&pattern_json).unwrap();
        let key = record.key;
        insights.issue_opened(&mut record.insights, key, at);
        let made = insights.issue_resolved(&mut record.insights, key, at + 3_600_000, Some("restarted the api pods"));
        let triage = triage_view(&insights, &record, "iss_x", issue["title"].as_str().unwrap(), &made, at);
        let prediction = issue_prediction(&made, "2026-11-24T07:00:00.000Z");
        black_box((serde_json::to_string(&insights).unwrap(), serde_json::to_string(&record).unwrap()));
        black_box((serde_json::to_string(&triage).unwrap(), prediction));
    });
    // The per-Issue part alone (what a batch of many Issues pays per Issue on top of one decode
    // and encode of the states).
    let mut insights = insights;
    let mut record = records[0].clone();
    let mut n = 0_i64;
    measure("per Issue: opening, resolution with a fix, prediction, triage", 5_000, || {
        n += 1;
        let key = record.key;
        let t = at + n * DAY_MS;
        insights.issue_opened(&mut record.insights, key, t);
        let made = insights.issue_resolved(&mut record.insights, key, t + 3_600_000, Some(FIXES[n as usize % 4]));
        let triage = triage_view(&insights, &record, "iss_x", issue["title"].as_str().unwrap(), &made, t);
        black_box(serde_json::to_string(&triage).unwrap());
    });
}
