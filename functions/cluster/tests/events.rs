//! The SQS sample in events/cluster is accepted by the worker's Lambda adapter and answered with
//! a partial batch failure response of the shape Lambda expects.

use function_testkit::{fresh_state, sqs_sample};

#[tokio::test]
async fn the_sample_sqs_batch_gets_a_partial_batch_response() {
    let (state, _) = fresh_state().await;
    let event = sqs_sample("cluster/sqs-batch.json");
    let ids: Vec<String> = event.records.iter().filter_map(|r| r.message_id.clone()).collect();
    assert_eq!(ids.len(), 2);
    let response = cluster::handle(&state, event).await;
    for failure in &response.batch_item_failures {
        assert!(ids.contains(&failure.item_identifier), "failures name messages of the batch");
    }
    let json = serde_json::to_value(&response).unwrap();
    assert!(json.get("batchItemFailures").is_some_and(|v| v.is_array()), "{json}");
}
