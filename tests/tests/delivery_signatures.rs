//! Property: whatever the payload, the bytes a receiver gets are exactly the stored payload, both
//! signatures verify over exactly those bytes (checked with an independent HMAC), and changing
//! any one byte breaks both. Posted for real, through the worker's client, to a receiver on
//! 127.0.0.1.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use causeloop_api::workers::deliver::{task_for, Disposition};
use causeloop_api::workers::WorkMessage;
use causeloop_domain::delivery::Delivery;
use causeloop_domain::events::EventType;
use causeloop_domain::ids::EventId;
use causeloop_domain::WebhookId;
use causeloop_tests::receiver::Receiver;
use causeloop_tests::{spawn_app, Backend};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::json;
use sha2::Sha256;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

#[test]
fn signatures_cover_exactly_the_bytes_sent() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (app, receiver, webhook, secret) = runtime.block_on(async {
        let app = spawn_app(Backend::Sqlite).await.unwrap();
        let receiver = Receiver::start().await;
        let (status, created) = app
            .post("/v1/webhooks", &app.owner.key, &json!({"url": receiver.url, "event_types": ["issue.ingested"]}))
            .await;
        assert_eq!(status, 201);
        let webhook = WebhookId::parse(created["id"].as_str().unwrap()).unwrap();
        (app, receiver, webhook, created["signing_secret"].as_str().unwrap().to_string())
    });
    let worker = app.deliver_worker(true);
    let standard_key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let config = ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() };
    let cases = std::sync::atomic::AtomicU64::new(0);
    proptest!(config, |(payload in any::<String>(), flip in any::<prop::sample::Index>())| {
        let case = cases.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let delivery = Delivery::new(
            webhook.clone(),
            EventId::random(case, rand::random()),
            app.owner.workspace_id.clone(),
            EventType::IssueIngested,
            payload.clone(),
            causeloop_storage::clock::now_millis(),
        );
        let request = runtime.block_on(async {
            app.state.store.create_delivery(&delivery).await.unwrap();
            let message = WorkMessage {
                id: format!("case-{case}"),
                body: serde_json::to_string(&task_for(&delivery)).unwrap(),
                receive_count: 1,
                receipt: String::new(),
            };
            assert_eq!(worker.handle(&message).await, Disposition::Done);
            receiver.requests().pop().unwrap()
        });
        prop_assert_eq!(&request.body[..], payload.as_bytes());
        let id = request.header("webhook-id").to_string();
        let timestamp = request.header("webhook-timestamp").to_string();
        let verify = |body: &[u8]| {
            let causeloop = hex::encode(hmac(secret.as_bytes(), &[body])) == request.header("x-causeloop-signature");
            let expected = format!("v1,{}", STANDARD.encode(hmac(&standard_key, &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body])));
            let standard = request.header("webhook-signature") == expected;
            (causeloop, standard)
        };
        prop_assert_eq!(verify(&request.body), (true, true));
        if !request.body.is_empty() {
            let mut tampered = request.body.to_vec();
            let at = flip.index(tampered.len());
            tampered[at] ^= 0x01;
            prop_assert_eq!(verify(&tampered), (false, false));
        }
    });
}
