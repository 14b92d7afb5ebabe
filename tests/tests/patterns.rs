//! Patterns end to end, over real HTTP on both backends: ingested Issues come back from the
//! patterns API grouped by root cause, merged ids keep answering, and the pattern events fire.

use causeloop_tests::{both_backends, TestApp};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const NAMES: [&str; 10] = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];

/// Ten records for each of three root causes, with varying numbers, ids, hosts and user names.
fn record(cause: usize, n: usize) -> Value {
    let (title, service) = match cause {
        0 => (format!("Disk full on db-{n} volume /var/lib/data{n} at {}%", 90 + n), "storage"),
        1 => (format!("Timeout after {}ms calling payments-api request req-{n}x{}", 100 * n + 7, n * 31), "checkout"),
        // Plain words vary here: the engine first sees distinct patterns, then merges them.
        _ => (format!("User {} failed login from 10.0.{n}.{}", NAMES[n], n + 1), "auth"),
    };
    json!({"source": "custom_api", "external_id": format!("c{cause}-{n}"), "title": title, "service": service})
}

async fn ingest_and_wait(app: &TestApp, records: Vec<Value>) {
    let (status, body) = app.post("/v1/ingest/batch", &app.owner.key, &json!({"records": records})).await;
    assert_eq!(status, 202, "{body}");
    app.wait_for_job(body["job_id"].as_str().unwrap()).await;
}

