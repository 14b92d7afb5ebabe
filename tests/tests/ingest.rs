//! The ingestion API over real HTTP, on both backends: dedup, batches, job status, events,
//! every bad-input rule, idempotent retries, and a batch that crashes half way.

use causeloop_tests::faults::{CrashAfterWrites, LoseNextTransactionRace};
use causeloop_tests::{both_backends, spawn_on, stores, Backend, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;

async fn issue_count(app: &TestApp) -> usize {
    let (status, body) = app.get("/v1/issues?limit=200", &app.owner.key).await;
    assert_eq!(status, 200);
    body["data"].as_array().unwrap().len()
}

async fn single_events_deduplicate(app: TestApp) {
    let key = &app.owner.key;
    let first = json!({"source": "custom_api", "external_id": "deploy-1", "title": "Deploy failed: api", "severity": "critical"});
    let (status, created) = app.post("/v1/ingest/events", key, &first).await;
    assert_eq!((status, created["status"].as_str()), (202, Some("created")), "{created}");
    let repeat = json!({"source": "custom_api", "external_id": "deploy-1", "title": "Deploy failed: api (again)", "team": "core"});
    let (status, updated) = app.post("/v1/ingest/events", key, &repeat).await;
    assert_eq!((status, updated["status"].as_str()), (202, Some("updated")));
    assert_eq!(updated["issue_id"], created["issue_id"], "same source + external id, same Issue");

    let other_source = json!({"source": "jira", "external_id": "deploy-1", "title": "x"});
    let (_, other) = app.post("/v1/ingest/events", key, &other_source).await;
    assert_ne!(other["issue_id"], created["issue_id"]);

    let (_, issue) = app.get(&format!("/v1/issues/{}", created["issue_id"].as_str().unwrap()), key).await;
    assert_eq!(issue["occurrences"], 2);
    assert_eq!(issue["severity"], "p1");
    assert_eq!(issue["title"], "Deploy failed: api (again)");
    assert_eq!(issue["team"], "core");
    assert_eq!(issue_count(&app).await, 2);

    let events = app.drain_events().await;
    let ingested: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "issue.ingested").collect();
    assert_eq!(ingested.len(), 3, "one issue.ingested per single event");
    for event in ingested {
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["workspace_id"], app.owner.workspace_id.as_str());
        assert!(event["created_at"].is_string());
    }
}
both_backends!(single_events_deduplicate_onto_one_issue, single_events_deduplicate);

async fn batches_report_each_record(app: TestApp) {
    let key = &app.owner.key;
    let records = json!({"records": [
        {"source": "custom_api", "external_id": "b-1", "title": "OOM in worker", "severity": "p2"},
        {"source": "custom_api", "title": "no external id"},
        {"source": "custom_api", "external_id": "b-2", "title": "Disk full", "severity": "purple"},
        {"source": "custom_api", "external_id": "b-3", "title": "Disk full", "severity": "warning", "region": "eu"},
        {"source": "custom_api", "external_id": "b-1", "title": "OOM in worker (repeat)"},
        "not an object",
        {"source": "custom_api", "external_id": "b-4", "title": "Bad metadata", "metadata": ["not", "an", "object"]},
    ]});
    let (status, body) = app.post("/v1/ingest/batch", key, &records).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 3);
    let rejected = body["rejected"].as_array().unwrap();
    let indexes: Vec<u64> = rejected.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, vec![1, 2, 5, 6]);
    assert_eq!(rejected[0]["error"], "missing_field");
    assert!(rejected[0]["message"].as_str().unwrap().contains("external_id"));
    assert_eq!(rejected[1]["external_id"], "b-2");
    assert!(rejected[1]["message"].as_str().unwrap().contains("severity"));
    // `metadata` that is not an object rejects its record alone, as the single route rejects it.
    assert_eq!(
        (rejected[3]["external_id"].as_str(), rejected[3]["error"].as_str()),
        (Some("b-4"), Some("invalid_type"))
    );
    assert!(rejected[3]["message"].as_str().unwrap().contains("metadata"));

    let job_id = body["job_id"].as_str().unwrap();
    let status = app.wait_for_job(job_id).await;
    assert_eq!(status["accepted"], 3);
    assert_eq!(status["rejected"], 4);
    assert_eq!(status["created"], 2, "b-1 and b-3 created; the repeat of b-1 updated");
    assert_eq!(status["updated"], 1);
    assert_eq!(status["clustered"], 3);
    assert_eq!(issue_count(&app).await, 2);

    let (_, issues) = app.get("/v1/issues?source=custom_api&severity=warning", key).await;
    assert_eq!(issues["data"][0]["metadata"]["region"], "eu", "unknown fields land in metadata");

    let events = app.drain_events().await;
    let batch_events: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "issue.batch_ingested").collect();
    assert_eq!(batch_events.len(), 1, "one event per batch job");
    assert_eq!(batch_events[0]["data"]["job_id"], job_id);
    assert!(!events.iter().any(|e| e["event_type"] == "issue.ingested"), "batch records do not emit issue.ingested");

    let stranger = app.key("batch-stranger", "ingest:write").await;
    assert_eq!(app.get(&format!("/v1/ingest/status/{job_id}"), &stranger.key).await.0, 404);
}
both_backends!(batches_accept_good_records_and_name_bad_ones, batches_report_each_record);

