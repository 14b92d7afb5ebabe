//! The webhook registry over real HTTP, on both backends: the walkthrough's inbound registration
//! (step 3a) and outbound registration (step 4a), secrets shown once, the outbound URL guard,
//! updates, deletion, scopes, and 404 for another workspace on every route.

use causeloop_api::state::Settings;
use causeloop_tests::{both_backends, TestApp};
use serde_json::{json, Value};

/// A public address literal, so registration needs no DNS.
const PUBLIC_TARGET: &str = "https://8.8.8.8/hooks/causeloop";

fn assert_no_secret(value: &Value, secrets: &[&str]) {
    let text = value.to_string();
    assert!(!text.contains("signing_secret"), "{text}");
    for secret in secrets {
        assert!(!text.contains(secret), "a secret leaked: {text}");
        assert!(!text.contains(secret.trim_start_matches("whsec_")), "a secret leaked: {text}");
    }
}

async fn inbound_registration_follows_the_walkthrough(app: TestApp) {
    let key = &app.owner.key;
    let connector = app.create_custom_connector(key, "Deploy Monitor").await;
    let connector_id = connector["id"].as_str().unwrap();
    let created = app.enable_inbound(key, connector_id).await;
    assert_eq!(created["direction"], "inbound");
    assert_eq!(created["connector_id"], connector_id);
    assert_eq!(created["event_types"], json!([]));
    assert_eq!(created["enabled"], true);
    let secret = created["signing_secret"].as_str().unwrap();
    let random = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    assert!(random.len() >= 43, "at least 32 random bytes, base64: {secret}");
    let webhook_id = created["id"].as_str().unwrap();
    assert!(webhook_id.starts_with("whk_"));

    let (_, connector) = app.get(&format!("/v1/connectors/{connector_id}"), key).await;
    assert_eq!(connector["inbound_webhook_id"], webhook_id);

    // Never shown again.
    let (status, shown) = app.get(&format!("/v1/webhooks/{webhook_id}"), key).await;
    assert_eq!(status, 200);
    assert_no_secret(&shown, &[secret]);
    let (_, listed) = app.get("/v1/webhooks", key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_no_secret(&listed, &[secret]);

    // One inbound registration per connector.
    let again = json!({"url": format!("https://elsewhere.example/v1/webhooks/inbound/{connector_id}"), "connector_id": connector_id});
    let (status, conflict) = app.post("/v1/webhooks", key, &again).await;
    assert_eq!((status, conflict["error"].as_str()), (409, Some("inbound_already_enabled")));
    assert_eq!(conflict["webhook_id"], webhook_id);

    // The URL and connector_id must agree; inbound registrations subscribe to nothing.
    let other = app.create_custom_connector(key, "Other").await;
    let other_id = other["id"].as_str().unwrap();
    let mismatch = json!({"url": format!("https://api.causeloop.ai/v1/webhooks/inbound/{connector_id}"), "connector_id": other_id});
    let (status, body) = app.post("/v1/webhooks", key, &mismatch).await;
    assert_eq!(
        (status, body["error"].as_str(), body["field"].as_str()),
        (400, Some("connector_mismatch"), Some("connector_id"))
    );
    let missing = json!({"url": format!("https://api.causeloop.ai/v1/webhooks/inbound/{other_id}")});
    let (status, body) = app.post("/v1/webhooks", key, &missing).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("connector_id")));
    let subscribing = json!({"url": format!("https://api.causeloop.ai/v1/webhooks/inbound/{other_id}"), "connector_id": other_id, "event_types": ["issue.ingested"]});
    let (status, body) = app.post("/v1/webhooks", key, &subscribing).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("event_types")));
    let unknown = format!("con_{}", "0".repeat(26));
    let ghost =
        json!({"url": format!("https://api.causeloop.ai/v1/webhooks/inbound/{unknown}"), "connector_id": unknown});
    assert_eq!(app.post("/v1/webhooks", key, &ghost).await.0, 404);

    // Only description and enabled of an inbound registration change; anything else, moving it
    // to another connector included, conflicts with what it is (409, naming the field).
    let path = format!("/v1/webhooks/{webhook_id}");
    let (status, body) = app.patch(&path, key, &json!({"url": PUBLIC_TARGET})).await;
    assert_eq!((status, body["error"].as_str(), body["field"].as_str()), (409, Some("immutable_field"), Some("url")));
    let (status, body) = app.patch(&path, key, &json!({"connector_id": other_id})).await;
    assert_eq!(
        (status, body["error"].as_str(), body["field"].as_str()),
        (409, Some("immutable_field"), Some("connector_id"))
    );
    let (status, body) = app.patch(&path, key, &json!({"description": "renamed", "enabled": false})).await;
    assert_eq!((status, body["description"].as_str(), body["enabled"].as_bool()), (200, Some("renamed"), Some(false)));
    assert_no_secret(&body, &[secret]);

    // Deleting it unlinks the connector, which can then be registered again.
    assert_eq!(app.delete(&path, key).await.0, 204);
    assert_eq!(app.get(&path, key).await.0, 404);
    let (_, connector) = app.get(&format!("/v1/connectors/{connector_id}"), key).await;
    assert!(connector["inbound_webhook_id"].is_null(), "{connector}");
    app.enable_inbound(key, connector_id).await;
}
both_backends!(
    the_walkthrough_inbound_registration_returns_its_secret_once,
    inbound_registration_follows_the_walkthrough
);

