//! The keys API (`/v1/keys`) over real HTTP on both backends: a created key and its webhook
//! secret are shown once and work at once; lists never show a secret; revocation makes the key
//! fail from the next request; `keys:admin` is required and cannot grant more than it holds;
//! another workspace's keys are invisible.

use causeloop_tests::{both_backends, TestApp};
use serde_json::{json, Value};

async fn delete(app: &TestApp, path: &str, key: &str) -> u16 {
    app.http.delete(app.url(path)).bearer_auth(key).send().await.unwrap().status().as_u16()
}

async fn create_list_revoke(app: TestApp) {
    let admin = &app.owner.key;

    // Created: the key and its webhook secret, once.
    let (status, created) = app.post("/v1/keys", admin, &json!({"scopes": ["issues:read", "ingest:write"]})).await;
    assert_eq!(status, 201, "{created}");
    let new_key = created["key"].as_str().unwrap().to_string();
    let key_id = created["id"].as_str().unwrap().to_string();
    assert!(new_key.starts_with("clk_"));
    assert!(created["webhook_secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["scopes"], json!(["ingest:write", "issues:read"]));
    assert_eq!(created["revoked_at"], Value::Null);
    assert!(new_key.starts_with(created["hint"].as_str().unwrap()));

    // It works at once, with exactly its scopes, and says what it is.
    let (status, me) = app.get("/v1/keys/me", &new_key).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], key_id.as_str());
    assert_eq!(me["workspace_id"], app.owner.workspace_id.as_str());
    assert_eq!(me["grants"], json!(["ingest:write", "issues:read"]));
    assert!(me.get("key").is_none() && me.get("webhook_secret").is_none());
    assert_eq!(app.get("/v1/issues", &new_key).await.0, 200);
    assert_eq!(app.get("/v1/keys", &new_key).await.0, 403, "no keys:admin");

    // The list shows both keys, never a secret.
    let response = app.http.get(app.url("/v1/keys")).bearer_auth(admin).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&new_key[4..]), "the list shows the key");
    assert!(!text.contains(created["webhook_secret"].as_str().unwrap()), "the list shows the webhook secret");
    assert!(!text.contains("key_hash") && !text.contains("wrapped"), "{text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&key_id.as_str()) && ids.contains(&app.owner.key_id.as_str()), "{listed}");

    // Revoked: fails from the next request on, shows as revoked, and is gone for this route.
    assert_eq!(delete(&app, &format!("/v1/keys/{key_id}"), admin).await, 204);
    assert_eq!(app.get("/v1/issues", &new_key).await.0, 401);
    assert_eq!(app.get("/v1/keys/me", &new_key).await.0, 401);
    let (_, listed) = app.get("/v1/keys", admin).await;
    let revoked = listed["data"].as_array().unwrap().iter().find(|k| k["id"] == key_id.as_str()).unwrap().clone();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert_eq!(delete(&app, &format!("/v1/keys/{key_id}"), admin).await, 404);
    assert_eq!(app.get("/v1/keys/me", admin).await.0, 200, "the caller's own key is untouched");

    // A key cannot revoke itself.
    let response = app.http.delete(app.url(&format!("/v1/keys/{}", app.owner.key_id))).bearer_auth(admin);
    let response = response.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "cannot_revoke_own_key");
    assert_eq!(app.get("/v1/keys/me", admin).await.0, 200);
}
both_backends!(keys_are_created_listed_and_revoked, create_list_revoke);

async fn scope_and_tenancy_rules(app: TestApp) {
    let (status, body) = app.post("/v1/keys", &app.owner.key, &json!({"scopes": []})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("scopes")), "{body}");
    let (status, body) = app.post("/v1/keys", &app.owner.key, &json!({"scopes": ["issues:delete"]})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_value")), "{body}");
    let (status, body) = app.post("/v1/keys", &app.owner.key, &json!({"scopes": ["issues:read"], "name": "x"})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unknown_field")), "{body}");

    // keys:admin is required, and hands out only what the caller holds.
    let reader = app.key(&app.owner_slug, "issues:read").await;
    let (status, body) = app.post("/v1/keys", &reader.key, &json!({"scopes": ["issues:read"]})).await;
    assert_eq!((status, body["required_scope"].as_str()), (403, Some("keys:admin")), "{body}");
    assert_eq!(delete(&app, &format!("/v1/keys/{}", app.owner.key_id), &reader.key).await, 403);
    let (status, me) = app.get("/v1/keys/me", &reader.key).await;
    assert_eq!((status, me["grants"].clone()), (200, json!(["issues:read"])), "any key may read itself");

    let key_admin = app.key(&app.owner_slug, "keys:admin,webhooks:admin").await;
    let (status, body) = app.post("/v1/keys", &key_admin.key, &json!({"scopes": ["ingest:write"]})).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("scope_not_held")), "{body}");
    let (status, body) = app.post("/v1/keys", &key_admin.key, &json!({"scopes": ["webhooks:read"]})).await;
    assert_eq!(status, 201, "an implied scope is held: {body}");

    // Another workspace's keys do not exist for us.
    let stranger = app.key(&causeloop_tests::unique("stranger"), "keys:admin,issues:read").await;
    let (_, theirs) = app.get("/v1/keys", &stranger.key).await;
    assert_eq!(theirs["data"].as_array().unwrap().len(), 1, "only the stranger's own key: {theirs}");
    assert_eq!(delete(&app, &format!("/v1/keys/{}", app.owner.key_id), &stranger.key).await, 404);
    assert_eq!(delete(&app, &format!("/v1/keys/key_{}", "0".repeat(26)), &stranger.key).await, 404);
    assert_eq!(delete(&app, "/v1/keys/nonsense", &stranger.key).await, 404);
    assert_eq!(app.get("/v1/keys/me", &app.owner.key).await.0, 200, "the owner's key still works");
}
both_backends!(keys_need_keys_admin_and_stay_in_their_workspace, scope_and_tenancy_rules);
