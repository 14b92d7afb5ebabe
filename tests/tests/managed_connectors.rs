//! Managed connectors end to end, for each vendor, on both backends: a connector is created
//! through the API against a local server that follows the vendor's documented API
//! (`tests/src/vendors`), the sync worker backfills its history, a later incremental sync picks
//! up a reopened and a new record, a failed sync resumes from its checkpoint, a 429 is waited
//! out, and (for the vendors with OAuth) the authorization-code flow and token refresh work.

use base64::Engine;
use causeloop_api::app;
use causeloop_api::state::{AppState, Settings};
use causeloop_api::workers::sync::{run_schedule, SyncWorker};
use causeloop_api::workers::WorkMessage;
use causeloop_connectors::oauth::ClientSettings;
use causeloop_storage::QueueName;
use causeloop_tests::faults::CrashAfterWrites;
use causeloop_tests::vendors::{self, FakeVendor, Fault, Shared, Ticket};
use causeloop_tests::{spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// What differs per vendor in these tests.
struct Case {
    kind: &'static str,
    routes: fn() -> axum::Router<Shared>,
    /// The connector's config for a fake at `base`.
    config: fn(&str) -> Value,
    credentials: Value,
    /// The header value the fake accepts for `credentials`.
    accepted: String,
    /// Ticket keys in the vendor's own form.
    keys: [&'static str; 6],
    /// The Issue's external id for a ticket key.
    external_id: fn(&str) -> String,
    /// Whether a resolved record can open again (a resolved PagerDuty incident cannot: a new
    /// incident is opened instead).
    reopens: bool,
    /// Whether the vendor's list answer carries the resolution text (GitHub's and PagerDuty's
    /// need an extra call per record: a timeline, the incident's notes).
    carries_fix: bool,
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            kind: "jira",
            routes: vendors::jira::routes,
            config: |base| json!({"base_url": base, "jql": "project = OPS"}),
            credentials: json!({"email": "ops@example.com", "api_token": "jira-token"}),
            accepted: basic("ops@example.com", "jira-token"),
            keys: ["OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5", "OPS-6"],
            external_id: |key| key.to_string(),
            reopens: true,
            carries_fix: true,
        },
        Case {
            kind: "github",
            routes: vendors::github::routes,
            config: |base| json!({"base_url": base, "repositories": ["acme/checkout"]}),
            credentials: json!({"token": "ghp_test"}),
            accepted: "Bearer ghp_test".to_string(),
            keys: ["1", "2", "3", "4", "5", "6"],
            external_id: |key| format!("acme/checkout#{key}"),
            reopens: true,
            carries_fix: false,
        },
        Case {
            kind: "pagerduty",
            routes: vendors::pagerduty::routes,
            config: |base| json!({"base_url": base}),
            credentials: json!({"api_key": "pd-key"}),
            accepted: "Token token=pd-key".to_string(),
            keys: ["PABC001", "PABC002", "PABC003", "PABC004", "PABC005", "PABC006"],
            external_id: |key| key.to_string(),
            reopens: false,
            carries_fix: false,
        },
        Case {
            kind: "servicenow",
            routes: vendors::servicenow::routes,
            config: |base| json!({"base_url": base}),
            credentials: json!({"username": "causeloop", "password": "sn-pass"}),
            accepted: basic("causeloop", "sn-pass"),
            keys: ["INC0010001", "INC0010002", "INC0010003", "INC0010004", "INC0010005", "INC0010006"],
            external_id: |key| key.to_string(),
            reopens: true,
            carries_fix: true,
        },
        Case {
            kind: "datadog",
            routes: vendors::datadog::routes,
            config: |base| json!({"base_url": base}),
            credentials: json!({"api_key": "dd-api", "application_key": "dd-app"}),
            accepted: "dd-api".to_string(),
            keys: ["101", "102", "103", "104", "105", "106"],
            external_id: |key| key.to_string(),
            reopens: true,
            carries_fix: true,
        },
    ]
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Five tickets over the last ten days; the second and fourth resolved with a fix.
fn history(case: &Case) -> Vec<Ticket> {
    let now = now_ms();
    (0..5)
        .map(|n| {
            let created = now - (10 - n as i64 * 2) * DAY_MS;
            let ticket = Ticket::new(case.keys[n], &format!("checkout fails with 50{n} on payment"), created);
            if n % 2 == 1 {
                ticket.resolved_at(created + 3_600_000, &format!("rolled back release {n}"))
            } else {
                ticket
            }
        })
        .collect()
}

async fn app_with_worker(backend: Backend, oauth: Option<(&str, &FakeVendor)>) -> Option<TestApp> {
    let oauth = oauth.map(|(kind, fake)| (kind.to_string(), fake.base_url.clone()));
    let app = spawn_app_with(backend, move |mut state| {
        if let Some((kind, base)) = oauth {
            let mut settings = Settings {
                allow_private_targets: true,
                secret_box: state.settings.secret_box.clone(),
                oauth_jira_api_url: Some(base.clone()),
                ..Settings::default()
            };
            settings.oauth_clients.insert(
                kind,
                ClientSettings {
                    client_id: "causeloop-client".into(),
                    client_secret: "causeloop-secret".into(),
                    authorize_url: format!("{base}/authorize"),
                    token_url: format!("{base}/oauth/token"),
                },
            );
            state.settings = Arc::new(settings);
        }
        state
    })
    .await?;
    app::spawn_sync_worker(&app.state);
    Some(app)
}

async fn connector(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/connectors/{id}"), &app.owner.key).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the connector's latest sync is no longer running; returns the connector.
async fn settled(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let body = connector(app, id).await;
        let status = body["sync"]["last_sync"]["status"].as_str().unwrap_or("none").to_string();
        if status == "completed" || status == "failed" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sync of {id} did not finish: {}", connector(app, id).await);
}

async fn issues_of(app: &TestApp, source: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/issues?source={source}&limit=200"), &app.owner.key).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

fn by_external_id<'a>(issues: &'a [Value], external_id: &str) -> &'a Value {
    issues
        .iter()
        .find(|issue| issue["external_id"] == external_id)
        .unwrap_or_else(|| panic!("no Issue {external_id} in {issues:#?}"))
}

async fn backfill_then_incremental(backend: Backend, case: &Case) {
    let fake = FakeVendor::start((case.routes)()).await;
    fake.accept(&case.accepted);
    let tickets = history(case);
    for ticket in &tickets {
        fake.put(ticket.clone());
    }
    let Some(app) = app_with_worker(backend, None).await else { return };
    let body = json!({
        "type": case.kind,
        "display_name": format!("{} test", case.kind),
        "credentials": case.credentials,
        "config": (case.config)(&fake.base_url),
    });
    let (status, created) = app.post("/v1/connectors", &app.owner.key, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "connected");
    let id = created["id"].as_str().unwrap().to_string();

    // Created with credentials, it backfills at once.
    let done = settled(&app, &id).await;
    let run = &done["sync"]["last_sync"];
    assert_eq!(run["status"], "completed", "{done}");
    assert_eq!(run["mode"], "backfill");
    assert!(run["pages"].as_u64().unwrap() >= 3, "a page holds two records: {run}");
    assert_eq!(run["issues_created"], 5, "{run}");
    assert_eq!(run["issues_resolved"], 2, "two tickets arrive resolved: {run}");
    let issues = issues_of(&app, case.kind).await;
    assert_eq!(issues.len(), 5);
    for (n, ticket) in tickets.iter().enumerate() {
        let issue = by_external_id(&issues, &(case.external_id)(&ticket.key));
        assert_eq!(issue["title"], ticket.title);
        assert_eq!(issue["connector_id"], id.as_str());
        let created_at = vendors::parse_time(issue["source_created_at"].as_str().unwrap()).unwrap();
        assert!((created_at - ticket.created_ms).abs() < 1000, "{issue}");
        if n % 2 == 1 {
            assert_eq!(issue["status"], "resolved", "{issue}");
            let source_resolved =
                vendors::parse_time(issue["resolution"]["source_resolved_at"].as_str().unwrap()).unwrap();
            assert!((source_resolved - ticket.resolved.as_ref().unwrap().0).abs() < 1000, "{issue}");
            if case.carries_fix {
                let fix = issue["resolution"]["fix"].as_str().unwrap_or_default();
                assert!(fix.contains(&format!("rolled back release {n}")), "{issue}");
            }
        } else {
            assert_eq!(issue["status"], "open", "{issue}");
        }
    }
    let (_, history) = app.get(&format!("/v1/connectors/{id}/syncs"), &app.owner.key).await;
    assert_eq!(history["data"][0]["kind"], "sync", "{history}");
    assert_eq!(history["data"][0]["outcome"], "success", "{history}");

    // The first resolved ticket reopens and a new one arrives; an incremental sync sees both.
    // A second ago: a record updated in the very millisecond a sync starts belongs to the next one.
    let moment = now_ms() - 1000;
    if case.reopens {
        let mut reopened = tickets[1].clone();
        reopened.resolved = None;
        reopened.updated_ms = moment;
        fake.put(reopened);
    }
    fake.put(Ticket::new(case.keys[5], "payment gateway timeout", moment));
    let (status, started) = app.post(&format!("/v1/connectors/{id}/sync"), &app.owner.key, &json!({})).await;
    assert_eq!(status, 202, "{started}");
    let done = settled(&app, &id).await;
    let run = &done["sync"]["last_sync"];
    assert_eq!((run["status"].as_str(), run["mode"].as_str()), (Some("completed"), Some("incremental")), "{run}");
    assert_eq!(run["issues_created"], 1, "{} {run}", case.kind);
    let issues = issues_of(&app, case.kind).await;
    assert_eq!(issues.len(), 6);
    if case.reopens {
        let issue = by_external_id(&issues, &(case.external_id)(case.keys[1]));
        assert_eq!((issue["status"].as_str(), issue["recurrences"].as_u64()), (Some("open"), Some(1)), "{issue}");
    }
    // Records read again (the overlap) count as nothing: each Issue was seen once per revision.
    let untouched = by_external_id(&issues, &(case.external_id)(case.keys[0]));
    assert_eq!(untouched["occurrences"], 1, "{untouched}");

    // A sync already running is refused.
    fake.fault(Fault::Throttle(1));
    let (status, _) = app.post(&format!("/v1/connectors/{id}/sync"), &app.owner.key, &json!({})).await;
    assert_eq!(status, 202);
    let (status, refused) = app.post(&format!("/v1/connectors/{id}/sync"), &app.owner.key, &json!({})).await;
    assert_eq!((status, refused["error"].as_str()), (409, Some("sync_in_progress")), "{refused}");
    // The 429 is waited out (Retry-After: 1) and the sync completes.
    let done = settled(&app, &id).await;
    assert_eq!(done["sync"]["last_sync"]["status"], "completed", "{done}");
    let throttled = fake.seen().iter().filter(|seen| seen.path != "/oauth/token").count();
    assert!(throttled >= 2);
}

async fn failure_resumes_from_checkpoint(backend: Backend, case: &Case) {
    let fake = FakeVendor::start((case.routes)()).await;
    fake.accept(&case.accepted);
    for ticket in history(case) {
        fake.put(ticket);
    }
    // The second vendor request fails for good (400): the sync fails after its first page.
    fake.fault(Fault::Pass);
    fake.fault(Fault::Status(400));
    let Some(app) = app_with_worker(backend, None).await else { return };
    let body = json!({
        "type": case.kind,
        "display_name": "resume",
        "credentials": case.credentials,
        "config": (case.config)(&fake.base_url),
    });
    let (status, created) = app.post("/v1/connectors", &app.owner.key, &body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let failed = settled(&app, &id).await;
    assert_eq!(failed["status"], "error", "{failed}");
    let run = failed["sync"]["last_sync"].clone();
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("400"), "{run}");
    assert_eq!(run["pages"], 1);
    let seen_before = fake.seen().len();

    // The next sync resumes the failed one at its checkpoint: the first page is not read again.
    let (status, resumed) = app.post(&format!("/v1/connectors/{id}/sync"), &app.owner.key, &json!({})).await;
    assert_eq!(status, 202, "{resumed}");
    assert_eq!(resumed["sync_id"], run["sync_id"], "the failed sync resumes");
    let done = settled(&app, &id).await;
    let run = &done["sync"]["last_sync"];
    assert_eq!(run["status"], "completed", "{done}");
    assert_eq!(done["status"], "connected");
    assert_eq!(run["issues_created"], 5, "{run}");
    let after: Vec<_> = fake.seen().into_iter().skip(seen_before).collect();
    assert!(!after.is_empty());
    let first_request = &fake.seen()[0];
    assert!(
        after.iter().all(|seen| seen.query != first_request.query || seen.path != first_request.path),
        "the first page was read again"
    );
    assert_eq!(issues_of(&app, case.kind).await.len(), 5);
}

#[tokio::test]
async fn every_vendor_backfills_syncs_incrementally_and_waits_out_429_sqlite() {
    for case in cases() {
        backfill_then_incremental(Backend::Sqlite, &case).await;
    }
}

#[tokio::test]
async fn every_vendor_backfills_syncs_incrementally_and_waits_out_429_moto() {
    for case in cases() {
        backfill_then_incremental(Backend::Moto, &case).await;
    }
}

#[tokio::test]
async fn a_failed_sync_resumes_from_its_checkpoint_sqlite() {
    for case in cases() {
        failure_resumes_from_checkpoint(Backend::Sqlite, &case).await;
    }
}

#[tokio::test]
async fn a_failed_sync_resumes_from_its_checkpoint_moto() {
    for case in cases() {
        failure_resumes_from_checkpoint(Backend::Moto, &case).await;
    }
}

/// The authorization-code flow, a refresh after the access token stops working, and a grant the
/// vendor revoked: the connector then needs authorization again.
async fn oauth_flow_and_refresh(backend: Backend, case: &Case) {
    let fake = FakeVendor::start((case.routes)()).await;
    for ticket in history(case) {
        fake.put(ticket);
    }
    let Some(app) = app_with_worker(backend, Some((case.kind, &fake))).await else { return };
    let body = json!({"type": case.kind, "display_name": "oauth", "config": (case.config)(&fake.base_url)});
    let (status, created) = app.post("/v1/connectors", &app.owner.key, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "needs_auth");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, refused) = app.post(&format!("/v1/connectors/{id}/sync"), &app.owner.key, &json!({})).await;
    assert_eq!((status, refused["error"].as_str()), (409, Some("needs_auth")), "{refused}");

    let (status, started) = app.post(&format!("/v1/connectors/{id}/oauth/start"), &app.owner.key, &json!({})).await;
    assert_eq!(status, 200, "{started}");
    let authorize = url::Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    assert!(authorize.as_str().starts_with(&format!("{}/authorize?", fake.base_url)), "{authorize}");
    let param = |name: &str| authorize.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.to_string());
    assert_eq!(param("client_id").as_deref(), Some("causeloop-client"));
    assert_eq!(param("state").as_deref(), started["state"].as_str());
    assert_eq!(param("redirect_uri"), Some(app.url("/v1/oauth/callback")));
    let challenge = param("code_challenge");
    let code = fake.consent(challenge.as_deref());

    let callback = app
        .http
        .get(app.url("/v1/oauth/callback"))
        .query(&[("code", code.as_str()), ("state", started["state"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 200);
    assert!(callback.text().await.unwrap().contains("Connected"));
    // The state works once.
    let replayed = app
        .http
        .get(app.url("/v1/oauth/callback"))
        .query(&[("code", code.as_str()), ("state", started["state"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 400);

    let done = settled(&app, &id).await;
    assert_eq!((done["status"].as_str(), done["oauth_connected"].as_bool()), (Some("connected"), Some(true)), "{done}");
    assert_eq!(done["sync"]["last_sync"]["status"], "completed", "{done}");
    assert_eq!(issues_of(&app, case.kind).await.len(), 5);
    assert!(!done.to_string().contains("access-"), "tokens are never shown: {done}");

    // The access token stops working: one refresh (rotating the refresh token), then the sync goes on.
    fake.expire_access_tokens();
    let (status, _) = app.post(&format!("/v1/connectors/{id}/sync"), &app.owner.key, &json!({})).await;
    assert_eq!(status, 202);
    let done = settled(&app, &id).await;
    assert_eq!(done["sync"]["last_sync"]["status"], "completed", "{done}");
    let refreshes = fake
        .seen()
        .iter()
        .filter(|seen| {
            seen.path == "/oauth/token" && String::from_utf8_lossy(&seen.body).contains("grant_type=refresh_token")
        })
        .count();
    assert_eq!(refreshes, 1, "{}", case.kind);
    assert_eq!(fake.lock().refresh_tokens.len(), 1, "the used refresh token is spent, the new one kept");

    // The vendor revokes the grant: the refresh fails and the connector needs authorization again.
    fake.lock().refresh_tokens.clear();
    fake.expire_access_tokens();
    let (status, _) = app.post(&format!("/v1/connectors/{id}/sync"), &app.owner.key, &json!({})).await;
    assert_eq!(status, 202);
    let failed = settled(&app, &id).await;
    assert_eq!(
        (failed["status"].as_str(), failed["sync"]["last_sync"]["status"].as_str()),
        (Some("needs_auth"), Some("failed")),
        "{failed}"
    );
}

#[tokio::test]
async fn oauth_vendors_authorize_refresh_and_fall_back_to_needs_auth_sqlite() {
    for case in cases().iter().filter(|case| case.kind != "datadog") {
        oauth_flow_and_refresh(Backend::Sqlite, case).await;
    }
}

#[tokio::test]
async fn oauth_vendors_authorize_refresh_and_fall_back_to_needs_auth_moto() {
    for case in cases().iter().filter(|case| case.kind != "datadog") {
        oauth_flow_and_refresh(Backend::Moto, case).await;
    }
}

/// The scheduler starts a connector's incremental sync once `schedule_minutes` have passed since
/// the last one started, not before, and skips connectors that are disabled or need authorization.
async fn the_schedule_starts_due_syncs(backend: Backend) {
    let case = &cases()[0];
    let fake = FakeVendor::start((case.routes)()).await;
    fake.accept(&case.accepted);
    for ticket in history(case) {
        fake.put(ticket);
    }
    let Some(app) = app_with_worker(backend, None).await else { return };
    let mut config = (case.config)(&fake.base_url);
    config["schedule_minutes"] = json!(5);
    let body =
        json!({"type": case.kind, "display_name": "scheduled", "credentials": case.credentials, "config": config});
    let (_, created) = app.post("/v1/connectors", &app.owner.key, &body).await;
    let id = created["id"].as_str().unwrap().to_string();
    let first = settled(&app, &id).await["sync"]["last_sync"]["sync_id"].clone();
    // A connector waiting for OAuth is never scheduled.
    let waiting = json!({"type": case.kind, "display_name": "waiting", "config": (case.config)(&fake.base_url)});
    let (_, waiting) = app.post("/v1/connectors", &app.owner.key, &waiting).await;
    assert_eq!(waiting["status"], "needs_auth");

    let now = now_ms();
    let report = run_schedule(&app.state, now + 4 * 60_000).await.unwrap();
    assert_eq!((report.started, report.requeued), (0, 0), "not due before its 5 minutes");
    let report = run_schedule(&app.state, now + 5 * 60_000 + 1_000).await.unwrap();
    assert_eq!((report.started, report.requeued), (1, 0));
    let done = settled(&app, &id).await;
    let run = &done["sync"]["last_sync"];
    assert_ne!(run["sync_id"], first);
    assert_eq!((run["mode"].as_str(), run["status"].as_str()), (Some("incremental"), Some("completed")), "{run}");

    app.patch(&format!("/v1/connectors/{id}"), &app.owner.key, &json!({"enabled": false})).await;
    let report = run_schedule(&app.state, now + 60 * 60_000).await.unwrap();
    assert_eq!((report.started, report.requeued), (0, 0), "a disabled connector is not scheduled");
}

#[tokio::test]
async fn the_schedule_starts_due_syncs_sqlite() {
    the_schedule_starts_due_syncs(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_schedule_starts_due_syncs_moto() {
    the_schedule_starts_due_syncs(Backend::Moto).await;
}

/// A crash in the middle of a sync step — page 2's Issues written, its checkpoint lost — and the
/// message redelivered: the step resumes at page 2 (page 1 is not read again), page 2's records
/// are replays (no Issue counted twice), and the sync completes.
async fn a_crash_mid_step_resumes_at_the_checkpoint(backend: Backend) {
    let case = &cases()[0];
    let fake = FakeVendor::start((case.routes)()).await;
    fake.accept(&case.accepted);
    for ticket in history(case) {
        fake.put(ticket);
    }
    // The API on the real store; the sync worker on the same store behind a crash switch.
    let Some(app) = spawn_app_with(backend, |state| state).await else { return };
    let crashing = Arc::new(CrashAfterWrites::new(app.state.store.table().clone(), isize::MAX));
    let worker_state = AppState::new(crashing.clone(), app.state.queue.clone(), (*app.state.settings).clone());
    let worker = SyncWorker::new(worker_state);

    let body = json!({"type": case.kind, "display_name": "crash", "credentials": case.credentials, "config": (case.config)(&fake.base_url)});
    let (_, created) = app.post("/v1/connectors", &app.owner.key, &body).await;
    let id = created["id"].as_str().unwrap().to_string();
    let received = app.state.queue.receive(QueueName::Sync, 1, 30).await.unwrap();
    assert_eq!(received.len(), 1, "the backfill's first step is queued");
    let message = WorkMessage::from(&received[0]);

    // Page 1: its Issues and its checkpoint; page 2: its Issues, then the crash.
    crashing.throttle_after(3);
    let failed = worker.handle_batch(vec![message.clone()]).await;
    assert_eq!(failed, vec![message.id.clone()], "the step fails and its message comes back");
    let stopped = connector(&app, &id).await;
    assert_eq!(stopped["sync"]["last_sync"]["pages"], 1, "{stopped}");
    assert_eq!(issues_of(&app, case.kind).await.len(), 4, "page 2's Issues were written before the crash");
    let requests_before = fake.seen();

    crashing.heal();
    assert!(worker.handle_batch(vec![message]).await.is_empty());
    let done = connector(&app, &id).await;
    let run = &done["sync"]["last_sync"];
    assert_eq!((run["status"].as_str(), run["pages"].as_u64()), (Some("completed"), Some(3)), "{run}");
    let resumed: Vec<_> = fake.seen().into_iter().skip(requests_before.len()).collect();
    assert!(resumed.iter().all(|seen| seen.query != requests_before[0].query), "page 1 was read again after the crash");
    let issues = issues_of(&app, case.kind).await;
    assert_eq!(issues.len(), 5);
    assert!(issues.iter().all(|issue| issue["occurrences"] == 1), "a replayed page counts nothing twice: {issues:#?}");
}

#[tokio::test]
async fn a_crash_mid_step_resumes_at_the_checkpoint_sqlite() {
    a_crash_mid_step_resumes_at_the_checkpoint(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_crash_mid_step_resumes_at_the_checkpoint_moto() {
    a_crash_mid_step_resumes_at_the_checkpoint(Backend::Moto).await;
}