async fn outbound_registration_follows_the_walkthrough(app: TestApp) {
    let key = &app.owner.key;
    let connector = app.create_custom_connector(key, "Deploy Monitor").await;
    let connector_id = connector["id"].as_str().unwrap();
    let registration = json!({
        "url": PUBLIC_TARGET,
        "event_types": ["connector.sync.failed", "issue.ingested", "issue.batch_ingested"],
        "connector_id": connector_id,
        "description": "Notify Deploy Monitor of Causeloop events",
    });
    let (status, created) = app.post("/v1/webhooks", key, &registration).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["direction"], "outbound");
    assert_eq!(created["event_types"], registration["event_types"]);
    let secret = created["signing_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let path = format!("/v1/webhooks/{}", created["id"].as_str().unwrap());

    let (status, updated) =
        app.patch(&path, key, &json!({"event_types": ["pattern.detected"], "connector_id": null})).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (updated["event_types"].clone(), updated["connector_id"].clone()),
        (json!(["pattern.detected"]), Value::Null)
    );
    assert_no_secret(&updated, &[&secret]);
    // An outbound endpoint can be moved (back) to a connector: its filter becomes that
    // connector's events. An unknown connector is 404, as at registration.
    let (status, moved) = app.patch(&path, key, &json!({"connector_id": connector_id})).await;
    assert_eq!((status, moved["connector_id"].as_str()), (200, Some(connector_id)), "{moved}");
    let unknown = format!("con_{}", "0".repeat(26));
    assert_eq!(app.patch(&path, key, &json!({"connector_id": unknown})).await.0, 404);

    for (body, field) in [
        (json!({"url": PUBLIC_TARGET}), "event_types"),
        (json!({"url": PUBLIC_TARGET, "event_types": ["issue.exploded"]}), "event_types"),
        (json!({"url": PUBLIC_TARGET, "event_types": "issue.ingested"}), "event_types"),
        (json!({"event_types": ["issue.ingested"]}), "url"),
        (
            json!({"url": PUBLIC_TARGET, "event_types": ["issue.ingested"], "signing_secret": "whsec_mine"}),
            "signing_secret",
        ),
    ] {
        let (status, refused) = app.post("/v1/webhooks", key, &body).await;
        assert_eq!((status, refused["field"].as_str()), (400, Some(field)), "{body} -> {refused}");
    }

    // Scopes: reads with webhooks:read, writes need webhooks:admin.
    let reader = app.key(&app.owner_slug, "webhooks:read").await;
    assert_eq!(app.get(&path, &reader.key).await.0, 200);
    let (status, refused) = app.post("/v1/webhooks", &reader.key, &registration).await;
    assert_eq!((status, refused["required_scope"].as_str()), (403, Some("webhooks:admin")));
    assert_eq!(app.delete(&path, &reader.key).await.0, 403);
    assert_eq!(app.delete(&path, key).await.0, 204);
    assert_eq!(app.delete(&path, key).await.0, 404);
}
both_backends!(the_walkthrough_outbound_registration_is_validated, outbound_registration_follows_the_walkthrough);

