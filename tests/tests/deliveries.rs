//! Outbound delivery end to end: real receivers on 127.0.0.1 (tests/src/receiver.rs) that fail,
//! stall and throttle; signatures checked by an independent HMAC here and by the Standard
//! Webhooks reference library in Python; retries across the schedule's hours with a movable
//! clock (the worker never sleeps, so time is the only thing a test has to fake); crashes and
//! throttling injected around the real stores.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use causeloop_api::events::envelope;
use causeloop_api::state::AppState;
use causeloop_api::workers::deliver::{DeliverWorker, Disposition};
use causeloop_api::workers::WorkMessage;
use causeloop_domain::delivery::{MAX_ATTEMPTS, RETRY_DELAYS_SECONDS};
use causeloop_domain::events::EventType;
use causeloop_tests::faults::CrashAfterWrites;
use causeloop_tests::receiver::{ReceivedRequest, Receiver, Reply};
use causeloop_tests::{both_backends, spawn_app, Backend, TestApp};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Endpoint {
    id: String,
    secret: String,
}

async fn register(app: &TestApp, url: &str, event_types: &[&str], extra: Value) -> Endpoint {
    let mut body = json!({"url": url, "event_types": event_types});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = app.post("/v1/webhooks", &app.owner.key, &body).await;
    assert_eq!(status, 201, "{created}");
    Endpoint {
        id: created["id"].as_str().unwrap().to_string(),
        secret: created["signing_secret"].as_str().unwrap().to_string(),
    }
}

/// x-causeloop-signature as the receivers in docs/webhooks.md compute it, written independently of ours.
fn causeloop_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether one of `webhook-signature`'s entries is the Standard Webhooks signature under `secret`.
fn standard_signature_verifies(secret: &str, request: &ReceivedRequest) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", request.header("webhook-id"), request.header("webhook-timestamp")).as_bytes());
    mac.update(&request.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    request.header("webhook-signature").split(' ').any(|presented| presented == expected)
}

/// Verifies with the Standard Webhooks reference library and docs/webhooks.md's `hmac.compare_digest`
/// check, in Python. Skipped (returns `None`) outside scripts/test.sh.
fn python_verifies(secret: &str, request: &ReceivedRequest) -> Option<bool> {
    let venv = std::env::var("CAUSELOOP_VENV").ok()?;
    const SCRIPT: &str = r#"
import hashlib, hmac, json, sys, time
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
given = json.load(sys.stdin)
secret, body, headers = given["secret"], given["body"].encode(), given["headers"]
expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
causeloop_ok = hmac.compare_digest(expected, headers["x-causeloop-signature"])
try:
    Webhook(secret).verify(body, headers)
    standard_ok = True
except WebhookVerificationError as err:
    print(err, file=sys.stderr)
    standard_ok = False
print(json.dumps({"causeloop": causeloop_ok, "standard": standard_ok}))
"#;
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), json!(value.to_str().unwrap())))
        .collect();
    let input =
        json!({"secret": secret, "body": String::from_utf8(request.body.to_vec()).unwrap(), "headers": headers});
    let mut child = std::process::Command::new(format!("{venv}/bin/python"))
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
    Some(verdict["causeloop"] == true && verdict["standard"] == true)
}

