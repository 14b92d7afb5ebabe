//! The samples in events/ingest answer as documented when replayed through the real handler.

use function_testkit::{fresh_state, replay_http};

#[tokio::test]
async fn sample_events_reach_the_ingest_routes() {
    let (state, key) = fresh_state().await;
    let routes = causeloop_api::ingest::routes;
    let (status, body) = replay_http(routes(), state.clone(), &key.key, "ingest/post-event.json").await;
    assert_eq!((status, body["status"].as_str()), (202, Some("created")), "{body}");
    let (status, body) = replay_http(routes(), state.clone(), &key.key, "ingest/post-batch.json").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!((body["accepted"].as_u64(), body["rejected"][0]["index"].as_u64()), (Some(1), Some(1)));
    // The sample's job id belongs to no workspace here: the route answers, with a 404.
    let (status, body) = replay_http(routes(), state, &key.key, "ingest/get-status.json").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}
