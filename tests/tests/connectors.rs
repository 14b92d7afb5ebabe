//! The connectors API over real HTTP, on both backends: the catalog, walkthrough step 1, credentials
//! validated against the catalog, sealed and never returned, unavailable types, cloudwatch's topic
//! allow-list, test, sync, health, scopes, and 404 for another workspace on every route.

use causeloop_api::secrets::open_credentials;
use causeloop_domain::ConnectorId;
use causeloop_tests::{both_backends, TestApp};
use serde_json::{json, Value};

async fn the_catalog_is_complete_and_honest(app: TestApp) {
    let (status, catalog) = app.get("/v1/connector-catalog", &app.owner.key).await;
    assert_eq!(status, 200, "{catalog}");
    let entries = catalog["data"].as_array().unwrap();
    let entry = |name: &str| entries.iter().find(|entry| entry["type"] == name).unwrap_or_else(|| panic!("{name}"));
    for name in ["custom_api", "cloudwatch", "jira", "pagerduty", "github", "servicenow", "datadog", "sentry"] {
        let found = entry(name);
        for field in ["display_name", "auth", "credential_fields", "config_fields", "capabilities", "available"] {
            assert!(!found[field].is_null(), "{name}.{field}");
        }
        for capability in ["push", "poll", "backfill"] {
            assert!(found["capabilities"][capability].is_boolean(), "{name}");
        }
        assert_eq!(found["available"] == false, found["unavailable_reason"].is_string(), "{name}");
    }
    assert_eq!(
        (entry("custom_api")["available"].as_bool(), entry("custom_api")["auth"].as_str()),
        (Some(true), Some("none"))
    );
    assert_eq!(entry("cloudwatch")["config_fields"][0]["name"], "topic_arns");
    assert_eq!((entry("jira")["available"].as_bool(), entry("jira")["auth"].as_str()), (Some(true), Some("oauth2")));
    assert_eq!(entry("jira")["auth_kinds"], json!(["oauth2", "basic"]));
    for polling in ["jira", "github", "pagerduty", "servicenow", "datadog"] {
        let found = entry(polling);
        assert_eq!(found["capabilities"]["poll"], true, "{polling}");
        let config: Vec<&str> =
            found["config_fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert!(config.contains(&"base_url") && config.contains(&"schedule_minutes"), "{polling}: {config:?}");
    }
    // Sentry is creatable for its pushed webhooks, and says it cannot poll yet.
    let sentry = entry("sentry");
    assert_eq!((sentry["available"].as_bool(), sentry["capabilities"]["poll"].as_bool()), (Some(true), Some(false)));
    assert_eq!(entry("github")["auth"], "oauth2");
    let token = entry("jira")["credential_fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "api_token")
        .unwrap()
        .clone();
    assert_eq!((token["required"].as_bool(), token["secret"].as_bool()), (Some(true), Some(true)));

    let no_scope = app.key(&app.owner_slug, "issues:read").await;
    let (status, refused) = app.get("/v1/connector-catalog", &no_scope.key).await;
    assert_eq!((status, refused["required_scope"].as_str()), (403, Some("connectors:read")));
}
both_backends!(the_connector_catalog_lists_every_type_honestly, the_catalog_is_complete_and_honest);

async fn walkthrough_step_one_creates_a_connected_custom_api(app: TestApp) {
    let key = &app.owner.key;
    let created = app.create_custom_connector(key, "Deploy Monitor").await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("con_"));
    assert_eq!(
        (created["type"].as_str(), created["display_name"].as_str()),
        (Some("custom_api"), Some("Deploy Monitor"))
    );
    assert_eq!((created["status"].as_str(), created["enabled"].as_bool()), (Some("connected"), Some(true)));

    let path = format!("/v1/connectors/{id}");
    let (status, shown) = app.get(&path, key).await;
    assert_eq!((status, &shown), (200, &created));
    let (_, listed) = app.get("/v1/connectors", key).await;
    assert_eq!(listed["data"], json!([created]));

    // Step 5: the test fails until the inbound webhook has a secret, then passes.
    let (status, tested) = app.post(&format!("{path}/test"), key, &json!({})).await;
    assert_eq!((status, tested["success"].as_bool()), (200, Some(false)), "{tested}");
    assert!(tested["message"].as_str().unwrap().contains("inbound"));
    app.enable_inbound(key, id).await;
    let (_, tested) = app.post(&format!("{path}/test"), key, &json!({})).await;
    assert_eq!(tested["success"], true, "{tested}");
    assert!(tested["checked_at"].is_string());
    app.patch(&path, key, &json!({"enabled": false})).await;
    let (_, tested) = app.post(&format!("{path}/test"), key, &json!({})).await;
    assert_eq!(tested["success"], false);

    // custom_api cannot sync; the answer says why. The history starts empty.
    let (status, refused) = app.post(&format!("{path}/sync"), key, &json!({})).await;
    assert_eq!((status, refused["error"].as_str()), (422, Some("sync_not_supported")), "{refused}");
    let (status, history) = app.get(&format!("{path}/syncs"), key).await;
    assert_eq!((status, history["data"].clone(), history["next_cursor"].clone()), (200, json!([]), Value::Null));

    // PATCH: renames, keeps the type.
    let (status, renamed) =
        app.patch(&path, key, &json!({"display_name": "Deploy Monitor (prod)", "enabled": true})).await;
    assert_eq!((status, renamed["display_name"].as_str()), (200, Some("Deploy Monitor (prod)")));
    let (status, refused) = app.patch(&path, key, &json!({"type": "jira"})).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("immutable_field")));

    // Deleting removes it and its inbound registration.
    assert_eq!(app.delete(&path, key).await.0, 204);
    assert_eq!(app.get(&path, key).await.0, 404);
    let (_, webhooks) = app.get("/v1/webhooks", key).await;
    assert_eq!(webhooks["data"], json!([]));
}
both_backends!(
    walkthrough_step_one_custom_api_connector_is_connected,
    walkthrough_step_one_creates_a_connected_custom_api
);

