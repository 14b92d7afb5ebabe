//! The samples in events/issues answer as documented when replayed through the real handler.

use function_testkit::{fresh_state, replay_http};

#[tokio::test]
async fn sample_events_reach_the_issues_routes() {
    let (state, key) = fresh_state().await;
    let routes = causeloop_api::issues::routes;
    let (status, body) = replay_http(routes(), state.clone(), &key.key, "issues/list-issues.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], serde_json::json!([]));
    for sample in ["issues/get-issue.json", "issues/patch-issue.json"] {
        let (status, body) = replay_http(routes(), state.clone(), &key.key, sample).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{sample}: {body}");
    }
}
