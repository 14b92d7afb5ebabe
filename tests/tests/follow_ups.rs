//! Follow-ups that a request queues after its write are not lost when the queue send fails: the
//! client's retry finds the state already written and still sends them, derived from that state
//! (PATCH resolutions, resolving records replayed under their Idempotency-Key, resolved alerts
//! sent again, redeliveries), and a copy of an event already sent is the same event. On both
//! backends, with a queue whose next matching send fails (`causeloop_tests::faults::FailingSends`).

use causeloop_api::state::AppState;
use causeloop_storage::QueueName;
use causeloop_tests::faults::FailingSends;
use causeloop_tests::receiver::Receiver;
use causeloop_tests::{spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;

/// Like `both_backends!`, with the app's queue wrapped in [`FailingSends`].
macro_rules! both_backends_with_failing_sends {
    ($name:ident, $case:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (app, failing) = app_with_failing_sends(Backend::Sqlite).await.expect("sqlite always available");
                $case(app, failing).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn moto() {
                if let Some((app, failing)) = app_with_failing_sends(Backend::Moto).await {
                    $case(app, failing).await;
                }
            }
        }
    };
}

const RESOLVED_EVENT: &str = r#""event_type":"issue.resolved""#;

async fn app_with_failing_sends(backend: Backend) -> Option<(TestApp, Arc<FailingSends>)> {
    let slot: Arc<std::sync::Mutex<Option<Arc<FailingSends>>>> = Arc::default();
    let keep = slot.clone();
    let app = spawn_app_with(backend, move |mut state: AppState| {
        let failing = Arc::new(FailingSends::new(state.queue.clone()));
        state.queue = failing.clone();
        *keep.lock().unwrap() = Some(failing);
        state
    })
    .await?;
    let failing = slot.lock().unwrap().take().expect("configured");
    Some((app, failing))
}

fn resolved_events(events: &[Value], issue_id: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|event| event["event_type"] == "issue.resolved" && event["data"]["issue"]["id"] == issue_id)
        .cloned()
        .collect()
}

async fn patch(app: &TestApp, issue_id: &str, body: &Value) -> (u16, Value) {
    app.patch(&format!("/v1/issues/{issue_id}"), &app.owner.key, body).await
}

async fn a_retried_patch_sends_what_the_failed_one_lost(app: TestApp, failing: Arc<FailingSends>) {
    let key = &app.owner.key;
    let (status, pushed) = app
        .post("/v1/ingest/events", key, &json!({"source": "api", "external_id": "p-1", "title": "Pool exhausted"}))
        .await;
    assert_eq!(status, 202, "{pushed}");
    let issue_id = pushed["issue_id"].as_str().unwrap().to_string();

    failing.fail_next(QueueName::Delivery, RESOLVED_EVENT);
    let resolve = json!({"status": "resolved", "resolution": {"fix": "raised the pool size"}});
    let (status, _) = patch(&app, &issue_id, &resolve).await;
    assert_eq!(status, 500, "the event could not be queued");
    assert!(failing.fired());
    let (_, stored) = app.get(&format!("/v1/issues/{issue_id}"), key).await;
    assert_eq!(stored["status"], "resolved", "the write happened before the send failed");
    assert!(resolved_events(&app.drain_events().await, &issue_id).is_empty());

    // The retry finds it resolved and still announces it; a third PATCH announces the same event.
    let (status, answered) = patch(&app, &issue_id, &resolve).await;
    assert_eq!(status, 200, "{answered}");
    let first = resolved_events(&app.drain_events().await, &issue_id);
    assert_eq!(first.len(), 1);
    assert_eq!(patch(&app, &issue_id, &resolve).await.0, 200);
    let again = resolved_events(&app.drain_events().await, &issue_id);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["id"], first[0]["id"], "one resolution, one event id");
}

both_backends_with_failing_sends!(patch_retry, a_retried_patch_sends_what_the_failed_one_lost);