async fn credentials_are_validated_and_write_only(app: TestApp) {
    let key = &app.owner.key;
    const TOKEN: &str = "atlassian-token-SHOULD-NEVER-APPEAR";
    let jira = |credentials: Value| json!({"type": "jira", "display_name": "Jira", "credentials": credentials, "config": {"base_url": "https://acme.atlassian.net"}});
    let (status, refused) = app.post("/v1/connectors", key, &jira(json!({"email": "ops@acme.test"}))).await;
    assert_eq!(
        (status, refused["field"].as_str(), refused["error"].as_str()),
        (400, Some("credentials.api_token"), Some("missing_field"))
    );
    assert!(refused["message"].as_str().unwrap().contains("api_token"));
    let (status, refused) = app
        .post("/v1/connectors", key, &jira(json!({"email": "ops@acme.test", "api_token": TOKEN, "pin": TOKEN})))
        .await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("credentials.pin")));
    assert!(!refused.to_string().contains(TOKEN));
    // Complete credentials, but the config lacks the site.
    let no_site =
        json!({"type": "jira", "display_name": "Jira", "credentials": {"email": "ops@acme.test", "api_token": TOKEN}});
    let (status, refused) = app.post("/v1/connectors", key, &no_site).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("config.base_url")), "{refused}");
    assert!(!refused.to_string().contains(TOKEN));
    let (status, refused) = app.post("/v1/connectors", key, &json!({"type": "zendesk", "display_name": "Z"})).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("type")));
    let (status, refused) = app
        .post(
            "/v1/connectors",
            key,
            &json!({"type": "custom_api", "display_name": "C", "credentials": {"token": TOKEN}}),
        )
        .await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("credentials.token")));
    let (status, refused) = app.post("/v1/connectors", key, &json!({"type": "custom_api"})).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("display_name")));
    assert_eq!(app.get("/v1/connectors", key).await.1["data"], json!([]), "nothing stored for a refused request");

    // Complete: created connected, its first sync (a backfill) queued, the token never shown.
    let (status, created) =
        app.post("/v1/connectors", key, &jira(json!({"email": "ops@acme.test", "api_token": TOKEN}))).await;
    assert_eq!((status, created["status"].as_str()), (201, Some("connected")), "{created}");
    assert_eq!(created["credential_fields_set"], json!(["api_token", "email"]));
    assert_eq!(
        (created["sync"]["last_sync"]["mode"].as_str(), created["sync"]["last_sync"]["status"].as_str()),
        (Some("backfill"), Some("running"))
    );
    assert!(!created.to_string().contains(TOKEN));
    assert_eq!(app.delete(&format!("/v1/connectors/{}", created["id"].as_str().unwrap()), key).await.0, 204);

    // A connector that holds a credential (Sentry's signing secret) never shows it: sealed at
    // rest, answered by name only, on every route that shows connectors.
    const SENTRY_SECRET: &str = "sentry-client-secret-SHOULD-NEVER-APPEAR";
    let sentry = json!({"type": "sentry", "display_name": "Sentry", "credentials": {}});
    let (status, refused) = app.post("/v1/connectors", key, &sentry).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("credentials.webhook_secret")));
    let sentry = json!({"type": "sentry", "display_name": "Sentry", "credentials": {"webhook_secret": SENTRY_SECRET}});
    let (status, created) = app.post("/v1/connectors", key, &sentry).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["credential_fields_set"], json!(["webhook_secret"]));
    let id = ConnectorId::parse(created["id"].as_str().unwrap()).unwrap();
    let stored = app.state.store.connector(&app.owner.workspace_id, &id).await.unwrap().unwrap().value;
    let sealed = stored.sealed_credentials.expect("stored sealed");
    assert!(!sealed.contains(SENTRY_SECRET), "sealed at rest");
    let secret_box = app.state.settings.secret_box.clone().unwrap();
    let opened = open_credentials(&secret_box, &app.owner.workspace_id, &id, &sealed).unwrap();
    assert_eq!(opened["webhook_secret"], SENTRY_SECRET, "the provider-webhooks family can open it");

    let path = format!("/v1/connectors/{id}");
    let (_, renamed) = app.patch(&path, key, &json!({"display_name": "Sentry (prod)"})).await;
    let rotated_secret = format!("{SENTRY_SECRET}-2");
    let (status, rotated) = app.patch(&path, key, &json!({"credentials": {"webhook_secret": rotated_secret}})).await;
    assert_eq!(status, 200, "{rotated}");
    let (status, refused) = app.patch(&path, key, &json!({"credentials": {}})).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("credentials.webhook_secret")));
    let (status, tested) = app.post(&format!("{path}/test"), key, &json!({})).await;
    assert_eq!((status, tested["success"].as_bool()), (200, Some(true)), "{tested}");
    let answers = [
        created,
        app.get(&path, key).await.1,
        app.get("/v1/connectors", key).await.1,
        app.get("/v1/integrations/health", key).await.1,
        renamed,
        rotated,
        tested,
        refused,
    ];
    for answer in &answers {
        let text = answer.to_string();
        assert!(!text.contains(SENTRY_SECRET) && !text.contains("sealed"), "credential material in {text}");
    }
    let stored = app.state.store.connector(&app.owner.workspace_id, &id).await.unwrap().unwrap().value;
    let opened =
        open_credentials(&secret_box, &app.owner.workspace_id, &id, &stored.sealed_credentials.unwrap()).unwrap();
    assert_eq!(opened["webhook_secret"], rotated_secret.as_str(), "PATCH replaced the credential");
}
both_backends!(
    credentials_are_validated_against_the_catalog_and_never_returned,
    credentials_are_validated_and_write_only
);

