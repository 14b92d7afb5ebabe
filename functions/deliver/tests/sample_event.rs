//! The SQS sample in events/deliver (an event to fan out, a delivery task, and a message no
//! worker can read) goes through the worker's Lambda adapter: the first two are handled, the
//! third is reported as a batch item failure, so SQS retries only it and then dead-letters it.

use causeloop_api::outbound::OutboundClient;
use causeloop_api::workers::deliver::DeliverWorker;
use function_testkit::{fresh_state, sqs_sample};

#[tokio::test]
async fn the_sample_batch_fails_only_its_unreadable_message() {
    let (state, _) = fresh_state().await;
    let worker = DeliverWorker::new(state, OutboundClient::new(false).unwrap());
    let event = sqs_sample("deliver/sqs-batch.json");
    let ids: Vec<String> = event.records.iter().filter_map(|r| r.message_id.clone()).collect();
    assert_eq!(ids.len(), 3);
    let response = deliver::handle(&worker, event).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, [ids[2].as_str()]);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], ids[2].as_str());
}