/// Waits (liveness, generous ceiling) until `receiver` has seen `count` requests.
async fn wait_for_requests(receiver: &Receiver, count: usize) -> Vec<ReceivedRequest> {
    for _ in 0..400 {
        let requests = receiver.requests();
        if requests.len() >= count {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the receiver saw {} requests, expected {count}", receiver.requests().len());
}

async fn deliveries(app: &TestApp, endpoint: &Endpoint, query: &str) -> Value {
    let (status, page) = app.get(&format!("/v1/webhooks/{}/deliveries{query}", endpoint.id), &app.owner.key).await;
    assert_eq!(status, 200, "{page}");
    page
}

async fn events_fan_out_signed_to_subscribed_endpoints_only(app: TestApp) {
    let (ingested, patterns, disabled, other_connector) =
        (Receiver::start().await, Receiver::start().await, Receiver::start().await, Receiver::start().await);
    let connector = app.create_custom_connector(&app.owner.key, "elsewhere").await;
    let a = register(&app, &ingested.url, &["issue.ingested"], json!({})).await;
    let b = register(&app, &patterns.url, &["pattern.detected"], json!({})).await;
    register(&app, &disabled.url, &["issue.ingested"], json!({"enabled": false})).await;
    register(&app, &other_connector.url, &["issue.ingested"], json!({"connector_id": connector["id"]})).await;
    app.start_delivery_worker();

    let record = json!({"source": "deploys", "external_id": "d-1", "title": "Deploy failed: payment-service"});
    let (status, answer) = app.post("/v1/ingest/events", &app.owner.key, &record).await;
    assert_eq!(status, 202, "{answer}");

    let request = wait_for_requests(&ingested, 1).await.remove(0);
    let detected = wait_for_requests(&patterns, 1).await.remove(0);
    let event: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(event["event_type"], "issue.ingested");
    assert_eq!(event["workspace_id"], app.owner.workspace_id.as_str());
    assert_eq!(event["data"]["issue"]["id"], answer["issue_id"]);
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("x-causeloop-event-type"), "issue.ingested");
    assert_eq!(request.header("x-causeloop-signature"), causeloop_signature(&a.secret, &request.body));
    assert!(standard_signature_verifies(&a.secret, &request));
    assert!(request.header("webhook-id").starts_with("dlv_"));
    assert_eq!(request.header("webhook-id"), request.header("x-causeloop-delivery-id"));
    assert_eq!(request.header("webhook-timestamp"), request.header("x-causeloop-timestamp"));
    if let Some(verified) = python_verifies(&a.secret, &request) {
        assert!(verified, "the Standard Webhooks library and hmac.compare_digest accept the delivery");
    }
    let detected_event: Value = serde_json::from_slice(&detected.body).unwrap();
    assert_eq!(detected_event["event_type"], "pattern.detected");
    assert!(standard_signature_verifies(&b.secret, &detected));
    assert!(!standard_signature_verifies(&a.secret, &detected), "each endpoint has its own secret");

    // Let any stray delivery land before asserting absences.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ingested.requests().len(), 1, "one event, one delivery");
    assert!(patterns.requests().iter().all(|r| r.header("x-causeloop-event-type") == "pattern.detected"));
    assert!(disabled.requests().is_empty(), "a disabled endpoint gets nothing");
    assert!(other_connector.requests().is_empty(), "an endpoint filtered to another connector gets nothing");

    let page = deliveries(&app, &a, "").await;
    let listed = page["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{page}");
    assert_eq!(listed[0]["id"], request.header("webhook-id"));
    assert_eq!(listed[0]["status"], "succeeded");
    assert_eq!(listed[0]["attempts"][0]["status_code"], 200);
    assert_eq!(listed[0]["attempts"][0]["response_excerpt"], "ok");
    let (status, health) = app.get("/v1/integrations/health", &app.owner.key).await;
    assert_eq!(status, 200);
    let endpoint = health["outbound_endpoints"].as_array().unwrap().iter().find(|e| e["id"] == a.id.as_str()).unwrap();
    assert_eq!(endpoint["deliveries_24h"], 1);
    assert_eq!(endpoint["delivery_success_rate"], 1.0);
    assert_eq!(endpoint["url"], ingested.url.as_str());
    // A connectors key sees the endpoint's health, not its (often capability) URL.
    let connectors_reader = app.key(&app.owner_slug, "connectors:read").await;
    let (status, health) = app.get("/v1/integrations/health", &connectors_reader.key).await;
    assert_eq!(status, 200);
    let endpoint = health["outbound_endpoints"].as_array().unwrap().iter().find(|e| e["id"] == a.id.as_str()).unwrap();
    assert_eq!((endpoint["url"].clone(), endpoint["deliveries_24h"].clone()), (Value::Null, json!(1)), "{endpoint}");
}
both_backends!(fan_out, events_fan_out_signed_to_subscribed_endpoints_only);

/// A worker whose clock the test moves forward.
struct Clocked {
    worker: DeliverWorker,
    offset_ms: Arc<AtomicU64>,
}

impl Clocked {
    fn new(worker: DeliverWorker) -> Self {
        let offset_ms = Arc::new(AtomicU64::new(0));
        let offset = offset_ms.clone();
        let worker =
            worker.with_clock(Arc::new(move || causeloop_storage::clock::now_millis() + offset.load(Ordering::SeqCst)));
        Self { worker, offset_ms }
    }

    fn advance(&self, seconds: u64) {
        self.offset_ms.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
}

/// Puts an event on the delivery queue's path by handing its envelope to the worker (fan-out),
/// and returns the delivery tasks that the fan-out queued.
async fn fan_out(app: &TestApp, worker: &DeliverWorker, cause: &str) -> Vec<WorkMessage> {
    let event = envelope(
        EventType::IssueIngested,
        &app.owner.workspace_id,
        cause,
        None,
        json!({"issue_id": "iss_test", "cause": cause}),
        &causeloop_storage::clock::now_rfc3339(),
    );
    let message = WorkMessage {
        id: format!("event-{cause}"),
        body: serde_json::to_string(&event).unwrap(),
        receive_count: 1,
        receipt: String::new(),
    };
    assert_eq!(worker.handle(&message).await, Disposition::Done);
    app.delivery_messages().await
}

fn within_jitter(waited: u64, scheduled: u64) -> bool {
    let (low, high) = ((scheduled as f64 * 0.8).floor() as u64, (scheduled as f64 * 1.2).ceil() as u64);
    (low..=high).contains(&waited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_on_the_schedule_until_the_endpoint_recovers() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    let endpoint = register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    receiver.script([
        Reply::Body(500, "database is down".into()),
        Reply::Status(503),
        Reply::Throttle("120".into()),
        Reply::Status(302),
    ]);
    let clocked = Clocked::new(app.deliver_worker(true));
    let tasks = fan_out(&app, &clocked.worker, "retry").await;
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];

    let mut waits = Vec::new();
    loop {
        match clocked.worker.handle(task).await {
            Disposition::After(seconds) => {
                // Early copies of the message (SQS may deliver one) change nothing.
                let before = receiver.requests().len();
                assert_eq!(clocked.worker.handle(task).await, Disposition::After(seconds));
                assert_eq!(receiver.requests().len(), before, "nothing is sent before the attempt is due");
                waits.push(seconds);
                clocked.advance(seconds);
            }
            Disposition::Done => break,
            Disposition::Failed => panic!("a failed endpoint is a retry, not a failed message"),
        }
    }
    assert_eq!(waits.len(), 4, "{waits:?}");
    assert!(within_jitter(waits[0], RETRY_DELAYS_SECONDS[0]), "{waits:?}");
    assert!(within_jitter(waits[1], RETRY_DELAYS_SECONDS[1]), "{waits:?}");
    // 429 backs off harder: twice the scheduled wait, and never below Retry-After.
    assert!(within_jitter(waits[2], 2 * RETRY_DELAYS_SECONDS[2]), "{waits:?}");
    // A redirect is not followed; it is a failure like any other.
    assert!(within_jitter(waits[3], RETRY_DELAYS_SECONDS[3]), "{waits:?}");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 5);
    let id = requests[0].header("webhook-id");
    for (n, request) in requests.iter().enumerate() {
        assert_eq!(request.header("webhook-id"), id, "the same delivery id on every attempt");
        assert_eq!(request.header("x-causeloop-attempt"), (n + 1).to_string());
        assert_eq!(request.body, requests[0].body, "the same bytes on every attempt");
        assert!(standard_signature_verifies(&endpoint.secret, request));
    }
    let page = deliveries(&app, &endpoint, "").await;
    let delivery = &page["data"][0];
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts_made"], 5);
    let codes: Vec<i64> =
        delivery["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [200, 302, 429, 503, 500], "newest first");
    assert_eq!(delivery["attempts"][4]["response_excerpt"], "database is down");
    assert!(delivery["attempts"][4]["next_attempt_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_down_for_days_fails_its_deliveries_and_is_disabled_then_redelivery_recovers() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    let endpoint = register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    receiver.script((0..(MAX_ATTEMPTS + 1)).map(|_| Reply::Status(500)));
    let clocked = Clocked::new(app.deliver_worker(true));

    let first = fan_out(&app, &clocked.worker, "down-1").await.remove(0);
    let mut attempts = 0;
    while let Disposition::After(seconds) = clocked.worker.handle(&first).await {
        attempts += 1;
        clocked.advance(seconds);
    }
    assert_eq!(attempts + 1, MAX_ATTEMPTS);
    let failed = deliveries(&app, &endpoint, "?status=failed").await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 1, "kept after the last attempt");
    assert_eq!(failed["data"][0]["attempts_made"], MAX_ATTEMPTS);
    assert!(deliveries(&app, &endpoint, "?status=succeeded").await["data"].as_array().unwrap().is_empty());
    let (_, shown) = app.get(&format!("/v1/webhooks/{}", endpoint.id), &app.owner.key).await;
    assert_eq!(shown["enabled"], true, "about 28 hours of failures is not yet five days");
    assert!(shown["failing_since"].is_string());

    // Five days after the first failure, the next failed attempt disables the endpoint.
    clocked.advance(5 * 24 * 3600);
    let second = fan_out(&app, &clocked.worker, "down-2").await.remove(0);
    assert!(matches!(clocked.worker.handle(&second).await, Disposition::After(_)));
    let (_, shown) = app.get(&format!("/v1/webhooks/{}", endpoint.id), &app.owner.key).await;
    assert_eq!(shown["enabled"], false);
    assert!(shown["disabled_reason"].as_str().unwrap().contains("5 days"), "{shown}");
    let (_, health) = app.get("/v1/integrations/health", &app.owner.key).await;
    assert_eq!(health["outbound_endpoints"][0]["enabled"], false);
    assert!(health["outbound_endpoints"][0]["disabled_reason"].is_string());
    // Its pending delivery gives up; new events are not delivered to it.
    assert!(matches!(clocked.worker.handle(&second).await, Disposition::After(_)), "its retry is not due yet");
    clocked.advance(10);
    assert_eq!(clocked.worker.handle(&second).await, Disposition::Done);
    let abandoned = deliveries(&app, &endpoint, "?limit=1").await;
    assert_eq!(abandoned["data"][0]["status"], "failed");
    assert_eq!(abandoned["data"][0]["failure_reason"], "endpoint_disabled");
    assert!(fan_out(&app, &clocked.worker, "down-3").await.is_empty());

    // Re-enabled and redelivered, the first delivery gets through with a new round.
    let failed_id = failed["data"][0]["id"].as_str().unwrap().to_string();
    let redeliver = format!("/v1/webhooks/{}/deliveries/{failed_id}/redeliver", endpoint.id);
    let (status, refused) = app.post(&redeliver, &app.owner.key, &json!({})).await;
    assert_eq!((status, refused["error"].as_str()), (409, Some("endpoint_disabled")));
    let (status, _) =
        app.patch(&format!("/v1/webhooks/{}", endpoint.id), &app.owner.key, &json!({"enabled": true})).await;
    assert_eq!(status, 200);
    let (status, pending) = app.post(&redeliver, &app.owner.key, &json!({})).await;
    assert_eq!(status, 202, "{pending}");
    assert_eq!(pending["status"], "pending");
    // Asked again before its attempt (a retried request), it queues the attempt again: made once.
    let (status, again) = app.post(&redeliver, &app.owner.key, &json!({})).await;
    assert_eq!((status, again["status"].as_str()), (202, Some("pending")), "{again}");
    let tasks = app.delivery_messages().await;
    assert_eq!(tasks.len(), 2);
    assert_eq!(clocked.worker.handle(&tasks[0]).await, Disposition::Done);
    assert_eq!(clocked.worker.handle(&tasks[1]).await, Disposition::Done);
    let (_, delivered) = app.get(&format!("/v1/webhooks/{}/deliveries/{failed_id}", endpoint.id), &app.owner.key).await;
    assert_eq!(delivered["status"], "succeeded");
    assert_eq!(delivered["attempts_made"], MAX_ATTEMPTS + 1);
    assert_eq!(delivered["payload"]["event_type"], "issue.ingested");
    // The payload carries the Issue: a key that may read webhooks but not Issues does not see it.
    let webhooks_reader = app.key(&app.owner_slug, "webhooks:read").await;
    let path = format!("/v1/webhooks/{}/deliveries/{failed_id}", endpoint.id);
    let (status, withheld) = app.get(&path, &webhooks_reader.key).await;
    assert_eq!((status, withheld["status"].as_str()), (200, Some("succeeded")), "{withheld}");
    assert!(withheld.get("payload").is_none(), "{withheld}");
    let (_, shown) = app.get(&format!("/v1/webhooks/{}", endpoint.id), &app.owner.key).await;
    assert_eq!(shown["failing_since"], Value::Null, "a success clears the failure streak");
}

/// The delivery queue as SQS runs it for the worker: batches of ten messages handled at once;
/// a postponed message comes back when its visibility says (on the test's clock), a failed one
/// after 30 s. Runs until every message is done or `rounds` batches were handled.
async fn run_queue(clocked: &Clocked, messages: Vec<WorkMessage>, rounds: usize) -> Vec<WorkMessage> {
    let mut queue: Vec<(u64, WorkMessage)> = messages.into_iter().map(|message| (0, message)).collect();
    for _ in 0..rounds {
        let now = clocked.offset_ms.load(Ordering::SeqCst);
        queue.sort_by_key(|(due, _)| *due);
        let Some((earliest, _)) = queue.first() else { break };
        if *earliest > now {
            clocked.advance((earliest - now).div_ceil(1000));
            continue;
        }
        let take = queue.iter().take(10).filter(|(due, _)| *due <= now).count();
        let mut batch = tokio::task::JoinSet::new();
        for (_, message) in queue.drain(..take) {
            let worker = clocked.worker.clone();
            batch.spawn(async move { (worker.handle(&message).await, message) });
        }
        while let Some(joined) = batch.join_next().await {
            let (disposition, message) = joined.unwrap();
            let now = clocked.offset_ms.load(Ordering::SeqCst);
            match disposition {
                Disposition::Done => {}
                Disposition::After(seconds) => queue.push((now + seconds * 1000, message)),
                Disposition::Failed => queue.push((now + 30_000, message)),
            }
        }
    }
    queue.into_iter().map(|(_, message)| message).collect()
}

/// One endpoint stalls (each request held past the worker's timeout) while another is healthy,
/// both subscribed to the same twelve events. The stalling endpoint gets one wave of attempts,
/// then its circuit opens: the healthy endpoint's deliveries all go through, the stalled
/// endpoint's wait unclaimed without spending their retries, and once the circuit lets a probe
/// through and it succeeds, they are delivered too.
async fn a_stalling_endpoint_does_not_hold_up_the_others(app: TestApp) {
    use causeloop_domain::delivery::CIRCUIT_FAILURES;
    let stalling = Receiver::start().await;
    stalling.script((0..CIRCUIT_FAILURES).map(|_| Reply::Stall(Duration::from_secs(6))));
    let healthy = Receiver::start().await;
    let slow = register(&app, &stalling.url, &["issue.ingested"], json!({})).await;
    let fine = register(&app, &healthy.url, &["issue.ingested"], json!({})).await;
    let clocked = Clocked::new(app.deliver_worker(true));
    let mut tasks = Vec::new();
    for n in 0..12 {
        tasks.extend(fan_out(&app, &clocked.worker, &format!("stall-{n}")).await);
    }
    assert_eq!(tasks.len(), 24);

    // Three batches: every healthy delivery goes through; the stalling endpoint saw one wave.
    let left = run_queue(&clocked, tasks, 3).await;
    assert_eq!(healthy.requests().len(), 12, "the healthy endpoint is not held up");
    assert_eq!(deliveries(&app, &fine, "?status=succeeded&limit=100").await["data"].as_array().unwrap().len(), 12);
    let stalled_requests = stalling.requests().len();
    assert!((1..=CIRCUIT_FAILURES as usize).contains(&stalled_requests), "{stalled_requests} attempts");
    let (_, shown) = app.get(&format!("/v1/webhooks/{}", slow.id), &app.owner.key).await;
    assert!(shown["circuit_open_until"].is_string(), "{shown}");
    let pending = deliveries(&app, &slow, "?status=pending&limit=100").await;
    let pending = pending["data"].as_array().unwrap();
    assert_eq!(pending.len(), 12, "nothing given up");
    assert!(pending.iter().all(|d| d["attempts_made"].as_u64().unwrap() <= 1), "no retry spent while open");
    assert_eq!(left.len(), 12, "the stalled endpoint's tasks wait in the queue");

    // Later, the endpoint answers again: the probe closes the circuit and the rest follow.
    let left = run_queue(&clocked, left, 200).await;
    assert!(left.is_empty(), "{} tasks left", left.len());
    assert_eq!(deliveries(&app, &slow, "?status=succeeded&limit=100").await["data"].as_array().unwrap().len(), 12);
    let (_, shown) = app.get(&format!("/v1/webhooks/{}", slow.id), &app.owner.key).await;
    assert_eq!((shown["circuit_open_until"].clone(), shown["failing_since"].clone()), (Value::Null, Value::Null));
}

both_backends!(stalling_endpoint, a_stalling_endpoint_does_not_hold_up_the_others);

async fn attempt_error(app: &TestApp, worker: DeliverWorker, url: &str, cause: &str) -> Value {
    let endpoint = register(app, url, &["issue.ingested"], json!({})).await;
    let task = fan_out(app, &worker, cause).await.into_iter().find(|t| t.body.contains(&endpoint.id)).unwrap();
    assert!(matches!(worker.handle(&task).await, Disposition::After(_)));
    deliveries(app, &endpoint, "").await["data"][0]["attempts"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_failures_are_named_and_the_ssrf_guard_applies_at_connection_time() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    // Registered while private targets were allowed; the worker below does not allow them.
    let refused = attempt_error(&app, app.deliver_worker(false), &receiver.url, "guard").await;
    assert_eq!(refused["error_kind"], "refused-by-policy", "{refused}");
    assert_eq!(refused["status_code"], Value::Null);
    assert!(receiver.requests().is_empty(), "nothing was sent");
    // Registration refuses the metadata endpoint outright; a record pointing there anyway (written
    // before a rule change, or by hand) is refused again when the worker connects.
    let imds = register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    let id = causeloop_domain::WebhookId::parse(&imds.id).unwrap();
    let stored = app.state.store.webhook(&app.owner.workspace_id, &id).await.unwrap().unwrap();
    let mut webhook = stored.value;
    webhook.url = "http://169.254.169.254/latest/meta-data/".into();
    app.state.store.save_webhook(&webhook, stored.version).await.unwrap();
    let worker = app.deliver_worker(true);
    let task = fan_out(&app, &worker, "imds").await.into_iter().find(|t| t.body.contains(&imds.id)).unwrap();
    worker.handle(&task).await;
    let metadata = deliveries(&app, &imds, "").await["data"][0]["attempts"][0].clone();
    assert_eq!(metadata["error_kind"], "refused-by-policy", "metadata is refused even locally: {metadata}");
    assert!(receiver.requests().is_empty());

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let connect = attempt_error(&app, app.deliver_worker(true), &format!("http://{closed}/"), "connect").await;
    assert_eq!(connect["error_kind"], "connect", "{connect}");
    let dns = attempt_error(&app, app.deliver_worker(true), "http://no-such-host.invalid/", "dns").await;
    assert_eq!(dns["error_kind"], "dns", "{dns}");
    let stalled = Receiver::start().await;
    stalled.script([Reply::Stall(Duration::from_secs(5))]);
    let timeout = attempt_error(&app, app.deliver_worker(true), &stalled.url, "timeout").await;
    assert_eq!(timeout["error_kind"], "timeout", "{timeout}");
    assert_eq!(stalled.requests().len(), 1);
    let tls = attempt_error(
        &app,
        app.deliver_worker(true),
        &format!("https://{}/", receiver.url.trim_start_matches("http://").split('/').next().unwrap()),
        "tls",
    )
    .await;
    assert_eq!(tls["error_kind"], "tls", "plain HTTP where TLS was expected: {tls}");
}

/// The app's state over `table` (a fault-injecting wrapper), sharing its queue and master key.
fn state_over(app: &TestApp, table: Arc<dyn causeloop_storage::Table>) -> AppState {
    let mut state = AppState::new(table, app.state.queue.clone(), Default::default());
    state.settings = app.state.settings.clone();
    state
}

async fn crashes_and_throttling_lose_nothing(app: TestApp) {
    let receivers = [Receiver::start().await, Receiver::start().await, Receiver::start().await];
    for receiver in &receivers {
        register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    }
    let faulty = Arc::new(CrashAfterWrites::new(app.state.store.table().clone(), 1));
    let client = causeloop_api::outbound::OutboundClient::with_timeout(true, Duration::from_secs(2)).unwrap();
    let clocked = Clocked::new(DeliverWorker::new(state_over(&app, faulty.clone()), client));

    // The fan-out crashes after its first write, then runs again in full.
    let event = envelope(
        EventType::IssueIngested,
        &app.owner.workspace_id,
        "crash",
        None,
        json!({"n": 1}),
        &causeloop_storage::clock::now_rfc3339(),
    );
    let message = WorkMessage {
        id: "event".into(),
        body: serde_json::to_string(&event).unwrap(),
        receive_count: 1,
        receipt: String::new(),
    };
    assert_eq!(clocked.worker.handle(&message).await, Disposition::Failed);
    faulty.heal();
    assert_eq!(clocked.worker.handle(&message).await, Disposition::Done);
    let tasks = app.delivery_messages().await;
    assert_eq!(tasks.len(), 3, "one task per endpoint; the crashed run queued nothing");

    // The store throttles between the claim and the attempt's record: the message fails and,
    // once it comes back, the attempt is made again with the same delivery id.
    faulty.throttle_after(1);
    assert_eq!(clocked.worker.handle(&tasks[0]).await, Disposition::Failed);
    faulty.heal();
    assert!(matches!(clocked.worker.handle(&tasks[0]).await, Disposition::After(_)), "claimed by the lost attempt");
    clocked.advance(61);
    for task in &tasks {
        assert_eq!(clocked.worker.handle(task).await, Disposition::Done);
    }
    let first = receivers[0].requests();
    assert_eq!(first.len(), 2, "at least once: the unrecorded attempt was made again");
    assert_eq!(first[0].header("webhook-id"), first[1].header("webhook-id"), "receivers deduplicate on it");
    for receiver in &receivers[1..] {
        assert_eq!(receiver.requests().len(), 1);
    }
    // A message delivered twice by SQS after success changes nothing.
    for task in &tasks {
        assert_eq!(clocked.worker.handle(task).await, Disposition::Done);
    }
    assert_eq!(receivers[1].requests().len(), 1);
}
both_backends!(crashes, crashes_and_throttling_lose_nothing);

/// Through the real queue: a failed attempt postpones its message by changing its visibility
/// (about 5 s here), and the queue hands it back for the retry.
async fn a_retry_waits_in_the_queue_not_in_the_worker(app: TestApp) {
    let receiver = Receiver::start().await;
    register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    receiver.script([Reply::Status(503)]);
    app.start_delivery_worker();
    let event = envelope(
        EventType::IssueIngested,
        &app.owner.workspace_id,
        "queued",
        None,
        json!({}),
        &causeloop_storage::clock::now_rfc3339(),
    );
    causeloop_api::events::emit(app.state.queue.as_ref(), vec![event]).await.unwrap();
    let requests = wait_for_requests(&receiver, 2).await;
    assert_eq!(requests[0].header("x-causeloop-attempt"), "1");
    assert_eq!(requests[1].header("x-causeloop-attempt"), "2");
    assert_eq!(requests[0].header("webhook-id"), requests[1].header("webhook-id"));
}
both_backends!(queued_retry, a_retry_waits_in_the_queue_not_in_the_worker);

/// One event, one delivery per endpoint, however often and whenever it is emitted: a client
/// retrying a request whose answer was lost emits the event again, later, with the same id.
async fn an_event_emitted_twice_is_delivered_once(app: TestApp) {
    let receiver = Receiver::start().await;
    let endpoint = register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    let worker = app.deliver_worker(true);
    let emitted = |at: &str| {
        let event = envelope(EventType::IssueIngested, &app.owner.workspace_id, "retried-request", None, json!({}), at);
        WorkMessage {
            id: format!("event-{at}"),
            body: serde_json::to_string(&event).unwrap(),
            receive_count: 1,
            receipt: String::new(),
        }
    };
    assert_eq!(worker.handle(&emitted("2026-12-01T10:00:00.000Z")).await, Disposition::Done);
    let tasks = app.delivery_messages().await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(worker.handle(&tasks[0]).await, Disposition::Done);
    // Emitted again five minutes later: the same event id, a new emission time.
    assert_eq!(worker.handle(&emitted("2026-12-01T10:05:00.000Z")).await, Disposition::Done);
    assert!(app.delivery_messages().await.is_empty(), "no second task for a delivered event");
    assert_eq!(receiver.requests().len(), 1);
    let page = deliveries(&app, &endpoint, "").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
}
both_backends!(one_event_one_delivery, an_event_emitted_twice_is_delivered_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_copies_of_one_task_post_once() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    let worker = app.deliver_worker(true);
    let task = fan_out(&app, &worker, "twice").await.remove(0);
    // The endpoint holds the first copy's request (under the client's 2 s timeout) while the
    // second copy arrives: it finds the delivery claimed and waits out the claim.
    receiver.script([Reply::Stall(Duration::from_millis(1500))]);
    let second = async {
        wait_for_requests(&receiver, 1).await;
        worker.handle(&task).await
    };
    let (first, second) = tokio::join!(worker.handle(&task), second);
    assert_eq!(first, Disposition::Done);
    assert!(matches!(second, Disposition::After(_)), "the copy waits out the claim: {second:?}");
    assert_eq!(receiver.requests().len(), 1);
}

/// One test ping per endpoint per time slot: of three requests in a row (at most one slot
/// boundary between them), at least one is refused with 429 and Retry-After, and each ping that
/// was accepted is one delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_pings_are_rate_limited_per_endpoint() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    let endpoint = register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    let other = register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    let path = format!("/v1/webhooks/{}/test", endpoint.id);
    let mut accepted = 0;
    let mut refused = Vec::new();
    for _ in 0..3 {
        let response = app.http.post(app.url(&path)).bearer_auth(&app.owner.key).json(&json!({})).send().await.unwrap();
        match response.status().as_u16() {
            202 => accepted += 1,
            429 => {
                let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"], "test_rate_limited", "{body}");
                assert!((1..=causeloop_api::deliveries::TEST_INTERVAL_SECONDS).contains(&retry_after));
                refused.push(body);
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(!refused.is_empty() && accepted >= 1, "{accepted} accepted, {refused:?}");
    assert_eq!(app.delivery_messages().await.len(), accepted, "one task per accepted ping");
    // The limit is the endpoint's, not the workspace's.
    assert_eq!(app.post(&format!("/v1/webhooks/{}/test", other.id), &app.owner.key, &json!({})).await.0, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_both_secrets_sign_and_the_ping_reaches_the_endpoint() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    let old = register(&app, &receiver.url, &["pattern.detected"], json!({})).await;
    let (status, rotated) = app
        .post(&format!("/v1/webhooks/{}/rotate", old.id), &app.owner.key, &json!({"grace_period_seconds": 3600}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["signing_secret"].as_str().unwrap().to_string();
    let (status, ping) = app.post(&format!("/v1/webhooks/{}/test", old.id), &app.owner.key, &json!({})).await;
    assert_eq!(status, 202, "{ping}");
    assert_eq!(ping["event_type"], "ping");
    let task = app.delivery_messages().await.remove(0);
    assert_eq!(app.deliver_worker(true).handle(&task).await, Disposition::Done);

    let request = receiver.requests().remove(0);
    assert_eq!(request.header("x-causeloop-event-type"), "ping", "a ping goes out whatever the subscriptions");
    assert_eq!(request.header("webhook-signature").split(' ').count(), 2);
    assert!(standard_signature_verifies(&new_secret, &request));
    assert!(standard_signature_verifies(&old.secret, &request), "receivers still on the old secret verify");
    assert_eq!(request.header("x-causeloop-signature"), causeloop_signature(&new_secret, &request.body));
    assert_eq!(request.header("x-causeloop-signature-previous"), causeloop_signature(&old.secret, &request.body));
    if let Some(verified) = python_verifies(&new_secret, &request) {
        assert!(verified, "the Standard Webhooks library and hmac.compare_digest accept the delivery");
    }
    // After a grace of zero only the new secret signs (the ping delivered again: a second test
    // within its time slot would be refused).
    app.post(&format!("/v1/webhooks/{}/rotate", old.id), &app.owner.key, &json!({"grace_period_seconds": 0})).await;
    let redeliver = format!("/v1/webhooks/{}/deliveries/{}/redeliver", old.id, ping["id"].as_str().unwrap());
    let (status, again) = app.post(&redeliver, &app.owner.key, &json!({})).await;
    assert_eq!(status, 202, "{again}");
    let task = app.delivery_messages().await.remove(0);
    app.deliver_worker(true).handle(&task).await;
    let request = receiver.requests().remove(1);
    assert_eq!(request.header("webhook-signature").split(' ').count(), 1);
    assert!(!standard_signature_verifies(&old.secret, &request));
    assert_eq!(request.headers.get("x-causeloop-signature-previous"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_log_pages_filters_and_stays_in_its_workspace() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    let endpoint = register(&app, &receiver.url, &["issue.ingested"], json!({})).await;
    receiver.script([Reply::Status(500)]);
    let worker = app.deliver_worker(true);
    for n in 0..3 {
        let task = fan_out(&app, &worker, &format!("log-{n}")).await.remove(0);
        worker.handle(&task).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all = deliveries(&app, &endpoint, "").await;
    let ids: Vec<&str> = all["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {ids:?}");
    let pending = deliveries(&app, &endpoint, "?status=pending").await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 1, "the first one failed its first attempt");
    assert_eq!(pending["data"][0]["id"], ids[2]);

    let first = deliveries(&app, &endpoint, "?limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = deliveries(&app, &endpoint, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["data"][0]["id"], ids[2]);
    assert_eq!(second["next_cursor"], Value::Null);

    for bad in ["lost", ""] {
        let (status, error) =
            app.get(&format!("/v1/webhooks/{}/deliveries?status={bad}", endpoint.id), &app.owner.key).await;
        assert_eq!((status, error["field"].as_str()), (400, Some("status")), "status={bad}");
    }
    let stranger = app.key(&causeloop_tests::unique("stranger"), "webhooks:read,webhooks:admin").await;
    for path in [
        format!("/v1/webhooks/{}/deliveries", endpoint.id),
        format!("/v1/webhooks/{}/deliveries/{}", endpoint.id, ids[0]),
    ] {
        let (status, _) = app.get(&path, &stranger.key).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = app.post(&format!("/v1/webhooks/{}/test", endpoint.id), &stranger.key, &json!({})).await;
    assert_eq!(status, 404);
    let reader = app.key(&app.owner_slug, "webhooks:read").await;
    let (status, _) = app.post(&format!("/v1/webhooks/{}/test", endpoint.id), &reader.key, &json!({})).await;
    assert_eq!(status, 403);

    let connector = app.create_custom_connector(&app.owner.key, "inbound").await;
    let inbound = app.enable_inbound(&app.owner.key, connector["id"].as_str().unwrap()).await;
    let (status, error) =
        app.get(&format!("/v1/webhooks/{}/deliveries", inbound["id"].as_str().unwrap()), &app.owner.key).await;
    assert_eq!((status, error["error"].as_str()), (409, Some("not_outbound")));

    // Deleting the endpoint takes its attempt log with it: the list and each delivery are 404,
    // even while the records wait for their expiry.
    let one = format!("/v1/webhooks/{}/deliveries/{}", endpoint.id, ids[0]);
    assert_eq!(app.get(&one, &app.owner.key).await.0, 200);
    let deleted = app.http.delete(app.url(&format!("/v1/webhooks/{}", endpoint.id))).bearer_auth(&app.owner.key);
    assert_eq!(deleted.send().await.unwrap().status(), 204);
    for path in [format!("/v1/webhooks/{}/deliveries", endpoint.id), one] {
        assert_eq!(app.get(&path, &app.owner.key).await.0, 404, "{path}");
    }
}