async fn cloudwatch_connectors_carry_their_topic_allow_list(app: TestApp) {
    let key = &app.owner.key;
    let arn = "arn:aws:sns:us-east-1:123456789012:causeloop-alarms";
    let (status, refused) = app.post("/v1/connectors", key, &json!({"type": "cloudwatch", "display_name": "CW"})).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("config.topic_arns")));
    let bad = json!({"type": "cloudwatch", "display_name": "CW", "config": {"topic_arns": ["arn:aws:sqs:us-east-1:123456789012:q"]}});
    assert_eq!(app.post("/v1/connectors", key, &bad).await.0, 400);
    let good = json!({"type": "cloudwatch", "display_name": "CW", "config": {"topic_arns": [arn]}});
    let (status, created) = app.post("/v1/connectors", key, &good).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["status"].as_str(), created["config"]["topic_arns"][0].as_str()),
        (Some("connected"), Some(arn))
    );
    let (_, tested) =
        app.post(&format!("/v1/connectors/{}/test", created["id"].as_str().unwrap()), key, &json!({})).await;
    assert_eq!(tested["success"], true);

    // The provider-webhooks family reads the allow-list through the storage contract.
    let of_type = app.state.store.connectors_of_type(&app.owner.workspace_id, "cloudwatch").await.unwrap();
    assert_eq!(of_type.len(), 1);
    assert_eq!(of_type[0].config["topic_arns"][0], arn);
    assert!(app.state.store.connectors_of_type(&app.owner.workspace_id, "custom_api").await.unwrap().is_empty());
}
both_backends!(cloudwatch_connectors_carry_config_topic_arns, cloudwatch_connectors_carry_their_topic_allow_list);

