//! CPU cost of signing one delivery of a 4 KiB event: both signature schemes under the current
//! secret, and under two secrets during a rotation's grace period; and of recording an attempt
//! (the record's state change and its serialization for storage).
//! `cargo bench -p causeloop-api --bench delivery_cpu`

use causeloop_domain::delivery::{sign_delivery, AttemptResult, Delivery};
use causeloop_domain::events::EventType;
use causeloop_domain::ids::EventId;
use causeloop_domain::{WebhookId, WorkspaceId};
use std::hint::black_box;

mod common;
use common::measure;

fn main() {
    let body =
        format!(r#"{{"id":"evt_x","event_type":"issue.ingested","data":{{"text":"{}"}}}}"#, "x".repeat(4096 - 63));
    assert_eq!(body.len(), 4096);
    let current = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
    let previous = "whsec_w4p1Fk3PmQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqrTwjUPD8ILPZI".to_string();
    let one = [current.clone()];
    let two = [current, previous];
    measure("sign 4 KiB, one secret", 100_000, || {
        black_box(sign_delivery(black_box(&one), "dlv_01m869mm745153eejedrpsmf2q", 1_795_507_200, body.as_bytes()));
    });
    measure("sign 4 KiB, two secrets (rotation)", 50_000, || {
        black_box(sign_delivery(black_box(&two), "dlv_01m869mm745153eejedrpsmf2q", 1_795_507_200, body.as_bytes()));
    });
    let delivery = Delivery::new(
        WebhookId::random(1, [1; 10]),
        EventId::random(1, [2; 10]),
        WorkspaceId::random(1, [3; 10]),
        EventType::IssueIngested,
        body.clone(),
        1_795_507_200_000,
    );
    measure("record an attempt and serialize the record", 50_000, || {
        let mut delivery = delivery.clone();
        delivery.next_step(1_795_507_200_000);
        let result = AttemptResult::Response { status: 500, retry_after_seconds: None, excerpt: "x".repeat(200) };
        delivery.record_attempt(1, 1_795_507_200_000, 1_795_507_200_040, result, 0.3);
        black_box(serde_json::to_string(&delivery).unwrap());
    });
}
