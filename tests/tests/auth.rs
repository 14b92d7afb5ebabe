//! The authentication rules of docs/api-contract.md over real HTTP: 401 for missing/unknown/revoked
//! keys, 403 naming the scope, 404 for another workspace's ids, JSON errors everywhere.

use causeloop_tests::{both_backends, TestApp};
use serde_json::json;

async fn key_rules(app: TestApp) {
    let record = json!({"source": "s", "external_id": "auth-1", "title": "disk full"});
    let (status, created) = app.post("/v1/ingest/events", &app.owner.key, &record).await;
    assert_eq!(status, 202, "{created}");
    let issue_path = format!("/v1/issues/{}", created["issue_id"].as_str().unwrap());

    // Missing, malformed, unknown.
    let response = app.http.get(app.url(&issue_path)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let missing: serde_json::Value = response.json().await.unwrap();
    assert_eq!(missing["error"], "unauthorized");
    for bad in ["nonsense", "clk_short", &format!("clk_{}", "A".repeat(43))] {
        let (status, body) = app.get(&issue_path, bad).await;
        assert_eq!((status, &body), (401, &missing), "{bad}");
    }
    let basic = app.http.get(app.url(&issue_path)).basic_auth("user", Some(&app.owner.key)).send().await.unwrap();
    assert_eq!(basic.status().as_u16(), 401, "only Bearer carries a key");

    // Valid key, wrong scope: 403 naming the scope.
    let reader = app.key(&app.owner_slug, "issues:read").await;
    let (status, body) = app.post("/v1/ingest/events", &reader.key, &record).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["required_scope"], "ingest:write");
    assert!(body["message"].as_str().unwrap().contains("ingest:write"));
    assert_eq!(app.get(&issue_path, &reader.key).await.0, 200, "same workspace, right scope");

    // Another workspace: its ids do not exist for us, exactly like unknown ones.
    let stranger = app.key("stranger", "issues:read,issues:write,ingest:write").await;
    let (status, foreign) = app.get(&issue_path, &stranger.key).await;
    assert_eq!(status, 404);
    let unknown_id = format!("/v1/issues/iss_{}", "0".repeat(26));
    assert_eq!(app.get(&unknown_id, &stranger.key).await, (404, foreign.clone()));
    let patch = app.http.patch(app.url(&issue_path)).bearer_auth(&stranger.key).json(&json!({"status": "resolved"}));
    assert_eq!(patch.send().await.unwrap().status().as_u16(), 404);
    let (_, list) = app.get("/v1/issues", &stranger.key).await;
    assert_eq!(list["data"], json!([]), "lists never show another workspace");

    // Revocation takes effect at once.
    app.state.store.revoke_key(&reader.key_id, "2026-01-01T00:00:00.000Z").await.unwrap();
    assert_eq!(app.get(&issue_path, &reader.key).await.0, 401);
}
both_backends!(api_key_rules_hold, key_rules);

#[tokio::test]
async fn health_needs_no_key_and_unknown_routes_answer_json() {
    let app = causeloop_tests::spawn_app(causeloop_tests::Backend::Sqlite).await.unwrap();
    let health = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let missing = app.http.get(app.url("/v1/nothing-here")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert_eq!(missing.json::<serde_json::Value>().await.unwrap()["error"], "not_found");
    let wrong_method = app.http.delete(app.url("/v1/ingest/events")).send().await.unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert_eq!(wrong_method.json::<serde_json::Value>().await.unwrap()["error"], "method_not_allowed");
}