async fn other_workspaces_see_404_on_every_connector_route(app: TestApp) {
    let key = &app.owner.key;
    let created = app.create_custom_connector(key, "Deploy Monitor").await;
    let id = created["id"].as_str().unwrap();
    let stranger = app.key("connector-stranger", "connectors:admin,webhooks:admin").await;
    let unknown = format!("con_{}", "0".repeat(26));
    let mut reference = None;
    for target in [id, unknown.as_str(), "con_malformed"] {
        let base = format!("/v1/connectors/{target}");
        let answers = [
            ("GET", app.get(&base, &stranger.key).await),
            ("PATCH", app.patch(&base, &stranger.key, &json!({"display_name": "mine"})).await),
            ("POST test", app.post(&format!("{base}/test"), &stranger.key, &json!({})).await),
            ("POST sync", app.post(&format!("{base}/sync"), &stranger.key, &json!({})).await),
            ("GET syncs", app.get(&format!("{base}/syncs"), &stranger.key).await),
            ("DELETE", app.delete(&base, &stranger.key).await),
        ];
        for (route, answer) in answers {
            assert_eq!(answer.0, 404, "{route} {base}");
            if route != "DELETE" {
                let reference = reference.get_or_insert_with(|| answer.1.clone());
                assert_eq!(&answer.1, reference, "{route} {base}: foreign and unknown ids answer alike");
            }
        }
    }
    let (_, listed) = app.get("/v1/connectors", &stranger.key).await;
    assert_eq!(listed["data"], json!([]));
    let (_, health) = app.get("/v1/integrations/health", &stranger.key).await;
    assert_eq!(health["connectors"], json!([]));
    let (status, still) = app.get(&format!("/v1/connectors/{id}"), key).await;
    assert_eq!((status, still["display_name"].as_str()), (200, Some("Deploy Monitor")));

    // Scopes: connectors:read reads, writes need connectors:admin.
    let reader = app.key(&app.owner_slug, "connectors:read").await;
    assert_eq!(app.get(&format!("/v1/connectors/{id}"), &reader.key).await.0, 200);
    let (status, refused) =
        app.post("/v1/connectors", &reader.key, &json!({"type": "custom_api", "display_name": "x"})).await;
    assert_eq!((status, refused["required_scope"].as_str()), (403, Some("connectors:admin")));
    assert_eq!(app.post(&format!("/v1/connectors/{id}/test"), &reader.key, &json!({})).await.0, 403);
}
both_backends!(another_workspace_gets_404_on_every_connector_route, other_workspaces_see_404_on_every_connector_route);

async fn health_reports_connectors_and_endpoints(app: TestApp) {
    let key = &app.owner.key;
    let created = app.create_custom_connector(key, "Deploy Monitor").await;
    let (status, endpoint) = app
        .post("/v1/webhooks", key, &json!({"url": "https://8.8.8.8/hook", "event_types": ["pattern.detected"]}))
        .await;
    assert_eq!(status, 201, "{endpoint}");
    let (status, health) = app.get("/v1/integrations/health", key).await;
    assert_eq!(status, 200, "{health}");
    let connector = &health["connectors"][0];
    assert_eq!(connector["id"], created["id"]);
    assert_eq!((connector["events_24h"].as_u64(), connector["errors_24h"].as_u64()), (Some(0), Some(0)));
    assert!(connector["last_event_at"].is_null());
    assert_eq!(connector["inbound_enabled"], false);
    let outbound = &health["outbound_endpoints"][0];
    assert_eq!(outbound["id"], endpoint["id"]);
    assert!(outbound["delivery_success_rate"].is_null(), "no deliveries yet");
    assert_eq!(health["outbound_endpoints"].as_array().unwrap().len(), 1);
}
both_backends!(integrations_health_reports_connectors_and_endpoints, health_reports_connectors_and_endpoints);