async fn send_raw(app: &TestApp, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut request = app.http.post(app.url(path)).bearer_auth(&app.owner.key).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sends `head` (request line and headers) and then `body` chunks over a raw socket while
/// reading the answer as it comes (a server that answers before the body ends may then close,
/// and an answer left unread would be lost to the reset), and returns its status and JSON.
async fn raw_exchange(app: &TestApp, head: String, body: Vec<Vec<u8>>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://").to_string();
    let socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = socket.into_split();
    let writing = tokio::spawn(async move {
        if writer.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for chunk in body {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(read) = reader.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    writing.abort();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let json = text.split_once("\r\n\r\n").and_then(|(_, body)| {
        let start = body.find('{')?;
        serde_json::from_str(&body[start..=body.rfind('}')?]).ok()
    });
    (status, json.unwrap_or(Value::Null))
}

/// The body limit holds before any handler reads the body: a declared length over it is refused
/// from the headers (here the body never comes; the server stops waiting for it), and a body
/// sent without a length is cut off once it passes the limit. Both answer the API's 413 naming
/// the limit, and store nothing.
async fn oversized_bodies_are_refused_before_reading(app: TestApp) {
    let key = &app.owner.key;
    let declared = format!(
        "POST /v1/ingest/batch HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: 20000000\r\nconnection: close\r\n\r\n"
    );
    let (status, answer) = raw_exchange(&app, declared, Vec::new()).await;
    assert_eq!((status, answer["error"].as_str()), (413, Some("body_too_large")), "{answer}");
    assert_eq!(answer["limit_bytes"], 6_000_000);

    let chunked = format!(
        "POST /v1/ingest/batch HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    let megabyte = [format!("{:x}\r\n", 1 << 20).into_bytes(), vec![b' '; 1 << 20], b"\r\n".to_vec()].concat();
    let mut chunks = vec![megabyte; 7];
    chunks.push(b"0\r\n\r\n".to_vec());
    let (status, answer) = raw_exchange(&app, chunked, chunks).await;
    assert_eq!((status, answer["error"].as_str()), (413, Some("body_too_large")), "{answer}");
    assert_eq!(issue_count(&app).await, 0);
}
both_backends!(oversized_bodies_are_refused_before_they_are_read, oversized_bodies_are_refused_before_reading);

async fn bad_input_stores_nothing(app: TestApp) {
    let json_type = Some("application/json");
    let ok = |extra: Value| {
        let mut record = json!({"source": "s", "external_id": "x", "title": "t"});
        for (k, v) in extra.as_object().unwrap() {
            record[k] = v.clone();
        }
        serde_json::to_vec(&record).unwrap()
    };
    let mut deep = json!(1);
    for _ in 0..11 {
        deep = json!({ "k": deep });
    }
    // (route, content type, body, expected status, expected error code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("/v1/ingest/events", json_type, b"{not json".to_vec(), 400, "invalid_json"),
        ("/v1/ingest/events", json_type, b"[1,2]".to_vec(), 400, "not_an_object"),
        ("/v1/ingest/events", json_type, b"".to_vec(), 400, "empty_body"),
        ("/v1/ingest/events", Some("text/plain"), ok(json!({})), 415, "unsupported_media_type"),
        ("/v1/ingest/events", json_type, ok(json!({"title": ""})), 400, "empty_field"),
        ("/v1/ingest/events", json_type, ok(json!({"title": 7})), 400, "invalid_type"),
        ("/v1/ingest/events", json_type, ok(json!({"source": null})), 400, "missing_field"),
        ("/v1/ingest/events", json_type, ok(json!({"external_id": "e".repeat(257)})), 400, "too_long"),
        ("/v1/ingest/events", json_type, ok(json!({"title": "t".repeat(1001)})), 400, "too_long"),
        ("/v1/ingest/events", json_type, ok(json!({"body": "b".repeat(65 * 1024)})), 400, "too_long"),
        ("/v1/ingest/events", json_type, ok(json!({"metadata": deep})), 400, "too_deep"),
        ("/v1/ingest/events", json_type, ok(json!({"metadata": {"x": "m".repeat(17 * 1024)}})), 400, "too_large"),
        ("/v1/ingest/events", json_type, ok(json!({"metadata": [1]})), 400, "invalid_type"),
        ("/v1/ingest/events", json_type, ok(json!({"source_created_at": "noon"})), 400, "invalid_value"),
        ("/v1/ingest/events", json_type, vec![b' '; 1024 * 1024 + 1], 413, "body_too_large"),
        ("/v1/ingest/batch", json_type, b"{\"records\": []}".to_vec(), 400, "empty_batch"),
        ("/v1/ingest/batch", json_type, b"{\"records\": {}}".to_vec(), 400, "invalid_type"),
        ("/v1/ingest/batch", json_type, b"{}".to_vec(), 400, "missing_field"),
        ("/v1/ingest/batch", json_type, b"nope".to_vec(), 400, "invalid_json"),
        (
            "/v1/ingest/batch",
            json_type,
            serde_json::to_vec(&json!({"records": (0..501).map(|n| json!({"source": "s", "external_id": n.to_string(), "title": "t"})).collect::<Vec<_>>()})).unwrap(),
            413,
            "too_many_records",
        ),
        ("/v1/ingest/batch", json_type, vec![b' '; 6_000_001], 413, "body_too_large"),
    ];
    for (path, content_type, body, want_status, want_code) in cases {
        let (status, answer) = send_raw(&app, path, content_type, body).await;
        assert_eq!((status, answer["error"].as_str().unwrap_or("")), (want_status, want_code), "{path}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (_, answer) = send_raw(&app, "/v1/ingest/events", json_type, ok(json!({"title": "t".repeat(1001)}))).await;
    assert_eq!(answer["field"], "title", "the field at fault is named");
    assert_eq!(issue_count(&app).await, 0, "no rejected request stored anything");
    assert!(app.drain_events().await.is_empty(), "no rejected request emitted anything");
}
both_backends!(bad_input_gets_a_named_4xx_and_stores_nothing, bad_input_stores_nothing);

async fn retries_with_an_idempotency_key_apply_once(app: TestApp) {
    let send = |key: &'static str, body: Value| {
        app.http
            .post(app.url("/v1/ingest/events"))
            .bearer_auth(&app.owner.key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let record = json!({"source": "s", "external_id": "idem-1", "title": "t"});
    let first: Value = send("retry-1", record.clone()).await.unwrap().json().await.unwrap();
    let retried: Value = send("retry-1", record.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(first, retried, "a retry answers exactly as the first attempt");
    assert_eq!(first["status"], "created");
    let (_, issue) = app.get(&format!("/v1/issues/{}", first["issue_id"].as_str().unwrap()), &app.owner.key).await;
    assert_eq!(issue["occurrences"], 1);
    let fresh: Value = send("retry-2", record).await.unwrap().json().await.unwrap();
    assert_eq!(fresh["status"], "updated");
}
both_backends!(retries_with_an_idempotency_key_apply_once, retries_with_an_idempotency_key_apply_once);

/// A batch whose store dies after some of its writes answers 5xx; retried with the same
/// Idempotency-Key once the store is back, it completes with every record exactly once.
async fn crash_half_way_then_retry(backend: Backend) {
    let Some(real) = stores(backend).await else { return };
    // Provisioning the owner key takes two writes; one transaction of 100 Issues follows, then
    // the "crash" fails the batch's other two transactions.
    let store = Arc::new(CrashAfterWrites::new(real.table.clone(), 3));
    let app =
        spawn_on(causeloop_tests::Stores { table: store.clone(), queue: real.queue.clone(), _dir: real._dir }).await;
    let records: Vec<Value> = (0..300)
        .map(|n| json!({"source": "ci", "external_id": format!("run-{}", n % 250), "title": format!("job {n} failed")}))
        .collect();
    let batch = json!({"records": records});
    let post = || {
        app.http
            .post(app.url("/v1/ingest/batch"))
            .bearer_auth(&app.owner.key)
            .header("Idempotency-Key", "nightly-7")
            .json(&batch)
            .send()
    };

    let crashed = post().await.unwrap();
    assert!(crashed.status().is_server_error(), "the crash surfaces as 5xx: {}", crashed.status());
    let written = all_issues(&app).await.len();
    assert_eq!(written, 100, "the crash left a half-written batch: one transaction of three");

    store.heal();
    let retried = post().await.unwrap();
    assert_eq!(retried.status().as_u16(), 202);
    let answer: Value = retried.json().await.unwrap();
    let job = app.wait_for_job(answer["job_id"].as_str().unwrap()).await;
    assert_eq!(job["accepted"], 300);
    assert_eq!(job["created"], 250, "each Issue counts as created once, including those written before the crash");
    assert_eq!(job["updated"], 50);

    assert_eq!(issues_and_occurrences(&app).await, (250, 300), "no duplicates, nothing lost, every record once");
}

async fn all_issues(app: &TestApp) -> Vec<Value> {
    let mut issues = Vec::new();
    let mut path = "/v1/issues?limit=200".to_string();
    loop {
        let (status, page) = app.get(&path, &app.owner.key).await;
        assert_eq!(status, 200, "{page}");
        issues.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/issues?limit=200&cursor={cursor}"),
            None => return issues,
        }
    }
}

/// How many Issues the workspace holds, and their occurrences summed: each record applied once
/// shows as exactly one occurrence.
async fn issues_and_occurrences(app: &TestApp) -> (usize, u64) {
    let issues = all_issues(app).await;
    (issues.len(), issues.iter().map(|issue| issue["occurrences"].as_u64().unwrap()).sum())
}

/// A batch whose transaction loses a race (another request wrote one of its Issues between
/// the batch's read and its write) re-reads and re-applies those Issues alone: every record
/// counts exactly once, the other writer's change included.
async fn lost_race_then_reapply(backend: Backend) {
    let Some(real) = stores(backend).await else { return };
    let table = Arc::new(LoseNextTransactionRace::new(real.table.clone()));
    let app =
        spawn_on(causeloop_tests::Stores { table: table.clone(), queue: real.queue.clone(), _dir: real._dir }).await;
    let key = &app.owner.key;
    // Issues that exist already, so the batch's writes are conditioned on their versions; the
    // worker has clustered them before the race, so no other writer is at work during it.
    let first: Vec<Value> =
        (0..120).map(|n| json!({"source": "ci", "external_id": format!("shared-{n}"), "title": "first"})).collect();
    let (status, created) = app.post("/v1/ingest/batch", key, &json!({"records": first})).await;
    assert_eq!(status, 202, "{created}");
    app.wait_for_job(created["job_id"].as_str().unwrap()).await;
    let records: Vec<Value> = (0..150)
        .map(|n| json!({"source": "ci", "external_id": format!("shared-{}", n % 120), "title": format!("again {n}")}))
        .collect();
    table.arm();
    let (status, body) = app.post("/v1/ingest/batch", key, &json!({"records": records})).await;
    assert_eq!(status, 202, "{body}");
    assert!(table.fired(), "the batch's first transaction lost its race");
    assert_eq!((body["accepted"].as_u64(), body["rejected"].as_array().map(Vec::len)), (Some(150), Some(0)));
    let job = app.wait_for_job(body["job_id"].as_str().unwrap()).await;
    assert_eq!((job["created"].as_u64(), job["updated"].as_u64()), (Some(0), Some(150)), "{job}");
    assert_eq!(
        issues_and_occurrences(&app).await,
        (120, 270),
        "120 first records and 150 racing ones, each applied exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_loses_a_race_reapplies_the_lost_issues_sqlite() {
    lost_race_then_reapply(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_loses_a_race_reapplies_the_lost_issues_moto() {
    lost_race_then_reapply(Backend::Moto).await;
}

/// Two batches over the same Issues at once, on SQLite only: on moto a failed transaction
/// restores a snapshot of the whole table and so drops writes made meanwhile (moto's defect;
/// DynamoDB transactions are isolated), which the test above covers deterministically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_over_the_same_issues_count_each_record_once() {
    let app = causeloop_tests::spawn_app(Backend::Sqlite).await.expect("sqlite always available");
    let batch = |tag: &str| {
        let records: Vec<Value> = (0..150)
            .map(|n| json!({"source": "ci", "external_id": format!("shared-{}", n % 120), "title": format!("{tag} {n}")}))
            .collect();
        json!({"records": records})
    };
    let (first, second) = (batch("a"), batch("b"));
    let ((status_a, body_a), (status_b, body_b)) = tokio::join!(
        app.post("/v1/ingest/batch", &app.owner.key, &first),
        app.post("/v1/ingest/batch", &app.owner.key, &second)
    );
    assert_eq!((status_a, status_b), (202, 202), "{body_a} {body_b}");
    assert_eq!(issues_and_occurrences(&app).await, (120, 300), "every record of both batches applied exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_crashes_half_way_completes_on_retry_sqlite() {
    crash_half_way_then_retry(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_crashes_half_way_completes_on_retry_moto() {
    crash_half_way_then_retry(Backend::Moto).await;
}

/// A record that resolves an open Issue announces it with `issue.resolved`, like PATCH and the
/// provider alerts do: by a single event and by a batch, once per closing, and not for an Issue
/// that arrives already resolved (a backfill of history).
async fn records_that_resolve_emit_issue_resolved(app: TestApp) {
    let key = &app.owner.key;
    for id in ["r-1", "r-2"] {
        let open = json!({"source": "jira", "external_id": id, "title": "Checkout down"});
        assert_eq!(app.post("/v1/ingest/events", key, &open).await.0, 202);
    }
    app.drain_events().await;
    let closing = json!({"source": "jira", "external_id": "r-1", "title": "Checkout down", "status": "resolved",
        "resolution": {"fix": "rolled back the deploy"}});
    assert_eq!(app.post("/v1/ingest/events", key, &closing).await.0, 202);
    let batch = json!({"records": [
        {"source": "jira", "external_id": "r-2", "title": "Checkout down", "status": "resolved"},
        {"source": "jira", "external_id": "r-3", "title": "Old outage", "status": "resolved",
         "source_created_at": "2026-01-01T00:00:00Z", "resolved_at": "2026-01-01T01:00:00Z"},
    ]});
    assert_eq!(app.post("/v1/ingest/batch", key, &batch).await.0, 202);
    // A repeat of the closing record is one more occurrence of a resolved Issue, not a closing.
    assert_eq!(app.post("/v1/ingest/events", key, &closing).await.0, 202);

    let events = app.drain_events().await;
    let resolved: Vec<&str> = events
        .iter()
        .filter(|event| event["event_type"] == "issue.resolved")
        .map(|event| event["data"]["issue"]["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(resolved.len(), 2, "{resolved:?}");
    assert!(resolved.contains(&"r-1") && resolved.contains(&"r-2"), "{resolved:?}");
}
both_backends!(records_that_resolve_an_issue_emit_issue_resolved, records_that_resolve_emit_issue_resolved);