async fn patterns_group_ingested_issues(app: TestApp) {
    let key = &app.owner.key;
    // Three user names first: three distinct patterns, whose ids their Issues keep. The fourth
    // name makes that position a variable and the engine merges them (within one worker batch
    // a merge resolves before any id is written, so the split makes aliases certain).
    let all: Vec<(usize, usize)> = (0..10).flat_map(|n| (0..3).map(move |cause| (cause, n))).collect();
    let early = |&(cause, n): &(usize, usize)| cause < 2 || n < 3;
    ingest_and_wait(&app, all.iter().filter(|at| early(at)).map(|&(cause, n)| record(cause, n)).collect()).await;
    ingest_and_wait(&app, all.iter().filter(|at| !early(at)).map(|&(cause, n)| record(cause, n)).collect()).await;

    // Three patterns, ten Issues each.
    let (status, listed) = app.get("/v1/patterns", key).await;
    assert_eq!(status, 200, "{listed}");
    let patterns = listed["data"].as_array().unwrap();
    assert_eq!(patterns.len(), 3, "{listed:#}");
    assert!(patterns.iter().all(|p| p["issue_count"] == 10), "{listed:#}");
    let live: BTreeSet<String> = patterns.iter().map(|p| p["id"].as_str().unwrap().to_string()).collect();
    assert!(live.iter().all(|id| id.starts_with("pat_")));

    // Every Issue names its pattern; each cause is exactly one pattern; merged ids resolve.
    let mut by_cause: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut aliases = BTreeSet::new();
    let (_, page) = app.get("/v1/issues?limit=200", key).await;
    let all_issues = page["data"].as_array().unwrap();
    assert_eq!(all_issues.len(), 30);
    for cause in 0..3 {
        for n in 0..10 {
            let issue = all_issues.iter().find(|issue| issue["external_id"] == format!("c{cause}-{n}")).unwrap();
            let (status, single) = app.get(&format!("/v1/issues/{}", issue["id"].as_str().unwrap()), key).await;
            assert_eq!(status, 200);
            let named = single["pattern_id"].as_str().expect("pattern_id on the Issue").to_string();
            let (status, pattern) = app.get(&format!("/v1/patterns/{named}"), key).await;
            assert_eq!(status, 200, "{pattern}");
            let survivor = pattern["id"].as_str().unwrap().to_string();
            assert!(live.contains(&survivor), "{named} answers with a live pattern");
            if named != survivor {
                aliases.insert(named);
            }
            by_cause.entry(cause).or_default().insert(survivor);
        }
    }
    assert!(by_cause.values().all(|ids| ids.len() == 1), "{by_cause:?}");
    assert_eq!(by_cause.values().flatten().collect::<BTreeSet<_>>().len(), 3, "three causes, three patterns");
    assert!(!aliases.is_empty(), "the user-name cause was merged, so some Issues name a merged-away id");
    let auth = by_cause[&2].iter().next().unwrap().clone();
    let (_, auth_pattern) = app.get(&format!("/v1/patterns/{auth}"), key).await;
    assert!(auth_pattern["template"].as_str().unwrap().starts_with("User <*> failed login"), "{auth_pattern}");
    assert_eq!(auth_pattern["services"], json!(["auth"]));
    assert_eq!(auth_pattern["sources"], json!(["custom_api"]));
    assert_eq!(auth_pattern["sample_issues"].as_array().unwrap().len(), 5);
    for alias in &aliases {
        assert!(auth_pattern["aliases"].as_array().unwrap().contains(&json!(alias)), "{auth_pattern}");
    }

    // A pattern's Issues, paginated; through an alias too.
    let mut members = BTreeSet::new();
    let mut path = format!("/v1/patterns/{}/issues?limit=4", aliases.iter().next().unwrap());
    loop {
        let (status, page) = app.get(&path, key).await;
        assert_eq!(status, 200, "{page}");
        for issue in page["data"].as_array().unwrap() {
            assert!(members.insert(issue["external_id"].as_str().unwrap().to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/patterns/{auth}/issues?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(members, (0..10).map(|n| format!("c2-{n}")).collect::<BTreeSet<_>>());

    // Sorting, filters and bad parameters.
    let (_, storage) = app.get("/v1/patterns?service=storage", key).await;
    assert_eq!(storage["data"].as_array().unwrap().len(), 1);
    assert_eq!(storage["data"][0]["id"], by_cause[&0].iter().next().unwrap().as_str());
    let (_, none) = app.get("/v1/patterns?source=jira", key).await;
    assert_eq!(none["data"], json!([]));
    let (_, future) = app.get("/v1/patterns?since=2999-01-01T00:00:00Z", key).await;
    assert_eq!(future["data"], json!([]));
    let (_, by_count) = app.get("/v1/patterns?sort=count&limit=2", key).await;
    assert_eq!(by_count["data"].as_array().unwrap().len(), 2);
    let cursor = by_count["next_cursor"].as_str().expect("a third pattern remains").to_string();
    let (_, rest) = app.get(&format!("/v1/patterns?sort=count&limit=2&cursor={cursor}"), key).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    // A present `sort` or `since` must be valid: empty is rejected, not read as the default.
    for bad in ["sort=size", "sort=", "since=yesterday", "since=", "limit=0", "cursor=zzz"] {
        let (status, body) = app.get(&format!("/v1/patterns?{bad}"), key).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["field"], bad.split('=').next().unwrap(), "{bad}: {body}");
    }

    // Tenancy and scopes: foreign, unknown and malformed ids are the same 404.
    let stranger = app.key("stranger-workspace", "issues:read").await;
    let (status, _) = app.get(&format!("/v1/patterns/{auth}"), &stranger.key).await;
    assert_eq!(status, 404);
    let (_, theirs) = app.get("/v1/patterns", &stranger.key).await;
    assert_eq!(theirs["data"], json!([]));
    let (status, _) = app.get(&format!("/v1/patterns/{auth}/issues"), &stranger.key).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/v1/patterns/pat_00000000000000000000000000", key).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/v1/patterns/not-an-id", key).await;
    assert_eq!(status, 404);
    let writer = app.key(&app.owner_slug, "ingest:write").await;
    let (status, body) = app.get("/v1/patterns", &writer.key).await;
    assert_eq!((status, body["required_scope"].as_str()), (403, Some("issues:read")));

    // pattern.detected for each pattern, with the pattern in the envelope.
    let events = app.drain_events().await;
    let detected: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "pattern.detected").collect();
    let mut detected_patterns = BTreeSet::new();
    for event in &detected {
        let (_, pattern) =
            app.get(&format!("/v1/patterns/{}", event["data"]["pattern"]["id"].as_str().unwrap()), key).await;
        detected_patterns.insert(pattern["id"].as_str().unwrap().to_string());
    }
    assert_eq!(detected_patterns, live, "every pattern was announced");
    assert!(events.iter().all(|e| e["event_type"] != "pattern.recurring"));

    // A repeat of an Issue keeps its pattern, and the ingest answer names it.
    let (status, repeat) = app.post("/v1/ingest/events", key, &record(0, 3)).await;
    assert_eq!(status, 202);
    let repeat_pattern = repeat["pattern_id"].as_str().expect("the ingest answer names the known pattern");
    let (_, pattern) = app.get(&format!("/v1/patterns/{repeat_pattern}"), key).await;
    assert_eq!(pattern["id"].as_str(), by_cause[&0].iter().next().map(String::as_str));

    // pattern.recurring: every Issue of the disk pattern resolved, then a new one arrives.
    let (_, page) = app.get("/v1/issues?service=storage&limit=200", key).await;
    for issue in page["data"].as_array().unwrap() {
        let url = app.url(&format!("/v1/issues/{}", issue["id"].as_str().unwrap()));
        let response = app.http.patch(url).bearer_auth(key).json(&json!({"status": "resolved"})).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    ingest_and_wait(&app, vec![record(0, 11), record(1, 11)]).await;
    let events = app.drain_events().await;
    let recurring: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "pattern.recurring").collect();
    assert_eq!(recurring.len(), 1, "only the pattern whose Issues were all resolved recurs: {events:#?}");
    assert_eq!(recurring[0]["data"]["pattern"]["id"].as_str(), by_cause[&0].iter().next().map(String::as_str));
    assert_eq!(recurring[0]["data"]["pattern"]["recurrences"], 1);
    let (_, storage) = app.get("/v1/patterns?service=storage", key).await;
    assert_eq!(storage["data"][0]["issue_count"], 11);
}
both_backends!(patterns_group_ingested_issues_end_to_end, patterns_group_ingested_issues);

async fn patch_status(app: &TestApp, issue_id: &str, status: &str) {
    let url = app.url(&format!("/v1/issues/{issue_id}"));
    let response =
        app.http.patch(url).bearer_auth(&app.owner.key).json(&json!({"status": status})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

async fn recurring_events(app: &TestApp) -> usize {
    app.drain_events().await.iter().filter(|e| e["event_type"] == "pattern.recurring").count()
}

/// Reopening an Issue by hand counts for the recurrence rule like any open Issue: a pattern with
/// an open Issue does not "recur" when it gains another.
async fn a_reopened_issue_keeps_its_pattern_open(app: TestApp) {
    let issue_id = |n: usize| {
        let app = &app;
        async move {
            let (_, page) = app.get("/v1/issues?service=storage&limit=200", &app.owner.key).await;
            let wanted = format!("c0-{n}");
            let issue = page["data"].as_array().unwrap().iter().find(|i| i["external_id"] == wanted.as_str()).cloned();
            issue.expect("ingested")["id"].as_str().unwrap().to_string()
        }
    };
    ingest_and_wait(&app, vec![record(0, 1)]).await;
    let x = issue_id(1).await;
    patch_status(&app, &x, "resolved").await;
    ingest_and_wait(&app, vec![record(0, 2)]).await;
    assert_eq!(recurring_events(&app).await, 1, "every Issue was resolved, then a new one came");
    let y = issue_id(2).await;
    patch_status(&app, &y, "resolved").await;
    patch_status(&app, &x, "open").await;
    ingest_and_wait(&app, vec![record(0, 3)]).await;
    assert_eq!(recurring_events(&app).await, 0, "the reopened Issue is open: no recurrence");
}
both_backends!(a_reopened_issue_keeps_its_pattern_open_end_to_end, a_reopened_issue_keeps_its_pattern_open);