async fn outbound_targets_must_be_public_https(app: TestApp) {
    // The harness runs like `causeloop serve --allow-private-targets`; this server does not.
    let strict = app.serve_with(Settings { allow_private_targets: false, ..(*app.state.settings).clone() }).await;
    let register = |base: String, url: &'static str| {
        let app = &app;
        async move {
            let body = json!({"url": url, "event_types": ["issue.ingested"]});
            let response = app
                .http
                .post(format!("{base}/v1/webhooks"))
                .bearer_auth(&app.owner.key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    for (url, code) in [
        ("http://8.8.8.8/hook", "insecure_url"),
        ("https://10.0.0.1/hook", "forbidden_target"),
        ("https://127.0.0.1/hook", "forbidden_target"),
        ("https://[::1]/hook", "forbidden_target"),
        ("https://[::ffff:127.0.0.1]/hook", "forbidden_target"),
        ("https://192.168.0.10/hook", "forbidden_target"),
        ("https://100.64.0.1/hook", "forbidden_target"),
        ("https://[fd00::1]/hook", "forbidden_target"),
        ("https://localhost/hook", "forbidden_target"),
        ("https://169.254.169.254/latest/meta-data/", "forbidden_target"),
        ("ftp://8.8.8.8/hook", "insecure_url"),
        ("https://user:pass@8.8.8.8/hook", "invalid_url"),
        ("not a url", "invalid_url"),
    ] {
        let (status, refused) = register(strict.clone(), url).await;
        assert_eq!(
            (status, refused["error"].as_str(), refused["field"].as_str()),
            (400, Some(code), Some("url")),
            "{url}"
        );
    }
    let (status, _) = register(strict.clone(), PUBLIC_TARGET).await;
    assert_eq!(status, 201);

    // With private targets allowed, local endpoints pass but the metadata service never does.
    for url in ["http://127.0.0.1:9/hook", "https://10.0.0.1/hook", "http://[::1]:9/hook", "http://localhost:9/hook"] {
        let (status, body) = register(app.base.clone(), url).await;
        assert_eq!(status, 201, "{url}: {body}");
    }
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/",
        "https://169.254.169.254/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/",
    ] {
        let (status, refused) = register(app.base.clone(), url).await;
        assert_eq!((status, refused["error"].as_str()), (400, Some("forbidden_target")), "{url}");
    }

    // PATCH goes through the same guard.
    let (_, created) = register(strict.clone(), PUBLIC_TARGET).await;
    let patch = app
        .http
        .patch(format!("{strict}/v1/webhooks/{}", created["id"].as_str().unwrap()))
        .bearer_auth(&app.owner.key)
        .json(&json!({"url": "https://10.1.2.3/x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status().as_u16(), 400);
}
both_backends!(outbound_targets_must_be_public_https_addresses, outbound_targets_must_be_public_https);

/// `connectors:admin` rotates an inbound registration's secret (it is the connector's), never an
/// outbound endpoint's: the new secret is in the answer, and it signs a customer's deliveries.
async fn connectors_admin_cannot_rotate_outbound_secrets(app: TestApp) {
    let key = &app.owner.key;
    let (_, outbound) =
        app.post("/v1/webhooks", key, &json!({"url": PUBLIC_TARGET, "event_types": ["issue.ingested"]})).await;
    let connector = app.create_custom_connector(key, "Deploy Monitor").await;
    let inbound = app.enable_inbound(key, connector["id"].as_str().unwrap()).await;
    let connectors_admin = app.key(&app.owner_slug, "connectors:admin").await;

    let outbound_rotate = format!("/v1/webhooks/{}/rotate", outbound["id"].as_str().unwrap());
    let (status, refused) =
        app.post(&outbound_rotate, &connectors_admin.key, &json!({"grace_period_seconds": 0})).await;
    assert_eq!((status, refused["error"].as_str()), (403, Some("insufficient_scope")), "{refused}");
    assert!(refused.get("signing_secret").is_none());
    let (_, after) = app.get(&format!("/v1/webhooks/{}", outbound["id"].as_str().unwrap()), key).await;
    assert_eq!(after["secret_issued_at"], outbound["secret_issued_at"], "the outbound secret is unchanged");

    let inbound_rotate = format!("/v1/webhooks/{}/rotate", inbound["id"].as_str().unwrap());
    let (status, rotated) = app.post(&inbound_rotate, &connectors_admin.key, &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let webhooks_admin = app.key(&app.owner_slug, "webhooks:admin").await;
    assert_eq!(app.post(&outbound_rotate, &webhooks_admin.key, &json!({})).await.0, 200);
}
both_backends!(connectors_admin_rotates_inbound_secrets_only, connectors_admin_cannot_rotate_outbound_secrets);

/// A workspace's connectors and outbound endpoints are bounded (each event fans out to every
/// endpoint; alert routing reads every connector): past the limit, 409 naming it, nothing stored.
async fn connectors_and_endpoints_per_workspace_are_capped(app: TestApp) {
    use causeloop_domain::limits::{MAX_CONNECTORS_PER_WORKSPACE, MAX_OUTBOUND_ENDPOINTS_PER_WORKSPACE};
    let key = &app.owner.key;
    for n in 0..MAX_OUTBOUND_ENDPOINTS_PER_WORKSPACE {
        let url = format!("{PUBLIC_TARGET}/{n}");
        let (status, body) =
            app.post("/v1/webhooks", key, &json!({"url": url, "event_types": ["issue.ingested"]})).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, refused) =
        app.post("/v1/webhooks", key, &json!({"url": PUBLIC_TARGET, "event_types": ["issue.ingested"]})).await;
    assert_eq!((status, refused["error"].as_str()), (409, Some("too_many_endpoints")), "{refused}");
    assert_eq!(refused["limit"], MAX_OUTBOUND_ENDPOINTS_PER_WORKSPACE);

    for n in 0..MAX_CONNECTORS_PER_WORKSPACE {
        app.create_custom_connector(key, &format!("Monitor {n}")).await;
    }
    let (status, refused) = app
        .post("/v1/connectors", key, &json!({"type": "custom_api", "display_name": "one too many", "credentials": {}}))
        .await;
    assert_eq!((status, refused["error"].as_str()), (409, Some("too_many_connectors")), "{refused}");
    // Inbound registrations are one per connector and do not count as endpoints.
    let (_, listed) = app.get("/v1/connectors?limit=200", key).await;
    let first = listed["data"][0]["id"].as_str().unwrap().to_string();
    app.enable_inbound(key, &first).await;
}
both_backends!(connectors_and_endpoints_are_capped_per_workspace, connectors_and_endpoints_per_workspace_are_capped);

async fn other_workspaces_see_404_on_every_webhook_route(app: TestApp) {
    let key = &app.owner.key;
    let (_, outbound) =
        app.post("/v1/webhooks", key, &json!({"url": PUBLIC_TARGET, "event_types": ["issue.ingested"]})).await;
    let connector = app.create_custom_connector(key, "Deploy Monitor").await;
    let inbound = app.enable_inbound(key, connector["id"].as_str().unwrap()).await;
    let stranger = app.key("webhook-stranger", "webhooks:admin,connectors:admin").await;
    let unknown = format!("whk_{}", "0".repeat(26));

    for id in [outbound["id"].as_str().unwrap(), inbound["id"].as_str().unwrap()] {
        for target in [id, unknown.as_str(), "whk_malformed"] {
            let path = format!("/v1/webhooks/{target}");
            let (status, body) = app.get(&path, &stranger.key).await;
            assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "GET {path}");
            let (status, _) = app.patch(&path, &stranger.key, &json!({"enabled": false})).await;
            assert_eq!(status, 404, "PATCH {path}");
            let (status, _) = app.post(&format!("{path}/rotate"), &stranger.key, &json!({})).await;
            assert_eq!(status, 404, "POST {path}/rotate");
            let (status, _) = app.delete(&path, &stranger.key).await;
            assert_eq!(status, 404, "DELETE {path}");
        }
        // Untouched for its owner.
        let (status, body) = app.get(&format!("/v1/webhooks/{id}"), key).await;
        assert_eq!((status, body["enabled"].as_bool()), (200, Some(true)));
    }
    let (_, listed) = app.get("/v1/webhooks", &stranger.key).await;
    assert_eq!(listed["data"], json!([]));

    // A stranger cannot attach an endpoint or an inbound registration to our connector.
    let connector_id = connector["id"].as_str().unwrap();
    let filtered = json!({"url": PUBLIC_TARGET, "event_types": ["issue.ingested"], "connector_id": connector_id});
    assert_eq!(app.post("/v1/webhooks", &stranger.key, &filtered).await.0, 404);
    let hijack =
        json!({"url": format!("https://x.example/v1/webhooks/inbound/{connector_id}"), "connector_id": connector_id});
    assert_eq!(app.post("/v1/webhooks", &stranger.key, &hijack).await.0, 404);
}
both_backends!(another_workspace_gets_404_on_every_webhook_route, other_workspaces_see_404_on_every_webhook_route);