async fn a_replayed_resolving_record_sends_what_the_failed_one_lost(app: TestApp, failing: Arc<FailingSends>) {
    let key = &app.owner.key;
    let open = json!({"source": "api", "external_id": "r-1", "title": "Disk full"});
    let (_, pushed) = app.post("/v1/ingest/events", key, &open).await;
    let issue_id = pushed["issue_id"].as_str().unwrap().to_string();
    let resolving = json!({"source": "api", "external_id": "r-1", "title": "Disk full", "status": "resolved"});
    let post_with_key = |body: Value, idempotency_key: &'static str| {
        let request =
            app.http.post(app.url("/v1/ingest/events")).bearer_auth(key).header("Idempotency-Key", idempotency_key);
        async move { request.json(&body).send().await.unwrap().status().as_u16() }
    };

    failing.fail_next(QueueName::Delivery, RESOLVED_EVENT);
    assert_eq!(post_with_key(resolving.clone(), "close-r-1").await, 500);
    assert!(resolved_events(&app.drain_events().await, &issue_id).is_empty());
    assert_eq!(post_with_key(resolving.clone(), "close-r-1").await, 202);
    assert_eq!(resolved_events(&app.drain_events().await, &issue_id).len(), 1, "the replay announces it");

    // In a batch too: the retried job replays its records and announces the resolution.
    let (_, second) =
        app.post("/v1/ingest/events", key, &json!({"source": "api", "external_id": "r-2", "title": "Disk full"})).await;
    let second_id = second["issue_id"].as_str().unwrap().to_string();
    let batch =
        json!({"records": [{"source": "api", "external_id": "r-2", "title": "Disk full", "status": "resolved"}]});
    let post_batch = || {
        let request =
            app.http.post(app.url("/v1/ingest/batch")).bearer_auth(key).header("Idempotency-Key", "close-r-2");
        let body = batch.clone();
        async move { request.json(&body).send().await.unwrap().status().as_u16() }
    };
    failing.fail_next(QueueName::Delivery, RESOLVED_EVENT);
    assert_eq!(post_batch().await, 500);
    assert!(resolved_events(&app.drain_events().await, &second_id).is_empty());
    assert_eq!(post_batch().await, 202);
    assert_eq!(resolved_events(&app.drain_events().await, &second_id).len(), 1);

    // An Issue that arrives resolved is not announced, replayed or not.
    let arrived = json!({"source": "api", "external_id": "r-3", "title": "Disk full", "status": "resolved"});
    assert_eq!(post_with_key(arrived.clone(), "r-3").await, 202);
    assert_eq!(post_with_key(arrived, "r-3").await, 202);
    let events = app.drain_events().await;
    assert!(events
        .iter()
        .all(|event| event["event_type"] != "issue.resolved" || event["data"]["issue"]["external_id"] != "r-3"));
}

both_backends_with_failing_sends!(record_replay, a_replayed_resolving_record_sends_what_the_failed_one_lost);

async fn a_retried_redelivery_queues_its_attempt(app: TestApp, failing: Arc<FailingSends>) {
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url, "event_types": ["ping"]});
    let (status, endpoint) = app.post("/v1/webhooks", &app.owner.key, &body).await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    let worker = app.deliver_worker(true);

    // A ping, delivered; then a redelivery whose task cannot be queued.
    let (status, ping) = app.post(&format!("/v1/webhooks/{endpoint_id}/test"), &app.owner.key, &json!({})).await;
    assert_eq!(status, 202, "{ping}");
    let run_queue = || async {
        for _ in 0..5 {
            let messages = app.delivery_messages().await;
            if messages.is_empty() {
                break;
            }
            worker.handle_batch(messages).await;
        }
    };
    run_queue().await;
    assert_eq!(receiver.requests().len(), 1);
    let (_, page) = app.get(&format!("/v1/webhooks/{endpoint_id}/deliveries"), &app.owner.key).await;
    let delivery_id = page["data"][0]["id"].as_str().unwrap().to_string();
    let redeliver = format!("/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver");
    failing.fail_next(QueueName::Delivery, &delivery_id);
    assert_eq!(app.post(&redeliver, &app.owner.key, &json!({})).await.0, 500);
    run_queue().await;
    assert_eq!(receiver.requests().len(), 1, "the task was lost");

    // The retry queues the attempt again, and it is made once.
    let (status, pending) = app.post(&redeliver, &app.owner.key, &json!({})).await;
    assert_eq!((status, pending["status"].as_str()), (202, Some("pending")), "{pending}");
    run_queue().await;
    assert_eq!(receiver.requests().len(), 2);
    let (_, delivered) = app.get(&format!("/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}"), &app.owner.key).await;
    assert_eq!((delivered["status"].as_str(), delivered["attempts_made"].as_u64()), (Some("succeeded"), Some(2)));
}

both_backends_with_failing_sends!(redeliver_retry, a_retried_redelivery_queues_its_attempt);
